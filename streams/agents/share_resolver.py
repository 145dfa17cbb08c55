"""Resolve the sharer named by a share (a user id or a bare identity value) to a user id,
reading the identity graph every worker holds (:mod:`streams.agents.identity_table`)."""

from __future__ import annotations

import logging

import faust

from schemas.records import TrackEvent
from streams.agents.identity_table import GRAPH_TABLE, GraphStore, VersionedGlobalTable
from streams.domain.funnel_state import sharer_identities
from streams.domain.identity_rules import IdentityRules

__all__ = ["ShareResolver"]

logger = logging.getLogger(__name__)


class ShareResolver:
    def __init__(self, app: faust.App, rules: IdentityRules) -> None:
        self.rules = rules
        table = app.tables.get(GRAPH_TABLE)
        self.graph = GraphStore(table) if isinstance(table, VersionedGlobalTable) else None
        if self.graph is None:
            logger.warning("no identity graph table: shares cannot be attributed")

    def resolve(self, project: str, event: TrackEvent, shared: str) -> str | None:
        """The current user id of ``shared``; None when the graph does not know it."""
        graph = self.graph
        if graph is None:
            return None
        if graph.user(project, shared.strip()) is not None:
            return graph.final_user(project, shared.strip())
        for identity in sharer_identities(self.rules, event, shared):
            owner = graph.owner(project, identity)
            if owner is not None:
                return graph.final_user(project, owner)
        return None
