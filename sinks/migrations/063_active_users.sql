-- Daily, weekly and monthly active users per platform (and 'all'), rolling windows,
-- merged from one uniq state per day (approximate within ~1%), up to today in each
-- project's timezone (another project's later day no longer adds days; a day without
-- events up to today is a zero). Replaces siyu.active_users of 041_analytics.sql.
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
WHERE day <= {{today(project)}}
GROUP BY project, day, platform;
