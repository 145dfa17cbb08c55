"""Keys never show in error output: a bad setting names the problem, not the values."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from siyu.settings import Settings

WRITE = "wk-7f3a9c1e5b"
READ = "rk-2d8e4f6a0c"
ADMIN = "ak-9b1c3d5e7f"

BAD_PROJECTS: list[dict[str, Any]] = [
    {"shop": {"write_key": WRITE, "read_key": WRITE}},  # write key reused as read key
    {"shop": {"write_key": WRITE}},  # read key missing
    {"shop": {"write_key": WRITE, "read_key": READ, "admin_key": ["x", ADMIN]}},
    {"shop": {"write_key": WRITE, "read_key": READ, "timezone": "Mars/Base"}},
    {"shop": {"write_key": WRITE, "read_key": READ, "admin_key": ADMIN, "extra": ADMIN}},
    {
        "shop": {"write_key": WRITE, "read_key": READ},
        "club": {"write_key": WRITE, "read_key": ADMIN},
    },
    {
        "shop": {
            "write_key": WRITE,
            "read_key": READ,
            "wecom": {"token": ADMIN, "encoding_aes_key": READ},
        }
    },
]


@pytest.mark.parametrize("projects", BAD_PROJECTS)
def test_a_bad_setting_error_holds_no_key(
    projects: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIYU_PROJECTS", orjson.dumps(projects).decode())
    with pytest.raises(ValidationError) as caught:
        Settings()
    text = str(caught.value)
    for secret in (WRITE, READ, ADMIN):
        assert secret not in text


def test_settings_repr_hides_keys() -> None:
    settings = Settings(
        projects={"shop": {"write_key": WRITE, "read_key": READ, "admin_key": ADMIN}}  # type: ignore[dict-item]
    )
    text = repr(settings) + str(settings)
    assert WRITE not in text
    assert READ not in text
    assert ADMIN not in text


@pytest.mark.parametrize(
    "raw",
    [
        orjson.dumps(BAD_PROJECTS[0]).decode(),
        orjson.dumps(BAD_PROJECTS[3]).decode(),
        '{"shop": {"write_key": "' + WRITE + '", "read_key": "' + READ + '"',  # broken JSON
    ],
)
def test_the_cli_reports_a_bad_setting_without_keys_or_traceback(raw: str) -> None:
    env = {**os.environ, "SIYU_PROJECTS": raw}
    done = subprocess.run(
        [sys.executable, "-m", "siyu", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2
    assert "siyu: invalid settings" in output
    assert "Traceback" not in output
    for secret in (WRITE, READ):
        assert secret not in output


def test_broken_json_is_a_settings_error_without_the_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIYU_PROJECTS", '{"shop": {"write_key": "' + WRITE + '"')
    with pytest.raises(SettingsError) as caught:
        Settings()
    assert WRITE not in str(caught.value)
