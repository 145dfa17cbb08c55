"""Resolve the sharer named by a share (a user id or a bare identity value) to a user id,
reading the identity graph every worker holds (:mod:`streams.agents.identity_table`).

Two readers: the link agent resolves the shares of the events it links with the graph
including the decisions it has just staged, and marks the answer on the event
(:data:`schemas.records.SHARER_USER`); the funnels follow that mark (through later
merges) and otherwise ask their own copy of the graph. Without the mark an anonymous
sharer decided in the same batch as their invitee would be unknown to the funnels'
copy for a moment, and the invitee never credited.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from schemas.records import SHARER_USER, TrackEvent, event_from_avro
from streams.agents.identity_table import GRAPH_TABLE, GraphStore, VersionedGlobalTable
from streams.domain.fission import share_of
from streams.domain.funnel_state import sharer_identities
from streams.domain.identity_rules import IdentityRules

__all__ = ["ShareResolver", "graph_resolver"]

logger = logging.getLogger(__name__)


class ShareResolver:
    def __init__(self, rules: IdentityRules, graph: GraphStore | None) -> None:
        self.rules = rules
        self.graph = graph

    def resolve(self, project: str, event: TrackEvent, shared: str) -> str | None:
        """The current user id of ``shared``; None when the graph does not know it."""
        graph = self.graph
        if graph is None:
            return None
        marked = event.entry.get(SHARER_USER)
        if marked:
            return graph.final_user(project, marked)
        if graph.user(project, shared.strip()) is not None:
            return graph.final_user(project, shared.strip())
        for identity in sharer_identities(self.rules, event, shared):
            owner = graph.owner(project, identity)
            if owner is not None:
                return graph.final_user(project, owner)
        return None

    def mark(self, project: str, events: list[dict[str, Any]]) -> None:
        """Mark the resolved sharer on each event (Avro dicts) that names one."""
        for e in events:
            # Cheap test first: most events carry no share, and parsing is not free.
            if "share" not in e["context"] and "$share_distinct_id" not in e["properties"]:
                continue
            event = event_from_avro(e)
            share = share_of(event)
            who = self.resolve(project, event, share[0]) if share else None
            if who is not None:
                e["entry"] = {**e["entry"], SHARER_USER: who}


def graph_resolver(app: faust.App, rules: IdentityRules) -> ShareResolver:
    """A resolver over this worker's copy of the identity graph."""
    table = app.tables.get(GRAPH_TABLE)
    if not isinstance(table, VersionedGlobalTable):
        logger.warning("no identity graph table: shares cannot be attributed")
        return ShareResolver(rules, None)
    return ShareResolver(rules, GraphStore(table))
