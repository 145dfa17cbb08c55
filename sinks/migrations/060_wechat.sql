-- Entry context, live codes (活码) and WeCom groups (社群): docs/wechat.md. Idempotent.

-- The entry context the collector reads from the envelope (context.qr, .material, .channel,
-- .scene, .utm): keys qr, material, channel, scene, utm_source, utm_medium, utm_campaign, …
ALTER TABLE siyu.events ADD COLUMN IF NOT EXISTS entry Map(String, String) AFTER enrichment;

-- The live-code registry, copied from its YAML file by the sink (sinks/qr_codes.py) at start
-- and whenever the file changes.
CREATE TABLE IF NOT EXISTS siyu.qr_codes
(
    qr_id     String,
    name      String,
    channel   LowCardinality(String),
    material  String,
    campaign  String,
    staff     String,
    kind      LowCardinality(String),
    version   UInt64,
    deleted   UInt8
)
ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY qr_id;

-- Per user and code: when they first entered through it, and how often. (The views read
-- the code from the context JSON: siyu.events_current lists the columns it had when made.)
CREATE OR REPLACE VIEW siyu.qr_code_users AS
SELECT project, qr_id, user_id, min(time) AS entered_at, count() AS scans
FROM
(
    SELECT project, user_id, time,
           multiIf(JSONExtractString(context, 'qr') != '', JSONExtractString(context, 'qr'),
                   JSONExtractUInt(context, 'qr') != 0, toString(JSONExtractUInt(context, 'qr')),
                   JSONExtractString(context, 'query', 'qr_id')) AS qr_id
    FROM siyu.events_current
)
WHERE qr_id != ''
GROUP BY project, qr_id, user_id;

-- Per code: scans or adds → users active within 7 days of entering (a mini-program, H5 or
-- app event) → users whose first order came after entering → orders and revenue after it.
CREATE OR REPLACE VIEW siyu.qr_code_funnel AS
WITH per_user AS
(
    SELECT
        u.project AS project, u.qr_id AS qr_id, u.user_id AS user_id,
        any(u.scans) AS scans,
        max(a.platform IN ('miniprogram', 'h5', 'app', 'web')
            AND a.time > u.entered_at AND a.time <= u.entered_at + INTERVAL 7 DAY) AS active_7d,
        countIf(a.event = 'pay_order') > 0
            AND minIf(a.time, a.event = 'pay_order') >= any(u.entered_at) AS first_order,
        countIf(a.event = 'pay_order' AND a.time >= u.entered_at) AS orders,
        sumIf(JSONExtractFloat(a.properties, 'amount'), a.event = 'pay_order' AND a.time >= u.entered_at) AS revenue
    FROM siyu.qr_code_users AS u
    LEFT JOIN
    (
        SELECT project, user_id, time, event, platform, properties
        FROM siyu.events_current
        WHERE user_id IN (SELECT user_id FROM siyu.qr_code_users)
    ) AS a ON a.project = u.project AND a.user_id = u.user_id
    GROUP BY u.project, u.qr_id, u.user_id
)
SELECT
    p.project AS project,
    p.qr_id AS qr_id,
    if(c.name != '', c.name, p.qr_id) AS name,
    c.channel AS channel,
    c.material AS material,
    c.campaign AS campaign,
    c.staff AS staff,
    if(c.kind != '', c.kind, 'unregistered') AS kind,
    sum(p.scans) AS scans,
    count() AS users,
    countIf(p.active_7d) AS active_7d,
    countIf(p.first_order) AS first_orders,
    sum(p.orders) AS orders,
    round(sum(p.revenue), 2) AS revenue
FROM per_user AS p
LEFT JOIN (SELECT * FROM siyu.qr_codes FINAL WHERE deleted = 0) AS c ON c.qr_id = p.qr_id
GROUP BY project, qr_id, name, channel, material, campaign, staff, kind;

-- Live codes (活码) against static codes (死码): the same funnel per kind.
CREATE OR REPLACE VIEW siyu.qr_code_kinds AS
SELECT f.project AS project, f.kind AS kind, count() AS codes, sum(f.users) AS users,
       sum(f.active_7d) AS active_7d, sum(f.first_orders) AS first_orders,
       round(sum(f.revenue), 2) AS revenue,
       round(sum(f.first_orders) / greatest(sum(f.users), 1), 4) AS order_rate
