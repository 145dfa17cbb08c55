"""Carry out forget requests (``privacy.requests``) in the process that owns ClickHouse.

For each request: resolve the person (:func:`sinks.privacy.find_person`), tell the
stream workers to drop their state and suppress the identities (``privacy.forget``,
one record per user id, keyed by it), publish an unbinding of every identity on
``identity.map`` (the lookup view answers 404 from then on, also after a replay), and
delete the person's rows from every table that holds them. The deletion runs again
after ``privacy.settle_s`` and three times that, so rows that were in flight when the
request came (and the workers' state tombstones) are removed too. Then the audit
record (counts only) is written to ``siyu.privacy_requests``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.exceptions import SchemaError
from schemas.identity_records import IdentityAssignment, assignment_key, encode_assignment
from schemas.privacy_records import (
    PrivacyForget,
    PrivacyRequest,
    decode_request,
    encode_forget,
    suppression_key,
)
from sinks.exceptions import SinkError
from sinks.privacy import Person, PersonTables, find_person, graph_keys
from sinks.writer import ClickHouseWriter
from siyu.settings import Settings

__all__ = ["AUDIT_COLUMNS", "PrivacyService"]

logger = logging.getLogger(__name__)

AUDIT_COLUMNS = [
    "project",
    "request_id",
    "action",
    "requested_at",
    "done_at",
    "status",
    "user_count",
    "identity_count",
    "removed_rows",
]


class PrivacyService:
    def __init__(self, settings: Settings, writer: ClickHouseWriter) -> None:
        self.settings = settings
        self.writer = writer
        self.tables = PersonTables(writer)
        k = settings.kafka
        self.requests_topic = k.topic("privacy.requests")
        self.forget_topic = k.topic("privacy.forget")
        self.map_topic = k.topic("identity.map")
        self.handled = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._follow(stop)
            except KafkaError as exc:
                logger.warning("privacy requests: Kafka lost (%s), reconnecting", exc)
                await asyncio.sleep(1)

    async def _follow(self, stop: asyncio.Event) -> None:
        k = self.settings.kafka
        consumer = AIOKafkaConsumer(
            self.requests_topic,
            bootstrap_servers=k.bootstrap,
            group_id=f"{self.settings.worker.app_id}-privacy",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=3000,
            fetch_max_wait_ms=k.fetch_max_wait_ms,
        )
        producer = AIOKafkaProducer(bootstrap_servers=k.bootstrap, acks="all", linger_ms=5)
        await consumer.start()
        await producer.start()
        try:
            while not stop.is_set():
                found = await consumer.getmany(timeout_ms=500, max_records=10)
                # Requests of one fetch run side by side: each spends most of its time
                # waiting between deletion passes.
                await asyncio.gather(
                    *(
                        self._handle_record(producer, record.value)
                        for records in found.values()
                        for record in records
                    )
                )
                if found:
                    await consumer.commit()
        finally:
            await consumer.stop()
            await producer.stop()

    async def _handle_record(self, producer: AIOKafkaProducer, value: bytes | None) -> None:
        if value is None:
            return
        try:
            request = decode_request(value)
        except SchemaError as exc:
            logger.warning("undecodable privacy request skipped: %s", exc)
            return
        try:
            await self.forget(producer, request)
        except SinkError as exc:
            # Kept for the audit; the request id lets the operator ask again. The error's
            # text can hold the person's identities (the statement), so only its kind.
            logger.warning("forget request %s failed (%s)", request.request_id, exc.table)
            await asyncio.to_thread(self._audit, request, None, Counter(), "failed")

    async def forget(self, producer: AIOKafkaProducer, request: PrivacyRequest) -> Counter[str]:
        await asyncio.to_thread(self.tables.discover)
        person = await asyncio.to_thread(
            find_person, self.writer, request.project, request.id_type, request.id_value
        )
        if request.raw_type:
            person = Person(
                person.project,
                person.users,
                person.identities,
                (*person.raw, (request.raw_type, request.raw_value)),
            )
        await self._publish(producer, request, person)
        removed: Counter[str] = Counter()
        settle = self.settings.privacy.settle_s
        for pause in (0.0, settle, 2 * settle):
            await asyncio.sleep(pause)
            removed.update(await asyncio.to_thread(self.tables.delete, person))
        await asyncio.to_thread(self._audit, request, person, removed, "done")
        self.handled += 1
        logger.info(
            "forget request %s done: %d users, %d rows",
            request.request_id,
            len(person.users),
            sum(removed.values()),
        )
        return removed

    async def _publish(
        self, producer: AIOKafkaProducer, request: PrivacyRequest, person: Person
    ) -> None:
        p = person.project
        suppress = tuple(
            sorted({suppression_key(p, t, v) for t, v in (*person.identities, *person.raw)})
        )
        keys = tuple(graph_keys(person))
        # Every user id of the person, and one record even when none is known, so later
        # events with the identities are suppressed anyway.
        for user in person.users or ("",):
            record = PrivacyForget(request.request_id, p, user, suppress, keys)
            await producer.send(self.forget_topic, key=user.encode(), value=encode_forget(record))
        version = time.time_ns() // 1000
        now = int(time.time() * 1000)
        unbound = [*person.identities, *(("user_id", u) for u in person.users)]
        for id_type, id_value in unbound:
            a = IdentityAssignment(p, id_type, id_value, None, version, now, "")
            await producer.send(
                self.map_topic,
                key=assignment_key(p, id_type, id_value),
                value=encode_assignment(a),
            )
        await producer.flush()

    def _audit(
        self,
        request: PrivacyRequest,
        person: Person | None,
        removed: Counter[str],
        status: str,
    ) -> None:
        self.writer.insert(
            "siyu.privacy_requests",
            AUDIT_COLUMNS,
            [
                (
                    request.project,
                    request.request_id,
                    request.action,
                    request.requested_at,
                    int(time.time() * 1000),
                    status,
                    len(person.users) if person else 0,
                    len(person.identities) if person else 0,
                    dict(removed),
                )
            ],
        )
