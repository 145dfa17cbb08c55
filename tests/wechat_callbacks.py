"""Tencent's side of the callbacks, for tests: signed and encrypted with wechatpy itself.

The demo project's settings (``siyu.settings``) are the keys: WeCom token
``demo-wecom-token``, corp id ``wwdemo0000000001``; official account token
``demo-wxoa-token``, app id ``wxdemo0000000001``; one EncodingAESKey for both.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from wechatpy.crypto import WeChatCrypto as OfficialAccountCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

__all__ = [
    "AES_KEY",
    "APP_ID",
    "CORP_ID",
    "chat_xml",
    "contact_xml",
    "oa_xml",
    "wecom_post",
    "wxoa_post",
]

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CORP_ID = "wwdemo0000000001"
APP_ID = "wxdemo0000000001"
WECOM_TOKEN = "demo-wecom-token"  # noqa: S105 - the demo project's public setting
WXOA_TOKEN = "demo-wxoa-token"  # noqa: S105 - the demo project's public setting


def _fields(fields: dict[str, Any]) -> str:
    out = []
    for name, value in fields.items():
        if isinstance(value, list):
            items = "".join(f"<Item><![CDATA[{v}]]></Item>" for v in value)
            out.append(f"<{name}>{items}</{name}>")
        elif isinstance(value, int):
            out.append(f"<{name}>{value}</{name}>")
        else:
            out.append(f"<{name}><![CDATA[{value}]]></{name}>")
    return "<xml>" + "".join(out) + "</xml>"


def contact_xml(change: str, external: str, *, staff: str = "staff-1", state: str = "",
                at: int | None = None) -> str:  # fmt: skip
    fields: dict[str, Any] = {
        "ToUserName": CORP_ID,
        "FromUserName": "sys",
        "CreateTime": at if at is not None else int(time.time()),
        "MsgType": "event",
        "Event": "change_external_contact",
        "ChangeType": change,
        "UserID": staff,
        "ExternalUserID": external,
    }
    if state:
        fields["State"] = state
    return _fields(fields)


def chat_xml(chat_id: str, change: str, detail: str = "", members: list[str] | None = None,
             at: int | None = None) -> str:  # fmt: skip
    fields: dict[str, Any] = {
        "ToUserName": CORP_ID,
        "FromUserName": "sys",
        "CreateTime": at if at is not None else int(time.time()),
        "MsgType": "event",
        "Event": "change_external_chat",
        "ChatId": chat_id,
        "ChangeType": change,
    }
    if detail:
        fields["UpdateDetail"] = detail
        fields["JoinScene" if detail == "add_member" else "QuitScene"] = 1
        fields["MemChangeCnt"] = len(members or [])
        fields["MemChangeList"] = members or []
    return _fields(fields)


def oa_xml(openid: str, event: str = "", *, msg_type: str = "event", at: int | None = None,
           **extra: Any) -> str:  # fmt: skip
    fields: dict[str, Any] = {
        "ToUserName": "gh_demo",
        "FromUserName": openid,
        "CreateTime": at if at is not None else int(time.time()),
        "MsgType": msg_type,
    }
    if event:
        fields["Event"] = event
    fields.update(extra)
    return _fields(fields)


def _nonce() -> str:
    return uuid.uuid4().hex[:10]


def wecom_post(xml: str, *, project: str = "default", timestamp: int | None = None,
               nonce: str | None = None) -> tuple[str, bytes]:  # fmt: skip
    """(path with query, body) of an encrypted WeCom callback."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or _nonce()
    crypto = WeComCrypto(WECOM_TOKEN, AES_KEY, CORP_ID)
    envelope = crypto.encrypt_message(xml, nonce, ts)
    signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    query = urlencode({"project": project, "msg_signature": signature, "timestamp": ts,
                       "nonce": nonce})  # fmt: skip
    return f"/v1/wecom/callback?{query}", envelope.encode()


def wxoa_post(
    xml: str,
    *,
    safe: bool = False,
    project: str = "default",
    timestamp: int | None = None,
    nonce: str | None = None,
) -> tuple[str, bytes]:
    """(path with query, body) of an official-account callback, plain or safe mode."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or _nonce()
    params = {"project": project, "timestamp": ts, "nonce": nonce, "openid": "x",
              "signature": oa_signature(ts, nonce)}  # fmt: skip
    body = xml
    if safe:
        body = OfficialAccountCrypto(WXOA_TOKEN, AES_KEY, APP_ID).encrypt_message(xml, nonce, ts)
        params["encrypt_type"] = "aes"
        params["msg_signature"] = body.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    return f"/v1/wxoa/callback?{urlencode(params)}", body.encode()


def oa_signature(timestamp: str, nonce: str, token: str = WXOA_TOKEN) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()  # noqa: S324 - Tencent's scheme
