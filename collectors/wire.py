"""A fast writer of ``EventBatch`` records, byte-identical to :mod:`schemas.codec`.

The collector encodes every accepted event once, on its hottest path; the generic
fastavro writer spent as much time per event as all of parsing and validation. This
writer knows the one schema and appends bytes directly. A unit test checks it against
the codec byte for byte (``tests/unit/collectors/test_wire.py``), and
:func:`encode_batch` refuses to run against a schema it was not written for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson

from schemas.codec import codec
from schemas.records import EventBatch

__all__ = ["encode_batch"]

_BATCH_FIELDS = [
    "project",
    "key",
    "received_at",
    "sent_at",
    "ip",
    "user_agent",
    "source",
    "origin",
    "origin_offset",
    "events",
]
_EVENT_FIELDS = [
    "event_id",
    "type",
    "event",
    "time",
    "client_time",
    "platform",
    "identities",
    "properties",
    "context",
    "lib_name",
    "lib_version",
    "user_id",
    "warnings",
    "enrichment",
    "entry",
]


def _check_schema() -> bytes:
    c = codec("event_batch")
    fields = [f["name"] for f in c.schema["fields"]]
    event = c.schema["fields"][-1]["type"]["items"]
    if fields != _BATCH_FIELDS or [f["name"] for f in event["fields"]] != _EVENT_FIELDS:
        raise RuntimeError("event_batch.avsc changed: update collectors/wire.py")
    empty = {"project": "", "key": "", "received_at": 0, "source": "", "events": []}
    return c.encode(empty)[:10]  # C3 01 + the 8-byte schema fingerprint


_HEADER = _check_schema()


def _uvarint(z: int) -> bytes:
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


# Varints from tables, 14 bits at a time: the last group (1–2 bytes) from _LAST, every
# group before it (2 bytes with continuation bits) from _MIDDLE. Millisecond times take
# three lookups instead of six shifts and appends.
_LAST = [_uvarint(z) for z in range(1 << 14)]
_MIDDLE = [bytes([(c & 0x7F) | 0x80, ((c >> 7) & 0x7F) | 0x80]) for c in range(1 << 14)]
# Lengths and small numbers: zigzag varints of 0 … 8191.
_SMALL = [_LAST[n << 1] for n in range(8192)]


def _long(n: int) -> bytes:
    if 0 <= n < 8192:
        return _SMALL[n]
    z = ((n << 1) ^ (n >> 63)) & 0xFFFFFFFFFFFFFFFF
    if z < 1 << 14:
        return _LAST[z]
    parts = []
    while z >= 1 << 14:
        parts.append(_MIDDLE[z & 0x3FFF])
        z >>= 14
    parts.append(_LAST[z])
    return b"".join(parts)


def _str(s: str) -> bytes:
    b = s.encode()
    return _long(len(b)) + b


# Low-cardinality strings (types, names, platforms, identity keys, warnings) recur in
# every request: their encodings are cached, and the cache is bounded.
_CACHE: dict[str, bytes] = {}
_CACHE_MAX = 8192


def _cstr(s: str) -> bytes:
    b = _CACHE.get(s)
    if b is None:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        b = _CACHE[s] = _str(s)
    return b


def _raw(b: bytes) -> bytes:
    return _long(len(b)) + b


def _map(m: Mapping[str, str]) -> bytes:
    if not m:
        return b"\x00"
    parts = [_long(len(m))]
    for k, v in m.items():
        parts.append(_cstr(k))
        parts.append(_str(v))
    parts.append(b"\x00")
    return b"".join(parts)


def _array(items: Sequence[str]) -> bytes:
    if not items:
        return b"\x00"
    return _long(len(items)) + b"".join([_cstr(s) for s in items]) + b"\x00"


def _opt_long(n: int | None) -> bytes:
    return b"\x00" if n is None else b"\x02" + _long(n)


def encode_batch(batch: EventBatch) -> bytes:
    """The Avro single-object encoding of ``batch``, as ``schemas.records.encode_batch`` gives."""
    parts = [
        _HEADER,
        _cstr(batch.project),
        _str(batch.key),
        _long(batch.received_at),
        _opt_long(batch.sent_at),
        _str(batch.ip),
        _str(batch.user_agent),
        _cstr(batch.source),
        _str(batch.origin),
        _long(batch.origin_offset),
    ]
    events = batch.events
    if events:
        # The events of one request share one enrichment map: encode it once.
        shared_map = events[0].enrichment
        shared = _map(shared_map)
        parts.append(_long(len(events)))
        for e in events:
            parts += (
                _str(e.event_id),
                _cstr(e.type),
                _cstr(e.event),
                _long(e.time),
                _opt_long(e.client_time),
                _cstr(e.platform),
                _map(e.identities),
                _raw(orjson.dumps(e.properties)),
                _raw(orjson.dumps(e.context)),
                _cstr(e.lib_name),
                _cstr(e.lib_version),
                b"\x00" if e.user_id is None else b"\x02" + _str(e.user_id),
                _array(e.warnings),
                shared if e.enrichment is shared_map else _map(e.enrichment),
                _map(e.entry),
            )
    parts.append(b"\x00")
    return b"".join(parts)
