-- The identity graph in ClickHouse: identity map, merge history, refused links, and a
-- view of events with the user they belong to now. Every statement is idempotent.

-- Identity → user, one row per identity (ReplacingMergeTree by version; an unbound
-- identity's last row has deleted = 1). id_type 'user_id' maps every user id ever
-- created to the user it belongs to now (itself, or the survivor of its merge).
CREATE TABLE IF NOT EXISTS siyu.identity_map
(
    project      LowCardinality(String),
    id_type      LowCardinality(String),
    id_value     String,
    user_id      String,
    version      UInt64,
    deleted      UInt8,
    time         DateTime64(3, 'UTC'),
    event_id     String,
    inserted_at  DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (project, id_type, id_value);

-- One row per merge of two users (loser → survivor), from siyu.identity.merges.
CREATE TABLE IF NOT EXISTS siyu.identity_merges
(
    project      LowCardinality(String),
    loser        String,
    survivor     String,
    time         DateTime64(3, 'UTC'),
    event_id     String,
    reason       LowCardinality(String),
    inserted_at  DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree
ORDER BY (project, loser, survivor);

-- Links the rules refused: id_type/id_value stays with user_id instead of joining
-- other_user_id (reason limit:<type or namespace>, or identified).
CREATE TABLE IF NOT EXISTS siyu.identity_conflicts
(
    project        LowCardinality(String),
    event_id       String,
    time           DateTime64(3, 'UTC'),
    id_type        LowCardinality(String),
    id_value       String,
    user_id        String,
    other_user_id  String,
    reason         LowCardinality(String),
    inserted_at    DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree
ORDER BY (project, event_id, id_type, id_value);

-- Events with the user they belong to now: user_id follows every merge decided after
-- the event was stored (through identity_map's user_id rows); ingested_user_id is the
-- user it was stitched to at ingestion. Past events are never rewritten. date: the
-- calendar day in the project's timezone.
CREATE OR REPLACE VIEW siyu.events_current AS
SELECT
    e.* EXCEPT (user_id),
    toDateTime(e.time) AS event_time,
    {{local_date(e.project, e.time)}} AS date,
    if(m.user_id = '', e.user_id, m.user_id) AS user_id,
    e.user_id AS ingested_user_id
FROM siyu.events AS e FINAL
LEFT JOIN
(
    SELECT project, id_value, user_id
    FROM siyu.identity_map FINAL
    WHERE id_type = 'user_id' AND deleted = 0
) AS m ON m.project = e.project AND m.id_value = e.user_id
SETTINGS join_use_nulls = 0;
