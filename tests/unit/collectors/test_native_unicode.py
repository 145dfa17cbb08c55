"""/v1/batch reads text like the Sensors routes: a lone surrogate (a string cut inside an
emoji, serialized by JSON.stringify as ``\\udXXX``) is replaced with a warning, and one
unreadable element or NDJSON line is rejected alone."""

from __future__ import annotations

import orjson
import pytest

from collectors.decoding import LONE_SURROGATE
from collectors.exceptions import BadBody
from collectors.limits import Limits
from collectors.parsing import Parsed, parse_native
from tests.sensors_text import TEXTS

NOW = 1_795_000_000_000


def _event(i: int, value: str = "ok") -> bytes:
    return orjson.dumps(
        {
            "event_id": f"n-{i}",
            "event": "share",
            "time": NOW,
            "platform": "h5",
            "identities": {"anonymous_id": "a-1"},
            "properties": {"t": value},
        }
    )


def _parse(body: bytes, *, ndjson: bool = False) -> Parsed:
    return parse_native(body, received_at=NOW, limits=Limits(), ndjson=ndjson)


@pytest.mark.parametrize("wrapped", [False, True], ids=["array", "sent-at-wrapper"])
def test_a_lone_surrogate_escape_is_replaced_with_a_warning(wrapped: bool) -> None:
    cut = _event(1, "CUT").replace(b"CUT", "好".encode() + b"\\ud83d")
    events = b"[" + _event(0, TEXTS["zwj"]) + b"," + cut + b"]"
    body = b'{"sent_at": %d, "events": %s}' % (NOW, events) if wrapped else events
    parsed = _parse(body)
    assert not parsed.rejections
    got = [e.properties["t"] for e in parsed.events]
    assert got == [TEXTS["zwj"], "好\ufffd"]
    assert LONE_SURROGATE in parsed.events[1].warnings


def test_one_unreadable_element_is_rejected_alone() -> None:
    body = b"[" + b",".join([_event(0), b'{"event": "\xff"}', _event(2)]) + b"]"
    parsed = _parse(body)
    assert [e.event_id for e in parsed.events] == ["n-0", "n-2"]
    (rejection,) = parsed.rejections
    assert (rejection.index, rejection.code, rejection.payload) == (
        1,
        "bad_utf8",
        b'{"event": "\xff"}',
    )


def test_ndjson_lines_are_read_one_by_one() -> None:
    cut = _event(1, "CUT").replace(b"CUT", b"\\udc00")
    body = b"\n".join([_event(0), cut, b"{broken", _event(3)])
    parsed = _parse(body, ndjson=True)
    assert [e.event_id for e in parsed.events] == ["n-0", "n-1", "n-3"]
    assert parsed.events[1].properties["t"] == "\ufffd"
    assert [(r.index, r.code) for r in parsed.rejections] == [(2, "bad_json")]


def test_a_body_that_cannot_be_read_is_refused_whole() -> None:
    with pytest.raises(BadBody) as info:
        _parse(b"[" + _event(0))
    assert info.value.code == "bad_json"
