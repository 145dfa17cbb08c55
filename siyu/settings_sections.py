"""The sections of the settings object, one per part, each reading its ``SIYU_<SECTION>_*``.

Imported through :mod:`siyu.settings`, which assembles them into ``Settings``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "FROZEN",
    "ClickHouseSettings",
    "CollectorSettings",
    "IdentitySettings",
    "KafkaSettings",
    "LogSettings",
    "LookupSettings",
    "PrivacySettings",
    "SegmentSettings",
    "SinkSettings",
    "SqlSettings",
    "TagSettings",
    "WebhookSettings",
    "WorkerSettings",
]

# Errors never echo the values given: a bad setting must not print a key (docs/security.md).
FROZEN = {"frozen": True, "extra": "forbid", "hide_input_in_errors": True}


def _section(prefix: str) -> SettingsConfigDict:
    # Attribute docstrings become field descriptions: the settings table in the README is
    # generated from them (python -m siyu.settings_env).
    return SettingsConfigDict(
        env_prefix=prefix,
        frozen=True,
        extra="ignore",
        hide_input_in_errors=True,
        use_attribute_docstrings=True,
    )


class KafkaSettings(BaseSettings):
    model_config = _section("SIYU_KAFKA_")

    bootstrap: str = "127.0.0.1:17092"
    """Comma-separated bootstrap servers (the embedded broker listens on the first)."""
    topic_prefix: str = "siyu."
    """Prefix of every topic siyu creates (``siyu.events.raw`` …)."""
    partitions: int = Field(default=4, ge=1)
    """Partition count of every topic. Final: the embedded broker cannot add partitions later."""
    replication_factor: int = Field(default=1, ge=1)
    """Replication factor of the topics siyu creates (a real cluster: usually 3)."""
    embedded: bool = True
    """Start the bundled Tansu broker (``make run``). False when pointing at a real cluster."""
    fetch_max_wait_ms: int = Field(default=50, ge=1, le=10_000)
    """Longest a consumer's Fetch may wait for data. The embedded broker holds every Fetch
    for about half of it even when records are waiting, so it bounds each hop's latency."""

    producer_linger_ms: int = Field(default=10, ge=0, le=1_000)
    """How long every producer (collector, stream workers) waits to fill a batch. The
    embedded broker's cost grows with the number of batches it holds, not records."""

    quirks: Literal["tansu", "none"] | None = None
    """Quirks of the broker, each worked around by siyu (docs/architecture.md): ``tansu``
    patches Faust and aiokafka for the embedded broker and keeps the collector's outbox,
    ``none`` (a real Kafka) leaves them as shipped, except for the fixes of Faust's own
    races, which every broker gets. Unset: ``tansu`` when ``embedded``."""

    embedded_restart_rss_mb: int = Field(default=1024, ge=0)
    """The embedded broker keeps its whole log in memory: once its resident memory passes
    this, the supervisor restarts it empty (consumers restarted, stream state re-seeded, the
    collector spools and sends again what is not yet in ClickHouse). 0: never."""
    embedded_restart_min_interval_s: float = Field(default=120.0, ge=0)
    """Shortest time between two such restarts."""

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def broker_quirks(self) -> Literal["tansu", "none"]:
        """The quirks in effect: ``quirks``, or what ``embedded`` implies."""
        if self.quirks is not None:
            return self.quirks
        return "tansu" if self.embedded else "none"


class ClickHouseSettings(BaseSettings):
    model_config = _section("SIYU_CLICKHOUSE_")

    url: str | None = None
    """``http://user:password@host:8123`` of a ClickHouse server; unset means embedded chDB."""
    chdb_path: Path | None = None
    """Directory of the embedded chDB data; defaults to ``<data_dir>/chdb``."""
    password: SecretStr | None = None
    """Password of the ClickHouse server user (instead of one inside the URL)."""
    cluster: str | None = None
    """Name of a ClickHouse cluster (``remote_servers``): tables are created ``ON CLUSTER`` it
    with Replicated engines (needs ``{shard}``/``{replica}`` macros and Keeper).
    Unset: one server."""

    @property
    def embedded(self) -> bool:
        return self.url is None


