"""The compatibility seam: version check, and which patches each broker's quirks install."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import metadata

import pytest
from aiokafka import client as aiokafka_client
from aiokafka.protocol.metadata import MetadataRequest, MetadataRequest_v5
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from siyu import kafka_compat
from siyu.broker_quirks import for_kafka
from siyu.settings import KafkaSettings


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    before = kafka_compat.installed()
    yield
    kafka_compat.uninstall()
    for name in before:
        patch = kafka_compat.PATCHES[name]
        setattr(patch.owner(), patch.attribute, patch.replacement)


def _current() -> dict[str, object]:
    return {
        "true_highwaters": AIOKafkaConsumerThread._highwaters,
        "fetch_wait": AIOKafkaConsumerThread._create_worker_consumer,
        "empty_active_fetch": AIOKafkaConsumerThread._fetch_records,
        "seek_committed_or_beginning": AIOKafkaConsumerThread.seek_to_committed,
        "resume_streams_after_seek": Recovery._resume_streams,
        "recovery_completed_after_seek": Recovery.on_recovery_completed,
        "no_topic_auto_creation": aiokafka_client.MetadataRequest,
    }


def test_the_installed_versions_are_the_tested_ones() -> None:
    for name, version in kafka_compat.TESTED_VERSIONS.items():
        assert metadata.version(name) == version
    kafka_compat.check_versions()


def test_an_untested_version_fails_with_a_clear_error() -> None:
    found = {"faust-streaming": "0.16.0", "aiokafka": kafka_compat.TESTED_VERSIONS["aiokafka"]}
    with pytest.raises(kafka_compat.IncompatibleVersions) as raised:
        kafka_compat.check_versions(found)
    message = str(raised.value)
    assert "faust-streaming 0.16.0 (tested: 0.15.3)" in message
    assert "aiokafka" not in message.split("found", 1)[1]


def test_a_missing_distribution_is_named() -> None:
    with pytest.raises(kafka_compat.IncompatibleVersions, match="aiokafka not installed"):
        kafka_compat.check_versions({"faust-streaming": "0.15.3"})


def test_tansu_installs_every_consumer_patch_and_none_only_faust_s_fixes() -> None:
    kafka_compat.uninstall()
    assert kafka_compat.installed() == frozenset()
    shipped = _current()
    got = kafka_compat.install("tansu", kafka_compat.CONSUMER_PATCHES)
    assert got == set(kafka_compat.CONSUMER_PATCHES)
    now = _current()
    for name in kafka_compat.CONSUMER_PATCHES:
        assert now[name] is kafka_compat.PATCHES[name].replacement
        assert now[name] is not shipped[name]
    # The collector's patch is not a worker's business.
    assert aiokafka_client.MetadataRequest is MetadataRequest
    fixes = kafka_compat.FAUST_FIXES
    assert kafka_compat.install("none", kafka_compat.CONSUMER_PATCHES) == fixes
    now = _current()
    for name in kafka_compat.CONSUMER_PATCHES:
        expected = kafka_compat.PATCHES[name].replacement if name in fixes else shipped[name]
        assert now[name] is expected
    assert kafka_compat.installed() == fixes


def test_producer_patch_never_asks_for_topic_creation_and_none_leaves_aiokafka_alone() -> None:
    kafka_compat.uninstall()
    kafka_compat.install("none", kafka_compat.PRODUCER_PATCHES)
    assert aiokafka_client.MetadataRequest is MetadataRequest
    asked = aiokafka_client.MetadataRequest(["siyu.events.raw"]).build(MetadataRequest_v5)
    assert asked.allow_auto_topic_creation is True
    kafka_compat.install("tansu", kafka_compat.PRODUCER_PATCHES)
    request = aiokafka_client.MetadataRequest(["siyu.events.raw"], True)
    assert request.build(MetadataRequest_v5).allow_auto_topic_creation is False
    assert kafka_compat.installed() == {"no_topic_auto_creation"}


def test_originals_are_the_shipped_objects_even_after_install() -> None:
    kafka_compat.install("tansu", tuple(kafka_compat.PATCHES))
    assert kafka_compat.installed() == set(kafka_compat.PATCHES)
    for name in kafka_compat.CONSUMER_PATCHES:
        assert kafka_compat.original(name).__module__.startswith("faust.t")
    assert kafka_compat.original("no_topic_auto_creation") is MetadataRequest


@pytest.mark.parametrize(
    ("env", "quirks", "forgets"),
    [
        ({}, "tansu", True),
        ({"SIYU_KAFKA_EMBEDDED": "false"}, "none", False),
        ({"SIYU_KAFKA_EMBEDDED": "false", "SIYU_KAFKA_QUIRKS": "tansu"}, "tansu", True),
        ({"SIYU_KAFKA_QUIRKS": "none"}, "none", False),
    ],
)
def test_the_setting_chooses_the_quirks_and_the_adapter(
    env: dict[str, str], quirks: str, forgets: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    kafka = KafkaSettings()
    assert kafka.broker_quirks == quirks
    adapter = for_kafka(kafka)
    assert adapter.forgets_log is forgets
    assert adapter.list_offsets_wrong is forgets
