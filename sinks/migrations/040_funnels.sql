-- Funnels and fission (docs/funnels.md). Every statement is idempotent.

-- One row per (user, funnel, entry day, breakdown value, step reached), from
-- siyu.funnels.progress. Replays insert the same key again: ReplacingMergeTree.
CREATE TABLE IF NOT EXISTS siyu.funnel_steps
(
    project      LowCardinality(String),
    funnel       LowCardinality(String),
    dimension    LowCardinality(String),
    value        String,
    day          Date,
    step         UInt8,
    step_name    LowCardinality(String),
    user_id      String,
    at           DateTime('UTC'),
    inserted_at  DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree
ORDER BY (project, funnel, dimension, value, day, step, user_id);

-- Share edges: invitee reached a fission step for this sharer (first time).
CREATE TABLE IF NOT EXISTS siyu.fission_edges
(
    project      LowCardinality(String),
    sharer       String,
    invitee      String,
    step         UInt8,
    step_name    LowCardinality(String),
    time         DateTime('UTC'),
    depth        UInt16,
    root         String,
    campaign     String,
    inserted_at  DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree
ORDER BY (project, sharer, invitee, step);

-- Steps reached with the user each belongs to now (identity merges re-attribute them).
CREATE OR REPLACE VIEW siyu.funnel_steps_current AS
SELECT
    s.project AS project, s.funnel AS funnel, s.dimension AS dimension, s.value AS value,
    s.day AS day, s.step AS step, s.step_name AS step_name,
    if(m.user_id = '', s.user_id, m.user_id) AS user_id, s.at AS at
FROM siyu.funnel_steps AS s FINAL
LEFT JOIN
(
    SELECT project, id_value, user_id FROM siyu.identity_map FINAL
    WHERE id_type = 'user_id' AND deleted = 0
) AS m ON m.project = s.project AND m.id_value = s.user_id
SETTINGS join_use_nulls = 0;

-- The contract: users per funnel, step (1-based) and entry day, each user once.
CREATE OR REPLACE VIEW siyu.funnel_counts AS
SELECT project, funnel, step, any(step_name) AS step_name, day, uniqExact(user_id) AS users
FROM siyu.funnel_steps_current
WHERE dimension = ''
GROUP BY project, funnel, step, day;

-- The same per breakdown value of the entry event (platform, channel, campaign, …).
CREATE OR REPLACE VIEW siyu.funnel_counts_by_breakdown AS
SELECT project, funnel, dimension, value, step, any(step_name) AS step_name, day,
       uniqExact(user_id) AS users
FROM siyu.funnel_steps_current
WHERE dimension != ''
GROUP BY project, funnel, dimension, value, step, day;

-- Step-to-step and overall conversion per funnel and day.
CREATE OR REPLACE VIEW siyu.funnel_conversion AS
SELECT
    project, funnel, day, step, step_name, users,
    first_value(users) OVER w AS entered,
    lagInFrame(users, 1, users) OVER w AS previous,
    round(users / greatest(previous, 1), 4) AS step_rate,
    round(users / greatest(entered, 1), 4) AS overall_rate
FROM siyu.funnel_counts
WINDOW w AS (PARTITION BY project, funnel, day ORDER BY step
             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);

-- Share edges with current user ids.
CREATE OR REPLACE VIEW siyu.fission_edges_current AS
SELECT
    e.project AS project,
    if(ms.user_id = '', e.sharer, ms.user_id) AS sharer,
    if(mi.user_id = '', e.invitee, mi.user_id) AS invitee,
    e.step AS step, e.step_name AS step_name, e.time AS time, e.depth AS depth,
    e.root AS root, e.campaign AS campaign
FROM siyu.fission_edges AS e FINAL
LEFT JOIN
(
    SELECT project, id_value, user_id FROM siyu.identity_map FINAL
    WHERE id_type = 'user_id' AND deleted = 0
) AS ms ON ms.project = e.project AND ms.id_value = e.sharer
LEFT JOIN
(
    SELECT project, id_value, user_id FROM siyu.identity_map FINAL
    WHERE id_type = 'user_id' AND deleted = 0
) AS mi ON mi.project = e.project AND mi.id_value = e.invitee
SETTINGS join_use_nulls = 0;

-- The share tree: one row per (sharer, invitee) visit edge, with depth and root inviter.
CREATE OR REPLACE VIEW siyu.fission_tree AS
SELECT project, sharer, invitee, min(time) AS first_visit, min(depth) AS depth,
       argMin(root, time) AS root, argMin(campaign, time) AS campaign
FROM siyu.fission_edges_current
WHERE step = 2
GROUP BY project, sharer, invitee;

-- Invitee conversion per fission step and campaign.
CREATE OR REPLACE VIEW siyu.fission_conversion AS
SELECT project, campaign, step, any(step_name) AS step_name, uniqExact(invitee) AS invitees
FROM siyu.fission_edges_current
GROUP BY project, campaign, step;

-- K-factor per campaign: invitees converted (reached step 3, e.g. registered) per sharer
-- who brought at least one visitor; also visitors per sharer.
CREATE OR REPLACE VIEW siyu.fission_kfactor AS
SELECT
    project, campaign,
    uniqExactIf(sharer, step = 2) AS sharers,
    uniqExactIf(invitee, step = 2) AS visitors,
    uniqExactIf(invitee, step = 3) AS converted,
    round(converted / greatest(sharers, 1), 4) AS k_factor,
    round(visitors / greatest(sharers, 1), 4) AS visitors_per_sharer
FROM siyu.fission_edges_current
GROUP BY project, campaign;

-- Top spreaders (KOC): direct invitees, their conversions, and the whole subtree below.
CREATE OR REPLACE VIEW siyu.fission_koc AS
SELECT
    d.project AS project, d.sharer AS sharer, d.invitees AS invitees,
    d.registered AS registered, d.ordered AS ordered,
    ifNull(t.descendants, 0) AS descendants
FROM
(
    SELECT project, sharer,
           uniqExactIf(invitee, step = 2) AS invitees,
           uniqExactIf(invitee, step = 3) AS registered,
           uniqExactIf(invitee, step >= 4) AS ordered
    FROM siyu.fission_edges_current
    GROUP BY project, sharer
) AS d
LEFT JOIN
(
    SELECT project, root AS sharer, uniqExact(invitee) AS descendants
    FROM siyu.fission_tree GROUP BY project, root
) AS t ON t.project = d.project AND t.sharer = d.sharer
SETTINGS join_use_nulls = 0;