class CollectorSettings(BaseSettings):
    model_config = _section("SIYU_COLLECTOR_")

    host: str = "127.0.0.1"
    """Collector listen address (``0.0.0.0`` to accept other machines)."""
    port: int = 17080
    """Collector HTTP port (native, pixel and Sensors routes, ``/metrics``)."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """Largest request body accepted (compressed size)."""
    max_decompressed_bytes: int = Field(default=8_388_608, ge=1024)
    """Largest body after decompression (decompression-bomb guard)."""
    max_events_per_batch: int = Field(default=1000, ge=1)
    """Most events one request may carry."""
    max_future_ms: int = Field(default=23 * 3600 * 1000, ge=0)
    """Client times further ahead than this fall back to the receive time."""
    max_past_ms: int = Field(default=2 * 365 * 86400 * 1000, ge=0)
    """Client times further back than this fall back to the receive time."""
    max_properties: int = Field(default=500, ge=1)
    """Most properties one event may carry."""
    max_name_length: int = Field(default=128, ge=1)
    """Longest event name or property name."""
    max_depth: int = Field(default=8, ge=1)
    """Deepest nesting of objects/arrays inside properties and context."""
    max_value_bytes: int = Field(default=16_384, ge=64)
    """Longest string value (UTF-8 characters) inside properties and context."""
    max_url_bytes: int = Field(default=131_072, ge=1024)
    """Longest query string of a GET beacon (image pixels, Sensors ``/sa.gif``)."""
    trusted_proxies: str = ""
    """Comma-separated IPs/CIDRs whose ``X-Forwarded-For`` is believed (e.g. ``10.0.0.0/8``)."""
    cors_origins: str = "*"
    """Comma-separated origins allowed to send with credentials; ``*`` echoes any origin."""
    ip2region_db: Path | None = None
    """ip2region ``.xdb`` file for the region enrichment; unset or missing: no region."""
    server: str = Field(default="granian", pattern="^(granian|uvicorn)$")
    """HTTP server of the collector: ``granian`` or ``uvicorn``."""
    workers: int = Field(default=1, ge=1)
    """Collector server processes."""
    spool_dir: Path | None = None
    """Local spool used while Kafka is away; defaults to ``<data_dir>/spool``."""
    spool_max_bytes: int = Field(default=1 << 30, ge=1 << 16)
    """Spool size at which requests are refused (503 + Retry-After)."""
    spool_segment_bytes: int = Field(default=16 << 20, ge=1 << 12)
    """Size of one spool file."""
    produce_timeout_s: float = Field(default=5.0, gt=0)
    """How long a request waits for Kafka before its events go to the spool instead."""
    outbox_max_bytes: int = Field(default=512 << 20, ge=0)
    """Embedded broker: produced bytes kept (in memory and in a journal on disk) until
    ClickHouse holds their events (sent again if the broker or the collector is lost); 0
    turns the outbox off."""
    outbox_resend_after_s: float = Field(default=90.0, gt=0)
    """Embedded broker: an event not in ClickHouse this long after it was sent is sent again."""
    outbox_confirm_interval_s: float = Field(default=5.0, gt=0)
    """How often the outbox looks its oldest messages up in ClickHouse."""

    # Rate limits of the beacon routes (token buckets, docs/security.md); 0 disables one.
    rate_per_key: float = Field(default=5000.0, ge=0)
    """Requests per second one write key (project) may send, sustained."""
    burst_per_key: float = Field(default=10000.0, ge=1)
    """Requests one write key may send at once above its rate."""
    rate_per_ip: float = Field(default=1000.0, ge=0)
    """Requests per second one client IP may send, sustained."""
    burst_per_ip: float = Field(default=2000.0, ge=1)
    """Requests one client IP may send at once above its rate."""


class SqlSettings(BaseSettings):
    model_config = _section("SIYU_SQL_")

    host: str = "127.0.0.1"
    """SQL endpoint listen address."""
    port: int = 17123
    """Read-only SQL endpoint served by the process that owns chDB (embedded mode)."""

    # Access and limits of the SQL endpoint (docs/security.md).
    operator_key: SecretStr | None = SecretStr("demo-operator-key")
    """Password of the ``siyu_operator`` user: reads every project and ``system`` tables
    (internal tests, ``siyu status``); None disables that user."""
    max_execution_s: float = Field(default=30.0, gt=0)
    """Longest a query may run before the engine ends it."""
    max_memory_bytes: int = Field(default=1 << 30, ge=1 << 20)
    """Most memory one query may use."""
    max_result_rows: int = Field(default=1_000_000, ge=1)
    """Most rows one answer may hold (larger answers fail rather than truncate)."""
    max_rows_to_read: int = Field(default=0, ge=0)
    """Most rows one query may read (0: no limit beyond time and memory)."""
    max_threads: int = Field(default=1, ge=1)
    """Threads one query may use: the sink shares the process (and its cores) with every
    query, so a heavy query must leave room for the inserts."""
    concurrency: int = Field(default=2, ge=1)
    """Queries run at the same time; more wait. Reads use their own chDB connection, so
    the sink's inserts never wait behind a query."""


class LookupSettings(BaseSettings):
    model_config = _section("SIYU_LOOKUP_")

    host: str = "127.0.0.1"
    """Lookup API listen address."""
    port: int = 17081
    """Lookup API port."""


class IdentitySettings(BaseSettings):
    model_config = _section("SIYU_IDENTITY_")

    rules_path: Path | None = None
    """TOML file of identity rules applied on top of the defaults (see docs/identity.md)."""
    dedupe_window: int = Field(default=100_000, ge=1)
    """Recent event ids remembered per ``events.raw`` partition to drop client retries."""


