"""The fission views on a hand-built share tree: K-factor over every sharer, descendants
at any depth for every sharer (mid-chain ones included), step numbers from the funnels.

Tree (first touch): A → B → C → D, B → E, A → F; G shared and brought nobody; C visited
later through F's link too (a second touch, not a second parent). Registered: C, D, E.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sinks.definitions import SqlDefinitions
from sinks.writer import ClickHouseWriter
from streams.funnel_config import load_funnels

DEFS = SqlDefinitions.build({}, load_funnels())
VISIT, SUCCESS = DEFS.visit_step, DEFS.success_step
PARENT = {"B": "A", "C": "B", "D": "C", "E": "B", "F": "A"}
REGISTERED = {"C", "D", "E"}
SHARERS = {"A", "B", "C", "F", "G"}  # every user with a share event


@pytest.fixture(scope="module")
def writer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseWriter]:
    w = ClickHouseWriter(url=None, chdb_path=tmp_path_factory.mktemp("fission"))
    w.migrate(DEFS)
    cols = ["project", "sharer", "invitee", "step", "step_name", "time", "depth", "root",
            "campaign"]  # fmt: skip
    rows: list[list[object]] = []
    for n, (child, parent) in enumerate(sorted(PARENT.items())):
        rows.append(["p", parent, child, VISIT, "visit", 1_700_000_000 + n * 60, 1, "A", "c1"])
        if child in REGISTERED:
            rows.append(["p", parent, child, SUCCESS, "register", 1_700_100_000, 1, "A", "c1"])
    rows.append(["p", "F", "C", VISIT, "visit", 1_700_050_000, 2, "A", "c1"])  # later touch
    w.insert("siyu.fission_edges", cols, rows)
    ev_cols = ["project", "event_id", "event", "time", "received_at", "user_id", "platform",
               "identities", "properties", "context"]  # fmt: skip
    events = [
        ["p", f"s-{u}", sorted(DEFS.share_events)[0], 1_699_999_000_000, 1_699_999_000_000, u,
         "h5", {}, "{}", '{"share": {"campaign": "c1"}}']
        for u in sorted(SHARERS)
    ]  # fmt: skip
    w.insert("siyu.events", ev_cols, events)
    yield w
    w.close()


def _below(sharer: str) -> dict[str, int]:
    """Descendant → distance, walking the parent map (the test's own tree walk)."""
    out: dict[str, int] = {}
    for child in PARENT:
        node, distance = child, 0
        while node in PARENT:
            node, distance = PARENT[node], distance + 1
            if node == sharer:
                out[child] = distance
                break
    return out


def test_k_factor_counts_every_sharer(writer: ClickHouseWriter) -> None:
    [(sharers, converted, k)] = writer.rows(
        "SELECT sharers, converted, k_factor FROM siyu.fission_kfactor WHERE campaign = 'c1'"
    )
    assert sharers == len(SHARERS)
    assert converted == len(REGISTERED)
    assert k == round(len(REGISTERED) / len(SHARERS), 4)


def test_descendants_at_any_depth_for_every_sharer(writer: ClickHouseWriter) -> None:
    rows = writer.rows(
        "SELECT sharer, invitees, registered, descendants, subtree_depth, converted_below "
        "FROM siyu.fission_koc WHERE project = 'p'"
    )
    got = {r[0]: r[1:] for r in rows}
    assert set(got) == SHARERS
    for sharer in SHARERS:
        below = _below(sharer)
        children = {c for c, p in PARENT.items() if p == sharer}
        visited = children | ({"C"} if sharer == "F" else set())
        expected = (
            len(visited),
            len(children & REGISTERED),  # registrations credit the first-touch inviter
            len(below),
            max(below.values(), default=0),
            len(set(below) & REGISTERED),
        )
        assert got[sharer] == expected, sharer
    assert got["B"][2] == 3, "a mid-chain spreader counts everyone below"


def test_tree_depth_and_root_come_from_the_tree(writer: ClickHouseWriter) -> None:
    """The edges above were written with depth 1 (as when a grandchild's visit is handled
    before its parent's); the tree still gives each invitee its depth below the root."""
    rows = writer.rows(
        "SELECT sharer, invitee, depth, root FROM siyu.fission_tree WHERE project = 'p'"
    )
    depth = {child: _below("A")[child] for child in PARENT}
    expected = {(PARENT[c], c, depth[c], "A") for c in PARENT} | {("F", "C", depth["C"], "A")}
    assert set(rows) == expected
