"""The ClickHouse SQL of a funnel definition: step conditions and the windowFunnel check.

The live counters (``siyu.funnel_counts``) must equal what ``windowFunnel`` computes
over ``siyu.events`` for the same users and entry days; :func:`window_funnel_sql` writes
that query for any funnel, so tests, docs and ``siyu funnel-sql`` use one definition.
``source`` is any relation with the columns of ``siyu.events`` (``user_id``,
``event_time``, ``event``, ``platform``, ``properties``, ``context``, ``identities``),
e.g. a view that maps users through ``identity_map``.
"""

from __future__ import annotations

# ruff: noqa: S608 - builds SQL from checked definitions; every literal goes through quote()
from streams.domain.entry_sql import EntrySql
from streams.domain.funnel_defs import FissionConfig
from streams.domain.funnel_model import (
    DAY_S,
    TOP_FIELDS,
    Dimension,
    FieldPath,
    Filter,
    Funnel,
    Step,
)

__all__ = ["dimension_sql", "quote", "step_sql", "window_funnel_sql"]

_OPS = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def quote(value: str | float) -> str:
    """A ClickHouse literal."""
    if isinstance(value, float):
        return repr(value)
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _json_args(path: FieldPath) -> str:
    return ", ".join([path[0], *(quote(p) for p in path[1:])])


def _extract(path: FieldPath, numeric: bool) -> str:
    if path[0] in TOP_FIELDS:
        return f"toFloat64OrZero(toString({path[0]}))" if numeric else f"toString({path[0]})"
    return f"JSONExtract{'Float' if numeric else 'String'}({_json_args(path)})"


def _filter_sql(f: Filter) -> str:
    if f.op in ("exists", "not_exists"):
        if f.field[0] in TOP_FIELDS:
            return "1" if f.op == "exists" else "0"
        has = f"JSONHas({_json_args(f.field)})"
        return has if f.op == "exists" else f"NOT {has}"
    got = _extract(f.field, f.numeric)
    if f.op in ("in", "not_in"):
        values = f.value if isinstance(f.value, tuple) else (f.value,)
        listed = ", ".join(quote(v) for v in values if v is not None)
        return f"{got} {'IN' if f.op == 'in' else 'NOT IN'} ({listed})"
    value = f.value if isinstance(f.value, str | float) else ""
    return f"{got} {_OPS[f.op]} {quote(value)}"


def step_sql(step: Step) -> str:
    """A UInt8 condition true for the events that match ``step``."""
    names = ", ".join(quote(n) for n in sorted(step.events))
    parts = [f"event IN ({names})", *(f"({_filter_sql(f)})" for f in step.filters)]
    return " AND ".join(parts)


def dimension_sql(dim: Dimension) -> str:
    """The breakdown value of an event, as :func:`funnel_model.dimension_value` computes it."""
    if dim.name == "platform" and not dim.path:
        return "toString(platform)"
    if dim.name == "campaign" and not dim.path:
        return EntrySql(dim.scenes).campaign("context", "properties")
    if dim.name == "channel" and not dim.path:
        return EntrySql(dim.scenes).channel("context", "properties")
    return _extract(dim.path, numeric=False)


def _counts(funnel: Funnel, levels: str, breakdown: bool) -> str:
    names = ", ".join(quote(s.name) for s in funnel.steps)
    dims = "['', " + ", ".join(quote(d.name) for d in funnel.breakdown) + "]"
    group = "dimension, value, " if breakdown else ""
    select = f"arrayElement({dims}, dim + 2) AS dimension, value, " if breakdown else ""
    where = "WHERE dim >= 0 " if breakdown else "WHERE dim = -1 "
    return (
        f"SELECT {quote(funnel.name)} AS funnel, {select}step, "
        f"arrayElement([{names}], step) AS step_name, day, countIf(level >= step) AS users "
        f"FROM ({levels}) ARRAY JOIN range(1, {funnel.size + 1}) AS step {where}"
        f"GROUP BY {group}day, step HAVING users > 0 ORDER BY {group}day, step"
    )


