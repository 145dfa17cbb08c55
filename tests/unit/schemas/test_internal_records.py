"""Records of the internal topics (tags.signals, state.transfer, funnels.fission): Avro
through the codec, and the JSON an earlier version wrote still read."""

from __future__ import annotations

import base64

import orjson
import pytest

from schemas.codec import codec
from schemas.exceptions import SchemaError
from schemas.funnel_records import decode_signals, encode_signals
from schemas.merge_records import (
    LateRecord,
    MergedState,
    StateTransfer,
    decode_transfer,
    encode_transfer,
)
from schemas.tag_records import TagSignal, decode_tag_signal, encode_tag_signal
from streams.domain.fission import FissionSignal

_AVRO = b"\xc3\x01"


@pytest.mark.parametrize(
    "signal",
    [
        pytest.param(TagSignal("tick"), id="tick"),
        pytest.param(TagSignal("segments"), id="segments"),
        pytest.param(TagSignal("credit", "p1", "用户-9", 1_764_000_000_123), id="credit"),
    ],
)
def test_tag_signal_round_trip(signal: TagSignal) -> None:
    data = encode_tag_signal(signal)
    assert data[:2] == _AVRO
    assert codec("tag_signal").decode(data)["kind"] == signal.kind
    assert decode_tag_signal(data) == signal


def test_tag_signal_of_unknown_kind_is_refused() -> None:
    with pytest.raises(SchemaError):
        encode_tag_signal(TagSignal("later"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("legacy", "expected"),
    [
        pytest.param(b'{"kind":"tick"}', TagSignal("tick"), id="tick"),
        pytest.param(b'{"kind":"segments"}', TagSignal("segments"), id="segments"),
        pytest.param(
            b'{"kind":"credit","invitee":"i1","at":42,"project":"p"}',
            TagSignal("credit", "p", "i1", 42),
            id="credit",
        ),
    ],
)
def test_tag_signal_written_as_json_before_is_read(legacy: bytes, expected: TagSignal) -> None:
    assert decode_tag_signal(legacy) == expected


STATE = {"project": "p", "tags": {"vip": True, "score": 2.5}, "seen": ["e1", "e2"], "n": None}


@pytest.mark.parametrize(
    "transfer",
    [
        pytest.param(MergedState("user_profiles", "u-loser", ("u0", "u1"), STATE), id="merged"),
        pytest.param(MergedState("user_event_counts", "u2", (), 7), id="merged-scalar"),
        pytest.param(LateRecord("funnel_progress", b"\xc3\x01\x00\xff", "u2>t/3", 99), id="late"),
    ],
)
def test_state_transfer_round_trip(transfer: StateTransfer) -> None:
    data = encode_transfer(transfer)
    assert data[:2] == _AVRO
    assert decode_transfer(data) == transfer


def test_state_transfer_written_as_json_before_is_read() -> None:
    merged = {"table": "user_profiles", "loser": "a", "merged_from": ["z"], "state": STATE}
    assert decode_transfer(orjson.dumps(merged)) == MergedState("user_profiles", "a", ("z",), STATE)
    record = b"\xc3\x01late bytes"
    late = {
        "table": "user_profiles",
        "late": base64.b64encode(record).decode(),
        "origin": "a>siyu.events.stitched/0",
        "offset": 5,
    }
    assert decode_transfer(orjson.dumps(late)) == LateRecord(
        "user_profiles", record, "a>siyu.events.stitched/0", 5
    )


SIGNALS = [
    FissionSignal("s1", "share", 1_764_000_000, bvals=("wx", "海报"), campaign="c1"),
    FissionSignal("s1", "invitee", 1_764_000_100, invitee="i1", step=2, depth=1, root="s0"),
    FissionSignal("i1", "inviter", 1_764_000_200, inviter="s1", root="s0", depth=2),
]


def test_fission_signals_round_trip() -> None:
    data = encode_signals("p", SIGNALS)
    assert data[:2] == _AVRO
    assert decode_signals(data) == ("p", SIGNALS)
    assert decode_signals(encode_signals("p", [])) == ("p", [])


def test_fission_signals_written_as_json_before_are_read() -> None:
    legacy = orjson.dumps({"p": "p", "s": SIGNALS})
    assert decode_signals(legacy) == ("p", SIGNALS)


def test_bytes_that_are_neither_avro_nor_json_are_refused() -> None:
    with pytest.raises(SchemaError):
        decode_tag_signal(b"tick")
    with pytest.raises(SchemaError):
        decode_transfer(b"{not json")
