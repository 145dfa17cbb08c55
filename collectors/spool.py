"""A local append-only disk spool for Kafka messages while the broker is away.

Layout of a spool directory: segment files ``<n:012d>.seg`` holding framed records, and
``cursor`` (``"<segment> <offset>"``: everything before it has reached Kafka).

Durability, what is fsynced when:
- :meth:`Spool.append` writes the frames of every group it is given, then ``fsync`` s the
  segment once (group commit) before returning; the collector acknowledges spooled events
  only after that. A new segment file is followed by an ``fsync`` of the directory.
- :meth:`Spool.commit` writes the cursor to a temporary file, ``fsync`` s it and renames it
  over ``cursor`` (then ``fsync`` s the directory); finished segments are deleted after.
- A crash can leave a torn frame at the end of the last segment: it is detected (length,
  CRC-32) and cut off at the next open; it was never acknowledged. A crash between a
  replay and its cursor commit sends that replay batch again: downstream tables dedupe by
  ``event_id`` (at-least-once, as everywhere in siyu).

Not thread-safe: one owner (the :class:`collectors.delivery.SpoolingProducer`) calls it,
from one worker thread at a time.
"""

from __future__ import annotations

import logging
import os
import struct
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Spool", "SpoolPosition", "SpooledRecord"]

logger = logging.getLogger(__name__)

Message = tuple[str, bytes, bytes]

# frame: magic, body length, crc32(body); body: spooled_at ms, topic len, key len, topic, key, value
_FRAME = struct.Struct("<BII")
_BODY = struct.Struct("<QHI")
_MAGIC = 0xA7


@dataclass(frozen=True, slots=True, order=True)
class SpoolPosition:
    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class SpooledRecord:
    message: Message
    spooled_at_ms: int
    end: SpoolPosition
    """Position just after this record: commit it once the record reached Kafka."""


