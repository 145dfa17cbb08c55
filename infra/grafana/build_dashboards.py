"""Write infra/grafana/dashboards/*.json from the panel lists below.

Run ``python infra/grafana/build_dashboards.py`` after editing; the JSON files are
committed. ClickHouse panels read the views of sinks/migrations/04x_*.sql with the
grafana-clickhouse-datasource macros ($__timeFilter, $__dateFilter); Prometheus panels
read the metrics of collectors/metrics.py, streams/metrics.py and sinks/metrics.py.
"""

from __future__ import annotations

# ruff: noqa: E501, S608 - panel SQL and PromQL read best unwrapped; no user input reaches them
import json
from pathlib import Path

from panels import PROJECT, TZ, dashboard, prom, sql

OUT = Path(__file__).parent / "dashboards"


PIPELINE = dashboard(
    "siyu-pipeline",
    "siyu · pipeline health",
    [
        prom(
            "Collector events/s",
            {"{{outcome}}": "sum by (outcome) (rate(siyu_collector_events_total[1m]))"},
        ),
        prom(
            "Collector requests/s",
            {
                "{{route}} {{outcome}}": "sum by (route, outcome) (rate(siyu_collector_requests_total[1m]))"
            },
        ),
        prom(
            "Stream events/s by agent",
            {"{{agent}}": "sum by (agent) (rate(siyu_stream_events_total[1m]))"},
        ),
        prom(
            "Sink rows/s by table", {"{{table}}": "sum by (table) (rate(siyu_sink_rows_total[1m]))"}
        ),
        prom(
            "Backlog: accepted events not yet in ClickHouse",
            {
                "events": 'sum(siyu_collector_events_total{outcome="accepted"}) - sum(siyu_sink_rows_total{table="siyu.events"})',
                "pending rows": "sum(siyu_sink_pending_rows)",
            },
        ),
        prom(
            "Errors",
            {
                "sink {{kind}}": "sum by (kind) (rate(siyu_sink_errors_total[5m]))",
                "undecodable {{topic}}": "sum by (topic) (rate(siyu_sink_undecodable_total[5m]))",
                "rejected": 'sum(rate(siyu_collector_events_total{outcome="rejected"}[5m]))',
            },
        ),
        prom(
            "Spool (Kafka unavailable)",
            {
                "bytes": "sum(siyu_collector_spool_bytes)",
                "oldest s": "max(siyu_collector_spool_oldest_seconds)",
            },
        ),
        prom(
            "Latency p99",
            {
                "collector": "histogram_quantile(0.99, sum by (le) (rate(siyu_collector_request_seconds_bucket[5m])))",
                "sink insert": "histogram_quantile(0.99, sum by (le) (rate(siyu_sink_insert_seconds_bucket[5m])))",
                "stream record": "histogram_quantile(0.99, sum by (le) (rate(siyu_stream_record_seconds_bucket[5m])))",
            },
        ),
        sql(
            "Dead letters by reason",
            f"""SELECT reason, count() AS letters, max(received_at) AS last_seen FROM siyu.dead_letters
            WHERE {PROJECT} AND $__timeFilter(received_at) GROUP BY reason ORDER BY letters DESC""",
        ),
        sql(
            "Events stored per hour",
            f"""SELECT toStartOfHour(time) AS t, count() AS events FROM siyu.events
            WHERE {PROJECT} AND $__timeFilter(time) GROUP BY t ORDER BY t""",
            "timeseries",
        ),
    ],
)

ACQUISITION = dashboard(
    "siyu-acquisition",
    "siyu · acquisition by channel and scene",
    [
        sql(
            "New users per day by channel",
            f"""SELECT toDateTime(day, {TZ}) AS t, channel, sum(new_users) AS users
            FROM siyu.acquisition WHERE {PROJECT} AND $__dateFilter(day) GROUP BY t, channel ORDER BY t""",
            "timeseries",
            24,
        ),
        sql(
            "New users by scene",
            f"""SELECT trim(concat(scene, ' ', any(scene_name))) AS scene_label,
            sum(new_users) AS users FROM siyu.acquisition
            WHERE {PROJECT} AND scene != '' AND $__dateFilter(day) GROUP BY scene ORDER BY users DESC""",
            "bar",
        ),
        sql(
            "New users by platform",
            f"""SELECT platform, sum(new_users) AS users FROM siyu.acquisition
            WHERE {PROJECT} AND $__dateFilter(day) GROUP BY platform ORDER BY users DESC""",
            "bar",
        ),
        sql(
            "Channel, scene and material attribution (first touch)",
            f"""SELECT channel, scene, material, campaign,
            users, payers, round(revenue, 2) AS revenue, pay_rate FROM siyu.attribution WHERE {PROJECT}
            ORDER BY revenue DESC, users DESC LIMIT 50""",
            "table",
            24,
        ),
        sql(
            "DAU / WAU / MAU (all platforms)",
            f"""SELECT toDateTime(day, {TZ}) AS t, dau, wau, mau FROM siyu.active_users
            WHERE {PROJECT} AND platform = 'all' AND $__dateFilter(day) ORDER BY t""",
            "timeseries",
            24,
        ),
    ],
)

