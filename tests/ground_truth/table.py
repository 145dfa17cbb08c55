"""The ground-truth table: every ClickHouse panel of the dashboards, by title, with the
columns it is compared on and the rows the scenario says it must show."""

from __future__ import annotations

from tests.ground_truth import panels as p
from tests.ground_truth import wechat as w
from tests.ground_truth.panels import Check, cols

__all__ = ["PANELS"]

PANELS: dict[str, Check] = {
    # pipeline
    "Dead letters by reason": Check(cols("reason:code letters:i"), p.dead_letters),
    "Events stored per hour": Check(cols("t:h events:i"), p.events_per_hour),
    # acquisition
    "New users per day by channel": Check(cols("t:d channel:s users:i"), p.new_by_channel),
    "New users by scene": Check(cols("scene_label:s users:i"), p.new_by_scene),
    "New users by platform": Check(cols("platform:s users:i"), p.new_by_platform),
    "Channel, scene and material attribution (first touch)": Check(
        cols("channel:s scene:s material:s campaign:s users:i payers:i revenue:f pay_rate:f"),
        p.attribution,
    ),
    "DAU / WAU / MAU (all platforms)": Check(
        cols("t:d dau:i wau:i mau:i"), lambda c: p.active(c, None)
    ),
    # funnels
    "Commerce funnel (users per step)": Check(
        cols("step_name:s users:i"), p.commerce_steps, ordered=True
    ),
    "Conversion by entry day": Check(
        cols("entry_day:d step:i step_name:s users:i step_rate:f overall_rate:f"),
        p.conversion_by_day,
        ordered=True,
    ),
    "Paid users per entry day by platform": Check(
        cols("t:d platform:s users:i"), p.paid_by_platform
    ),
    "Conversion by channel": Check(
        cols("channel:s entered:i paid:i rate:f"), p.conversion_by_channel
    ),
    "A/B test conversion by variant": Check(
        cols("experiment:s variant:s exposed:i viewed:i carted:i paid:i pay_rate:f"),
        p.experiments,
    ),
    # fission
    "Fission funnel (sharers per step)": Check(
        cols("step_name:s sharers:i"), p.fission_steps, ordered=True
    ),
    "K-factor per campaign": Check(
        cols("campaign:s sharers:i visitors:i converted:i k_factor:f visitors_per_sharer:f"),
        p.kfactor,
    ),
    "Invitee conversion per step": Check(
        cols("step_name:s invitees:i"), p.invitee_steps, ordered=True
    ),
    "Share tree depth": Check(cols("depth:s invitees:i"), p.tree_depth, ordered=True),
    "Key spreaders (KOC): descendants at any depth": Check(
        cols(
            "sharer:s invitees:i registered:i ordered:i descendants:i subtree_depth:i "
            "converted_below:i"
        ),
        p.koc,
    ),
    "Invites per day": Check(cols("t:d invitees:i"), p.invites_per_day, ordered=True),
    # lifecycle, RFM, value
    "Lifecycle stages (live tags)": Check(cols("stage:s users:i paying:i"), p.lifecycle),
    "RFM segments (live tags)": Check(cols("segment:s users:i avg_monetary:f"), p.rfm),
    "Top 20% users' share of revenue (80/20)": Check(
        cols("month:d payers:i revenue:f top20_share:f"), p.concentration
    ),
    "Repurchase rate": Check(
        cols("month:d buyers:i repeat_buyers:i repurchase_rate:f"), p.repurchase
    ),
    "LTV by cohort week and source": Check(
        cols("cohort:d source:s users:i payers:i revenue:f ltv:f"), p.ltv
    ),
    # retention and pushes
    "Retention D1 / D7 / D30 by cohort": Check(
        cols("cohort:d cohort_users:i d1_rate:f d7_rate:f d30_rate:f"),
        lambda c: p.retention(c, by_platform=False),
    ),
    "Retention by platform": Check(
        cols("platform:s cohort_users:i d1_rate:f d7_rate:f d30_rate:f"),
        lambda c: p.retention(c, by_platform=True),
    ),
    "DAU by platform": Check(cols("t:d platform:s dau:i"), p.dau_by_platform),
    "Pushes: open rate and results per campaign and group": Check(
        cols(
            "campaign:s group_id:s reached:i opened:i open_rate:f downloads:i orders:i "
            "invitations:i"
        ),
        p.pushes,
    ),
    # live codes and groups
    "Per code: scans/adds → active in 7 days → first order → revenue": Check(
        cols(
            "qr_id:s name:s kind:s channel:s material:s staff:s scans:i users:i active_7d:i "
            "first_orders:i orders:i revenue:f"
        ),
        w.codes,
    ),
    "Live codes (活码) vs static codes (死码)": Check(
        cols("kind:s codes:i users:i active_7d:i first_orders:i revenue:f order_rate:f"),
        w.code_kinds,
    ),
    "Groups: members, active in 7 days, orders and revenue by members": Check(
        cols("chat_id:s members:i active_7d:i orders:i revenue:f idle_days:i"), w.groups
    ),
    "New and lost group members per day": Check(
        cols("t:d new_members:i lost_members:i"), w.group_daily
    ),
    "Dead groups: no activity for 7 days": Check(
        cols("chat_id:s members:i last_activity:sec idle_days:i"), w.dead_groups
    ),
}