def _encode(message: Message, now_ms: int) -> bytes:
    topic, key, value = message
    t = topic.encode()
    body = _BODY.pack(now_ms, len(t), len(key)) + t + key + value
    return _FRAME.pack(_MAGIC, len(body), zlib.crc32(body)) + body


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    def __init__(self, directory: Path, *, max_bytes: int, segment_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._write_fd: int | None = None
        self._read_cache: tuple[int, bytes] | None = None
        self._oldest_ms: int | None = None
        self.cursor = self._read_cursor()
        self._segments = sorted(int(p.stem) for p in directory.glob("*.seg"))
        for n in [n for n in self._segments if n < self.cursor.segment]:
            self._path(n).unlink()  # replayed before a crash, not yet deleted
        self._segments = [n for n in self._segments if n >= self.cursor.segment]
        self._sizes = {n: self._path(n).stat().st_size for n in self._segments}
        if self._segments:
            self._repair_tail(self._segments[-1])
        if self.cursor.segment not in self._sizes:
            # Segment numbers are never reused: an absent cursor segment is the next one.
            first = self._segments[0] if self._segments else self.cursor.segment + 1
            self.cursor = SpoolPosition(first if self.cursor.offset else self.cursor.segment, 0)
            if self._segments and self.cursor.segment < self._segments[0]:
                self.cursor = SpoolPosition(self._segments[0], 0)
        elif self.cursor.offset > self._sizes[self.cursor.segment]:
            self.cursor = SpoolPosition(self.cursor.segment, self._sizes[self.cursor.segment])

    # -- paths and state -----------------------------------------------------------------
    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:012d}.seg"

    def _read_cursor(self) -> SpoolPosition:
        try:
            seg, off = (self.directory / "cursor").read_text().split()
            return SpoolPosition(int(seg), int(off))
        except (FileNotFoundError, ValueError):
            return SpoolPosition(1, 0)

    def _repair_tail(self, segment: int) -> None:
        data = self._path(segment).read_bytes()
        good = 0
        for _rec, end in self._frames(data, 0):
            good = end
        if good < len(data):
            logger.warning(
                "spool segment %s: cutting a torn tail of %d bytes", segment, len(data) - good
            )
            with self._path(segment).open("r+b") as f:
                f.truncate(good)
                f.flush()
                os.fsync(f.fileno())
            self._sizes[segment] = good

    @property
    def size_bytes(self) -> int:
        """Bytes not yet replayed."""
        total = sum(s for n, s in self._sizes.items() if n >= self.cursor.segment)
        return max(0, total - (self.cursor.offset if self.cursor.segment in self._sizes else 0))

    def empty(self) -> bool:
        return self.size_bytes == 0

    def oldest_age_s(self, now_ms: int) -> float:
        """Age of the oldest record not yet replayed (0 when empty)."""
        if self.empty():
            self._oldest_ms = None
            return 0.0
        if self._oldest_ms is None:
            first = self.read(1)
            self._oldest_ms = first[0].spooled_at_ms if first else now_ms
        return max(0.0, (now_ms - self._oldest_ms) / 1000)

    # -- append --------------------------------------------------------------------------
    def _open_for_append(self) -> int:
        if not self._segments or self._sizes[self._segments[-1]] >= self.segment_bytes:
            if self._write_fd is not None:
                os.close(self._write_fd)
                self._write_fd = None
            n = max(self._segments[-1] + 1 if self._segments else 0, self.cursor.segment, 1)
            self._segments.append(n)
            self._sizes[n] = 0
            fd = os.open(self._path(n), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            _fsync_dir(self.directory)
            self._write_fd = fd
        elif self._write_fd is None:
            self._write_fd = os.open(self._path(self._segments[-1]), os.O_WRONLY | os.O_APPEND)
        return self._write_fd

    def append(
        self, groups: Sequence[Sequence[Message]], *, now_ms: int | None = None
    ) -> list[bool]:
        """Write each group whole or not at all (False: the spool is full); fsync once."""
        now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        verdicts: list[bool] = []
        size = self.size_bytes
        wrote = False
        for group in groups:
            data = b"".join(_encode(m, now_ms) for m in group)
            if size + len(data) > self.max_bytes:
                verdicts.append(False)
                continue
            fd = self._open_for_append()
            os.write(fd, data)
            self._sizes[self._segments[-1]] += len(data)
            size += len(data)
            wrote = True
            verdicts.append(True)
        if wrote and self._write_fd is not None:
            os.fsync(self._write_fd)
        return verdicts

    # -- replay --------------------------------------------------------------------------
    @staticmethod
    def _frames(data: bytes, start: int):  # type: ignore[no-untyped-def]
        pos = start
        while pos + _FRAME.size <= len(data):
            magic, length, crc = _FRAME.unpack_from(data, pos)
            body_start = pos + _FRAME.size
            body = data[body_start : body_start + length]
            if magic != _MAGIC or len(body) != length or zlib.crc32(body) != crc:
                return
            at_ms, tlen, klen = _BODY.unpack_from(body, 0)
            o = _BODY.size
            topic = body[o : o + tlen].decode()
            key = body[o + tlen : o + tlen + klen]
            value = body[o + tlen + klen :]
            pos = body_start + length
            yield ((topic, key, value), at_ms), pos

    def _segment_bytes(self, segment: int) -> bytes:
        size = self._sizes.get(segment, 0)
        if (
            self._read_cache is None
            or self._read_cache[0] != segment
            or len(self._read_cache[1]) < size
        ):
            self._read_cache = (segment, self._path(segment).read_bytes()[:size])
        return self._read_cache[1]

    def read(self, max_records: int) -> list[SpooledRecord]:
        """Up to ``max_records`` records from the cursor on, in append order."""
        out: list[SpooledRecord] = []
        pos = self.cursor
        for segment in [n for n in self._segments if n >= pos.segment]:
            start = pos.offset if segment == pos.segment else 0
            data = self._segment_bytes(segment)
            for (message, at_ms), end in self._frames(data, start):
                out.append(SpooledRecord(message, at_ms, SpoolPosition(segment, end)))
                if len(out) >= max_records:
                    return out
        return out

    def commit(self, position: SpoolPosition) -> None:
        """Everything before ``position`` reached Kafka: persist the cursor, drop old segments."""
        if self._sizes.get(position.segment) == position.offset and position.segment != (
            self._segments[-1] if self._segments else None
        ):
            later = [n for n in self._segments if n > position.segment]
            position = SpoolPosition(later[0], 0) if later else position
        self._write_cursor(position)
        self.cursor = position
        self._oldest_ms = None
        for n in [n for n in self._segments if n < position.segment]:
            self._path(n).unlink(missing_ok=True)
            self._segments.remove(n)
            del self._sizes[n]
        if self._read_cache is not None and self._read_cache[0] < position.segment:
            self._read_cache = None
        self._maybe_reset()

    def _write_cursor(self, position: SpoolPosition) -> None:
        tmp = self.directory / "cursor.tmp"
        with tmp.open("w") as f:
            f.write(f"{position.segment} {position.offset}")
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.directory / "cursor")
        _fsync_dir(self.directory)

    def _maybe_reset(self) -> None:
        """All replayed and only one segment left: truncate it instead of growing forever."""
        if (
            len(self._segments) == 1
            and self.empty()
            and self._sizes[self._segments[0]] >= self.segment_bytes
        ):
            n = self._segments[0]
            self._write_cursor(SpoolPosition(n + 1, 0))
            if self._write_fd is not None:
                os.close(self._write_fd)
                self._write_fd = None
            self._segments = []
            del self._sizes[n]
            self._path(n).unlink(missing_ok=True)
            self._read_cache = None
            self.cursor = SpoolPosition(n + 1, 0)

    def close(self) -> None:
        if self._write_fd is not None:
            os.close(self._write_fd)
            self._write_fd = None
