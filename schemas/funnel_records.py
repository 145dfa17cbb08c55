"""Funnel records: progress on ``funnels.progress`` and fission signals on the internal
``funnels.fission`` topic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from schemas.codec import codec, legacy_json
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
    return codec("fission_signal").encode(
        {
            "project": project,
            "signals": [
                {
                    "to": s.to,
                    "kind": s.kind,
                    "t": s.t,
                    "invitee": s.invitee,
                    "step": s.step,
                    "depth": s.depth,
                    "campaign": s.campaign,
                    "bvals": list(s.bvals),
                    "inviter": s.inviter,
                    "root": s.root,
                }
                for s in signals
            ],
        }
    )


def decode_signals(data: bytes) -> tuple[str, list[FissionSignal]]:
    """The project and signals of a record; one written as JSON by an earlier version
    (``{"p": project, "s": signals}``) is read too."""
    old = legacy_json(data)
    project, signals = (old["p"], old["s"]) if old is not None else _avro_signals(data)
    return project, [FissionSignal(**{**s, "bvals": tuple(s["bvals"])}) for s in signals]


def _avro_signals(data: bytes) -> tuple[str, list[dict[str, Any]]]:
    d = codec("fission_signal").decode(data)
    return d["project"], d["signals"]
