-- Analytics views for dashboards and `siyu sql` (docs/analytics.md). All read
-- siyu.events_current (events with the user each belongs to now). Idempotent.

-- Per event: the marketing fields the views below group by, extracted once.
CREATE OR REPLACE VIEW siyu.events_enriched AS
SELECT
    project, event_id, event, time, event_time, date, user_id, platform,
    JSONExtractString(context, 'utm', 'source') AS utm_source,
    JSONExtractString(context, 'utm', 'medium') AS utm_medium,
    if(JSONExtractString(context, 'utm', 'campaign') != '',
       JSONExtractString(context, 'utm', 'campaign'),
       JSONExtractString(properties, 'campaign')) AS campaign,
    JSONExtractString(context, 'scene') AS scene,
    multiIf(JSONExtractString(context, 'utm', 'source') != '', JSONExtractString(context, 'utm', 'source'),
            JSONHas(context, 'share'), 'share',
            JSONHas(context, 'scene'), concat('scene:', JSONExtractString(context, 'scene')),
            'direct') AS channel,
    multiIf(JSONExtractString(properties, 'material_id') != '', JSONExtractString(properties, 'material_id'),
            JSONExtractString(context, 'material_id') != '', JSONExtractString(context, 'material_id'),
            JSONExtractString(context, 'qr_id') != '', JSONExtractString(context, 'qr_id'),
            '') AS material,
    JSONExtractString(properties, 'experiment') AS experiment,
    JSONExtractString(properties, 'variant') AS variant,
    if(JSONExtractString(properties, 'group_id') != '', JSONExtractString(properties, 'group_id'),
       JSONExtractString(context, 'group_id')) AS group_id,
    JSONExtractString(properties, 'push_id') AS push_id,
    JSONExtractFloat(properties, 'amount') AS amount
FROM siyu.events_current;

