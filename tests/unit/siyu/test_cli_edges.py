"""What a user sees at the edges of the CLI: version, help, errors, logs, progress."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import orjson
import pytest

from siyu.logsetup import configure
from siyu.logview import LogViewError, follow_logs
from siyu.ports import free_port
from siyu.progress import Progress
from siyu.settings import LogSettings


def _siyu(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "siyu", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_version() -> None:
    done = _siyu("--version")
    assert (done.returncode, done.stdout) == (0, f"siyu {version('siyu')}\n")


def test_help_has_no_rest_markup() -> None:
    done = _siyu("--help")
    assert done.returncode == 0
    for command in ("run", "logs", "demo", "status", "sql"):
        assert f" {command} " in done.stdout
    assert "``" not in done.stdout
    assert ":class:" not in done.stdout
    for flag in ("--version", "--log-level", "--log-format"):
        assert flag in done.stdout


@pytest.mark.parametrize(
    ("options", "part"),
    [
        pytest.param([], "lookup API", id="webhooks-first-ask-the-lookup-api"),
        pytest.param(["--no-webhooks"], "collector", id="collector"),
    ],
)
def test_demo_without_a_stack_is_one_line_on_stderr(options: list[str], part: str) -> None:
    ports = {"collector": free_port(), "lookup API": free_port()}
    done = _siyu(
        "demo",
        "--users",
        "2",
        *options,
        SIYU_COLLECTOR_PORT=str(ports["collector"]),
        SIYU_LOOKUP_PORT=str(ports["lookup API"]),
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"siyu demo: the {part} is not reachable at http://127.0.0.1:{ports[part]} "
        "(ConnectError); start the stack with `make run` first"
    ]


def test_sql_error_goes_to_stderr() -> None:
    done = _siyu("sql", "SELECT 1", SIYU_SQL_PORT=str(free_port()))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("siyu sql: cannot reach http://127.0.0.1:")


def test_json_logs_are_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure(LogSettings(format="json", level="DEBUG"))
    try:
        logging.getLogger("siyu.test").info("started %s in %.1f s", "sink", 1.25)
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("siyu.test").exception("failed")
    finally:
        configure(LogSettings(level="WARNING"))
    lines = capsys.readouterr().err.splitlines()
    docs = [orjson.loads(line) for line in lines]
    assert [(d["level"], d["logger"], d["message"]) for d in docs] == [
        ("INFO", "siyu.test", "started sink in 1.2 s"),
        ("ERROR", "siyu.test", "failed"),
    ]
    assert "ValueError: boom" in docs[1]["exception"]
    assert docs[0]["time"].endswith("+00:00")


def test_dict_config_gives_the_same_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    import logging.config

    from siyu.logsetup import dict_config

    logging.config.dictConfig(dict_config(LogSettings(format="json")))
    try:
        logging.getLogger("faust.worker").info("ready")
        logging.getLogger("aiokafka").info("noise")
    finally:
        configure(LogSettings(level="WARNING"))
    docs = [orjson.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(d["logger"], d["message"]) for d in docs] == [("faust.worker", "ready")]


def test_log_options_reach_the_started_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    from siyu.logsetup import apply_options
    from siyu.settings import Settings

    monkeypatch.delenv("SIYU_LOG_LEVEL", raising=False)
    monkeypatch.delenv("SIYU_LOG_FORMAT", raising=False)
    assert (Settings().log.level, Settings().log.format) == (None, "text")
    apply_options(level="debug", fmt="JSON")  # siyu --log-level debug --log-format JSON …
    child = Settings().child_env()
    monkeypatch.delenv("SIYU_LOG_LEVEL")
    monkeypatch.delenv("SIYU_LOG_FORMAT")
    assert (child["SIYU_LOG_LEVEL"], child["SIYU_LOG_FORMAT"]) == ("DEBUG", "json")


def test_logs_of_all_parts_are_prefixed(tmp_path: Path) -> None:
    (tmp_path / "sink.log").write_text("s1\ns2\ns3\n")
    (tmp_path / "worker-0.log").write_text("w1\n")
    out = io.StringIO()
    follow_logs(tmp_path, None, follow=False, lines=2, out=out)
    assert out.getvalue().splitlines() == ["sink     | s2", "sink     | s3", "worker-0 | w1"]


def test_logs_follow_new_lines_of_one_part(tmp_path: Path) -> None:
    log = tmp_path / "worker-0.log"
    log.write_text("old\n")
    (tmp_path / "sink.log").write_text("not this\n")
    out = io.StringIO()
    with log.open("a") as handle:
        handle.write("new\n")
    follow_logs(tmp_path, "worker", lines=1, out=out, stop_after_s=0.3)
    assert out.getvalue().splitlines() == ["new"]


def test_logs_of_an_unknown_part(tmp_path: Path) -> None:
    with pytest.raises(LogViewError, match="no logs in"):
        follow_logs(tmp_path, None, follow=False)
    (tmp_path / "sink.log").write_text("")
    with pytest.raises(LogViewError, match=r"no log for 'brokr'.*there are: sink"):
        follow_logs(tmp_path, "brokr", follow=False)


def test_progress_per_stage_and_drain() -> None:
    out = io.StringIO()
    progress = Progress(out)
    progress.begin("broker")
    progress.begin("topics", "creating")
    progress.end()
    progress.end()  # nothing open: nothing said
    progress.begin("sink")
    progress.fail()
    progress.draining({"workers": 1200, "sink": 3}, force=True)
    progress.draining({"workers": 0, "sink": 0})  # within a second of the last: not shown
    progress.draining({"workers": 0, "sink": 0}, force=True)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("starting broker … ready in 0.0")
    assert lines[1].startswith("creating topics … ready in 0.0")
    assert lines[2].startswith("starting sink … failed after 0.0")
    assert lines[3:] == [
        "  draining: workers 1,200 records left, sink 3 records left",
        "  draining: workers 0 records left, sink 0 records left (caught up)",
    ]


def test_topics_without_a_broker_is_one_line_on_stderr() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    done = _siyu("topics", SIYU_KAFKA_BOOTSTRAP=bootstrap)
    assert done.returncode == 1
    assert done.stdout == ""
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"siyu topics: cannot reach Kafka at {bootstrap}")
    assert "Traceback" not in done.stderr
