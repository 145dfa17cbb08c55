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
WHERE step = {{fission_visit_step}}
GROUP BY project, sharer, invitee;

-- The inviter of each invitee by first touch (the visit that came first): the tree.
CREATE OR REPLACE VIEW siyu.fission_parent AS
SELECT t.project AS project, t.invitee AS invitee,
       argMin(t.sharer, t.first_visit) AS sharer, min(t.first_visit) AS first_visit
FROM siyu.fission_tree AS t
WHERE t.sharer != t.invitee
GROUP BY t.project, t.invitee;

-- Every (sharer, descendant) pair of the tree at any depth (distance 1 = direct invitee).
-- A cycle (a root who later visits through a descendant's link) stops at 32 levels.
CREATE OR REPLACE VIEW siyu.fission_descendants AS
WITH RECURSIVE closure AS (
    SELECT project, sharer, invitee, toUInt16(1) AS distance FROM siyu.fission_parent
    UNION ALL
    SELECT c.project AS project, c.sharer AS sharer, p.invitee AS invitee,
           toUInt16(c.distance + 1) AS distance
    FROM closure AS c
    INNER JOIN siyu.fission_parent AS p ON p.project = c.project AND p.sharer = c.invitee
    WHERE c.distance < 32 AND p.invitee != c.sharer
)
SELECT project, sharer, invitee, min(distance) AS distance
FROM closure
GROUP BY project, sharer, invitee;

-- Everyone who shared, per campaign: a share event (the fission funnel's first step; its
-- campaign as the workers read it) or a sharer credited with a visit.
CREATE OR REPLACE VIEW siyu.fission_sharers AS
SELECT project, sharer, campaign
FROM
(
    SELECT project, user_id AS sharer,
           multiIf(JSONExtractString(context, 'share', 'campaign') != '',
                   JSONExtractString(context, 'share', 'campaign'),
                   JSONExtractString(context, 'utm', 'campaign') != '',
                   JSONExtractString(context, 'utm', 'campaign'),
                   JSONExtractString(properties, 'campaign')) AS campaign
    FROM siyu.events_current
    WHERE event IN {{fission_share_events}}
    UNION ALL
    SELECT project, sharer, campaign FROM siyu.fission_edges_current
)
GROUP BY project, sharer, campaign;

-- Invitee conversion per fission step and campaign.
CREATE OR REPLACE VIEW siyu.fission_conversion AS
SELECT project, campaign, step, any(step_name) AS step_name, uniqExact(invitee) AS invitees
FROM siyu.fission_edges_current
GROUP BY project, campaign, step;

-- K-factor per campaign: invitees who succeeded (reached the success step of the funnel
-- file, e.g. registered) per sharer, every sharer counted (also those who brought
-- nobody); also visitors per sharer.
CREATE OR REPLACE VIEW siyu.fission_kfactor AS
SELECT
    s.project AS project, s.campaign AS campaign, s.sharers AS sharers,
    e.visitors AS visitors, e.converted AS converted,
    round(converted / greatest(sharers, 1), 4) AS k_factor,
    round(visitors / greatest(sharers, 1), 4) AS visitors_per_sharer
FROM
(
    SELECT project, campaign, uniqExact(sharer) AS sharers
    FROM siyu.fission_sharers GROUP BY project, campaign
) AS s
LEFT JOIN
(
    SELECT project, campaign,
           uniqExactIf(invitee, step = {{fission_visit_step}}) AS visitors,
           uniqExactIf(invitee, step = {{fission_success_step}}) AS converted
    FROM siyu.fission_edges_current
    GROUP BY project, campaign
) AS e ON e.project = s.project AND e.campaign = s.campaign
SETTINGS join_use_nulls = 0;

-- The same over every campaign of a project: each sharer and invitee once.
CREATE OR REPLACE VIEW siyu.fission_kfactor_total AS
SELECT
    s.project AS project, s.sharers AS sharers, e.converted AS converted,
    round(converted / greatest(sharers, 1), 4) AS k_factor
FROM (SELECT project, uniqExact(sharer) AS sharers FROM siyu.fission_sharers GROUP BY project) AS s
LEFT JOIN
(
    SELECT project, uniqExactIf(invitee, step = {{fission_success_step}}) AS converted
    FROM siyu.fission_edges_current GROUP BY project
) AS e ON e.project = s.project
SETTINGS join_use_nulls = 0;

-- Key spreaders (KOC), one row per sharer (mid-chain ones included): direct invitees and
-- their conversions; descendants = every invitee below at any depth, the depth of the
-- subtree and how many below reached the success step.
CREATE OR REPLACE VIEW siyu.fission_koc AS
SELECT
    s.project AS project, s.sharer AS sharer,
    d.invitees AS invitees, d.registered AS registered, d.ordered AS ordered,
    t.descendants AS descendants, t.subtree_depth AS subtree_depth,
    t.converted_below AS converted_below
FROM (SELECT DISTINCT project, sharer FROM siyu.fission_sharers) AS s
LEFT JOIN
(
    SELECT project, sharer,
           uniqExactIf(invitee, step = {{fission_visit_step}}) AS invitees,
           uniqExactIf(invitee, step = {{fission_success_step}}) AS registered,
           uniqExactIf(invitee, step = {{fission_order_step}}) AS ordered
    FROM siyu.fission_edges_current
    GROUP BY project, sharer
) AS d ON d.project = s.project AND d.sharer = s.sharer
LEFT JOIN
(
    SELECT x.project AS project, x.sharer AS sharer, uniqExact(x.invitee) AS descendants,
           max(x.distance) AS subtree_depth,
           uniqExactIf(x.invitee, c.invitee != '') AS converted_below
    FROM siyu.fission_descendants AS x
    LEFT JOIN
    (
        SELECT DISTINCT project, invitee FROM siyu.fission_edges_current
        WHERE step = {{fission_success_step}}
    ) AS c ON c.project = x.project AND c.invitee = x.invitee
    GROUP BY project, sharer
) AS t ON t.project = s.project AND t.sharer = s.sharer
SETTINGS join_use_nulls = 0;
