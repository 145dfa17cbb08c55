"""The live funnel state machine against ClickHouse's windowFunnel on the same events.

Random event histories go through :func:`advance` / :mod:`fission` per user and, as rows,
through the SQL of :func:`window_funnel_sql` in an in-process chDB: per entry day (and
breakdown value) and step, the user counts must be equal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from chdb import session as chdb_session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.records import TrackEvent
from streams.domain import fission
from streams.domain.funnel_defs import FunnelSet
from streams.domain.funnel_sql import window_funnel_sql
from streams.domain.funnels import FunnelProgress, advance, window_funnel_level
from tests.unit.streams.domain.funnel_factories import (
    COMMERCE_SPEC,
    DAY,
    FISSION_SPEC,
    T0,
    ev,
    funnels,
)

_DDL = """
CREATE TABLE events (
    user_id String, event String, time DateTime64(3, 'UTC'),
    event_time DateTime('UTC') MATERIALIZED toDateTime(time),
    platform String, properties String, context String, identities Map(String, String)
) ENGINE = Memory
"""


@pytest.fixture(scope="module")
def chdb() -> Iterator[Any]:
    s = chdb_session.Session()
    s.query("CREATE DATABASE IF NOT EXISTS parity")
    s.query("USE parity")
    yield s
    s.close()


def _load(chdb: Any, events: list[TrackEvent]) -> None:
    chdb.query("DROP TABLE IF EXISTS events")
    chdb.query(_DDL)
    if not events:
        return
    rows = [
        {
            "user_id": e.user_id,
            "event": e.event,
            "time": e.time / 1000,
            "platform": e.platform,
            "properties": orjson.dumps(e.properties).decode(),
            "context": orjson.dumps(e.context).decode(),
            "identities": dict(e.identities),
        }
        for e in events
    ]
    body = b"\n".join(orjson.dumps(r) for r in rows).decode()
    chdb.query(f"INSERT INTO events FORMAT JSONEachRow\n{body}")


def _sql_counts(chdb: Any, sql: str, breakdown: bool) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    text = chdb.query(sql, "JSONEachRow").bytes().decode()
    for line in text.splitlines():
        r = orjson.loads(line)
        key = (r["dimension"], r["value"]) if breakdown else ()
        out[(*key, r["day"], r["step"])] = int(r["users"])
    return out


def _day(n: int) -> str:
    import datetime as dt

    return (dt.date(1970, 1, 1) + dt.timedelta(days=n)).isoformat()


_NAMES = ["$pageview", "$MPViewScreen", "view_product", "add_to_cart", "pay_order", "login"]
_CONTEXTS = [{}, {"utm": {"source": "wechat"}}, {"scene": 1007}, {"utm": {"source": ""}}]

event_rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(_NAMES),
        st.integers(min_value=0, max_value=2 * DAY),
        st.sampled_from(["miniprogram", "h5"]),
        st.sampled_from(range(len(_CONTEXTS))),
        st.integers(min_value=0, max_value=999),
    ),
    max_size=40,
)


# Entry days in UTC, in Asia/Shanghai (+08:00) and in a zone west of UTC.
OFFSETS = [0, 8 * 3600, -(5 * 3600 + 1800)]


@pytest.mark.parametrize("offset", OFFSETS)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=event_rows)
def test_ordered_funnel_matches_window_funnel(chdb: Any, offset: int, rows: list[Any]) -> None:
    defs = funnels(COMMERCE_SPEC).in_zone(offset)
    funnel = defs.funnels[0]
    events = [
        ev(n, T0 + t, user=u, platform=p, context=_CONTEXTS[c], ms=ms) for u, n, t, p, c, ms in rows
    ]
    live: Counter[tuple[Any, ...]] = Counter()
    by_user: dict[str, FunnelProgress | None] = {}
    for e in sorted(events, key=lambda e: e.time):
        progress, done = advance(funnel, by_user.get(e.user_id or ""), e)
        by_user[e.user_id or ""] = progress
        for c in done:
            live[(c.dimension, c.value, _day(c.day), c.step)] += 1
    _load(chdb, events)
    total = _sql_counts(chdb, window_funnel_sql(funnel, source="events"), False)
    split = _sql_counts(chdb, window_funnel_sql(funnel, source="events", breakdown=True), True)
    assert {k[2:]: v for k, v in live.items() if k[0] == ""} == dict(total)
    assert {k: v for k, v in live.items() if k[0] != ""} == dict(split)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seq=st.lists(
        st.tuples(st.integers(min_value=0, max_value=30), st.integers(min_value=1, max_value=15)),
        max_size=12,
    ),
    window=st.integers(min_value=1, max_value=12),
)
def test_window_funnel_level_matches_clickhouse(
    chdb: Any, seq: list[tuple[int, int]], window: int
) -> None:
    merged: dict[int, int] = {}
    for t, mask in seq:
        merged[t] = merged.get(t, 0) | mask
    ours = window_funnel_level(sorted(merged.items()), window, 4)
    if not seq:
        assert ours == 0
        return
    values = ", ".join(f"({T0 + t}, {mask})" for t, mask in seq)
    sql = (
        f"SELECT windowFunnel({window})(toDateTime(t, 'UTC'), bitTest(m, 0) = 1, "
        f"bitTest(m, 1) = 1, bitTest(m, 2) = 1, bitTest(m, 3) = 1) "
        f"FROM values('t UInt32, m UInt8', {values})"
    )
    assert ours == int(chdb.query(sql, "CSV").bytes().decode().strip())


def _fission_events(rows: list[Any]) -> list[TrackEvent]:
    events: list[TrackEvent] = []
    for i, (user, name, t, sharer) in enumerate(rows):
        ctx = {"share": {"sharer": f"o-{sharer}", "depth": 1}} if sharer and name != "share" else {}
        ids = {"wx_openid:wx1": f"o-{user}"}
        # Distinct milliseconds: the order of one user's events is then the same for both.
        events.append(ev(name, T0 + t, user=user, context=ctx, identities=ids, ms=i))
    return events


def _run_fission(defs: FunnelSet, events: list[TrackEvent]) -> Counter[tuple[Any, ...]]:
    funnel = defs.fission_funnel
    assert funnel is not None
    owners = {e.identities["wx_openid:wx1"]: e.user_id or "" for e in events}
    invitees: dict[str, fission.InviteeState] = {}
    sharers: dict[str, fission.SharerState] = {}
    live: Counter[tuple[Any, ...]] = Counter()
    pending: list[fission.FissionSignal] = []
    for e in sorted(events, key=lambda e: e.time):
        user = e.user_id or ""
        share = fission.share_of(e)
        resolved = {share[0]: owners[share[0]]} if share and share[0] in owners else {}
        invitees[user], signals = fission.attribute(
            funnel, defs.fission, invitees.get(user), user, [e], resolved
        )
        pending.extend(signals)
        while pending:
            sig = pending.pop(0)
            sharers[sig.to], out = fission.absorb(
                funnel, defs.fission, sharers.get(sig.to), sig.to, [sig]
            )
            pending.extend(out.signals)
            for c in out.completions:
                live[(_day(c.day), c.step)] += 1
    return live


fission_rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.sampled_from(["share", "$MPViewScreen", "register", "pay_order"]),
        st.integers(min_value=0, max_value=4 * DAY),
        st.sampled_from(["", "", "a", "b", "c", "x"]),
    ),
    max_size=30,
)


@pytest.mark.parametrize("offset", OFFSETS[:2])
@pytest.mark.parametrize("attribution", ["first", "last"])
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=fission_rows)
def test_fission_funnel_matches_window_funnel(
    chdb: Any, attribution: str, offset: int, rows: list[Any]
) -> None:
    spec = {**FISSION_SPEC, "fission": {**FISSION_SPEC["fission"], "attribution": attribution}}
    defs = funnels(spec).in_zone(offset)
    funnel = defs.fission_funnel
    assert funnel is not None
    events = _fission_events(rows)
    live = _run_fission(defs, events)
    _load(chdb, events)
    expected = _sql_counts(
        chdb, window_funnel_sql(funnel, source="events", fission=defs.fission), False
    )
    assert dict(live) == dict(expected)
