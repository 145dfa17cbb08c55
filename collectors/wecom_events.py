"""Pure mapping of WeCom (企业微信) callback messages to siyu events.

Input is the field dict wechatpy parsed from the decrypted XML (``message._data``: the
external-contact and external-chat events are "unknown messages" to wechatpy, their
fields are still there, as Tencent named them). Output is :class:`TrackEvent` records on
platform ``wecom``, with deterministic event ids, so a callback Tencent sends again lands
on the same rows.

- ``change_external_contact``: one event per callback, ``wecom_<ChangeType>``
  (``wecom_add_external_contact``, ``wecom_add_half_external_contact``,
  ``wecom_edit_external_contact``, ``wecom_del_external_contact`` (the staff member
  deleted the customer), ``wecom_del_follow_user`` (the customer deleted the staff
  member), ``wecom_transfer_fail``), identity ``wecom_external_id`` (+ ``wx_unionid`` when
  the message carries one), ``State`` → ``context.qr`` (the live code) and
  ``properties.staff_id``.
- ``change_external_chat`` (社群): ``wecom_group_create`` / ``wecom_group_dismiss`` /
  ``wecom_group_update`` for the group, and one ``wecom_group_join`` /
  ``wecom_group_leave`` per member in ``MemChangeList``, identity ``wecom_external_id``
  for customers (``wm…``/``wo…`` ids) and ``wecom_staff`` for staff members.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas.records import TrackEvent

__all__ = ["GROUP_JOIN", "GROUP_LEAVE", "callback_key", "event_id", "wecom_events"]

GROUP_JOIN = "wecom_group_join"
GROUP_LEAVE = "wecom_group_leave"
# Customer (external contact) ids start with these; other chat members are staff user ids.
_EXTERNAL_PREFIXES = ("wm", "wo")
_CONTACT_CHANGES = frozenset(
    {
        "add_external_contact",
        "add_half_external_contact",
        "edit_external_contact",
        "del_external_contact",
        "del_follow_user",
        "transfer_fail",
    }
)
_LIB = {"name": "siyu-callback", "version": "1"}


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def created_ms(data: Mapping[str, Any], fallback: int) -> int:
    """``CreateTime`` (epoch seconds) in ms; the receive time when absent or unreadable."""
    raw = _text(data, "CreateTime")
    return int(raw) * 1000 if raw.isdigit() and len(raw) <= 12 else fallback


def callback_key(data: Mapping[str, Any]) -> str:
    """What identifies one callback among Tencent's retries of it.

    ``MsgId`` when the message has one; otherwise the sender, the create time and every
    field that tells this event from another at the same second (Tencent's own advice for
    event de-duplication).
    """
    msg_id = _text(data, "MsgId")
    if msg_id and msg_id != "0":
        return f"msg:{msg_id}"
    parts = [
        _text(data, name)
        for name in (
            "ToUserName", "FromUserName", "CreateTime", "Event", "ChangeType", "UserID",
            "ExternalUserID", "ChatId", "UpdateDetail", "EventKey", "MsgID",
        )
    ]  # fmt: skip
    return "evt:" + "|".join(parts)


def event_id(prefix: str, key: str, suffix: str = "") -> str:
    digest = hashlib.blake2b(f"{key}\x00{suffix}".encode(), digest_size=12).hexdigest()
    return f"{prefix}-{digest}"


def local_date(ms: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, zone).date().isoformat()


def _members(data: Mapping[str, Any]) -> list[str]:
    listed = data.get("MemChangeList")
    items = listed.get("Item") if isinstance(listed, Mapping) else None
    if isinstance(items, str):
        items = [items]
    if not isinstance(items, list):
        return []
    return [i.strip() for i in items if isinstance(i, str) and i.strip()]


def _contact(data: Mapping[str, Any], *, corp_id: str, at: int, key: str) -> list[TrackEvent]:
    change = _text(data, "ChangeType")
    external = _text(data, "ExternalUserID")
    if change not in _CONTACT_CHANGES or not external:
        return []
    identities = {"wecom_external_id": external}
    unionid = _text(data, "UnionId") or _text(data, "Unionid") or _text(data, "unionid")
    if unionid:
        identities["wx_unionid"] = unionid
    properties: dict[str, Any] = {"corp_id": corp_id, "staff_id": _text(data, "UserID")}
    context: dict[str, Any] = {"lib": _LIB}
    state = _text(data, "State")
    if state:
        properties["qr_id"] = state
        context["qr"] = state
    if change == "del_follow_user" or change == "del_external_contact":
        properties["source"] = _text(data, "Source")
    if change == "transfer_fail":
        properties["fail_reason"] = _text(data, "FailReason")
    return [
        TrackEvent(
            event_id=event_id("wecom", key),
            type="track",
            event=f"wecom_{change}",
            time=at,
            platform="wecom",
            identities=identities,
            properties={k: v for k, v in properties.items() if v != ""},
            context=context,
            lib_name=_LIB["name"],
            lib_version=_LIB["version"],
        )
    ]


def _chat(
    data: Mapping[str, Any], *, corp_id: str, at: int, key: str, zone: ZoneInfo
) -> list[TrackEvent]:
    chat_id = _text(data, "ChatId")
    if not chat_id:
        return []
    change = _text(data, "ChangeType")
    detail = _text(data, "UpdateDetail")
    base: dict[str, Any] = {
        "corp_id": corp_id,
        "chat_id": chat_id,
        "local_date": local_date(at, zone),
    }
    events: list[TrackEvent] = []

    def add(name: str, identities: dict[str, str], properties: dict[str, Any], n: str) -> None:
        events.append(
            TrackEvent(
                event_id=event_id("wecom", key, n),
                type="track",
                event=name,
                time=at,
                platform="wecom",
                identities=identities,
                properties={**base, **properties},
                context={"lib": _LIB, "group": {"chat_id": chat_id}},
                lib_name=_LIB["name"],
                lib_version=_LIB["version"],
            )
        )

    group_event = {"create": "wecom_group_create", "dismiss": "wecom_group_dismiss"}.get(
        change, "wecom_group_update"
    )
    add(group_event, {"wecom_chat_id": chat_id}, {"change": detail or change}, "group")
    if change == "update" and detail in ("add_member", "del_member"):
        joined = detail == "add_member"
        scene = _text(data, "JoinScene" if joined else "QuitScene")
        for member in _members(data):
            external = member.startswith(_EXTERNAL_PREFIXES)
            identities = {"wecom_external_id": member} if external else {"wecom_staff": member}
            add(
                GROUP_JOIN if joined else GROUP_LEAVE,
                identities,
                {
                    "member_id": member,
                    "member_type": "external" if external else "staff",
                    "scene": int(scene) if scene.isdigit() else 0,
                },
                f"member:{member}",
            )
    return events


def wecom_events(
    data: Mapping[str, Any], *, corp_id: str, received_at: int, zone: ZoneInfo
) -> list[TrackEvent]:
    """The siyu events of one decrypted WeCom callback (``[]`` for kinds siyu ignores)."""
    at = created_ms(data, received_at)
    key = f"{corp_id}|{callback_key(data)}"
    kind = _text(data, "Event").lower()
    if kind == "change_external_contact":
        return _contact(data, corp_id=corp_id, at=at, key=key)
    if kind == "change_external_chat":
        return _chat(data, corp_id=corp_id, at=at, key=key, zone=zone)
    return []
