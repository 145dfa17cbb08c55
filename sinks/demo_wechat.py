"""WeChat-side demo traffic: WeCom adds through live codes and group membership (社群).

Decorates the demo users' events the way the callbacks would have: some users first add
a staff member on WeCom through a code (``context.qr``), some join customer groups and a
few leave again; one group has had no activity for weeks (a dead group).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["DEMO_CODES", "decorate_wechat", "quiet_group_events"]

# (id, name, channel, material, kind): the codes the demo users enter through.
DEMO_CODES = (
    ("demo-live-poster", "Demo live poster", "moments_poster", "poster_a", "live"),
    ("demo-counter", "Demo store counter", "store", "counter_card", "static"),
)
_CHATS = ("chat-mums", "chat-tea", "chat-vip")
_ZONE = ZoneInfo("Asia/Shanghai")
_DAY_MS = 86_400_000


def _local_date(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, _ZONE).date().isoformat()


def _member(
    base: dict[str, Any], name: str, t: int, chat: str, external: str, suffix: str
) -> dict[str, Any]:
    return {
        **base, "event_id": f"{base['event_id']}-{suffix}", "event": name, "time": t,
        "platform": "wecom", "identities": {"wecom_external_id": external},
        "properties": {"chat_id": chat, "member_id": external, "member_type": "external",
                       "local_date": _local_date(t)},
        "context": {"group": {"chat_id": chat}},
    }  # fmt: skip


def decorate_wechat(
    rng: random.Random, n: int, batches: list[list[dict[str, Any]]], now_ms: int
) -> None:
    """Prepend one user's WeCom add (through a code) and group joins/leaves."""
    events = [e for b in batches for e in b]
    if not events:
        return
    base = events[0]
    external = f"wm-demo-{n}"
    extra: list[dict[str, Any]] = []
    if rng.random() < 0.4:
        code = rng.choice(DEMO_CODES)[0]
        extra.append({
            **base, "event_id": base["event_id"] + "-wecom-add",
            "event": "wecom_add_external_contact",
            "time": base["time"] - 3_600_000, "platform": "wecom",
            "identities": {**base["identities"], "wecom_external_id": external},
            "properties": {"staff_id": "staff-demo", "qr_id": code}, "context": {"qr": code},
        })  # fmt: skip
    if rng.random() < 0.5:
        chat = rng.choice(_CHATS)
        joined = base["time"] - 1_800_000
        extra.append(_member(base, "wecom_group_join", joined, chat, external, "join"))
        left = joined + rng.randint(1, 5) * _DAY_MS
        if rng.random() < 0.2 and left < now_ms:
            extra.append(_member(base, "wecom_group_leave", left, chat, external, "leave"))
    if extra:
        batches.insert(0, extra)


def quiet_group_events(now_ms: int) -> list[dict[str, Any]]:
    """A group created three weeks ago whose only member, a staff member, never came back."""
    t = now_ms - 21 * _DAY_MS
    base = {"event_id": "demo-quiet-group", "type": "track", "time": t, "platform": "wecom",
            "identities": {"wecom_chat_id": "chat-quiet"}, "context": {}}  # fmt: skip
    return [
        {**base, "event": "wecom_group_create",
         "properties": {"chat_id": "chat-quiet", "change": "create", "local_date": _local_date(t)}},
        {**base, "event_id": "demo-quiet-group-staff", "event": "wecom_group_join",
         "identities": {"wecom_staff": "staff-demo"},
         "properties": {"chat_id": "chat-quiet", "member_id": "staff-demo", "member_type": "staff",
                        "local_date": _local_date(t)}},
    ]  # fmt: skip
