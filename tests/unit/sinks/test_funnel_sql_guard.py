"""What ``siyu funnel-sql`` prints can be run through the SQL endpoint with a read key."""

from __future__ import annotations

from sinks.sql_guard import Scope, guard
from streams.domain.funnel_sql import window_funnel_sql
from streams.funnel_config import funnels_of


def test_every_shipped_funnel_query_passes_the_endpoint_s_function_allow_list() -> None:
    defs = funnels_of()
    scope = Scope(database="p_default", tables=frozenset())
    kinds = []
    for funnel in defs.funnels:
        for breakdown in (False, True):
            sql = window_funnel_sql(
                funnel, source="siyu.events_current", breakdown=breakdown, fission=defs.fission
            )
            kinds.append(guard(sql, scope).kind)
    assert kinds == ["select"] * 2 * len(defs.funnels)
