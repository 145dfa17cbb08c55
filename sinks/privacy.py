"""Forget or export one person in ClickHouse, finding their rows by column, not by list.

A person is a set of user ids (the one an identity resolves to and every user merged
into it, from ``siyu.identity_map``) and a set of identities ``(id_type, id_value)``.
Tables are discovered from ``system.columns``: every table of ``siyu`` (materialized
helper tables included, views excluded) with a column that holds a user id
(:data:`USER_COLUMNS`), an identity pair (``id_type``/``id_value``) or an
``identities`` map is searched. ``stream_state`` (the mirror of the stream tables) is
searched by its keys; dead letters by the identity values in their payload.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sinks.writer import ClickHouseWriter

__all__ = ["USER_COLUMNS", "Person", "PersonTables", "find_person", "graph_keys"]

logger = logging.getLogger(__name__)

USER_COLUMNS = ("user_id", "ingested_user_id", "other_user_id", "loser", "survivor", "sharer",
                "invitee")  # fmt: skip
"""Column names that hold a user id wherever they appear."""
_STATE_TABLE = "stream_state"
_DEAD_LETTERS = "dead_letters"
# Identity values shorter than this are not searched in dead-letter payloads.
_MIN_PAYLOAD_MATCH = 6


@dataclass(frozen=True, slots=True)
class Person:
    project: str
    users: tuple[str, ...]
    identities: tuple[tuple[str, str], ...]
    raw: tuple[tuple[str, str], ...] = ()
    """The identity as asked (before normalization), matched in event identity maps."""


def graph_keys(person: Person) -> list[str]:
    """Keys of the person in the identity graph's stream table (streams/agents/identity_table)."""
    keys = [f"u\x1f{person.project}\x1f{u}" for u in person.users]
    keys += [f"i\x1f{person.project}\x1f{t}\x1f{v}" for t, v in person.identities]
    return keys


def find_person(writer: ClickHouseWriter, project: str, id_type: str, id_value: str) -> Person:
    """Every user id and identity of the person holding ``(id_type, id_value)``."""
    start = writer.rows(
        "SELECT user_id FROM siyu.identity_map WHERE project = %(p)s AND id_type = %(t)s "
        "AND id_value = %(v)s AND deleted = 0",
        {"p": project, "t": id_type, "v": id_value},
    )
    current = {str(r[0]) for r in start}
    if id_type == "user_id":
        current.add(id_value)
    if not current:
        return Person(project, (), ((id_type, id_value),), ((id_type, id_value),))
    users = set(current)
    for (user,) in writer.rows(
        "SELECT id_value FROM siyu.identity_map WHERE project = %(p)s AND id_type = 'user_id' "
        "AND user_id IN %(u)s",
        {"p": project, "u": tuple(current)},
    ):
        users.add(str(user))
    pairs = writer.rows(
        "SELECT id_type, id_value FROM siyu.identity_map WHERE project = %(p)s "
        "AND user_id IN %(u)s AND id_type != 'user_id'",
        {"p": project, "u": tuple(users)},
    )
    identities = {(str(t), str(v)) for t, v in pairs} | {(id_type, id_value)}
    identities.discard(("user_id", id_value))
    return Person(project, tuple(sorted(users)), tuple(sorted(identities)), ((id_type, id_value),))


@dataclass
class PersonTables:
    """The tables holding personal data and how to find one person's rows in each."""

    writer: ClickHouseWriter
    database: str = "siyu"
    columns: dict[str, list[str]] = field(default_factory=dict)
    types: dict[tuple[str, str], str] = field(default_factory=dict)

    def discover(self) -> dict[str, list[str]]:
        rows = self.writer.rows(
            "SELECT table, name, type FROM system.columns WHERE database = %(db)s "
            "AND table IN (SELECT name FROM system.tables WHERE database = %(db)s "
            "AND engine NOT LIKE '%%View%%') ORDER BY table, position",
            {"db": self.database},
        )
        columns: dict[str, list[str]] = {}
        for table, name, kind in rows:
            columns.setdefault(str(table), []).append(str(name))
            self.types[(str(table), str(name))] = str(kind)
        self.columns = {t: c for t, c in columns.items() if self._where_parts(t, c)}
        return self.columns

    def _where_parts(self, table: str, cols: list[str]) -> list[str]:
        parts = [f"`{c}` IN %(users)s" for c in cols if c in USER_COLUMNS]
        if "id_type" in cols and "id_value" in cols:
            parts.append("(id_type, id_value) IN %(pairs)s")
        if "identities" in cols and self.types.get((table, "identities"), "").startswith("Map("):
            parts.append(
                "arrayExists(x -> x IN %(pairs)s, arrayZip(mapKeys(identities), "
                "mapValues(identities)))"
            )
        if table == _STATE_TABLE and "key" in cols:
            parts.append("key IN %(keys)s")
        if table == _DEAD_LETTERS and "payload" in cols:
            parts.append("multiSearchAny(payload, %(values)s)")
        return parts

    def predicate(self, table: str, person: Person) -> tuple[str, dict[str, Any]]:
        cols = self.columns[table]
        where = " OR ".join(self._where_parts(table, cols))
        if "project" in cols:
            where = f"project = %(project)s AND ({where})"
        pairs = [*person.identities, *person.raw]
        values = sorted({v for _, v in pairs if len(v) >= _MIN_PAYLOAD_MATCH})
        params: dict[str, Any] = {
            "project": person.project,
            "users": tuple(person.users) or ("",),
            "pairs": [tuple(p) for p in pairs] or [("", "")],
            "keys": tuple([*person.users, *graph_keys(person)]) or ("",),
            "values": values or ["\x00no-value\x00"],
        }
        return where, params

    def count(self, person: Person) -> dict[str, int]:
        out: dict[str, int] = {}
        for table in self.columns:
            where, params = self.predicate(table, person)
            (n,) = self.writer.rows(
                f"SELECT count() FROM {self.database}.`{table}` WHERE {where}",  # noqa: S608
                params,
            )[0]
            if n:
                out[table] = int(n)
        return out

    def export(self, person: Person) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for table, cols in self.columns.items():
            where, params = self.predicate(table, person)
            names = ", ".join(self._readable(table, c) for c in cols)
            rows = self.writer.rows(
                f"SELECT {names} FROM {self.database}.`{table}` WHERE {where}",  # noqa: S608
                params,
            )
            if rows:
                out[table] = [dict(zip(cols, r, strict=True)) for r in rows]
        return out

    def _readable(self, table: str, column: str) -> str:
        if self.types.get((table, column), "").startswith("AggregateFunction("):
            return f"finalizeAggregation(`{column}`)"
        return f"`{column}`"

    def delete(self, person: Person) -> dict[str, int]:
        """Delete the person's rows from every table; returns rows found per table."""
        found = self.count(person)
        for table in found:
            where, params = self.predicate(table, person)
            self.writer.command_with(
                f"ALTER TABLE {self.database}.`{table}` DELETE WHERE {where} "
                "SETTINGS mutations_sync = 2",
                params,
            )
        logger.info("forgot %d rows in %d tables", sum(found.values()), len(found))
        return found
