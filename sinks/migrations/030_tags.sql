-- Real-time tags (streams/agents/tags.py, docs/tags.md). Every statement is idempotent.

-- Current tags, one row per user: written from the user_profiles table changelog, i.e.
-- from the same state the stream serves, so it equals the live tags after any replay or
-- crash. A merged-away user gets deleted = 1. Read with FINAL.
CREATE TABLE IF NOT EXISTS siyu.user_tags
(
    project     LowCardinality(String),
    user_id     String,
    tags        Map(String, String),
    tags_json   String,
    updated_at  DateTime64(3, 'UTC'),
    deleted     UInt8,
    version     UInt64
)
ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (project, user_id);

-- tags: every value as text, for SQL; tags_json: the same tags with their types (numbers,
-- booleans), for the lookup API (sinks/tag_lookup.py).
ALTER TABLE siyu.user_tags ADD COLUMN IF NOT EXISTS tags_json String AFTER tags;

-- Every change published on tags.changes (history; what SOP triggers consume).
-- old NULL: the tag was added; new NULL: removed. A replayed record replaces its copy.
CREATE TABLE IF NOT EXISTS siyu.tag_changes
(
    project   LowCardinality(String),
    user_id   String,
    tag       LowCardinality(String),
    old       Nullable(String),
    new       Nullable(String),
    at        DateTime64(3, 'UTC'),
    cause     String,
    date      Date MATERIALIZED toDate(at)
)
ENGINE = ReplacingMergeTree
ORDER BY (project, tag, user_id, at, cause);

-- Live tag distributions (named tags_* to keep them apart from the event-based analytics
-- views of 041). One row per (user, tag): "which users have tag X / segment Y".
CREATE VIEW IF NOT EXISTS siyu.user_tag_values AS
SELECT project, user_id, tag, value, updated_at
FROM siyu.user_tags FINAL
ARRAY JOIN mapKeys(tags) AS tag, mapValues(tags) AS value
WHERE deleted = 0;

CREATE VIEW IF NOT EXISTS siyu.tags_lifecycle AS
SELECT project, tags['lifecycle'] AS lifecycle, count() AS users
FROM siyu.user_tags FINAL
WHERE deleted = 0 AND tags['lifecycle'] != ''
GROUP BY project, lifecycle;

CREATE VIEW IF NOT EXISTS siyu.tags_rfm AS
SELECT project, tags['rfm_segment'] AS segment,
       count() AS users,
       round(avg(toFloat64OrZero(tags['total_paid'])), 2) AS avg_paid
FROM siyu.user_tags FINAL
WHERE deleted = 0 AND tags['rfm_segment'] != ''
GROUP BY project, segment;

CREATE VIEW IF NOT EXISTS siyu.tags_value_tier AS
SELECT project, tags['value_tier'] AS tier, count() AS users
FROM siyu.user_tags FINAL
WHERE deleted = 0 AND tags['value_tier'] != ''
GROUP BY project, tier;

CREATE VIEW IF NOT EXISTS siyu.tags_first_channel AS
SELECT project, tags['first_channel'] AS first_channel, count() AS users
FROM siyu.user_tags FINAL
WHERE deleted = 0 AND tags['first_channel'] != ''
GROUP BY project, first_channel;
