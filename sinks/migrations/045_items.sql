-- The item catalogue (Sensors item_set / item_delete): the current state of every item.
-- Rows come from the item events of siyu.events.stitched, in the same pass that writes
-- siyu.events. The latest event by the sender's clock wins (version = 2 × client time in
-- ms, + 1 for a delete: within one millisecond a delete wins), so the order in which
-- requests and records arrive does not matter; item_delete leaves a deleted row that
-- reads with FINAL (the SQL endpoint's default) hide. Idempotent.
CREATE TABLE IF NOT EXISTS siyu.items
(
    project      LowCardinality(String),
    item_type    LowCardinality(String),
    item_id      String,
    properties   String,
    updated_at   DateTime64(3, 'UTC'),
    event_id     String,
    deleted      UInt8,
    version      UInt64,
    record       String DEFAULT ''
)
ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (project, item_type, item_id);

-- The item's state as its items.catalogue record (Avro, hex): the stream workers' live
-- catalogue is republished from here when the broker lost the topic.
ALTER TABLE siyu.items ADD COLUMN IF NOT EXISTS record String DEFAULT '' AFTER version;

-- Each item's content tags (item_set property `content_tags`, a list), for joining events
-- that carry a content_id with the catalogue.
CREATE OR REPLACE VIEW siyu.item_content_tags AS
SELECT project, item_type, item_id, JSONExtract(properties, 'content_tags', 'Array(String)') AS content_tags
FROM siyu.items
WHERE deleted = 0;