-- One row per (user as stitched, day in the project's timezone, platform), kept by a materialized view on every
-- insert into siyu.events (and filled from siyu.events once when created). min/argMin/max
-- are unchanged by replayed rows. Activity, first-touch and retention views read it
-- instead of every event. The materialized view is recreated at every start, so it
-- always buckets by the zones of the settings.
CREATE TABLE IF NOT EXISTS siyu.user_days
(
    project     LowCardinality(String),
    date        Date,
    platform    LowCardinality(String),
    user_id     String,
    first_time  SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    touch       AggregateFunction(argMin, Tuple(String, String, String, String), DateTime64(3, 'UTC')),
    paid        SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
ORDER BY (project, date, platform, user_id);

DROP VIEW IF EXISTS siyu.user_days_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS siyu.user_days_mv TO siyu.user_days AS
SELECT project, {{local_date(project, time)}} AS date, platform, user_id, min(time) AS first_time,
       argMinState((
           multiIf(JSONExtractString(context, 'utm', 'source') != '', JSONExtractString(context, 'utm', 'source'),
                   JSONHas(context, 'share'), 'share',
                   JSONHas(context, 'scene'), concat('scene:', JSONExtractString(context, 'scene')),
                   'direct'),
           JSONExtractString(context, 'scene'),
           if(JSONExtractString(context, 'utm', 'campaign') != '', JSONExtractString(context, 'utm', 'campaign'),
              JSONExtractString(properties, 'campaign')),
           multiIf(JSONExtractString(properties, 'material_id') != '', JSONExtractString(properties, 'material_id'),
                   JSONExtractString(context, 'material_id') != '', JSONExtractString(context, 'material_id'),
                   JSONExtractString(context, 'qr_id'))
       ), time) AS touch,
       max(toUInt8(event = 'pay_order')) AS paid
FROM siyu.events
GROUP BY project, date, platform, user_id;

INSERT INTO siyu.user_days
SELECT project, {{local_date(project, time)}} AS date, platform, user_id, min(time) AS first_time,
       argMinState((
           multiIf(JSONExtractString(context, 'utm', 'source') != '', JSONExtractString(context, 'utm', 'source'),
                   JSONHas(context, 'share'), 'share',
                   JSONHas(context, 'scene'), concat('scene:', JSONExtractString(context, 'scene')),
                   'direct'),
           JSONExtractString(context, 'scene'),
           if(JSONExtractString(context, 'utm', 'campaign') != '', JSONExtractString(context, 'utm', 'campaign'),
              JSONExtractString(properties, 'campaign')),
           multiIf(JSONExtractString(properties, 'material_id') != '', JSONExtractString(properties, 'material_id'),
                   JSONExtractString(context, 'material_id') != '', JSONExtractString(context, 'material_id'),
                   JSONExtractString(context, 'qr_id'))
       ), time) AS touch,
       max(toUInt8(event = 'pay_order')) AS paid
FROM siyu.events
WHERE (SELECT count() FROM siyu.user_days) = 0
GROUP BY project, date, platform, user_id;

-- One row per user as stitched: first and last time, first-touch attributes, paid.
CREATE TABLE IF NOT EXISTS siyu.user_first
(
    project     LowCardinality(String),
    user_id     String,
    first_time  SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_time   SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    touch       AggregateFunction(argMin, Tuple(String, String, String, String, String), DateTime64(3, 'UTC')),
    paid        SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
ORDER BY (project, user_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS siyu.user_first_mv TO siyu.user_first AS
SELECT project, user_id, min(time) AS first_time, max(time) AS last_time,
       argMinState((
           platform,
           multiIf(JSONExtractString(context, 'utm', 'source') != '', JSONExtractString(context, 'utm', 'source'),
                   JSONHas(context, 'share'), 'share',
                   JSONHas(context, 'scene'), concat('scene:', JSONExtractString(context, 'scene')),
                   'direct'),
           JSONExtractString(context, 'scene'),
           if(JSONExtractString(context, 'utm', 'campaign') != '', JSONExtractString(context, 'utm', 'campaign'),
              JSONExtractString(properties, 'campaign')),
           multiIf(JSONExtractString(properties, 'material_id') != '', JSONExtractString(properties, 'material_id'),
                   JSONExtractString(context, 'material_id') != '', JSONExtractString(context, 'material_id'),
                   JSONExtractString(context, 'qr_id'))
       ), time) AS touch,
       max(toUInt8(event = 'pay_order')) AS paid
FROM siyu.events
GROUP BY project, user_id;

INSERT INTO siyu.user_first
SELECT project, user_id, min(time) AS first_time, max(time) AS last_time,
       argMinState((
           platform,
           multiIf(JSONExtractString(context, 'utm', 'source') != '', JSONExtractString(context, 'utm', 'source'),
                   JSONHas(context, 'share'), 'share',
                   JSONHas(context, 'scene'), concat('scene:', JSONExtractString(context, 'scene')),
                   'direct'),
           JSONExtractString(context, 'scene'),
           if(JSONExtractString(context, 'utm', 'campaign') != '', JSONExtractString(context, 'utm', 'campaign'),
              JSONExtractString(properties, 'campaign')),
           multiIf(JSONExtractString(properties, 'material_id') != '', JSONExtractString(properties, 'material_id'),
                   JSONExtractString(context, 'material_id') != '', JSONExtractString(context, 'material_id'),
                   JSONExtractString(context, 'qr_id'))
       ), time) AS touch,
       max(toUInt8(event = 'pay_order')) AS paid
FROM siyu.events
WHERE (SELECT count() FROM siyu.user_first) = 0
GROUP BY project, user_id;

-- user_days with the user each row belongs to now.
CREATE OR REPLACE VIEW siyu.user_days_current AS
SELECT d.project AS project, d.date AS date, d.platform AS platform,
       if(m.user_id = '', d.user_id, m.user_id) AS user_id,
       d.first_time AS first_time, d.touch AS touch, d.paid AS paid
FROM
(
    SELECT project, date, platform, user_id, min(first_time) AS first_time,
           argMinMerge(touch) AS touch, max(paid) AS paid
    FROM siyu.user_days
    GROUP BY project, date, platform, user_id
) AS d
LEFT JOIN
(
    SELECT project, id_value, user_id FROM siyu.identity_map FINAL
    WHERE id_type = 'user_id' AND deleted = 0
) AS m ON m.project = d.project AND m.id_value = d.user_id
SETTINGS join_use_nulls = 0;

-- Daily, weekly and monthly active users per platform (and 'all'), rolling windows,
-- merged from one uniq state per day (approximate within ~1%).
CREATE OR REPLACE VIEW siyu.active_users AS
SELECT project, day, platform,
       uniqMergeIf(s, lag = 0) AS dau,
       uniqMergeIf(s, lag < 7) AS wau,
       uniqMerge(s) AS mau
FROM
(
    SELECT project, date + k AS day, platform, k AS lag, s
    FROM
    (
        SELECT project, date, platform, uniqState(user_id) AS s
        FROM siyu.user_days_current GROUP BY project, date, platform
        UNION ALL
        SELECT project, date, 'all' AS platform, uniqState(user_id) AS s
        FROM siyu.user_days_current GROUP BY project, date
    )
    ARRAY JOIN range(0, 30) AS k
)
WHERE day <= (SELECT max(date) FROM siyu.user_days)
GROUP BY project, day, platform;

-- First touch per user (as the user is now): cohort day (project timezone), platform,
-- and the channel, scene, campaign and material of the first entry as the tag engine
-- classified it (first_* tags: scene dictionary, utm mediums); 'direct' when the user
-- never came through a tracked entry. Last day seen, paid.
CREATE OR REPLACE VIEW siyu.user_first_touch AS
SELECT u.project AS project, u.user_id AS user_id, u.cohort_day AS cohort_day,
       toMonday(u.cohort_day) AS cohort_week, u.platform AS platform,
       if(t.tags['first_channel'] != '', t.tags['first_channel'], 'direct') AS channel,
       t.tags['first_scene'] AS scene,
       {{scene_name(scene)}} AS scene_name,
       t.tags['first_utm_campaign'] AS campaign,
       if(t.tags['first_material_id'] != '', t.tags['first_material_id'],
          t.tags['first_qr_id']) AS material,
       u.last_day AS last_day, u.paid AS paid
FROM
(
    SELECT project, user_id,
           {{local_date(project, min(first_time))}} AS cohort_day,
           argMin(touch, first_time).1 AS platform,
           {{local_date(project, max(last_time))}} AS last_day,
           max(paid) AS paid
    FROM
    (
        SELECT f.project AS project, if(m.user_id = '', f.user_id, m.user_id) AS user_id,
               f.first_time AS first_time, f.last_time AS last_time, f.touch AS touch,
               f.paid AS paid
        FROM
        (
            SELECT project, user_id, min(first_time) AS first_time, max(last_time) AS last_time,
                   argMinMerge(touch) AS touch, max(paid) AS paid
            FROM siyu.user_first
            GROUP BY project, user_id
        ) AS f
        LEFT JOIN
        (
            SELECT project, id_value, user_id FROM siyu.identity_map FINAL
            WHERE id_type = 'user_id' AND deleted = 0
        ) AS m ON m.project = f.project AND m.id_value = f.user_id
        SETTINGS join_use_nulls = 0
    )
    GROUP BY project, user_id
) AS u
LEFT JOIN
(
    SELECT project, user_id, tags FROM siyu.user_tags FINAL WHERE deleted = 0
) AS t ON t.project = u.project AND t.user_id = u.user_id
SETTINGS join_use_nulls = 0;

-- Retention: share of a cohort (first day seen) active again on day 1, 7 and 30.
CREATE OR REPLACE VIEW siyu.retention AS
SELECT project, cohort_day, platform,
       count() AS users,
       countIf(has(days, cohort_day + 1)) AS d1,
       countIf(has(days, cohort_day + 7)) AS d7,
       countIf(has(days, cohort_day + 30)) AS d30,
       round(d1 / users, 4) AS d1_rate,
       round(d7 / users, 4) AS d7_rate,
       round(d30 / users, 4) AS d30_rate
FROM
(
    SELECT project, user_id, min(date) AS cohort_day, argMin(platform, first_time) AS platform,
           groupUniqArray(date) AS days
    FROM siyu.user_days_current
    GROUP BY project, user_id
)
GROUP BY project, cohort_day, platform;

-- Orders (pay_order events) with their amount.
CREATE OR REPLACE VIEW siyu.orders AS
SELECT project, user_id, time, date, JSONExtractFloat(properties, 'amount') AS amount
FROM siyu.events_current
WHERE event = 'pay_order';

-- Per user: orders and revenue.
CREATE OR REPLACE VIEW siyu.user_revenue AS
SELECT project, user_id, count() AS orders, sum(amount) AS revenue
FROM siyu.orders GROUP BY project, user_id;

-- The 80/20 check: revenue share of the top 20% of paying users, per month.
CREATE OR REPLACE VIEW siyu.revenue_concentration AS
SELECT project, month, count() AS payers, sum(user_revenue) AS revenue,
       sumIf(user_revenue, rank <= greatest(1, intDiv(payers_in_month + 4, 5))) AS top20_revenue,
       round(top20_revenue / greatest(revenue, 0.000001), 4) AS top20_share
FROM
(
    SELECT project, month, user_id, user_revenue,
           row_number() OVER (PARTITION BY project, month ORDER BY user_revenue DESC) AS rank,
           count() OVER (PARTITION BY project, month) AS payers_in_month
    FROM (SELECT project, toStartOfMonth(date) AS month, user_id, sum(amount) AS user_revenue
          FROM siyu.orders GROUP BY project, month, user_id)
)
GROUP BY project, month;

-- Lifetime value by first-touch cohort week and source channel.
CREATE OR REPLACE VIEW siyu.ltv_by_cohort AS
SELECT f.project AS project, f.cohort_week AS cohort_week, f.channel AS source,
       count() AS users,
       countIf(r.orders > 0) AS payers,
       sum(r.revenue) AS revenue,
       round(revenue / users, 2) AS ltv
FROM siyu.user_first_touch AS f
LEFT JOIN siyu.user_revenue AS r ON r.project = f.project AND r.user_id = f.user_id
GROUP BY project, cohort_week, source
SETTINGS join_use_nulls = 0;

-- Repurchase rate per month: users with >= 2 orders / users with >= 1 order.
CREATE OR REPLACE VIEW siyu.repurchase_rate AS
SELECT project, month, countIf(orders >= 1) AS buyers, countIf(orders >= 2) AS repeat_buyers,
       round(repeat_buyers / greatest(buyers, 1), 4) AS repurchase_rate
FROM (SELECT project, toStartOfMonth(date) AS month, user_id, count() AS orders
      FROM siyu.orders GROUP BY project, month, user_id)
GROUP BY project, month;

-- First-touch attribution: users, payers and revenue per channel, scene and material.
CREATE OR REPLACE VIEW siyu.attribution AS
SELECT f.project AS project, f.channel AS channel, f.scene AS scene,
       any(f.scene_name) AS scene_name, f.material AS material,
       f.campaign AS campaign,
       count() AS users,
       countIf(r.orders > 0) AS payers,
       sum(r.revenue) AS revenue,
       round(payers / users, 4) AS pay_rate
FROM siyu.user_first_touch AS f
LEFT JOIN siyu.user_revenue AS r ON r.project = f.project AND r.user_id = f.user_id
GROUP BY project, channel, scene, material, campaign
SETTINGS join_use_nulls = 0;

-- A/B tests: per experiment and variant, exposed users and how many went on to view,
-- add to cart and pay after their first exposure.
CREATE OR REPLACE VIEW siyu.experiment_conversion AS
SELECT x.project AS project, x.experiment AS experiment, x.variant AS variant,
       uniqExact(x.user_id) AS exposed,
       uniqExactIf(x.user_id, e.event = 'view_product' AND e.time >= x.since) AS viewed,
       uniqExactIf(x.user_id, e.event = 'add_to_cart' AND e.time >= x.since) AS carted,
       uniqExactIf(x.user_id, e.event = 'pay_order' AND e.time >= x.since) AS paid,
       round(paid / exposed, 4) AS pay_rate
FROM
(
    SELECT project, user_id, event, time FROM siyu.events_current
    WHERE event IN ('view_product', 'add_to_cart', 'pay_order')
) AS e
RIGHT JOIN
(
    SELECT project, user_id, JSONExtractString(properties, 'experiment') AS experiment,
           argMin(JSONExtractString(properties, 'variant'), time) AS variant, min(time) AS since
    FROM siyu.events_current
    WHERE position(properties, '"experiment"') > 0 AND experiment != ''
    GROUP BY project, user_id, experiment
) AS x ON e.project = x.project AND e.user_id = x.user_id
GROUP BY project, experiment, variant
SETTINGS join_use_nulls = 0;

-- Message pushes: per campaign (or push id) and community group, users reached,
-- who opened, open rate, and what openers did within 7 days (download, order, invite).
CREATE OR REPLACE VIEW siyu.push_results AS
SELECT r.project AS project, r.campaign AS campaign, r.group_id AS group_id,
       uniqExact(r.user_id) AS reached,
       uniqExactIf(r.user_id, r.opened_at > 0) AS opened,
       round(opened / reached, 4) AS open_rate,
       uniqExactIf(r.user_id, e.event IN ('app_download', '$AppInstall') AND r.opened_at > 0
                   AND e.time BETWEEN r.opened_at AND r.opened_at + INTERVAL 7 DAY) AS downloads,
       uniqExactIf(r.user_id, e.event = 'pay_order' AND r.opened_at > 0
                   AND e.time BETWEEN r.opened_at AND r.opened_at + INTERVAL 7 DAY) AS orders,
       uniqExactIf(r.user_id, e.event = 'share' AND r.opened_at > 0
                   AND e.time BETWEEN r.opened_at AND r.opened_at + INTERVAL 7 DAY) AS invitations
FROM
(
    SELECT project, user_id, event, time FROM siyu.events_current
    WHERE event IN ('app_download', '$AppInstall', 'pay_order', 'share')
) AS e
RIGHT JOIN
(
    SELECT project, user_id, if(campaign != '', campaign, push_id) AS campaign, group_id,
           minIf(time, event IN ('push_open', 'message_open', '$AppPushClick')) AS opened_at
    FROM siyu.events_enriched
    WHERE event IN ('push_send', 'message_send', 'push_open', 'message_open', '$AppPushClick')
    GROUP BY project, user_id, campaign, group_id
) AS r ON e.project = r.project AND e.user_id = r.user_id
GROUP BY project, campaign, group_id
SETTINGS join_use_nulls = 0;

-- Lifecycle stages and RFM segments are the live tags of every user (siyu.user_tags,
-- written from the tag engine's state): one definition, the tag file's thresholds.
CREATE OR REPLACE VIEW siyu.lifecycle_distribution AS
SELECT project, tags['lifecycle'] AS stage, count() AS users,
       countIf(tags['paying'] = 'true') AS paying
FROM siyu.user_tags FINAL
WHERE deleted = 0 AND tags['lifecycle'] != ''
GROUP BY project, stage;

-- RFM segment per user from the tags (key, e.g. important_value, and the operators'
-- name, e.g. 重要价值), with the average amount paid in the RFM window's users.
CREATE OR REPLACE VIEW siyu.rfm_distribution AS
SELECT project, tags['rfm_segment'] AS segment, {{rfm_label(segment)}} AS segment_name,
       count() AS users, round(avg(toFloat64OrZero(tags['total_paid'])), 2) AS avg_monetary
FROM siyu.user_tags FINAL
WHERE deleted = 0 AND tags['rfm_segment'] != ''
GROUP BY project, segment;

-- Value pyramid: users per value tier (the tag engine's value_tier tag).
CREATE OR REPLACE VIEW siyu.value_tier_distribution AS
SELECT project, tags['value_tier'] AS tier, count() AS users,
       round(sum(toFloat64OrZero(tags['total_paid'])), 2) AS paid
FROM siyu.user_tags FINAL
WHERE deleted = 0 AND tags['value_tier'] != ''
GROUP BY project, tier;

-- Acquisition: new users per day by first-touch channel and scene (with its name).
CREATE OR REPLACE VIEW siyu.acquisition AS
SELECT project, cohort_day AS day, platform, channel, scene, any(scene_name) AS scene_name,
       count() AS new_users
FROM siyu.user_first_touch
GROUP BY project, day, platform, channel, scene;
