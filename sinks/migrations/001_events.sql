-- Events, dead letters and stream state: the spine's tables. Every statement is idempotent.
CREATE DATABASE IF NOT EXISTS siyu;

-- One row per event_id (ReplacingMergeTree: a replayed or retried event replaces its copy;
-- read with FINAL, which the SQL endpoint applies by default).
CREATE TABLE IF NOT EXISTS siyu.events
(
    project      LowCardinality(String),
    event_id     String,
    type         LowCardinality(String),
    event        LowCardinality(String),
    time         DateTime64(3, 'UTC'),
    event_time   DateTime('UTC') MATERIALIZED toDateTime(time),
    date         Date MATERIALIZED toDate(time),
    client_time  Nullable(DateTime64(3, 'UTC')),
    received_at  DateTime64(3, 'UTC'),
    sent_at      Nullable(DateTime64(3, 'UTC')),
    user_id      String,
    platform     LowCardinality(String),
    identities   Map(String, String),
    properties   String,
    context      String,
    lib_name     LowCardinality(String),
    lib_version  LowCardinality(String),
    ip           String,
    user_agent   String,
    source       LowCardinality(String),
    warnings     Array(String),
    enrichment   Map(String, String),
    inserted_at  DateTime64(6, 'UTC') DEFAULT now64(6),
    INDEX idx_time time TYPE minmax GRANULARITY 4,
    INDEX idx_event event TYPE set(256) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(inserted_at)
ORDER BY (project, event_id);

CREATE TABLE IF NOT EXISTS siyu.dead_letters
(
    project      LowCardinality(String),
    dl_id        String,
    received_at  DateTime64(3, 'UTC'),
    route        LowCardinality(String),
    reason       String,
    event_index  Int32,
    event_id     String,
    payload      String,
    ip           String
)
ENGINE = ReplacingMergeTree
ORDER BY (project, dl_id);

-- Last value of every key of every Faust table, from its changelog. Used to seed an
-- empty changelog (the embedded broker keeps nothing across a restart).
CREATE TABLE IF NOT EXISTS siyu.stream_state
(
    state_table  LowCardinality(String),
    key          String,
    partition    UInt16,
    value        String,
    deleted      UInt8,
    version      UInt64
)
ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (state_table, key);

CREATE VIEW IF NOT EXISTS siyu.user_event_counts AS
SELECT key AS user_id, JSONExtractUInt(value, 'v') AS events
FROM siyu.stream_state
WHERE state_table = 'user_event_counts';
