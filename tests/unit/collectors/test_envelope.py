from __future__ import annotations

from typing import Any

import pytest

from collectors.envelope import Rejection, clean_identities, normalize, stored_time
from collectors.limits import Limits
from schemas.records import TrackEvent

NOW = 1_795_000_000_000
HOUR = 3600 * 1000


def _event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "e1",
        "event": "$pageview",
        "time": NOW - 1000,
        "platform": "h5",
        "identities": {"anonymous_id": "a1"},
    }
    event.update(fields)
    return event


def _norm(
    raw: Any, limits: Limits | None = None, sent_at: int | None = None
) -> TrackEvent | Rejection:
    limits = limits or Limits()
    return normalize(raw, index=3, received_at=NOW, sent_at=sent_at, limits=limits)


@pytest.mark.parametrize(
    ("client_time", "sent_at", "expected", "warning"),
    [
        pytest.param(NOW - 5000, None, NOW - 5000, None, id="no-sent-at-kept"),
        pytest.param(NOW + 60_000 - 500, NOW + 60_000, NOW - 500, None, id="skew-corrected"),
        pytest.param(NOW + 24 * HOUR, None, NOW, "time_in_future", id="future-falls-back"),
        pytest.param(NOW + 22 * HOUR, None, NOW + 22 * HOUR, None, id="22h-ahead-kept"),
        pytest.param(1000, None, NOW, "time_too_old", id="absurdly-old"),
        pytest.param(None, None, NOW, "time_missing", id="missing"),
    ],
)
def test_stored_time(
    client_time: int | None, sent_at: int | None, expected: int, warning: str | None
) -> None:
    assert stored_time(client_time, received_at=NOW, sent_at=sent_at, limits=Limits()) == (
        expected,
        warning,
    )


@pytest.mark.parametrize(
    "junk", ["", "null", "undefined", "0", "anonymous", "[object Object]", "NaN", None, True, {}]
)
def test_junk_identity_values_are_removed_with_a_warning(junk: Any) -> None:
    clean, warnings = clean_identities({"login_id": junk, "anonymous_id": " a1 "})
    assert clean == {"anonymous_id": "a1"}
    assert warnings == ["junk_identity:login_id"]


def test_event_with_only_junk_identities_is_rejected() -> None:
    verdict = _norm(_event(identities={"login_id": "undefined", "anonymous_id": "null"}))
    assert isinstance(verdict, Rejection)
    assert verdict.code == "no_identity"
    assert verdict.index == 3
    assert b"undefined" in verdict.payload


def test_accepted_event_carries_warnings() -> None:
    verdict = _norm(_event(identities={"anonymous_id": "a1", "login_id": "0"}))
    assert isinstance(verdict, TrackEvent)
    assert verdict.identities == {"anonymous_id": "a1"}
    assert "junk_identity:login_id" in verdict.warnings


def test_known_numeric_strings_are_coerced() -> None:
    raw = _event(
        time=str(NOW - 10),
        properties={"price": "12.50", "$screen_width": "390", "$is_first_day": "true", "x": "7"},
    )
    verdict = _norm(raw)
    assert isinstance(verdict, TrackEvent)
    assert verdict.time == NOW - 10
    assert verdict.properties == {
        "price": 12.5,
        "$screen_width": 390,
        "$is_first_day": True,
        "x": "7",
    }
    assert {"coerced:time", "coerced:price", "coerced:$screen_width"} <= set(verdict.warnings)


@pytest.mark.parametrize(
    ("fields", "limits", "code"),
    [
        pytest.param(
            {"properties": {f"p{i}": i for i in range(6)}},
            Limits(max_properties=5),
            "too_many_properties",
            id="property-count",
        ),
        pytest.param(
            {"event": "e" * 20}, Limits(max_name_length=10), "name_too_long", id="event-name"
        ),
        pytest.param(
            {"properties": {"p" * 20: 1}},
            Limits(max_name_length=10),
            "name_too_long",
            id="property-name",
        ),
        pytest.param(
            {"properties": {"a": {"b": {"c": {"d": 1}}}}},
            Limits(max_depth=2),
            "too_deep",
            id="nesting",
        ),
        pytest.param(
            {"properties": {"a": ["x" * 100]}},
            Limits(max_value_bytes=64),
            "value_too_large",
            id="value-size",
        ),
        pytest.param({"properties": {"a": 2**70}}, Limits(), "value_too_large", id="huge-int"),
        pytest.param({"type": "explode"}, Limits(), "unknown_type", id="type"),
        pytest.param({"event": ""}, Limits(), "no_event_name", id="no-name"),
        pytest.param({"platform": "fax"}, Limits(), "unknown_platform", id="platform"),
        pytest.param({"time": "yesterday"}, Limits(), "bad_time", id="time"),
        pytest.param({"properties": [1]}, Limits(), "bad_properties", id="properties-list"),
        pytest.param({"event_id": 5}, Limits(), "bad_event_id", id="event-id"),
    ],
)
def test_limits_and_shapes_reject_with_a_code(
    fields: dict[str, Any], limits: Limits, code: str
) -> None:
    verdict = _norm(_event(**fields), limits)
    assert isinstance(verdict, Rejection)
    assert verdict.code == code
    assert verdict.reason


def test_profile_events_need_no_name_and_item_events_no_identity() -> None:
    profile = _norm(_event(type="profile_set", event="", properties={"vip": True}))
    assert isinstance(profile, TrackEvent)
    item = _norm({"type": "item_set", "context": {"item": {"type": "book", "id": "1"}}})
    assert isinstance(item, TrackEvent)
    assert item.identities == {}


def test_time_beyond_avro_long_is_flagged_not_crashing() -> None:
    verdict = _norm(_event(time=2**70))
    assert isinstance(verdict, TrackEvent)
    assert verdict.client_time is None
    assert verdict.time == NOW
    assert "time_out_of_range" in verdict.warnings


def test_missing_event_id_gets_one() -> None:
    raw = _event()
    del raw["event_id"]
    verdict = _norm(raw)
    assert isinstance(verdict, TrackEvent)
    assert len(verdict.event_id) == 36


@pytest.mark.parametrize(
    ("context", "entry", "warnings"),
    [
        pytest.param({"lib": {"name": "x"}}, {}, (), id="no-entry"),
        pytest.param(
            {"qr": "poster-1", "material": "m1", "channel": "moments", "scene": 1047},
            {"qr": "poster-1", "material": "m1", "channel": "moments", "scene": "1047"},
            (),
            id="qr-material-channel-scene",
        ),
        pytest.param(
            {"utm": {"source": "wx", "medium": "cpc", "campaign": "c1", "term": 7}},
            {"utm_source": "wx", "utm_medium": "cpc", "utm_campaign": "c1", "utm_term": "7"},
            (),
            id="h5-utm",
        ),
        pytest.param(
            {"qr": {"id": 1}, "material": "", "channel": "x" * 129, "utm": "junk"},
            {},
            ("bad_entry:qr", "bad_entry:material", "bad_entry:channel"),
            id="unusable-values",
        ),
        pytest.param({"qr": None, "scene": True}, {}, ("bad_entry:scene",), id="null-and-bool"),
    ],
)
def test_entry_context_is_copied_to_the_entry_map(
    context: dict[str, Any], entry: dict[str, str], warnings: tuple[str, ...]
) -> None:
    event = _norm(_event(context=context))
    assert isinstance(event, TrackEvent)
    assert dict(event.entry) == entry
    assert tuple(w for w in event.warnings if w.startswith("bad_entry")) == warnings
    assert event.context == context  # the context keeps what was sent