def _ordered(funnel: Funnel, source: str, breakdown: bool) -> str:
    w, off = funnel.window_s, funnel.offset_s
    conds = [step_sql(s) for s in funnel.steps]
    dims = [dimension_sql(d) for d in funnel.breakdown] if breakdown else []
    names = ", ".join(quote(n) for n in sorted(funnel.event_names))
    cols = ", ".join(f"{c} AS s{i}" for i, c in enumerate(conds))
    bcols = "".join(f", {d} AS b{i}" for i, d in enumerate(dims))
    src = (
        f"SELECT user_id AS u, toUInt32(event_time) AS ts, intDiv(ts + {off}, {DAY_S}) AS dn, "
        f"{cols}{bcols} FROM {source} WHERE event IN ({names})"
    )
    entries = [
        f"SELECT DISTINCT u, dn AS day, {i} AS dim, b{i} AS value FROM src WHERE s0"
        for i in range(len(dims))
    ]
    if not breakdown:
        entries = ["SELECT DISTINCT u, dn AS day, -1 AS dim, '' AS value FROM src WHERE s0"]
    pick = f"[{', '.join(f'src.b{i}' for i in range(len(dims)))}]" if dims else "['']"
    first = (
        f"src.s0 AND src.dn = e.day AND (e.dim = -1 OR arrayElement({pick}, e.dim + 1) = e.value)"
    )
    rest = "".join(f", src.s{i}" for i in range(1, funnel.size))
    levels = (
        f"SELECT e.u, e.day AS dn, e.dim AS dim, e.value AS value, "
        f"addDays(toDate('1970-01-01'), e.day) AS day, "
        f"windowFunnel({w})(toDateTime(src.ts, 'UTC'), {first}{rest}) AS level "
        f"FROM ({' UNION ALL '.join(entries)}) AS e INNER JOIN src ON src.u = e.u "
        f"WHERE src.ts >= e.day * {DAY_S} - {off} "
        f"AND src.ts <= (e.day + 1) * {DAY_S} - {off} - 1 + {w} "
        f"GROUP BY e.u, e.day, e.dim, e.value"
    )
    return f"WITH src AS ({src}) {_counts(funnel, levels, breakdown)}"


