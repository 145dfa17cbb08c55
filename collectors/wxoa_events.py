"""Pure mapping of official-account (公众号) callback messages to siyu events.

Input is the field dict of the message wechatpy parsed (``message._data``). wechatpy
lower-cases event names and turns a ``subscribe`` carrying ``qrscene_<id>`` into
``subscribe_scan`` with the bare id; both spellings are read here. ``FromUserName`` is
the openid of the account's app id: identity ``wx_openid:<appid>`` (+ ``wx_unionid`` when
the message carries one, which links the user to the mini-program and the app through the
identity graph).

- ``subscribe`` → ``subscribe`` (with ``qrscene_<id>``: ``context.qr``); ``unsubscribe``
  → ``unsubscribe``; ``SCAN`` (a follower scans a parametric code) → ``wxoa_scan``.
- menu ``CLICK`` / ``VIEW`` → ``wxoa_menu_click`` / ``wxoa_menu_view`` (``key`` / ``url``).
- ``TEMPLATESENDJOBFINISH`` → ``wxoa_template_send_finish`` (``msg_id``, ``status``,
  ``delivered``).
- ``subscribe_msg_popup_event`` / ``_change_event`` / ``_sent_event`` →
  ``wxoa_subscribe_msg_popup`` / ``_change`` / ``_sent``, one event per template.
- any other event → ``wxoa_event`` (``name``); a user's message (text, image, …) →
  ``wxoa_message`` (``msg_type`` only, never the content).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collectors.wecom_events import callback_key, created_ms, event_id
from schemas.records import TrackEvent

__all__ = ["wxoa_events"]

_LIB = {"name": "siyu-callback", "version": "1"}
_QR_PREFIX = "qrscene_"
_SUBSCRIBE_MSG = {
    "subscribe_msg_popup_event": ("wxoa_subscribe_msg_popup", "SubscribeMsgPopupEvent"),
    "subscribe_msg_change_event": ("wxoa_subscribe_msg_change", "SubscribeMsgChangeEvent"),
    "subscribe_msg_sent_event": ("wxoa_subscribe_msg_sent", "SubscribeMsgSentEvent"),
}


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def _qr(event_key: str) -> str:
    return event_key.removeprefix(_QR_PREFIX)


def _list(value: Any) -> list[Mapping[str, Any]]:
    """The ``<List>`` entries of a subscribe-message event (one entry parses as a dict)."""
    items = value.get("List") if isinstance(value, Mapping) else None
    if isinstance(items, Mapping):
        items = [items]
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def _named(data: Mapping[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(event name, properties, context extras) of one message."""
    if _text(data, "MsgType").lower() != "event":
        return [("wxoa_message", {"msg_type": _text(data, "MsgType").lower()}, {})]
    kind = _text(data, "Event").lower()
    key = _text(data, "EventKey")
    if kind in ("subscribe", "subscribe_scan"):
        code = _qr(key) if kind == "subscribe_scan" or key.startswith(_QR_PREFIX) else ""
        return [("subscribe", {"qr_id": code} if code else {}, {"qr": code} if code else {})]
    if kind == "unsubscribe":
        return [("unsubscribe", {}, {})]
    if kind == "scan":
        code = _qr(key)
        return [("wxoa_scan", {"qr_id": code}, {"qr": code} if code else {})]
    if kind == "click":
        return [("wxoa_menu_click", {"key": key}, {})]
    if kind == "view":
        return [("wxoa_menu_view", {"url": key}, {})]
    if kind == "templatesendjobfinish":
        status = _text(data, "Status")
        props = {"msg_id": _text(data, "MsgID"), "status": status, "delivered": status == "success"}
        return [("wxoa_template_send_finish", props, {})]
    if kind in _SUBSCRIBE_MSG:
        name, field = _SUBSCRIBE_MSG[kind]
        out: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        for item in _list(data.get(field)):
            props = {
                "template_id": _text(item, "TemplateId"),
                "status": _text(item, "SubscribeStatusString"),
            }
            if _text(item, "PopupScene"):
                props["popup_scene"] = _text(item, "PopupScene")
            if _text(item, "ErrorCode"):
                props["error_code"] = _text(item, "ErrorCode")
            out.append((name, props, {}))
        return out
    return [("wxoa_event", {"name": kind, "key": key}, {})]


def wxoa_events(data: Mapping[str, Any], *, app_id: str, received_at: int) -> list[TrackEvent]:
    """The siyu events of one official-account callback (``[]`` without an openid)."""
    openid = _text(data, "FromUserName")
    if not openid:
        return []
    identities = {f"wx_openid:{app_id}": openid}
    unionid = _text(data, "UnionId") or _text(data, "Unionid") or _text(data, "unionid")
    if unionid:
        identities["wx_unionid"] = unionid
    at = created_ms(data, received_at)
    key = f"{app_id}|{callback_key(data)}"
    return [
        TrackEvent(
            event_id=event_id("wxoa", key, str(n)),
            type="track",
            event=name,
            time=at,
            platform="official_account",
            identities=identities,
            properties={"app_id": app_id, **{k: v for k, v in props.items() if v != ""}},
            context={"lib": _LIB, **extra},
            lib_name=_LIB["name"],
            lib_version=_LIB["version"],
        )
        for n, (name, props, extra) in enumerate(_named(data))
    ]
