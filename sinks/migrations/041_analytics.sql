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

-- Daily, weekly and monthly active users per platform (and 'all'), rolling windows.
CREATE OR REPLACE VIEW siyu.active_users AS
SELECT project, day, platform,
       uniqExactIf(user_id, lag = 0) AS dau,
       uniqExactIf(user_id, lag < 7) AS wau,
       uniqExact(user_id) AS mau
FROM
(
    SELECT project, user_id, p AS platform, date + k AS day, k AS lag
    FROM (SELECT DISTINCT project, user_id, platform, date FROM siyu.events_current)
    ARRAY JOIN [platform, 'all'] AS p
    ARRAY JOIN range(0, 30) AS k
)
WHERE day <= (SELECT max(date) FROM siyu.events_current)
GROUP BY project, day, platform;

-- First touch per user: cohort day, platform, channel, scene, campaign, material.
CREATE OR REPLACE VIEW siyu.user_first_touch AS
SELECT project, user_id,
       min(date) AS cohort_day,
       toMonday(min(date)) AS cohort_week,
       argMin(platform, time) AS platform,
       argMin(channel, time) AS channel,
       argMin(scene, time) AS scene,
       argMin(campaign, time) AS campaign,
       argMin(material, time) AS material
FROM siyu.events_enriched
GROUP BY project, user_id;

-- Retention: share of a cohort (first day seen) active again on day 1, 7 and 30.
CREATE OR REPLACE VIEW siyu.retention AS
SELECT f.project AS project, f.cohort_day AS cohort_day, f.platform AS platform,
       uniqExact(f.user_id) AS users,
       uniqExactIf(f.user_id, a.date = f.cohort_day + 1) AS d1,
       uniqExactIf(f.user_id, a.date = f.cohort_day + 7) AS d7,
       uniqExactIf(f.user_id, a.date = f.cohort_day + 30) AS d30,
       round(d1 / users, 4) AS d1_rate,
       round(d7 / users, 4) AS d7_rate,
       round(d30 / users, 4) AS d30_rate
FROM siyu.user_first_touch AS f
LEFT JOIN (SELECT DISTINCT project, user_id, date FROM siyu.events_current) AS a
    ON a.project = f.project AND a.user_id = f.user_id
GROUP BY project, cohort_day, platform;

-- Orders (pay_order) with their amount and the user's first touch.
CREATE OR REPLACE VIEW siyu.orders AS
SELECT e.project AS project, e.user_id AS user_id, e.time AS time, e.date AS date,
       e.amount AS amount, f.cohort_week AS cohort_week, f.channel AS source
FROM siyu.events_enriched AS e
INNER JOIN siyu.user_first_touch AS f ON f.project = e.project AND f.user_id = e.user_id
WHERE e.event = 'pay_order';

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
       uniqExact(f.user_id) AS users,
       uniqExactIf(f.user_id, o.amount > 0) AS payers,
       sum(o.amount) AS revenue,
       round(revenue / users, 2) AS ltv
FROM siyu.user_first_touch AS f
LEFT JOIN siyu.orders AS o ON o.project = f.project AND o.user_id = f.user_id
GROUP BY project, cohort_week, source;

-- Repurchase rate per month: users with >= 2 orders / users with >= 1 order.
CREATE OR REPLACE VIEW siyu.repurchase_rate AS
SELECT project, month, countIf(orders >= 1) AS buyers, countIf(orders >= 2) AS repeat_buyers,
       round(repeat_buyers / greatest(buyers, 1), 4) AS repurchase_rate
FROM (SELECT project, toStartOfMonth(date) AS month, user_id, count() AS orders
      FROM siyu.orders GROUP BY project, month, user_id)
GROUP BY project, month;

-- First-touch attribution: users, payers and revenue per channel, scene and material.
CREATE OR REPLACE VIEW siyu.attribution AS
SELECT f.project AS project, f.channel AS channel, f.scene AS scene, f.material AS material,
       f.campaign AS campaign,
       uniqExact(f.user_id) AS users,
       uniqExactIf(f.user_id, o.amount > 0) AS payers,
       sum(o.amount) AS revenue,
       round(payers / users, 4) AS pay_rate
