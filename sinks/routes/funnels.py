"""funnels.progress → siyu.funnel_steps (steps reached) and siyu.fission_edges."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from schemas.funnel_records import decode_progress
from sinks.route import Record, Route, Row, TableSpec
from siyu.settings import Settings

__all__ = ["FISSION_EDGES", "FUNNEL_STEPS", "progress_rows", "routes"]

FUNNEL_STEPS = TableSpec(
    "siyu.funnel_steps",
    ("project", "funnel", "dimension", "value", "day", "step", "step_name", "user_id", "at"),
)
FISSION_EDGES = TableSpec(
    "siyu.fission_edges",
    ("project", "sharer", "invitee", "step", "step_name", "time", "depth", "root", "campaign"),
)
_EPOCH = dt.date(1970, 1, 1)


def progress_rows(record: Record) -> Iterator[tuple[TableSpec, Row]]:
    if record.value is None:
        raise ValueError(f"empty record at {record.topic}/{record.partition}@{record.offset}")
    p = decode_progress(record.value)
    for s in p.steps:
        yield (
            FUNNEL_STEPS,
            (
                p.project,
                s.funnel,
                s.dimension,
                s.value,
                _EPOCH + dt.timedelta(days=s.day),
                s.step,
                s.step_name,
                p.user_id,
                s.at,
            ),
        )
    for e in p.edges:
        yield (
            FISSION_EDGES,
            (
                p.project,
                e.sharer,
                e.invitee,
                e.step,
                e.step_name,
                e.time,
                e.depth,
                e.root,
                e.campaign,
            ),
        )


def routes(settings: Settings) -> list[Route]:
    return [Route(topic=settings.kafka.topic("funnels.progress"), to_rows=progress_rows)]
