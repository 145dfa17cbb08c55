"""Children never outlive the supervisor, whatever ends it.

``siyu run`` starts this watchdog first, as ``python -m siyu.watchdog <run id>`` in a
session of its own, with a pipe on its stdin whose other end only the supervisor holds,
and puts ``SIYU_SUPERVISOR_RUN=<run id>`` into its own environment, which every process
it starts inherits (broker, sink, workers, lookup, collector, and their own children).
When the pipe closes (the supervisor exited, normally or by SIGKILL, the OOM killer or a
process manager), the watchdog finds the processes carrying the run id and stops those
still running, with SIGTERM and SIGKILL after a grace period: the collector first (so it
flushes its producer and spool), then workers, lookup and sink, the broker last. The
run id is unique to one run, so no other process is ever signalled, and nothing is polled
while the stack runs.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys

import psutil

__all__ = ["RUN_VARIABLE", "Watchdog", "main"]

logger = logging.getLogger(__name__)

RUN_VARIABLE = "SIYU_SUPERVISOR_RUN"
# Time each wave of children gets to stop on SIGTERM before it is killed.
_GRACE_S = 10.0


class Watchdog:
    """The supervisor's handle on its watchdog process."""

    def __init__(self) -> None:
        self.run_id = secrets.token_hex(16)
        os.environ[RUN_VARIABLE] = self.run_id
        read, self._write = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "siyu.watchdog", self.run_id],
            stdin=read,
            start_new_session=True,
        )
        os.close(read)
        os.set_inheritable(self._write, False)

    def release(self) -> None:
        """Normal end of the supervisor: close the pipe; the watchdog stops what is left."""
        if self._write >= 0:
            os.close(self._write)
            self._write = -1
        try:
            self.proc.wait(_GRACE_S * 4)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _carriers(run_id: str) -> list[psutil.Process]:
    me = os.getpid()
    found = []
    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        try:
            if proc.environ().get(RUN_VARIABLE) == run_id:
                found.append(proc)
        except psutil.Error:
            continue  # gone, or another user's process: not ours either way
    return found


def _stop(children: list[psutil.Process]) -> None:
    from siyu.preflight import part_of

    waves: dict[int, list[psutil.Process]] = {0: [], 1: [], 2: []}
    for proc in children:
        part = part_of(proc)
        waves[0 if part == "collector" else 2 if part == "broker" else 1].append(proc)
    for wave in waves.values():
        alive = []
        for proc in wave:
            try:
                proc.terminate()
                alive.append(proc)
            except psutil.Error:
                continue
        _, left = psutil.wait_procs(alive, timeout=_GRACE_S)
        for proc in left:
            try:
                proc.kill()
            except psutil.Error:
                continue


def main() -> None:
    run_id = sys.argv[1]
    while sys.stdin.buffer.read(4096):
        pass  # the supervisor never writes: this returns when its end closes
    _stop(_carriers(run_id))


if __name__ == "__main__":
    main()
