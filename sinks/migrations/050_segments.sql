-- User properties, live segments and webhook subscriptions (docs/segments.md,
-- docs/webhooks.md). Every statement is idempotent.

-- Current properties, one row per user: written from the user_profiles table changelog
-- (the same state the stream serves). A merged-away user gets deleted = 1. Read with FINAL.
CREATE TABLE IF NOT EXISTS siyu.user_properties
(
    project          LowCardinality(String),
    user_id          String,
    properties       Map(String, String),
    properties_json  String,
    updated_at       DateTime64(3, 'UTC'),
    deleted          UInt8,
    version          UInt64
)
ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (project, user_id);

-- Current segment members: one row per (segment, user) from segments.changes; an exit
-- sets deleted = 1. Read with FINAL (and deleted = 0).
CREATE TABLE IF NOT EXISTS siyu.segment_members
(
    project     LowCardinality(String),
    segment     LowCardinality(String),
    user_id     String,
    changed_at  DateTime64(3, 'UTC'),
    cause       String,
    deleted     UInt8,
    version     UInt64
)
ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (project, segment, user_id);

-- Every enter / exit (history). A replayed record replaces its copy.
CREATE TABLE IF NOT EXISTS siyu.segment_changes
(
    project   LowCardinality(String),
    segment   LowCardinality(String),
    user_id   String,
    change    LowCardinality(String),
    at        DateTime64(3, 'UTC'),
    cause     String,
    date      Date MATERIALIZED toDate(at)
)
ENGINE = ReplacingMergeTree
ORDER BY (project, segment, user_id, at, change, cause);

-- Segments made at run time; record: the Avro record, republished into an empty
-- segments.definitions topic after a restart of the embedded broker.
CREATE TABLE IF NOT EXISTS siyu.segment_definitions
(
    project     LowCardinality(String),
    name        String,
    expression  String,
    description String,
    deleted     UInt8,
    updated_at  DateTime64(3, 'UTC'),
    record      String,
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (project, name);

-- Webhook subscriptions (record holds the signing secret: keep this table away from
-- read-only users).
CREATE TABLE IF NOT EXISTS siyu.webhook_subscriptions
(
    project     LowCardinality(String),
    id          String,
    url         String,
    segments    Array(String),
    tags        Array(String),
    created_at  DateTime64(3, 'UTC'),
    deleted     UInt8,
    record      String,
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (project, id);

-- Every delivery attempt.
CREATE TABLE IF NOT EXISTS siyu.webhook_deliveries
(
    project          LowCardinality(String),
    subscription_id  String,
    user_id          String,
    event_id         String,
    kind             LowCardinality(String),
    name             String,
    change           LowCardinality(String),
    attempt          UInt32,
    status           UInt16,
    outcome          LowCardinality(String),
    error            String,
    latency_ms       Float64,
    at               DateTime64(3, 'UTC'),
    date             Date MATERIALIZED toDate(at)
)
ENGINE = ReplacingMergeTree
ORDER BY (project, subscription_id, event_id, attempt);

-- Per-subscription dead letters: deliveries given up (retries exhausted) or refused by
-- the receiver (a 4xx other than 408/429), with the body to replay them.
CREATE TABLE IF NOT EXISTS siyu.webhook_dead_letters
(
    project          LowCardinality(String),
    subscription_id  String,
    user_id          String,
    event_id         String,
    reason           String,
    body             String,
    at               DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (project, subscription_id, event_id);
