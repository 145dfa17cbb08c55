"""Keep the lookup view current: bootstrap from ClickHouse, then follow Kafka.

At start the view loads ``siyu.identity_map``, ``siyu.user_tags``,
``siyu.user_properties`` and ``siyu.segment_members`` (through the embedded SQL endpoint
or the ClickHouse server: both speak ClickHouse's HTTP query interface), then reads
``identity.map``, ``tags.changes``, ``properties.changes``, ``segments.changes`` and
``privacy.forget`` (a forgotten user stays out of every segment whatever is replayed)
from their beginning and keeps following them. The overlap is harmless (the view keeps
the newest version), and the bootstrap is what survives a restart of the embedded broker,
whose topics start empty. The view is ready once it has read up to the end offsets found at start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from lookup import metrics
from lookup.index import IdentityIndex, TagIndex
from lookup.segment_index import PropertyIndex, SegmentIndex
from schemas.exceptions import SchemaError
from schemas.identity_records import IdentityAssignment, decode_assignment
from schemas.privacy_records import decode_forget
from schemas.segment_records import UserProperties, decode_properties, decode_segment_changes
from schemas.tag_records import decode_tag_changes
from siyu.broker_quirks import for_kafka
from siyu.inspect import sql_url
from siyu.settings import Settings

__all__ = ["Feed"]

logger = logging.getLogger(__name__)

_IDENTITY_SQL = (
    "SELECT project, id_type, id_value, user_id, version, deleted, "
    "toUnixTimestamp64Milli(time) AS time FROM siyu.identity_map FINAL FORMAT JSONEachRow"
)
_TAGS_SQL = (
    "SELECT project, user_id, tags_json, toUnixTimestamp64Milli(updated_at) AS updated_at "
    "FROM siyu.user_tags FINAL WHERE deleted = 0 FORMAT JSONEachRow"
)
_PROPERTIES_SQL = (
    "SELECT project, user_id, properties_json, toUnixTimestamp64Milli(updated_at) AS at "
    "FROM siyu.user_properties FINAL WHERE deleted = 0 FORMAT JSONEachRow"
)
_MEMBERS_SQL = (
    "SELECT project, segment, user_id, toUnixTimestamp64Milli(changed_at) AS at "
    "FROM siyu.segment_members FINAL WHERE deleted = 0 FORMAT JSONEachRow"
)
# Records applied per step: small enough that one step never delays requests by more
# than a fraction of a millisecond.
_STEP_RECORDS = 200


class Feed:
    """Bootstraps and follows the lookup view (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        identities: IdentityIndex,
        tags: TagIndex,
        *,
        properties: PropertyIndex | None = None,
        segments: SegmentIndex | None = None,
    ) -> None:
        self.settings = settings
        self.identities = identities
        self.tags = tags
        self.properties = properties or PropertyIndex()
        self.segments = segments or SegmentIndex()
        self.ready = False
        k = settings.kafka
        self.map_topic = k.topic("identity.map")
        self.tags_topic = k.topic("tags.changes")
        self.properties_topic = k.topic("properties.changes")
        self.segments_topic = k.topic("segments.changes")
        self.forget_topic = k.topic("privacy.forget")

    # -- bootstrap -----------------------------------------------------------------------
    async def _rows(self, client: httpx.AsyncClient, sql: str) -> AsyncIterator[dict[str, object]]:
        """Rows of every project, each read with its own read key."""
        for project in self._projects():
            url, params, auth = sql_url(self.settings, project)
            async with client.stream(
                "POST", url, params=params, content=sql.encode(), auth=auth
            ) as answer:
                if answer.status_code != 200:
                    body = (await answer.aread()).decode(errors="replace")
                    raise httpx.HTTPStatusError(body[:500], request=answer.request, response=answer)
                async for line in answer.aiter_lines():
                    if line:
                        yield orjson.loads(line)

    def _projects(self) -> list[str | None]:
        # A ClickHouse server is read once with its own user; the embedded endpoint per project.
        if self.settings.clickhouse.url is not None:
            return [None]
        return list(self.settings.projects)

    async def bootstrap(self, timeout: float = 120.0) -> None:
        """Load the stored map and tags; waits for ClickHouse to answer."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(timeout=60) as client:
            while True:
                try:
                    n = await self._load_identities(client)
                    break
                except httpx.HTTPError as exc:
                    if asyncio.get_running_loop().time() > deadline:
                        raise
                    logger.info("ClickHouse not answering yet (%s), retrying", exc)
                    await asyncio.sleep(1)
            t = await self._load_tags(client)
            extra = await self._load_segments(client)
        logger.info(
            "lookup bootstrap: %d identity rows, %d tagged users, %d property/member rows",
            n,
            t,
            extra,
        )

    async def _load_segments(self, client: httpx.AsyncClient) -> int:
        n = 0
        try:
            async for row in self._rows(client, _PROPERTIES_SQL):
                props = orjson.loads(str(row["properties_json"]) or "{}")
                project, user = str(row["project"]), str(row["user_id"])
                at = int(str(row["at"]))
                self.properties.apply(UserProperties(project, user, props, at, "bootstrap"))
                n += 1
            async for row in self._rows(client, _MEMBERS_SQL):
                self.segments.load(
                    str(row["project"]), str(row["segment"]), str(row["user_id"]),
                    int(str(row["at"])),
                )  # fmt: skip
                n += 1
        except httpx.HTTPStatusError as exc:
            logger.warning("no properties or segment members loaded: %s", exc)
        return n

    async def _load_identities(self, client: httpx.AsyncClient) -> int:
        n = 0
        async for row in self._rows(client, _IDENTITY_SQL):
            self.identities.apply(
                IdentityAssignment(
                    project=str(row["project"]),
                    id_type=str(row["id_type"]),
                    id_value=str(row["id_value"]),
                    user_id=None if row["deleted"] else str(row["user_id"]),
                    version=int(str(row["version"])),
                    time=int(str(row["time"])),
                )
            )
            n += 1
            if n % 10_000 == 0:
                await asyncio.sleep(0)
        return n

    async def _load_tags(self, client: httpx.AsyncClient) -> int:
        n = 0
        try:
            async for row in self._rows(client, _TAGS_SQL):
                tags = orjson.loads(str(row["tags_json"]) or "{}")
                at = int(str(row["updated_at"]))
                self.tags.load(str(row["project"]), str(row["user_id"]), tags, at)
                n += 1
        except httpx.HTTPStatusError as exc:
            # Tags are optional: a deployment without the tag tables still looks up ids.
            logger.warning("no tags loaded from siyu.user_tags: %s", exc)
        return n

    # -- follow --------------------------------------------------------------------------
    async def follow(self, stop: asyncio.Event) -> None:
        """Read both topics from the beginning until ``stop``."""
        k = self.settings.kafka
        consumer = AIOKafkaConsumer(
            bootstrap_servers=k.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=k.fetch_max_wait_ms,
            metadata_max_age_ms=3000,
            # After a restart of the embedded broker the old positions are out of range.
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            await consumer.topics()  # cluster metadata, so partitions_for_topic answers
            tps = [
                TopicPartition(topic, p)
                for topic in (
                    self.map_topic,
                    self.tags_topic,
                    self.properties_topic,
                    self.segments_topic,
                    self.forget_topic,
                )
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            target = await for_kafka(k).end_offsets(k.bootstrap, tps)
            while not stop.is_set():
                found = await consumer.getmany(timeout_ms=200, max_records=_STEP_RECORDS)
                for tp, records in found.items():
                    for record in records:
                        self._apply(tp.topic, record.value)
                if not self.ready and all(
                    await asyncio.gather(
                        *(self._reached(consumer, tp, end) for tp, end in target.items())
                    )
                ):
                    self.ready = True
                    logger.info("lookup view ready: %d identities", len(self.identities))
                metrics.USERS_INDEXED.set(len(self.identities))
        finally:
            await consumer.stop()

    @staticmethod
    async def _reached(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int) -> bool:
        return end == 0 or await consumer.position(tp) >= end

    def _apply(self, topic: str, value: bytes | None) -> None:
        if value is None:
            return
        try:
            if topic == self.map_topic:
                self.identities.apply(decode_assignment(value))
                metrics.APPLIED.labels(source="identity").inc()
            elif topic == self.segments_topic:
                self.segments.apply(decode_segment_changes(value))
                metrics.APPLIED.labels(source="segments").inc()
            elif topic == self.forget_topic:
                # Replayed after a restart too: whatever order the topics are read in, a
                # forgotten user stays out of every segment (see SegmentIndex.forget).
                forget = decode_forget(value)
                if forget.user_id:
                    self.segments.forget(forget.project, forget.user_id)
                    self.tags.forget(forget.project, forget.user_id)
                    self.properties.forget(forget.project, forget.user_id)
                metrics.APPLIED.labels(source="privacy").inc()
            elif topic == self.properties_topic:
                self.properties.apply(decode_properties(value))
                metrics.APPLIED.labels(source="properties").inc()
            else:
                self.tags.apply(decode_tag_changes(value))
                metrics.APPLIED.labels(source="tags").inc()
        except SchemaError as exc:
            # Skip policy: an undecodable record is counted and logged, never fatal.
            metrics.APPLIED.labels(source="undecodable").inc()
            logger.warning("undecodable record on %s: %s", topic, exc)

    async def run(self, stop: asyncio.Event) -> None:
        await self.bootstrap()
        while not stop.is_set():
            try:
                await self.follow(stop)
            except KafkaError as exc:
                logger.warning("lookup feed lost Kafka (%s), reconnecting", exc)
                await asyncio.sleep(1)