FROM siyu.qr_code_funnel AS f
GROUP BY f.project, f.kind;

-- WeCom group membership history: one row per member joining or leaving a group; `day`
-- is the project's local day (the collector writes it with the project's timezone).
CREATE OR REPLACE VIEW siyu.group_member_history AS
SELECT
    project,
    JSONExtractString(properties, 'chat_id') AS chat_id,
    JSONExtractString(properties, 'member_id') AS member_id,
    JSONExtractString(properties, 'member_type') AS member_type,
    if(event = 'wecom_group_join', 'join', 'leave') AS action,
    time,
    toDate(JSONExtractString(properties, 'local_date')) AS day,
    user_id,
    event_id
FROM siyu.events_current
WHERE event IN ('wecom_group_join', 'wecom_group_leave');

-- Current members of every group that is not dismissed (a member's last change is a join;
-- a join and a leave in the same second count as left).
CREATE OR REPLACE VIEW siyu.group_members AS
SELECT project, chat_id, member_id, member_type, user_id, joined_at
FROM
(
    SELECT project, chat_id, member_id,
           any(member_type) AS member_type,
           argMax(user_id, time) AS user_id,
           argMax(action, (time, action = 'leave')) AS last_action,
           maxIf(time, action = 'join') AS joined_at
    FROM siyu.group_member_history
    GROUP BY project, chat_id, member_id
)
WHERE last_action = 'join'
  AND (project, chat_id) NOT IN
      (SELECT project, JSONExtractString(properties, 'chat_id') FROM siyu.events_current
       WHERE event = 'wecom_group_dismiss');

-- Per group (customers only, staff members excluded): members, members active in the last
-- 7 days, orders and revenue of members since they joined, last activity (a membership
-- change or any event of a member) and days without any.
CREATE OR REPLACE VIEW siyu.group_stats AS
WITH
    members AS (SELECT * FROM siyu.group_members WHERE member_type = 'external'),
    acts AS
    (
        SELECT project, user_id, time, event, platform, properties
        FROM siyu.events_current
        WHERE user_id IN (SELECT user_id FROM members)
          AND event NOT IN ('wecom_group_join', 'wecom_group_leave')
    ),
    per_member AS
    (
        SELECT m.project AS project, m.chat_id AS chat_id, m.member_id AS member_id,
               max(a.platform IN ('miniprogram', 'h5', 'app', 'web')
                   AND a.time > now64(3) - INTERVAL 7 DAY) AS active_7d,
               countIf(a.event = 'pay_order' AND a.time >= m.joined_at) AS orders,
               sumIf(JSONExtractFloat(a.properties, 'amount'),
                     a.event = 'pay_order' AND a.time >= m.joined_at) AS revenue,
               max(a.time) AS last_member_event
        FROM members AS m
        LEFT JOIN acts AS a ON a.project = m.project AND a.user_id = m.user_id
        GROUP BY m.project, m.chat_id, m.member_id
    ),
    changes AS
    (
        SELECT project, JSONExtractString(properties, 'chat_id') AS chat_id,
               max(time) AS last_change,
               maxIf(1, event = 'wecom_group_dismiss') AS dismissed
        FROM siyu.events_current
        WHERE event LIKE 'wecom_group_%'
        GROUP BY project, chat_id
    )
SELECT
    c.project AS project,
    c.chat_id AS chat_id,
    countIf(p.member_id != '') AS members,
    countIf(p.active_7d) AS active_7d,
    sum(p.orders) AS orders,
    round(sum(p.revenue), 2) AS revenue,
    greatest(any(c.last_change), max(p.last_member_event)) AS last_activity,
    dateDiff('day', {{local_date(c.project, greatest(any(c.last_change), max(p.last_member_event)))}},
             {{today(c.project)}}) AS idle_days
FROM changes AS c
LEFT JOIN per_member AS p ON p.project = c.project AND p.chat_id = c.chat_id
WHERE c.dismissed = 0
GROUP BY c.project, c.chat_id;

-- New and lost customers per group and local day.
CREATE OR REPLACE VIEW siyu.group_daily AS
SELECT project, chat_id, day,
       uniqExactIf(member_id, action = 'join') AS new_members,
       uniqExactIf(member_id, action = 'leave') AS lost_members
FROM siyu.group_member_history
WHERE member_type = 'external'
GROUP BY project, chat_id, day;