FUNNELS = dashboard(
    "siyu-funnels",
    "siyu · funnels",
    [
        sql(
            "Commerce funnel (users per step)",
            f"""SELECT step_name, sum(users) AS users FROM siyu.funnel_counts
            WHERE {PROJECT} AND funnel = 'commerce' AND $__dateFilter(day) GROUP BY step, step_name ORDER BY step""",
            "bar",
        ),
        sql(
            "Conversion by entry day",
            f"""SELECT toString(day) AS entry_day, step, step_name, users, step_rate, overall_rate
            FROM siyu.funnel_conversion WHERE {PROJECT} AND funnel = 'commerce' AND $__dateFilter(day)
            ORDER BY day DESC, step""",
            "table",
        ),
        sql(
            "Paid users per entry day by platform",
            f"""SELECT toDateTime(day, {TZ}) AS t, value AS platform, users
            FROM siyu.funnel_counts_by_breakdown WHERE {PROJECT} AND funnel = 'commerce' AND dimension = 'platform'
            AND step_name = 'pay_order' AND $__dateFilter(day) ORDER BY t""",
            "timeseries",
        ),
        sql(
            "Conversion by channel",
            f"""SELECT value AS channel, sumIf(users, step = 1) AS entered,
            sumIf(users, step = 5) AS paid, round(paid / greatest(entered, 1), 4) AS rate
            FROM siyu.funnel_counts_by_breakdown WHERE {PROJECT} AND funnel = 'commerce' AND dimension = 'channel'
            AND $__dateFilter(day) GROUP BY channel ORDER BY entered DESC LIMIT 20""",
            "table",
        ),
        sql(
            "A/B test conversion by variant",
            f"""SELECT experiment, variant, exposed, viewed, carted, paid, pay_rate
            FROM siyu.experiment_conversion WHERE {PROJECT} ORDER BY experiment, variant""",
            "table",
            24,
        ),
    ],
)

FISSION = dashboard(
    "siyu-fission",
    "siyu · fission (share and referral)",
    [
        sql(
            "Fission funnel (sharers per step)",
            f"""SELECT step_name, sum(users) AS sharers FROM siyu.funnel_counts
            WHERE {PROJECT} AND funnel = 'fission' AND $__dateFilter(day) GROUP BY step, step_name ORDER BY step""",
            "bar",
        ),
        sql(
            "K-factor per campaign",
            f"""SELECT if(campaign = '', '(none)', campaign) AS campaign, sharers, visitors,
            converted, k_factor, visitors_per_sharer FROM siyu.fission_kfactor WHERE {PROJECT}
            ORDER BY k_factor DESC""",
            "table",
        ),
        sql(
            "Invitee conversion per step",
            f"""SELECT step_name, sum(invitees) AS invitees FROM siyu.fission_conversion
            WHERE {PROJECT} GROUP BY step, step_name ORDER BY step""",
            "bar",
        ),
        sql(
            "Share tree depth",
            f"""SELECT toString(depth) AS depth, count() AS invitees FROM siyu.fission_tree
            WHERE {PROJECT} GROUP BY depth ORDER BY depth""",
            "bar",
        ),
        sql(
            "Key spreaders (KOC): descendants at any depth",
            f"""SELECT sharer, invitees, registered, ordered, descendants, subtree_depth,
            converted_below FROM siyu.fission_koc WHERE {PROJECT}
            ORDER BY descendants DESC, converted_below DESC, sharer LIMIT 20""",
            "table",
            24,
        ),
        sql(
            "Invites per day",
            f"""SELECT toStartOfDay(first_visit, {TZ}) AS t, count() AS invitees FROM siyu.fission_tree
            WHERE {PROJECT} AND $__timeFilter(first_visit) GROUP BY t
            ORDER BY t WITH FILL STEP toIntervalDay(1)""",
            "timeseries",
            24,
        ),
    ],
)

