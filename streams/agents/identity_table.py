"""The identity graph's storage: one Faust GlobalTable that every worker holds in full.

Keys (``\\x1f`` separates fields)::

    i␟<project>␟<identity key>␟<value>  →  {"v": [user_id | null, version]}
    u␟<project>␟<user_id>              →  {"v": <user record, see identity_model.user_to_doc>}
    s                                   →  {"v": <last graph version used>,
                                            "o": {"<topic>/<partition>": <offset>}}

The ``o`` of key ``s`` holds, per ``events.raw`` partition, the highest offset the link
agent has decided (see :class:`streams.domain.stitching.LinkBarrier`). Seeding after a
broker restart clears it, as source offsets restart then.

Values keep the ``{"v": …}`` shape of every stream state value, so the sink's copy in
``siyu.stream_state`` can seed an empty changelog after a broker restart.

Only the link agent writes (one partition of ``identity.links``, so one writer at a
time). Every worker reads. Two Faust details shape this module:

- The table writes its changelog by key (``use_partitioner``): the writer consumes
  a one-partition topic while the changelog has the configured partition count.
- A GlobalTable applies every changelog record it reads, its own writes included.
  The writer can read back its write of version 3 after it already stored version 4
  of the same key, which would put a stale value back for a moment. Every value
  carries a version that only grows per key, and :class:`VersionedGlobalTable`
  skips a changelog record older than what it holds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import faust
import orjson
from faust.types import EventT

from streams.domain.identity_model import Link, UserRecord, user_from_doc, user_to_doc
from streams.domain.identity_rules import Identity

__all__ = ["GRAPH_TABLE", "GraphStore", "VersionedGlobalTable", "graph_table", "version_of"]

logger = logging.getLogger(__name__)

GRAPH_TABLE = "identity_graph"
_SEQ_KEY = b"s"


def owner_key(project: str, identity: Identity) -> bytes:
    return f"i\x1f{project}\x1f{identity.key}\x1f{identity.value}".encode()


def user_key(project: str, user_id: str) -> bytes:
    return f"u\x1f{project}\x1f{user_id}".encode()


def version_of(raw: bytes | None) -> int:
    """The version a stored value carries; -1 for none."""
    if raw is None:
        return -1
    value = orjson.loads(raw)["v"]
    if isinstance(value, list):
        return int(value[1])
    if isinstance(value, dict):
        return int(value["s"])
    return int(value)


class VersionedGlobalTable(faust.GlobalTable):
    """A GlobalTable that never lets an older value of a key replace a newer one."""

    max_version: int = -1

    def _new_store(self) -> Any:
        # Always the memory store (rebuilt from the changelog at start): Faust's rocksdb
        # store files a key written outside its changelog partition (use_partitioner)
        # under the writer's partition, so a GlobalTable could hold two copies of it.
        return self._new_store_by_url("memory://")

    def apply_changelog_batch(self, batch: Iterable[EventT[Any]]) -> None:
        super().apply_changelog_batch(list(self._fresh(batch)))

    def _fresh(self, batch: Iterable[EventT[Any]]) -> Iterator[EventT[Any]]:
        latest: dict[Any, int] = {}
        for event in batch:
            raw = event.message.value
            if raw is None:
                yield event
                continue
            incoming = version_of(raw)
            key = event.key
            current = latest.get(key)
            if current is None:
                current = version_of(self.data.get(key))
            if incoming < current:
                continue
            latest[key] = incoming
            self.max_version = max(self.max_version, incoming)
            yield event


def graph_table(app: faust.App, partitions: int) -> VersionedGlobalTable:
    """Declare the graph table on ``app`` (once per app)."""
    table = VersionedGlobalTable(
        app,
        name=GRAPH_TABLE,
        default=None,
        key_type=bytes,
        value_type=bytes,
        partitions=partitions,
        beacon=app.tables.beacon,
        # Another worker's writes show within a second (NOTES §4), not after 1,000 records.
        recovery_buffer_size=1,
        standby_buffer_size=1,
        is_global=True,
        use_partitioner=True,
        help="identity → user and user → identities, read by every worker",
    )
    app.tables.add(table)
    return table


class GraphStore:
    """Reads and writes of the graph table; a :class:`GraphView` for the domain.

    Writes of a batch of records' decisions collect in ``pending`` (later decisions read
    them) and reach the table (and so other agents and workers) only at :meth:`flush`:
    the link agent waits until the broker has the batch's stitched events first, so no
    event stitched later on the fast path can overtake them.
    """

    def __init__(self, table: VersionedGlobalTable) -> None:
        self.table = table
        self.pending: dict[bytes, bytes] = {}
        self.version = -1
        self.decided_offsets: dict[str, int] = {}

    def _raw(self, key: bytes) -> bytes | None:
        found = self.pending.get(key)
        if found is not None:
            return found
        raw: bytes | None = self.table.data.get(key)
        return raw

    # -- GraphView -----------------------------------------------------------------------
    def owner(self, project: str, identity: Identity) -> str | None:
        raw = self._raw(owner_key(project, identity))
        if raw is None:
            return None
        user_id: str | None = orjson.loads(raw)["v"][0]
        return user_id

    def user(self, project: str, user_id: str) -> UserRecord | None:
        raw = self._raw(user_key(project, user_id))
        if raw is None:
            return None
        return user_from_doc(user_id, orjson.loads(raw)["v"])

    def final_user(self, project: str, user_id: str) -> str:
        """``user_id`` after the merges staged or stored so far."""
        for _ in range(64):
            record = self.user(project, user_id)
            if record is None or record.merged_into is None:
                return user_id
            user_id = record.merged_into
        return user_id

    def committed_owner(self, project: str) -> Any:
        """A fast owner lookup for one project over the flushed table (the fast path)."""
        data = self.table.data
        prefix = f"i\x1f{project}\x1f"

        def owner(identity: Identity) -> str | None:
            raw = data.get(f"{prefix}{identity.key}\x1f{identity.value}".encode())
            if raw is None:
                return None
            user_id: str | None = orjson.loads(raw)["v"][0]
            return user_id

        return owner

    def decided(self, origin: str) -> int:
        """Highest offset of source partition ``origin`` the link agent has decided."""
        raw = self.table.data.get(_SEQ_KEY)
        if raw is None:
            return -1
        offset: int = orjson.loads(raw).get("o", {}).get(origin, -1)
        return offset

    # -- writes --------------------------------------------------------------------------
    def next_version(self) -> int:
        """A graph version above every version stored or seen."""
        stored = version_of(self._raw(_SEQ_KEY))
        self.version = max(self.version, stored, self.table.max_version) + 1
        return self.version

    def _put(self, key: bytes, value: Any, version: int) -> None:
        # Per key, versions only grow, even if the sequence was set back by a lost write.
        floor = version_of(self._raw(key)) + 1
        if version < floor:
            version = floor
            if isinstance(value, list):
                value = [value[0], version]
            elif isinstance(value, dict):
                value = {**value, "s": version}
        self.version = max(self.version, version)
        self.pending[key] = orjson.dumps({"v": value})

    def stage(self, project: str, link: Link) -> None:
        """Stage the stored part of a decision; later decisions read it back."""
        for record in link.users:
            self._put(user_key(project, record.user_id), user_to_doc(record), record.version)
        for a in link.owners:
            self._put(owner_key(project, a.identity), [a.user_id, a.version], a.version)

    def stage_decided(self, origin: str, offset: int) -> None:
        """The link agent finished the source record ``origin`` @ ``offset``."""
        if not self.decided_offsets:  # first of this flush: start from what is stored
            raw = self._raw(_SEQ_KEY)
            self.decided_offsets = dict(orjson.loads(raw).get("o", {})) if raw else {}
        self.decided_offsets[origin] = max(self.decided_offsets.get(origin, -1), offset)

    def flush(self) -> int:
        """Write the staged changes to the table; return how many keys were written."""
        if not self.pending and not self.decided_offsets:
            return 0
        self.pending[_SEQ_KEY] = orjson.dumps({"v": self.version, "o": self.decided_offsets})
        written = len(self.pending)
        table = self.table
        for key, value in self.pending.items():
            table[key] = value
        self.table.max_version = max(self.table.max_version, self.version)
        self.pending = {}
        self.decided_offsets = {}
        return written
