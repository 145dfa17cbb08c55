"""Children never outlive the supervisor, whatever ends it.

``siyu run`` starts this watchdog first, as ``python -m siyu.watchdog <supervisor pid>``
in a session of its own, with a pipe on its stdin whose other end only the supervisor
holds. While that pipe is open, the watchdog notes the supervisor's children every
``_POLL_S``. When it closes (the supervisor exited, normally or by SIGKILL, the OOM
killer or a process manager), the watchdog stops every child it noted that still runs,
with SIGTERM and SIGKILL after a grace period: the collector first (so it flushes its
producer and spool), then workers, lookup and sink, the broker last. A child that already
ended is recognised by its start time, so a reused pid is never signalled.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

import psutil

__all__ = ["Watchdog", "main"]

logger = logging.getLogger(__name__)

# Often enough that a child started just before the supervisor dies is noted; cheap:
# one /proc read of the supervisor's children.
_POLL_S = 0.2
# Time each child gets to stop on SIGTERM before it is killed.
_GRACE_S = 10.0


class Watchdog:
    """The supervisor's handle on its watchdog process."""

    def __init__(self) -> None:
        read, self._write = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "siyu.watchdog", str(os.getpid())],
            stdin=read,
            start_new_session=True,
        )
        os.close(read)
        os.set_inheritable(self._write, False)

    def release(self) -> None:
        """Normal end of the supervisor: children are stopped already, close the pipe."""
        if self._write >= 0:
            os.close(self._write)
            self._write = -1
        try:
            self.proc.wait(_GRACE_S * 2)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _watch(supervisor: int) -> None:
    seen: dict[int, psutil.Process] = {}
    gone = threading.Event()

    def wait_eof() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        gone.set()

    threading.Thread(target=wait_eof, daemon=True).start()
    try:
        parent = psutil.Process(supervisor)
    except psutil.NoSuchProcess:
        gone.set()
        parent = None
    me = os.getpid()
    while not gone.wait(_POLL_S):
        try:
            for child in parent.children() if parent else []:
                if child.pid != me and child.pid not in seen:
                    seen[child.pid] = child
        except psutil.Error:
            break
    _stop(list(seen.values()))


def _stop(children: list[psutil.Process]) -> None:
    """Collector first (it flushes to the broker or its spool), then workers, lookup and sink,
    then the broker."""
    from siyu.preflight import part_of

    waves: dict[int, list[psutil.Process]] = {0: [], 1: [], 2: []}
    for proc in children:
        part = part_of(proc)
        waves[0 if part == "collector" else 2 if part == "broker" else 1].append(proc)
    for wave in waves.values():
        alive = []
        for proc in wave:
            try:
                if proc.is_running():  # also compares the start time: a reused pid is not ours
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
    _watch(int(sys.argv[1]))


if __name__ == "__main__":
    main()
