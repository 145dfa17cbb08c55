"""Funnel records: progress on ``funnels.progress`` (Avro) and fission signals on the
internal ``funnels.fission`` topic (JSON, like ``state.transfer``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.codec import codec
from streams.domain.fission import FissionEdge, FissionSignal
from streams.domain.funnels import StepCompletion

__all__ = [
    "ProgressRecord",
    "decode_progress",
    "decode_signals",
    "encode_progress",
    "encode_signals",
]


@dataclass(frozen=True, slots=True)
class ProgressRecord:
    project: str
    user_id: str
    steps: tuple[StepCompletion, ...]
    edges: tuple[FissionEdge, ...]


def encode_progress(
    project: str, user_id: str, steps: Sequence[StepCompletion], edges: Sequence[FissionEdge]
) -> bytes:
    return codec("funnel_progress").encode(
        {
            "project": project,
            "user_id": user_id,
            "steps": [
                {
                    "funnel": s.funnel,
                    "day": s.day,
                    "dimension": s.dimension,
                    "value": s.value,
                    "step": s.step,
                    "step_name": s.step_name,
                    "at": s.at,
                }
                for s in steps
            ],
            "edges": [
                {
                    "sharer": e.sharer,
                    "invitee": e.invitee,
                    "step": e.step,
                    "step_name": e.step_name,
                    "time": e.time,
                    "depth": e.depth,
                    "root": e.root,
                    "campaign": e.campaign,
                }
                for e in edges
            ],
        }
    )


def decode_progress(data: bytes) -> ProgressRecord:
    d = codec("funnel_progress").decode(data)
    return ProgressRecord(
        project=d["project"],
        user_id=d["user_id"],
        steps=tuple(StepCompletion(**s) for s in d["steps"]),
        edges=tuple(FissionEdge(**e) for e in d["edges"]),
    )


def encode_signals(project: str, signals: Sequence[FissionSignal]) -> bytes:
    """Signals for one user (the record key), as one record."""
    return orjson.dumps({"p": project, "s": signals})


def decode_signals(data: bytes) -> tuple[str, list[FissionSignal]]:
    doc: dict[str, Any] = orjson.loads(data)
    return doc["p"], [FissionSignal(**{**s, "bvals": tuple(s["bvals"])}) for s in doc["s"]]
