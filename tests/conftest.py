"""Shared fixtures. Integration fixtures start real services; see tests/stack.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from pydantic import SecretStr

from siyu.settings import Project, Settings, default_projects
from tests.ground_truth.scenario import PROJECTS, keys
from tests.stack import RunningStack, running_stack, stack_settings

# Same examples on every run: a green run stays green, and coverage does not depend on luck.
settings.register_profile("siyu", derandomize=True)
settings.load_profile("siyu")


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return Settings(data_dir=tmp_path / "data", **overrides)

    return make


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """One embedded stack shared by the session's end-to-end tests.

    Tests sharing it must use their own event ids / identities and assert on those.
    """
    projects = {**default_projects(), **ground_truth_projects()}
    settings = stack_settings(tmp_path_factory.mktemp("stack"), projects=projects)
    with running_stack(settings) as running:
        yield running


def ground_truth_projects() -> dict[str, Project]:
    """The projects of the analytics scenario (tests/ground_truth), besides the demo one."""
    out = {}
    for name, zone in PROJECTS.items():
        write, read = keys(name)
        out[name] = Project(write_key=SecretStr(write), read_key=SecretStr(read), timezone=zone)
    return out


@pytest.fixture
def event_factory() -> Callable[..., dict[str, Any]]:
    counter = {"n": 0}

    def make(**fields: Any) -> dict[str, Any]:
        counter["n"] += 1
        event: dict[str, Any] = {
            "type": "track",
            "event": "$pageview",
            "time": 1_764_000_000_000 + counter["n"],
            "platform": "h5",
            "identities": {"anonymous_id": f"anon-{counter['n']}"},
            "properties": {"$url_path": "/"},
            "context": {"lib": {"name": "test", "version": "0"}},
        }
        event.update(fields)
        return event

    return make
