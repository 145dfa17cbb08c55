"""The one place where siyu changes Faust and aiokafka internals, for brokers that need it.

Most patches here work around a quirk of the embedded broker (Tansu 0.6); a real Kafka
needs none of them. The setting ``SIYU_KAFKA_QUIRKS`` names the broker's quirks:
``tansu`` (the default with the embedded broker) installs every patch, ``none`` (the
default with an external Kafka) installs only the fixes of Faust's own races
(``FAUST_FIXES``), which no broker prevents.

The patches reach into private methods, so the module refuses to load next to versions of
faust-streaming or aiokafka it was not tested with (:func:`check_versions`).

Patches (name: what it replaces, and why):

``true_highwaters``
    ``AIOKafkaConsumerThread._highwaters``. Faust takes ListOffsets(latest) − 1 as a
    changelog's highwater when it recovers a table; the embedded broker answers with the
    base offset of the last batch + 1, so recovery stopped early (memory store: silent
    loss) or failed (rocksdb: ConsistencyError). The patch takes the true end
    (:func:`siyu.offsets.true_end_offsets_with`).
``fetch_wait``
    ``AIOKafkaConsumerThread._create_worker_consumer``: sets the worker consumer's private
    ``_fetch_max_wait_ms``. The embedded broker holds every Fetch for about half of it even
    when records are waiting, so it bounds each hop's latency.
``empty_active_fetch``
    ``AIOKafkaConsumerThread._fetch_records``. Faust passes its set of active partitions to
    aiokafka, which takes an empty set for "every partition"; Faust then dropped the records
    it did not ask for and the position had moved past them. With the patch an empty set
    fetches nothing.
``seek_committed_or_beginning``
    ``AIOKafkaConsumerThread.seek_to_committed``. aiokafka does not move a partition whose
    committed offset is missing (or 0), so on a group's first assignment the records the
    fetch above skipped stayed skipped. The patch sends source partitions without a
    committed offset back to the beginning (re-reading is safe: state and sinks are
    idempotent).
``no_topic_auto_creation``
    ``aiokafka.client.MetadataRequest`` (the collector only). aiokafka asks for topic
    auto-creation in every metadata request and the embedded broker honours it, so right
    after a broker restart the collector's first send created ``events.raw`` with the
    broker's default partition count. (On a real Kafka, set ``auto.create.topics.enable``
    to false instead.)

``resume_streams_after_seek``, ``recovery_completed_after_seek`` (every broker)
    ``Recovery._resume_streams`` and ``Recovery.on_recovery_completed``. When a
    rebalance's recovery ends, Faust resumes the stream partitions while records are still
    flowing (recovery resumed the flow to read changelogs), then seeks them to their
    committed offsets, then clears the streams' queues. Records fetched before the seek
    were handed to the queues, counted as read, and cleared unprocessed; the same records
    fetched again after the seek were dropped as already read. Nothing acked them, so the
    partition's commits stopped for good and those events were never processed. The
    patch stops the flow first; Faust resumes it after the seek and the clearing, so the
    first record a stream gets is the committed one.

``tests/integration/test_offsets.py`` shows what each patch prevents.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module, metadata
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.protocol.metadata import MetadataRequest

from siyu.offsets import true_end_offsets_with

__all__ = [
    "CONSUMER_PATCHES",
    "FAUST_FIXES",
    "PATCHES",
    "PRODUCER_PATCHES",
    "TESTED_VERSIONS",
    "IncompatibleVersions",
    "Patch",
    "Quirks",
    "check_versions",
    "fetch_active_records",
    "install",
    "installed",
    "original",
    "seek_committed_or_beginning",
    "uninstall",
]

logger = logging.getLogger(__name__)

Quirks = Literal["tansu", "none"]

TESTED_VERSIONS: Mapping[str, str] = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}
"""Distributions whose private methods the patches replace, and the versions tested."""


class IncompatibleVersions(ImportError):
    """An installed faust-streaming or aiokafka differs from the tested version."""


def check_versions(found: Mapping[str, str] | None = None) -> None:
    """Raise :class:`IncompatibleVersions` unless every distribution is at its tested version.

    ``found`` (distribution → version) defaults to what is installed."""
    installed_versions = found if found is not None else _installed_versions()
    wrong = [
        f"{name} {installed_versions.get(name, 'not installed')} (tested: {version})"
        for name, version in TESTED_VERSIONS.items()
        if installed_versions.get(name) != version
    ]
    if wrong:
        raise IncompatibleVersions(
            "siyu patches private methods of faust-streaming and aiokafka and was tested "
            f"only with {', '.join(f'{n}=={v}' for n, v in TESTED_VERSIONS.items())}; found "
            f"{', '.join(wrong)}. Install the tested versions (pyproject.toml pins them)."
        )


def _installed_versions() -> dict[str, str]:
    found = {}
    for name in TESTED_VERSIONS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


check_versions()


@dataclass(frozen=True)
class Patch:
    """``owner.attribute`` (owner found by ``module`` + ``path``) replaced by ``replacement``."""

    name: str
    module: str
    path: str
    attribute: str
    replacement: Any

    def owner(self) -> Any:
        found: Any = import_module(self.module)
        for part in filter(None, self.path.split(".")):
            found = getattr(found, part)
        return found


_originals: dict[str, Any] = {}
_fetch_max_wait_ms = 1500


# -- true_highwaters, fetch_wait ------------------------------------------------------------


async def _true_highwaters(self: Any, partitions: list[Any]) -> Mapping[Any, int]:
    main = self._ensure_consumer()
    if self.consumer.in_transaction:
        return {tp: main.last_stable_offset(tp) for tp in partitions}
    bootstrap = main._client._bootstrap_servers
    probe = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, fetch_max_wait_ms=20
    )
    await probe.start()
    try:
        ends = await true_end_offsets_with(
            probe, [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        )
    finally:
        await probe.stop()
    return {tp: ends[TopicPartition(tp.topic, tp.partition)] for tp in partitions}


def _create_worker_consumer(self: Any, transport: Any) -> AIOKafkaConsumer:
    consumer: AIOKafkaConsumer = original("fetch_wait")(self, transport)
    consumer._fetch_max_wait_ms = _fetch_max_wait_ms  # read by AIOKafkaConsumer.start()
    return consumer


# -- empty_active_fetch, seek_committed_or_beginning ----------------------------------------


async def fetch_active_records(
    self: Any,
    consumer: AIOKafkaConsumer,
    active_partitions: set[Any] | None,
    timeout: float | None = None,
    max_records: int | None = None,
) -> Mapping[Any, Any]:
    """Faust's fetch, except that no active partition means no records (not all)."""
    if active_partitions is not None and not active_partitions:
        return {}
    fetch = original("empty_active_fetch")
    result: Mapping[Any, Any] = await fetch(self, consumer, active_partitions, timeout, max_records)
    return result


