"""Writes a small ip2region ``.xdb`` (IPv4, structure 3.0) for tests.

py-ip2region ships no data file; the real one is downloaded by operators. This builds a
file in the documented layout (256-byte header, 256×256 vector index of (start, end)
segment-index pointers, region strings, 14-byte segment index entries with little-endian
IPs) so the collector's region enrichment is tested with the real searcher.
"""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path

__all__ = ["write_xdb"]

_HEADER = 256
_VECTOR = 256 * 256 * 8


def write_xdb(path: Path, segments: list[tuple[str, str, str]]) -> None:
    """``segments``: (first ip, last ip, region) sorted, not overlapping."""
    data = bytearray()
    region_ptr: dict[str, tuple[int, int]] = {}
    base = _HEADER + _VECTOR
    for _, _, region in segments:
        if region not in region_ptr:
            raw = region.encode()
            region_ptr[region] = (base + len(data), len(raw))
            data += raw
    index_start = base + len(data)
    index = bytearray()
    vector: dict[tuple[int, int], list[int]] = {}
    for n, (first, last, region) in enumerate(segments):
        lo = int(ipaddress.IPv4Address(first))
        hi = int(ipaddress.IPv4Address(last))
        ptr, length = region_ptr[region]
        index += struct.pack("<IIHI", lo, hi, length, ptr)
        entry = index_start + n * 14
        for prefix in range(lo >> 16, (hi >> 16) + 1):
            cell = vector.setdefault((prefix >> 8, prefix & 0xFF), [entry, entry])
            cell[1] = entry
    vec = bytearray(_VECTOR)
    for (i0, i1), (s_ptr, e_ptr) in vector.items():
        struct.pack_into("<II", vec, (i0 * 256 + i1) * 8, s_ptr, e_ptr)
    header = bytearray(_HEADER)
    end = index_start + len(index) - 14
    struct.pack_into("<HHIIIHH", header, 0, 3, 1, 0, index_start, end, 4, 4)
    path.write_bytes(bytes(header) + bytes(vec) + bytes(data) + bytes(index))
