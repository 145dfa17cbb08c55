from __future__ import annotations

import os
import time

from siyu.broker import MemoryRotation, resident_bytes


def test_rotation_is_due_once_the_broker_passes_its_size_and_not_again_too_soon() -> None:
    sizes = {1: 100 << 20}
    rotation = MemoryRotation(max_bytes=256 << 20, min_interval_s=60, rss=lambda pid: sizes[pid])
    start = time.monotonic()
    assert not rotation.due(1, start + 61)  # under the size
    sizes[1] = 300 << 20
    assert not rotation.due(1, start + 1)  # too soon after start
    assert rotation.due(1, start + 61)
    assert not rotation.due(1, start + 100)  # too soon after the last restart
    assert rotation.due(1, start + 122)
    assert rotation.rotations == 2


def test_rotation_off_when_no_size_is_set() -> None:
    rotation = MemoryRotation(max_bytes=0, min_interval_s=0, rss=lambda pid: 1 << 40)
    assert not rotation.due(1)


def test_resident_bytes_reads_this_process_and_zero_for_a_gone_one() -> None:
    assert resident_bytes(os.getpid()) > 1 << 20
    assert resident_bytes(2**22 + 12345) == 0
