"""Optional: a new WeCom contact's unionid, fetched through the WeCom API.

Off by default (``Project.wecom_api.fetch_unionid``). When on, each added contact is
looked up once with ``externalcontact/get`` (wechatpy's ``WeChatClient``, which keeps the
access token), and an ``identify`` event links ``wecom_external_id`` and ``wx_unionid``
so the contact joins the mini-program / app user of that unionid.
"""

from __future__ import annotations

import asyncio
import logging

import requests
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatException

from collectors.wecom_events import event_id
from schemas.records import TrackEvent

__all__ = ["UnionidFetcher"]

logger = logging.getLogger(__name__)

_ADDS = frozenset({"wecom_add_external_contact", "wecom_add_half_external_contact"})


class UnionidFetcher:
    def __init__(self, corp_id: str, secret: str, *, timeout_s: float = 5.0) -> None:
        self.client = WeChatClient(corp_id, secret, timeout=timeout_s)

    @staticmethod
    def wanted(event: TrackEvent) -> str:
        """The external id to look up for this event ("" when none is needed)."""
        if event.event in _ADDS and "wx_unionid" not in event.identities:
            return event.identities.get("wecom_external_id", "")
        return ""

    async def identify(self, external_id: str, at: int) -> TrackEvent | None:
        """The ``identify`` event for ``external_id``; None when WeCom gives no unionid."""
        try:
            answer = await asyncio.to_thread(self.client.external_contact.get, external_id)
        except (WeChatException, requests.RequestException, ValueError):
            logger.warning("unionid of %s not fetched", external_id, exc_info=True)
            return None
        contact = answer.get("external_contact") if isinstance(answer, dict) else None
        unionid = contact.get("unionid") if isinstance(contact, dict) else None
        if not isinstance(unionid, str) or not unionid:
            return None
        return TrackEvent(
            event_id=event_id("wecom-api", external_id, unionid),
            type="identify",
            event="",
            time=at,
            platform="server",
            identities={"wecom_external_id": external_id, "wx_unionid": unionid},
            context={"lib": {"name": "siyu-callback", "version": "1"}},
            lib_name="siyu-callback",
            lib_version="1",
        )
