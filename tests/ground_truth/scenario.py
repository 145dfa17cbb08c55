"""The hand-built scenario every analytics figure is checked against (docs/analytics.md).

One list of events per project, with times relative to ``now`` in the project's
timezone, sent through the collector's routes. Each event also carries what the scenario
means by it (``truth``: the channel, scene, material and campaign an entry stands for),
written by hand, so the expected figures never ask siyu how to classify anything.

Per project (``<p>`` = the project's prefix):

- a share tree: alice (QR code) → bob → carol → dave, and bob → erin: bob and carol are
  mid-chain spreaders; bob, carol and erin register, bob and erin order;
- commerce funnels: frank adds to cart before viewing the product (out of order) and
  pays 25 h after entering (a late step, outside the 24 h window); alice pays within it;
- orders for RFM, value tiers, 80/20, repurchase and LTV;
- visits on both sides of a local midnight (alice: 23:50 and 00:10);
- grace (silent: last visit 20 days ago) and henry (churned: 40 days ago) are sent last,
  with backdated times; ivy comes back 30 days after her first day (D30 retention);
- two channels with scenes (share 1007, QR 1047), ads by utm, an official-account scene;
- a push campaign in a community group, an A/B test, WeCom group joins and leaves, a live
  code and an unregistered code, three rejected events (dead letters).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["PROJECTS", "Event", "Rejected", "Scenario", "build", "keys"]

# The scenario's two projects (in the session's shared stack): name → timezone. The
# second is far from the first, so its local days and midnights differ.
PROJECTS = {"gt_shanghai": "Asia/Shanghai", "gt_saopaulo": "America/Sao_Paulo"}


def keys(project: str) -> tuple[str, str]:
    """(write key, read key) of a scenario project."""
    return f"{project}-write-key", f"{project}-read-key"


LIVE_CODE = "demo-live-poster"  # in the shipped registry: kind live, material poster_a
SCENE_NAMES = {
    "1007": "单人聊天会话中的小程序消息卡片",
    "1047": "扫描小程序码",
    "1058": "公众号文章",
}


@dataclass(frozen=True)
class Event:
    user: str
    event: str
    time: int  # epoch ms
    platform: str = "miniprogram"
    properties: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    truth: dict[str, str] = field(default_factory=dict)
    """For an entry: the channel, scene, material and campaign it stands for."""
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def wire(self, anon: str) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": "track",
            "event": self.event,
            "time": self.time,
            "platform": self.platform,
            "identities": {"anonymous_id": anon},
            "properties": self.properties,
            "context": self.context,
        }


@dataclass(frozen=True)
class Rejected:
    body: dict[str, Any]
    code: str


@dataclass
class Scenario:
    project: str
    zone: str
    now: int
    events: list[Event]
    late: list[Event]
    """Sent after the others (backdated)."""
    rejected: list[Rejected]

    @property
    def all_events(self) -> list[Event]:
        return [*self.events, *self.late]

    def anon(self, user: str) -> str:
        return f"gt-{self.project}-{user}"

    def local_date(self, ms: int) -> dt.date:
        return dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(self.zone)).date()

    def today(self) -> dt.date:
        return self.local_date(self.now)


def build(project: str, zone: str, now: int) -> Scenario:
    tz = ZoneInfo(zone)
    today = dt.datetime.fromtimestamp(now / 1000, tz).date()

    def at(days_ago: int, hour: float) -> int:
        day = today - dt.timedelta(days=days_ago)
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
        return int((midnight + dt.timedelta(hours=hour)).timestamp() * 1000)

    midnight = at(0, 0)

    def now_part(fraction: float) -> int:
        """A time of today, before now."""
        return midnight + int((now - midnight) * fraction)

    def share_ctx(sharer: str, depth: int) -> dict[str, Any]:
        return {
            "scene": 1007,
            "share": {"sharer": f"gt-{project}-{sharer}", "depth": depth, "campaign": "spring"},
        }

    share_truth = {"channel": "share", "scene": "1007", "material": "", "campaign": ""}
    qr_ctx = {"scene": 1047, "qr": LIVE_CODE}
    qr_truth = {"channel": "qr", "scene": "1047", "material": "poster_a", "campaign": ""}
    static_ctx = {"scene": 1047, "qr": f"gt-{project}-counter"}
    static_truth = {
        "channel": "qr",
        "scene": "1047",
        "material": f"gt-{project}-counter",
        "campaign": "",
    }
    ads_ctx = {"utm": {"source": "wxad", "medium": "cpc", "campaign": "spring"}}
    ads_truth = {"channel": "ads", "scene": "", "material": "", "campaign": "spring"}
    # A campaign property makes an entry too (a utm-tagged one without a medium: ads).
    push_truth = {"channel": "ads", "scene": "", "material": "", "campaign": "xmas"}
    oa_ctx = {"scene": 1058}
    oa_truth = {"channel": "official_account", "scene": "1058", "material": "", "campaign": ""}

    e = Event
    pv, mp = "$pageview", "$MPViewScreen"
    events = [
        # alice: enters by the live code, shares, orders twice, visits around midnight.
        e("alice", mp, at(10, 9), context=qr_ctx, truth=qr_truth),
        e("alice", "view_product", at(10, 9.2)),
        e("alice", "add_to_cart", at(10, 9.3)),
        e("alice", "submit_order", at(10, 9.4)),
        e("alice", "pay_order", at(10, 9.5), properties={"amount": 120.0}),
        e("alice", "share", at(9, 10), context={"share": {"campaign": "spring"}}),
        # bob: alice's invitee; registers, orders, shares on.
        e("bob", mp, at(9, 12), context=share_ctx("alice", 1), truth=share_truth),
        e("bob", "register", at(9, 12.5)),
        e("bob", "pay_order", at(9, 13), properties={"amount": 50.0}),
        e("bob", "share", at(8, 10), context={"share": {"campaign": "spring"}}),
        # carol: bob's invitee (depth 2); registers, shares on.
        e("carol", mp, at(8, 11), context=share_ctx("bob", 2), truth=share_truth),
        e("carol", "register", at(8, 12)),
        e("carol", "share", at(7, 9), context={"share": {"campaign": "spring"}}),
        # erin: bob's second invitee; registers and orders.
        e("erin", mp, at(8, 15), context=share_ctx("bob", 2), truth=share_truth),
        e("erin", "register", at(8, 16)),
        e("erin", "pay_order", at(5, 10), properties={"amount": 900.0}),
        # dave: carol's invitee (depth 3), does nothing else.
        e("dave", mp, at(7, 10), context=share_ctx("carol", 3), truth=share_truth),
        # frank: direct H5 visitor; out-of-order cart, pays 25 h later (late step).
        e(
            "frank",
            pv,
            at(5, 19.9),
            platform="h5",
            properties={"experiment": "checkout", "variant": "A"},
        ),
        e("frank", "add_to_cart", at(5, 20.2), platform="h5"),
        e("frank", "view_product", at(5, 20.3), platform="h5"),
        e("frank", "add_to_cart", at(5, 20.4), platform="h5"),
        e("frank", "submit_order", at(5, 20.5), platform="h5"),
        e("frank", "pay_order", at(4, 21.5), platform="h5", properties={"amount": 40.0}),
        # alice again: both sides of a local midnight, an A/B exposure, a second order.
        e("alice", mp, at(3, 23 + 50 / 60)),
        e("alice", mp, at(2, 10 / 60), properties={"experiment": "checkout", "variant": "B"}),
        e("alice", "view_product", at(2, 0.3)),
        e("alice", "add_to_cart", at(2, 0.4)),
        e("alice", "submit_order", at(2, 0.5)),
        e("alice", "pay_order", at(2, 1), properties={"amount": 300.0}),
        # ivy: ads, first seen 33 days ago, back 30 days later.
        e("ivy", pv, at(33, 10), platform="h5", context=ads_ctx, truth=ads_truth),
        e("ivy", pv, at(3, 10), platform="h5"),
        # olga: enters by an unregistered (static) code today and orders.
        e("olga", mp, now_part(0.2), context=static_ctx, truth=static_truth),
        e("olga", "pay_order", now_part(0.3), properties={"amount": 2600.0}),
        # mia and nick: a push campaign in group g1; mia opens, orders and shares.
        *(
            e(
                user,
                "push_send",
                at(4, hour),
                platform="app",
                truth=push_truth,
                properties={"campaign": "xmas", "group_id": "g1"},
            )
            for user, hour in (("mia", 9.0), ("nick", 9.1))
        ),
        e(
            "mia",
            "push_open",
            at(4, 10),
            platform="app",
            properties={"campaign": "xmas", "group_id": "g1"},
        ),
        e("mia", "pay_order", at(3, 10), platform="app", properties={"amount": 60.0}),
        e("mia", "share", at(3, 11), platform="app"),
        # WeCom groups: chat-a (jack stays, kate leaves, a staff member), chat-b (quiet).
        *_group("chat-a", "jack", at(6, 10), "join"),
        *_group("chat-a", "kate", at(6, 10.5), "join"),
        *_group("chat-a", "staff", at(6, 11), "join", member_type="internal"),
        *_group("chat-a", "kate", at(2, 10), "leave"),
        *_group("chat-b", "leo", at(12, 10), "join"),
        e("jack", mp, at(1, 10)),
        e("jack", "pay_order", at(1, 11), properties={"amount": 80.0}),
        e("jack", "pay_order", at(1, 11.5), properties={"amount": 20.0}),
        e("kate", "pay_order", at(1, 12), properties={"amount": 30.0}),
        # today's visitors: alice and bob come back.
        e("alice", mp, now_part(0.5)),
        e("bob", mp, now_part(0.6)),
    ]
    late = [
        e("grace", pv, at(20, 10), platform="h5", context=ads_ctx, truth=ads_truth),
        e("grace", "pay_order", at(20, 11), platform="h5", properties={"amount": 2500.0}),
        e("henry", mp, at(40, 10), context=oa_ctx, truth=oa_truth),
    ]
    for ev in [*events, *late]:
        if ev.event.startswith("wecom_group_"):
            ev.properties["local_date"] = str(dt.datetime.fromtimestamp(ev.time / 1000, tz).date())
    rejected = [
        Rejected({"type": "track", "identities": {"anonymous_id": "x"}}, "no_event_name"),
        Rejected(
            {"type": "track", "event": "", "identities": {"anonymous_id": "x"}}, "no_event_name"
        ),
        Rejected(
            {"type": "track", "event": "x", "platform": "fax", "identities": {"anonymous_id": "x"}},
            "unknown_platform",
        ),
    ]
    return Scenario(project, zone, now, sorted(events, key=_by_time), late, rejected)


def _by_time(event: Event) -> int:
    return event.time


def _group(
    chat: str, member: str, t: int, action: str, member_type: str = "external"
) -> list[Event]:
    return [
        Event(
            member,
            f"wecom_group_{action}",
            t,
            platform="wecom",
            properties={"chat_id": chat, "member_id": member, "member_type": member_type},
        )
    ]