class TagSettings(BaseSettings):
    model_config = _section("SIYU_TAGS_")

    file: Path | None = None
    """Tag definition file (YAML, docs/tags.md); unset means the shipped defaults."""
    tick_s: float = Field(default=1.0, gt=0)
    """How often a worker looks for users whose time-based tags are due."""
    rescan_s: float = Field(default=600.0, gt=0)
    """How often a worker rebuilds its timer schedule from its whole table."""


class SegmentSettings(BaseSettings):
    model_config = _section("SIYU_SEGMENTS_")

    file: Path | None = None
    """Segment definition file (YAML, docs/segments.md); unset means the shipped set."""


class WebhookSettings(BaseSettings):
    model_config = _section("SIYU_WEBHOOKS_")

    metrics_port: int = 17101
    """Prometheus metrics of the webhook delivery process."""
    metrics_host: str = "127.0.0.1"
    """Address the webhook process's ``/metrics`` listens on (``0.0.0.0``: scraped from outside)."""
    timeout_s: float = Field(default=10.0, gt=0)
    """A receiver that has not answered in this time counts as failed (retried)."""
    retry_for_s: float = Field(default=86_400.0, gt=0)
    """How long a delivery is retried before it goes to the subscription's dead letters."""
    backoff_first_s: float = Field(default=1.0, gt=0)
    """First retry pause; each next one doubles (with jitter) up to ``backoff_max_s``."""
    backoff_max_s: float = Field(default=3600.0, gt=0)
    """Longest pause between two retries of a delivery."""
    concurrency: int = Field(default=8, ge=1)
    """Requests in flight per subscription (users in parallel; one user's in order)."""
    max_pending: int = Field(default=100_000, ge=1)
    """Unfinished deliveries kept per subscription (on disk, and queued in memory); a change
    beyond that goes to the subscription's dead letters (reason ``backlog_full``)."""
    keep_done_s: float = Field(default=3600.0, gt=0)
    """How long a finished delivery is remembered, so a change read again is not resent."""


class WorkerSettings(BaseSettings):
    model_config = _section("SIYU_WORKER_")

    app_id: str = "siyu"
    """Faust application id: consumer group and changelog topic prefix."""
    session_timeout_s: float = 10.0
    """Broker session timeout; JoinGroup on the embedded broker waits half of it."""
    metrics_port: int = 17110
    """Prometheus port of the first worker; worker N uses this + N."""
    metrics_host: str = "127.0.0.1"
    """Address the worker's ``/metrics`` listens on (``0.0.0.0`` so Prometheus can scrape it)."""
    store: str = "memory://"
    """Faust table store. Rebuilt from changelogs, or from ClickHouse when they are empty."""
    count: int = Field(default=1, ge=1)
    """Workers the embedded supervisor starts."""
    commit_interval_s: float = Field(default=0.5, gt=0)
    """How often a worker commits offsets. Records an agent sends are published when the
    offset of the record that caused them is committed, so this bounds a hop's latency."""
    funnels_file: Path | None = None
    """Funnel definition file (YAML or TOML, docs/funnels.md); unset: the shipped defaults."""


class SinkSettings(BaseSettings):
    model_config = _section("SIYU_SINK_")

    batch_rows: int = Field(default=5000, ge=1)
    """Flush a table's batch at this many rows …"""
    linger_s: float = Field(default=0.5, gt=0)
    """… or when its oldest row has waited this long."""
    metrics_port: int = 17100
    """Prometheus port of the sink."""
    metrics_host: str = "127.0.0.1"
    """Address the sink's ``/metrics`` listens on."""
    retry_max_s: float = Field(default=30.0, gt=0)
    """Longest pause between retries while ClickHouse is unavailable."""


class PrivacySettings(BaseSettings):
    """Privacy requests, stored IPs and retention (docs/security.md)."""

    model_config = _section("SIYU_PRIVACY_")

    later_events: Literal["drop", "anonymise"] = "drop"
    """Events arriving after a forget with the person's identities: ``drop`` them, or
    ``anonymise`` (store them without those identities)."""
    settle_s: float = Field(default=5.0, gt=0)
    """A forget deletes again after this and after twice this, for rows in flight."""
    ip: str = Field(default="keep", pattern="^(keep|truncate|hash)$")
    """Client IPs stored as received (``keep``), truncated (IPv4 /24, IPv6 /48) or
    ``hash``-ed (HMAC-SHA256 with ``ip_salt``)."""
    ip_salt: SecretStr = SecretStr("siyu-demo-ip-salt")
    """Key of the HMAC that ``ip = hash`` stores instead of the IP (set your own)."""
    retention_days: dict[str, int] = Field(default_factory=dict)
    """Days each table keeps rows (TTL), JSON: ``{"events": 365, "dead_letters": 30}``."""


class LogSettings(BaseSettings):
    model_config = _section("SIYU_LOG_")

    level: str | None = Field(default=None, pattern="^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    """Log level of every siyu process (``siyu --log-level``); unset: INFO (WARNING for
    client commands such as ``siyu demo``)."""
    format: str = Field(default="text", pattern="^(text|json)$")
    """``text`` or ``json`` (one JSON object per line; ``siyu --log-format``)."""
