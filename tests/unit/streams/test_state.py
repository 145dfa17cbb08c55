from __future__ import annotations

from typing import Any

from schemas.state_value import clear_origins, decode_doc
from streams.state import StateTable


class DictTable(dict[bytes, bytes]):
    """The slice of a Faust table StateTable uses: get / [] / name."""

    name = "t"


def _table() -> StateTable:
    return StateTable(DictTable())  # type: ignore[arg-type]


def _add(n: int) -> Any:
    return lambda old: (old or 0) + n


def test_replayed_record_is_applied_once() -> None:
    t = _table()
    assert t.update("u1", "raw/0", 5, _add(3)) == (True, 3)
    assert t.update("u1", "raw/0", 5, _add(3)) == (False, 3)
    assert t.update("u1", "raw/0", 4, _add(3)) == (False, 3)
    assert t.update("u1", "raw/0", 6, _add(1)) == (True, 4)


def test_origins_are_independent() -> None:
    t = _table()
    t.update("u1", "raw/0", 10, _add(1))
    assert t.update("u1", "links/0", 2, _add(1)) == (True, 2)
    assert t.applied("u1", "raw/0", 10)
    assert not t.applied("u1", "raw/1", 0)


def test_merge_is_absorbed_once_per_loser_and_chains() -> None:
    t = _table()
    t.update("b", "raw/0", 1, _add(2))
    t.update("c", "raw/1", 1, _add(5))
    t.update("a", "raw/2", 1, _add(1))
    moved = t.mark_merged("b", "c")
    assert moved == (2, [])
    assert t.redirect("b") == "c"
    assert t.absorb("c", "b", 2, [], lambda x, y: (x or 0) + y)
    assert not t.absorb("c", "b", 2, [], lambda x, y: (x or 0) + y)
    assert t.get("c") == 7
    state, merged = t.mark_merged("c", "a") or (None, [])
    assert (state, merged) == (7, ["b"])
    t.absorb("a", "c", state, merged, lambda x, y: (x or 0) + y)
    # b's state already travelled inside c's: a late transfer from b is ignored.
    assert not t.absorb("a", "b", 2, [], lambda x, y: (x or 0) + y)
    assert t.get("a") == 8


def test_user_without_state_has_nothing_to_move() -> None:
    assert _table().mark_merged("nobody", "a") is None


def test_seeding_clears_offsets_but_keeps_state_and_merges() -> None:
    t = _table()
    t.update("u", "raw/0", 9, _add(4))
    t.absorb("u", "x", 1, [], lambda a, b: a + b)
    raw = t.table.get(b"u")
    doc = decode_doc(clear_origins(raw))
    assert doc == {"v": 5, "o": {}, "m": ["x"]}
