"""Free local ports, for tests and benchmarks that run beside a ``make run``."""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from siyu.settings import (
    CollectorSettings,
    KafkaSettings,
    LookupSettings,
    Settings,
    SinkSettings,
    SqlSettings,
    WebhookSettings,
    WorkerSettings,
)

__all__ = ["free_port", "local_settings"]

# Ports handed out recently, shared by every process of this machine: a stack takes tens of
# seconds between choosing its ports and binding the last one, and concurrent test runs must
# not pick the same port meanwhile.
_LEDGER = Path(tempfile.gettempdir()) / "siyu-ports.ledger"
_HOLD_S = 900.0


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(span: int = 1) -> int:
    """A port p such that p … p+span-1 are free now and not handed out recently.

    Chosen below the kernel's ephemeral range (32768+), so the many short-lived outgoing
    connections of a running stack cannot take it between this check and the bind.
    """
    fd = os.open(_LEDGER, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        now = time.time()
        with os.fdopen(os.dup(fd), "r+") as ledger:
            taken: dict[int, float] = {}
            for line in ledger.read().split():
                port, _, at = line.partition("@")
                if port.isdigit() and now - float(at or 0) < _HOLD_S:
                    taken[int(port)] = float(at)
            for _ in range(1000):
                base = random.randrange(20000, 32000 - span)  # noqa: S311 - not cryptographic
                ports = range(base, base + span)
                if any(p in taken for p in ports) or not all(_bindable(p) for p in ports):
                    continue
                taken.update(dict.fromkeys(ports, now))
                ledger.seek(0)
                ledger.truncate()
                ledger.write(" ".join(f"{p}@{t:.0f}" for p, t in taken.items()))
                return base
    finally:
        os.close(fd)
    raise RuntimeError("no free port range")


def local_settings(
    data_dir: Path, *, workers: int = 1, sink_linger_s: float = 0.5, **overrides: Any
) -> Settings:
    """Settings of an embedded stack whose every listener is on a free local port."""
    overrides.setdefault("webhooks", WebhookSettings(metrics_port=free_port()))
    return Settings(
        data_dir=data_dir,
        kafka=KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}"),
        collector=CollectorSettings(port=free_port(), spool_dir=data_dir / "spool"),
        sql=SqlSettings(port=free_port()),
        lookup=LookupSettings(port=free_port()),
        worker=WorkerSettings(metrics_port=free_port(workers + 1), count=workers),
        sink=SinkSettings(metrics_port=free_port(), linger_s=sink_linger_s),
        **overrides,
    )