async def seek_committed_or_beginning(
    consumer: AIOKafkaConsumer, is_source: Callable[[str], bool]
) -> Mapping[TopicPartition, int | None]:
    """Seek every assigned partition to its committed offset, and the partitions of
    source topics (``is_source(topic)``) where the group has committed nothing to the
    beginning. Returns the committed offsets. Table changelogs, which the group never
    commits, keep their position: recovery reads them on its own."""
    committed: Mapping[TopicPartition, int | None] = await consumer.seek_to_committed()
    fresh = [tp for tp, offset in committed.items() if not offset and is_source(tp.topic)]
    if fresh:
        await consumer.seek_to_beginning(*fresh)
    return committed


async def _seek_to_committed(self: Any) -> Mapping[TopicPartition, int | None]:
    result: Mapping[TopicPartition, int | None] = await self.call_thread(
        seek_committed_or_beginning,
        self._ensure_consumer(),
        self.consumer.app.topics.acks_enabled_for,
    )
    return result


# -- resume_streams_after_seek, recovery_completed_after_seek ------------------------------


def _stop_deliveries(recovery: Any) -> None:
    """Hand no record to a stream until the recovery resumes the flow (after its seek)."""
    recovery.app.consumer.stop_flow()
    recovery.app.flow_control.suspend()