LIFECYCLE = dashboard(
    "siyu-lifecycle",
    "siyu · lifecycle, RFM and value",
    [
        sql(
            "Lifecycle stages (live tags)",
            f"""SELECT stage, users, paying FROM siyu.lifecycle_distribution WHERE {PROJECT}
            ORDER BY users DESC""",
            "bar",
        ),
        sql(
            "RFM segments (live tags)",
            f"""SELECT concat(segment_name, ' (', segment, ')') AS segment, users, avg_monetary
            FROM siyu.rfm_distribution WHERE {PROJECT} ORDER BY users DESC""",
            "bar",
        ),
        sql(
            "Top 20% users' share of revenue (80/20)",
            f"""SELECT toString(month) AS month, payers, round(revenue, 2)
            AS revenue, top20_share FROM siyu.revenue_concentration WHERE {PROJECT} ORDER BY month""",
            "table",
        ),
        sql(
            "Repurchase rate",
            f"""SELECT toString(month) AS month, buyers, repeat_buyers, repurchase_rate
            FROM siyu.repurchase_rate WHERE {PROJECT} ORDER BY month""",
            "table",
        ),
        sql(
            "LTV by cohort week and source",
            f"""SELECT toString(cohort_week) AS cohort, source, users, payers,
            round(revenue, 2) AS revenue, ltv FROM siyu.ltv_by_cohort WHERE {PROJECT}
            ORDER BY cohort_week DESC, revenue DESC LIMIT 100""",
            "table",
            24,
        ),
    ],
)

RETENTION = dashboard(
    "siyu-retention",
    "siyu · retention and engagement",
    [
        sql(
            "Retention D1 / D7 / D30 by cohort",
            f"""SELECT toString(cohort_day) AS cohort, sum(users) AS cohort_users,
            round(sum(d1) / cohort_users, 4) AS d1_rate, round(sum(d7) / cohort_users, 4) AS d7_rate,
            round(sum(d30) / cohort_users, 4) AS d30_rate FROM siyu.retention WHERE {PROJECT}
            AND $__dateFilter(cohort_day) GROUP BY cohort_day ORDER BY cohort_day DESC""",
            "table",
        ),
        sql(
            "Retention by platform",
            f"""SELECT platform, sum(users) AS cohort_users,
            round(sum(d1) / cohort_users, 4) AS d1_rate, round(sum(d7) / cohort_users, 4) AS d7_rate,
            round(sum(d30) / cohort_users, 4) AS d30_rate FROM siyu.retention
            WHERE {PROJECT} GROUP BY platform ORDER BY cohort_users DESC""",
            "table",
        ),
        sql(
            "DAU by platform",
            f"""SELECT toDateTime(day, {TZ}) AS t, platform, dau FROM siyu.active_users
            WHERE {PROJECT} AND platform != 'all' AND $__dateFilter(day) ORDER BY t""",
            "timeseries",
            24,
        ),
        sql(
            "Pushes: open rate and results per campaign and group",
            f"""SELECT campaign, group_id, reached, opened,
            open_rate, downloads, orders, invitations FROM siyu.push_results WHERE {PROJECT}
            ORDER BY campaign, group_id""",
            "table",
            24,
        ),
    ],
)


# Live codes (活码) and WeCom groups (社群): views of sinks/migrations/060_wechat.sql.
DEAD_AFTER_DAYS = 7
WECHAT = dashboard(
    "siyu-wechat",
    "siyu · live codes and groups",
    [
        sql(
            "Per code: scans/adds → active in 7 days → first order → revenue",
            f"""SELECT qr_id, name, kind, channel, material, staff, scans, users, active_7d,
            first_orders, orders, revenue FROM siyu.qr_code_funnel WHERE {PROJECT}
            ORDER BY users DESC, qr_id LIMIT 200""",
            "table",
            24,
        ),
        sql(
            "Live codes (活码) vs static codes (死码)",
            f"""SELECT kind, codes, users, active_7d, first_orders, revenue, order_rate
            FROM siyu.qr_code_kinds WHERE {PROJECT} ORDER BY kind""",
            "table",
        ),
        sql(
            "Groups: members, active in 7 days, orders and revenue by members",
            f"""SELECT chat_id, members, active_7d, orders, revenue, idle_days
            FROM siyu.group_stats WHERE {PROJECT} ORDER BY members DESC, chat_id LIMIT 200""",
            "table",
        ),
        sql(
            "New and lost group members per day",
            f"""SELECT toDateTime(day) AS t, sum(new_members) AS new_members,
            sum(lost_members) AS lost_members FROM siyu.group_daily WHERE {PROJECT}
            AND $__dateFilter(day) GROUP BY day ORDER BY t""",
            "timeseries",
        ),
        sql(
            f"Dead groups: no activity for {DEAD_AFTER_DAYS} days",
            f"""SELECT chat_id, members, toString(last_activity) AS last_activity, idle_days
            FROM siyu.group_stats WHERE {PROJECT} AND idle_days >= {DEAD_AFTER_DAYS}
            ORDER BY idle_days DESC, chat_id LIMIT 200""",
            "table",
        ),
    ],
)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for board in (PIPELINE, ACQUISITION, FUNNELS, FISSION, LIFECYCLE, RETENTION, WECHAT):
        name = board["uid"].removeprefix("siyu-") + ".json"
        (OUT / name).write_text(json.dumps(board, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
