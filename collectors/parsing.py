"""Pure parsing of the native wire formats: raw body → events and per-event rejections.

No I/O here: the caller passes the receive time, limits and enrichment, and gets typed
records back. Accepted shapes: a JSON array of events, ``{"sent_at", "events"}``, one
event object, or NDJSON (one event per line); the same bytes whether they came as
``application/json``, ``text/plain`` (``navigator.sendBeacon``) or base64url in a pixel URL.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from collectors.decoding import Loaded, Unreadable, UnreadableElement, load_element, load_json
from collectors.envelope import Rejection, normalize
from collectors.exceptions import BadBody
from collectors.limits import Limits
from schemas.records import TrackEvent

__all__ = ["Parsed", "decode_base64", "inflate", "parse_events", "parse_native", "parse_pixel"]


@dataclass
class Parsed:
    events: list[TrackEvent] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    sent_at: int | None = None
    warnings: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)
    """(index, warnings) of accepted events that were normalized with a warning."""

    def add(self, index: int, verdict: TrackEvent | Rejection) -> None:
        if isinstance(verdict, Rejection):
            self.rejections.append(verdict)
            return
        self.events.append(verdict)
        if verdict.warnings:
            self.warnings.append((index, verdict.warnings))


def inflate(body: bytes, *, wbits: int, limit: int) -> bytes:
    """Decompress with a size cap (decompression-bomb guard).

    ``wbits``: 31 gzip, 15 zlib, 47 either.
    """
    d = zlib.decompressobj(wbits=wbits)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadBody(f"cannot decompress body: {exc}", code="bad_compression") from exc
    if len(out) > limit or d.unconsumed_tail:
        raise BadBody(
            f"body larger than {limit} bytes once decompressed", status=413, code="too_large"
        )
    if not d.eof:
        raise BadBody("cannot decompress body: truncated stream", code="bad_compression")
    return out


def decode_base64(text: str | bytes) -> bytes:
    """Standard or URL-safe base64, padding optional; spaces are ``+`` mangled by form decoding."""
    if isinstance(text, str):
        try:
            raw = text.strip().replace(" ", "+").replace("\r", "").replace("\n", "").encode("ascii")
        except UnicodeEncodeError as exc:
            raise BadBody("invalid base64: non-ASCII characters", code="bad_base64") from exc
    else:
        raw = text.strip().replace(b" ", b"+").replace(b"\r", b"").replace(b"\n", b"")
    raw = raw.replace(b"-", b"+").replace(b"_", b"/").rstrip(b"=.")
    try:
        return base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadBody(f"invalid base64: {exc}", code="bad_base64") from exc


def _ndjson(body: bytes) -> Loaded:
    """The documents of an NDJSON body; lines that cannot be read are rejected alone."""
    loaded = Loaded([])
    index = 0
    for line in body.split(b"\n"):
        line = line.strip()
        if not line:
            continue
        try:
            doc, repaired = load_element(line)
        except UnreadableElement as exc:
            loaded.doc.append(None)
            loaded.unreadable[index] = Unreadable(index, exc.code, exc.reason, line)
        else:
            loaded.doc.append(doc)
            if repaired:
                loaded.warnings[index] = repaired
        index += 1
    return loaded


def parse_native(
    body: bytes,
    *,
    received_at: int,
    limits: Limits,
    ndjson: bool = False,
    enrichment: Mapping[str, str] | None = None,
) -> Parsed:
    """Parse a ``/v1/batch`` body: a JSON array, ``{"sent_at", "events"}``, one event or NDJSON.

    Text is read as :mod:`collectors.decoding` reads it: a lone surrogate becomes U+FFFD
    with a warning, and an array element or NDJSON line that cannot be read is rejected
    alone.
    """
    if ndjson:
        return parse_events(
            _ndjson(body), received_at=received_at, limits=limits, enrichment=enrichment
        )
    try:
        loaded = load_json(body)
    except BadBody:
        if b"\n" not in body.strip():
            raise
        loaded = _ndjson(body)
        if len(loaded.unreadable) == len(loaded.doc):
            raise
        return parse_events(loaded, received_at=received_at, limits=limits, enrichment=enrichment)
    doc = loaded.doc
    sent_at: int | None = None
    if isinstance(doc, dict) and "events" in doc:
        sent_at = _sent_at(doc.get("sent_at"))
        doc = doc["events"]
        if loaded.warnings and isinstance(doc, list):  # repaired somewhere in the wrapper
            loaded.warnings = dict.fromkeys(range(len(doc)), loaded.warnings[0])
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise BadBody(
            "body must be a JSON array of events, {'sent_at', 'events'}, one event or NDJSON",
            code="bad_shape",
        )
    loaded.doc = doc
    return parse_events(
        loaded, received_at=received_at, limits=limits, sent_at=sent_at, enrichment=enrichment
    )


def _sent_at(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 < value < 2**62:
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def parse_events(
    loaded: Loaded,
    *,
    received_at: int,
    limits: Limits,
    sent_at: int | None = None,
    enrichment: Mapping[str, str] | None = None,
) -> Parsed:
    """Normalize the events of ``loaded.doc`` (a list); unreadable ones are rejected."""
    docs: list[Any] = loaded.doc
    if len(docs) > limits.max_events:
        raise BadBody(
            f"{len(docs)} events in one batch, limit is {limits.max_events}",
            status=413,
            code="too_many_events",
        )
    parsed = Parsed(sent_at=sent_at)
    unreadable, repaired = loaded.unreadable, loaded.warnings
    for index, raw in enumerate(docs):
        if unreadable:
            bad = unreadable.get(index)
            if bad is not None:
                parsed.rejections.append(Rejection(index, bad.code, bad.reason, bad.payload))
                continue
        verdict = normalize(
            raw,
            index=index,
            received_at=received_at,
            sent_at=sent_at,
            limits=limits,
            enrichment=enrichment,
        )
        if repaired and index in repaired and isinstance(verdict, TrackEvent):
            verdict = replace(verdict, warnings=verdict.warnings + repaired[index])
        parsed.add(index, verdict)
    return parsed


def parse_pixel(
    data: str, *, received_at: int, limits: Limits, enrichment: Mapping[str, str] | None = None
) -> Parsed:
    """``GET /v1/pixel.gif?data=<base64url JSON event or batch>``."""
    if not data:
        raise BadBody("missing data= parameter", code="no_data")
    return parse_native(
        decode_base64(data), received_at=received_at, limits=limits, enrichment=enrichment
    )