async def _resume_streams_after_seek(self: Any, generation_id: int = 0) -> None:
    _stop_deliveries(self)
    await original("resume_streams_after_seek")(self, generation_id)


async def _recovery_completed_after_seek(self: Any, generation_id: int = 0) -> None:
    _stop_deliveries(self)
    await original("recovery_completed_after_seek")(self, generation_id)


# -- no_topic_auto_creation -----------------------------------------------------------------


class _NoAutoCreate(MetadataRequest):  # type: ignore[misc]
    """A metadata request that never asks the broker to create the topics it names."""

    def __init__(self, topics: list[str] | None = None, allow_auto_topic_creation: Any = None):
        super().__init__(topics, False)


_THREAD = ("faust.transport.drivers.aiokafka", "AIOKafkaConsumerThread")
_RECOVERY = ("faust.tables.recovery", "Recovery")

PATCHES: Mapping[str, Patch] = {
    p.name: p
    for p in (
        Patch("true_highwaters", *_THREAD, "_highwaters", _true_highwaters),
        Patch("fetch_wait", *_THREAD, "_create_worker_consumer", _create_worker_consumer),
        Patch("empty_active_fetch", *_THREAD, "_fetch_records", fetch_active_records),
        Patch("seek_committed_or_beginning", *_THREAD, "seek_to_committed", _seek_to_committed),
        Patch(
            "resume_streams_after_seek", *_RECOVERY, "_resume_streams", _resume_streams_after_seek
        ),
        Patch(
            "recovery_completed_after_seek",
            *_RECOVERY,
            "on_recovery_completed",
            _recovery_completed_after_seek,
        ),
        Patch("no_topic_auto_creation", "aiokafka.client", "", "MetadataRequest", _NoAutoCreate),
    )
}

CONSUMER_PATCHES = (
    "true_highwaters",
    "fetch_wait",
    "empty_active_fetch",
    "seek_committed_or_beginning",
    "resume_streams_after_seek",
    "recovery_completed_after_seek",
)
"""What a stream worker installs (Faust's consumer)."""
PRODUCER_PATCHES = ("no_topic_auto_creation",)
"""What the collector installs (aiokafka's producer)."""

FAUST_FIXES = frozenset({"resume_streams_after_seek", "recovery_completed_after_seek"})
"""Fixes of races in Faust itself: installed whatever the broker."""

_BY_QUIRKS: Mapping[Quirks, frozenset[str]] = {"tansu": frozenset(PATCHES), "none": FAUST_FIXES}


def original(name: str) -> Any:
    """The object patch ``name`` replaces (as shipped, whether or not it is installed)."""
    patch = PATCHES[name]
    if name not in _originals:
        _originals[name] = getattr(patch.owner(), patch.attribute)
    return _originals[name]


def install(
    quirks: Quirks, names: tuple[str, ...], *, fetch_max_wait_ms: int = 1500
) -> frozenset[str]:
    """Install those of ``names`` the broker's ``quirks`` need (idempotent); uninstall the
    rest of ``names``. Returns the installed ones."""
    global _fetch_max_wait_ms
    _fetch_max_wait_ms = fetch_max_wait_ms
    wanted = _BY_QUIRKS[quirks] & set(names)
    for name in names:
        shipped = original(name)  # remembered before the first replacement
        patch = PATCHES[name]
        setattr(patch.owner(), patch.attribute, patch.replacement if name in wanted else shipped)
    if wanted:
        logger.info("broker quirks %s: patched %s", quirks, ", ".join(sorted(wanted)))
    return frozenset(wanted)


def uninstall(names: tuple[str, ...] = tuple(PATCHES)) -> None:
    """Restore the shipped objects of ``names`` (tests use it to show what a patch prevents)."""
    for name in names:
        patch = PATCHES[name]
        setattr(patch.owner(), patch.attribute, original(name))


def installed() -> frozenset[str]:
    """The patches in place now."""
    return frozenset(
        name
        for name, patch in PATCHES.items()
        if getattr(patch.owner(), patch.attribute) is patch.replacement
    )
