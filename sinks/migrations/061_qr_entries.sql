-- Entries by live code kept as they arrive: one row per (project, code, user as ingested),
-- fed by a materialized view on every insert into siyu.events (filled from siyu.events
-- once when created), so the code panels read a table of code entries instead of the
-- context JSON of every event. min and the set of event ids are unchanged by replayed
-- rows. Replaces siyu.qr_code_users of 060_wechat.sql.
CREATE TABLE IF NOT EXISTS siyu.qr_entries
(
    project     LowCardinality(String),
    qr_id       String,
    user_id     String,
    entered_at  SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    scans       AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (project, qr_id, user_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS siyu.qr_entries_mv TO siyu.qr_entries AS
SELECT project, qr_id, user_id, min(time) AS entered_at, uniqExactState(event_id) AS scans
FROM
(
    SELECT project, user_id, time, event_id,
           multiIf(JSONExtractString(context, 'qr') != '', JSONExtractString(context, 'qr'),
                   JSONExtractUInt(context, 'qr') != 0, toString(JSONExtractUInt(context, 'qr')),
                   JSONExtractString(context, 'query', 'qr_id')) AS qr_id
    FROM siyu.events
    WHERE position(context, 'qr') > 0
)
WHERE qr_id != ''
GROUP BY project, qr_id, user_id;

INSERT INTO siyu.qr_entries
SELECT project, qr_id, user_id, min(time) AS entered_at, uniqExactState(event_id) AS scans
FROM
(
    SELECT project, user_id, time, event_id,
           multiIf(JSONExtractString(context, 'qr') != '', JSONExtractString(context, 'qr'),
                   JSONExtractUInt(context, 'qr') != 0, toString(JSONExtractUInt(context, 'qr')),
                   JSONExtractString(context, 'query', 'qr_id')) AS qr_id
    FROM siyu.events FINAL
    WHERE position(context, 'qr') > 0
)
WHERE qr_id != '' AND (SELECT count() FROM siyu.qr_entries) = 0
GROUP BY project, qr_id, user_id;

-- Per user (as stitched now) and code: when they first entered through it, and how often.
CREATE OR REPLACE VIEW siyu.qr_code_users AS
SELECT q.project AS project, q.qr_id AS qr_id,
       if(m.user_id = '', q.user_id, m.user_id) AS user_id,
       min(q.entered_at) AS entered_at, uniqExactMerge(q.scans) AS scans
FROM siyu.qr_entries AS q
LEFT JOIN
(
    SELECT project, id_value, user_id FROM siyu.identity_map FINAL
    WHERE id_type = 'user_id' AND deleted = 0
) AS m ON m.project = q.project AND m.id_value = q.user_id
GROUP BY project, qr_id, user_id
SETTINGS join_use_nulls = 0;