FROM siyu.user_first_touch AS f
LEFT JOIN siyu.orders AS o ON o.project = f.project AND o.user_id = f.user_id
GROUP BY project, channel, scene, material, campaign;

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
    SELECT project, user_id, experiment, argMin(variant, time) AS variant, min(time) AS since
    FROM siyu.events_enriched WHERE experiment != ''
    GROUP BY project, user_id, experiment
) AS x
LEFT JOIN siyu.events_current AS e ON e.project = x.project AND e.user_id = x.user_id
GROUP BY project, experiment, variant;

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
    SELECT project, user_id, if(campaign != '', campaign, push_id) AS campaign, group_id,
           minIf(time, event IN ('push_open', 'message_open', '$AppPushClick')) AS opened_at
    FROM siyu.events_enriched
    WHERE event IN ('push_send', 'message_send', 'push_open', 'message_open', '$AppPushClick')
    GROUP BY project, user_id, campaign, group_id
) AS r
LEFT JOIN siyu.events_current AS e ON e.project = r.project AND e.user_id = r.user_id
GROUP BY project, campaign, group_id;

-- Lifecycle stage from activity (new: first seen within 7 days; active: seen within 7
-- days; silent: 7–30 days; churned: over 30), relative to the newest event, plus payers.
CREATE OR REPLACE VIEW siyu.lifecycle_distribution AS
SELECT project, stage, count() AS users, countIf(paid) AS paying
FROM
(
    SELECT project, user_id,
           multiIf(dateDiff('day', min(date), (SELECT max(date) FROM siyu.events_current)) < 7, 'new',
                   dateDiff('day', max(date), (SELECT max(date) FROM siyu.events_current)) < 7, 'active',
                   dateDiff('day', max(date), (SELECT max(date) FROM siyu.events_current)) < 30, 'silent',
                   'churned') AS stage,
           countIf(event = 'pay_order') > 0 AS paid
    FROM siyu.events_current GROUP BY project, user_id
)
GROUP BY project, stage;

-- RFM over the last 90 days of orders: recency, frequency and monetary scores 1–2
-- (above/below the median) and the 8 classic segments.
CREATE OR REPLACE VIEW siyu.rfm_distribution AS
SELECT project, segment, count() AS users, round(avg(monetary), 2) AS avg_monetary
FROM
(
    SELECT project, user_id, recency, frequency, monetary,
           recency <= median(recency) OVER (PARTITION BY project) AS r_high,
           frequency >= median(frequency) OVER (PARTITION BY project) AS f_high,
           monetary >= median(monetary) OVER (PARTITION BY project) AS m_high,
           multiIf(r_high AND f_high AND m_high, 'champions',
                   r_high AND NOT f_high AND m_high, 'promising_big_spenders',
                   r_high AND f_high AND NOT m_high, 'loyal',
                   r_high AND NOT f_high AND NOT m_high, 'new_or_light',
                   NOT r_high AND f_high AND m_high, 'at_risk_valuable',
                   NOT r_high AND NOT f_high AND m_high, 'hibernating_big_spenders',
                   NOT r_high AND f_high AND NOT m_high, 'needs_attention',
                   'lost') AS segment
    FROM
    (
        SELECT project, user_id,
               dateDiff('day', max(date), (SELECT max(date) FROM siyu.orders)) AS recency,
               count() AS frequency, sum(amount) AS monetary
        FROM siyu.orders
        WHERE date > (SELECT max(date) FROM siyu.orders) - 90
        GROUP BY project, user_id
    )
)
GROUP BY project, segment;

-- Acquisition: new users per day by first-touch channel and scene.
CREATE OR REPLACE VIEW siyu.acquisition AS
SELECT project, cohort_day AS day, platform, channel, scene, count() AS new_users
FROM siyu.user_first_touch
GROUP BY project, day, platform, channel, scene;
