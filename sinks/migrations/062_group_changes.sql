-- WeCom group changes (wecom_group_* events) kept as they arrive, by a materialized view
-- on every insert into siyu.events (filled from siyu.events once when created), so the
-- group panels read a table of membership changes instead of every event. Replayed rows
-- collapse on event_id. Replaces siyu.group_member_history, siyu.group_members and
-- siyu.group_stats of 060_wechat.sql.
CREATE TABLE IF NOT EXISTS siyu.group_changes
(
    project      LowCardinality(String),
    chat_id      String,
    event_id     String,
    event        LowCardinality(String),
    member_id    String,
    member_type  LowCardinality(String),
    time         DateTime64(3, 'UTC'),
    day          Date,
    user_id      String
)
ENGINE = ReplacingMergeTree
ORDER BY (project, chat_id, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS siyu.group_changes_mv TO siyu.group_changes AS
SELECT project, JSONExtractString(properties, 'chat_id') AS chat_id, event_id, event,
       JSONExtractString(properties, 'member_id') AS member_id,
       JSONExtractString(properties, 'member_type') AS member_type, time,
       toDate(JSONExtractString(properties, 'local_date')) AS day, user_id
FROM siyu.events
WHERE startsWith(event, 'wecom_group_');

INSERT INTO siyu.group_changes
SELECT project, JSONExtractString(properties, 'chat_id') AS chat_id, event_id, event,
       JSONExtractString(properties, 'member_id') AS member_id,
       JSONExtractString(properties, 'member_type') AS member_type, time,
       toDate(JSONExtractString(properties, 'local_date')) AS day, user_id
FROM siyu.events FINAL
WHERE startsWith(event, 'wecom_group_') AND (SELECT count() FROM siyu.group_changes) = 0;

-- WeCom group membership history: one row per member joining or leaving a group; `day`
-- is the project's local day (the collector writes it with the project's timezone).
CREATE OR REPLACE VIEW siyu.group_member_history AS
SELECT g.project AS project, g.chat_id AS chat_id, g.member_id AS member_id,
       g.member_type AS member_type,
       if(g.event = 'wecom_group_join', 'join', 'leave') AS action, g.time AS time,
       g.day AS day, if(m.user_id = '', g.user_id, m.user_id) AS user_id,
       g.event_id AS event_id
FROM siyu.group_changes AS g FINAL
LEFT JOIN
(
    SELECT project, id_value, user_id FROM siyu.identity_map FINAL
    WHERE id_type = 'user_id' AND deleted = 0
) AS m ON m.project = g.project AND m.id_value = g.user_id
WHERE g.event IN ('wecom_group_join', 'wecom_group_leave')
SETTINGS join_use_nulls = 0;

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
      (SELECT project, chat_id FROM siyu.group_changes FINAL WHERE event = 'wecom_group_dismiss');

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
        SELECT project, chat_id, max(time) AS last_change,
               maxIf(1, event = 'wecom_group_dismiss') AS dismissed
        FROM siyu.group_changes FINAL
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