def _fission(funnel: Funnel, config: FissionConfig, source: str) -> str:
    """Per (sharer, invitee): the sharer's shares, the invitee's visits carrying that
    sharer's share, and the invitee's later steps credited to the sharer (first touch:
    the invitee's earliest share visit; last touch: the latest one at or before the step)."""
    w, off = funnel.window_s, funnel.offset_s
    conds = [step_sql(s) for s in funnel.steps]
    names = ", ".join(quote(n) for n in sorted(funnel.event_names))
    sharer = (
        "if(JSONExtractString(context, 'share', 'sharer') != '', "
        "JSONExtractString(context, 'share', 'sharer'), "
        "JSONExtractString(properties, '$share_distinct_id'))"
    )
    once = [i for i, s in enumerate(funnel.steps) if s.first]
    cols = ", ".join(f"{c} AS s{i}" for i, c in enumerate(conds))
    src = (
        f"SELECT user_id AS u, toUInt32(event_time) AS ts, intDiv(ts + {off}, {DAY_S}) AS dn, "
        f"toUnixTimestamp64Milli(time) AS tms, {sharer} AS raw_sharer, {cols} "
        f"FROM {source} WHERE event IN ({names})"
    )
    owners = (
        f"SELECT v, any(u) AS owner FROM (SELECT user_id AS u, arrayJoin(arrayConcat("
        f"mapValues(identities), [user_id])) AS v FROM {source}) GROUP BY v"
    )
    visits = (
        "SELECT src.u AS invitee, o.owner AS sharer, src.ts AS ts, src.tms AS tms FROM src "
        "INNER JOIN owners AS o ON o.v = src.raw_sharer "
        "WHERE src.s1 AND src.raw_sharer != '' AND o.owner != src.u"
    )
    firsts = "".join(f", minIf(tms, s{i}) AS first{i}" for i in once)
    marks = f"SELECT u{firsts} FROM src GROUP BY u" if once else "SELECT u FROM src GROUP BY u"
    later = [i for i in range(2, funnel.size)]
    gates = {i: f"src.tms = m.first{i}" if i in once else "1" for i in later}
    mask_expr = (
        " + ".join(f"bitShiftLeft(toUInt32(src.s{i} AND {gates[i]}), {i})" for i in later) or "0"
    )
    steps_src = (
        f"SELECT src.u AS invitee, src.ts AS ts, src.tms AS tms, {mask_expr} AS mask FROM src "
        f"INNER JOIN marks AS m ON m.u = src.u WHERE mask > 0"
    )
    if config.attribution == "first":
        credit = (
            "SELECT s.invitee, f.sharer, s.ts, s.mask FROM steps AS s INNER JOIN "
            "(SELECT invitee, argMin(sharer, tms) AS sharer, min(tms) AS since FROM visits "
            "GROUP BY invitee) AS f ON f.invitee = s.invitee WHERE s.tms >= f.since"
        )
    else:
        credit = (
            "SELECT s.invitee, v.sharer, s.ts, s.mask FROM steps AS s ASOF INNER JOIN "
            "(SELECT invitee, sharer, tms FROM visits) AS v "
            "ON v.invitee = s.invitee AND s.tms >= v.tms"
        )
    pairs = "SELECT DISTINCT sharer, invitee FROM visits"
    chain = (
        "SELECT p.sharer AS sharer, p.invitee AS invitee, x.ts AS ts, x.mask AS mask "
        "FROM pairs AS p INNER JOIN (SELECT u AS sharer, ts, 1 AS mask FROM src WHERE s0) AS x "
        "ON x.sharer = p.sharer "
        "UNION ALL SELECT sharer, invitee, ts, 2 AS mask FROM visits "
        "UNION ALL SELECT sharer, invitee, ts, mask FROM credited "
        "UNION ALL SELECT u, '', ts, 1 FROM src WHERE s0"
    )
    bits = "".join(f", bitTest(c.mask, {i}) = 1" for i in range(1, funnel.size))
    levels = (
        f"SELECT sharer AS u, dn, -1 AS dim, '' AS value, "
        f"addDays(toDate('1970-01-01'), dn) AS day, max(pair_level) AS level FROM ("
        f"SELECT c.sharer AS sharer, e.dn AS dn, windowFunnel({w})(toDateTime(c.ts, 'UTC'), "
        f"bitTest(c.mask, 0) = 1 AND intDiv(c.ts + {off}, {DAY_S}) = e.dn{bits}) AS pair_level "
        f"FROM chain AS c INNER JOIN (SELECT DISTINCT u, dn FROM src WHERE s0) AS e "
        f"ON e.u = c.sharer "
        f"WHERE c.ts >= e.dn * {DAY_S} - {off} "
        f"AND c.ts <= (e.dn + 1) * {DAY_S} - {off} - 1 + {w} "
        f"GROUP BY c.sharer, c.invitee, e.dn) GROUP BY sharer, dn"
    )
    return (
        f"WITH src AS ({src}), owners AS ({owners}), visits AS ({visits}), marks AS ({marks}), "
        f"steps AS ({steps_src}), credited AS ({credit}), pairs AS ({pairs}), chain AS ({chain}) "
        f"{_counts(funnel, levels, False)}"
    )


def window_funnel_sql(
    funnel: Funnel,
    *,
    source: str = "siyu.events",
    breakdown: bool = False,
    fission: FissionConfig | None = None,
) -> str:
    """Counts per (day, step) — or per (dimension, value, day, step) with ``breakdown`` —
    computed by ``windowFunnel`` over ``source``, comparable to ``siyu.funnel_counts``."""
    if funnel.kind == "fission":
        return _fission(funnel, fission or FissionConfig(), source)
    return _ordered(funnel, source, breakdown)
