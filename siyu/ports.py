"""Free local ports, for tests and benchmarks that run beside a ``make run``."""

from __future__ import annotations

import random
import socket

__all__ = ["free_port"]


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(span: int = 1) -> int:
    """A port p such that p … p+span-1 are free right now.

    Chosen below the kernel's ephemeral range (32768+), so the many short-lived outgoing
    connections of a running stack cannot take it between this check and the bind.
    """
    for _ in range(500):
        base = random.randrange(20000, 32000 - span)  # noqa: S311 - not cryptographic
        if all(_bindable(p) for p in range(base, base + span)):
            return base
    raise RuntimeError("no free port range")
