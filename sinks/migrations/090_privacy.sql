-- Privacy requests (docs/security.md). Every statement is idempotent.

-- The audit record of every forget request: who asked what when and what was removed,
-- without the person's identities or user ids (only counts).
CREATE TABLE IF NOT EXISTS siyu.privacy_requests
(
    project       LowCardinality(String),
    request_id    String,
    action        LowCardinality(String),
    requested_at  DateTime64(3, 'UTC'),
    done_at       DateTime64(3, 'UTC'),
    status        LowCardinality(String),
    user_count      UInt32,
    identity_count  UInt32,
    removed_rows  Map(String, UInt64)
)
ENGINE = ReplacingMergeTree(done_at)
ORDER BY (project, request_id);
