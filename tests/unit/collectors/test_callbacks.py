from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from prometheus_client import REGISTRY
from starlette.testclient import TestClient
from wechatpy.enterprise.crypto import WeChatCrypto

from collectors import callbacks
from collectors.app import build_app
from siyu.settings import Settings
from tests.fakes import InMemoryProducer
from tests.wechat_callbacks import (
    AES_KEY,
    APP_ID,
    CORP_ID,
    chat_xml,
    contact_xml,
    oa_signature,
    oa_xml,
    wecom_post,
    wxoa_post,
)


@pytest.fixture
def producer() -> InMemoryProducer:
    return InMemoryProducer()


@pytest.fixture
def client(tmp_path: Path, producer: InMemoryProducer) -> Iterator[TestClient]:
    with TestClient(build_app(Settings(data_dir=tmp_path), producer)) as c:
        yield c


def _count(kind: str, project: str, outcome: str) -> float:
    labels = {"kind": kind, "project": project, "outcome": outcome}
    return REGISTRY.get_sample_value("siyu_collector_callbacks_total", labels) or 0.0


def test_wecom_url_verification_answers_the_decrypted_echostr(client: TestClient) -> None:
    crypto = WeChatCrypto("demo-wecom-token", AES_KEY, CORP_ID)
    ts, nonce = str(int(time.time())), "n1"
    envelope = crypto.encrypt_message("echo-12345", nonce, ts)
    echostr = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    query = urlencode({"msg_signature": signature, "timestamp": ts, "nonce": nonce,
                       "echostr": echostr})  # fmt: skip
    r = client.get(f"/v1/wecom/callback?{query}")
    assert r.status_code == 200
    assert r.text == "echo-12345"


def test_wecom_add_contact_becomes_an_event_with_identity_and_qr(
    client: TestClient, producer: InMemoryProducer
) -> None:
    path, body = wecom_post(contact_xml("add_external_contact", "wmCust1", state="qr-poster"))
    r = client.post(path, content=body)
    assert r.status_code == 200
    assert r.text == ""
    (event,) = producer.events()
    assert event.event == "wecom_add_external_contact"
    assert event.platform == "wecom"
    assert dict(event.identities) == {"wecom_external_id": "wmCust1"}
    assert event.context["qr"] == "qr-poster"
    assert event.properties["staff_id"] == "staff-1"
    assert producer.batches()[0].source == "wecom"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param("add_half_external_contact", id="add_half"),
        pytest.param("edit_external_contact", id="edit"),
        pytest.param("del_external_contact", id="staff_deleted_customer"),
        pytest.param("del_follow_user", id="customer_deleted_staff"),
    ],
)
def test_wecom_contact_changes(client: TestClient, producer: InMemoryProducer, change: str) -> None:
    path, body = wecom_post(contact_xml(change, "wmCust2"))
    assert client.post(path, content=body).status_code == 200
    (event,) = producer.events()
    assert event.event == f"wecom_{change}"
    assert "qr" not in event.context


def test_wecom_group_membership_events(client: TestClient, producer: InMemoryProducer) -> None:
    for xml in (
        chat_xml("chat-1", "create"),
        chat_xml("chat-1", "update", "add_member", ["wmA", "wmB", "staff-9"]),
        chat_xml("chat-1", "update", "del_member", ["wmB"]),
        chat_xml("chat-1", "dismiss"),
    ):
        path, body = wecom_post(xml)
        assert client.post(path, content=body).status_code == 200
    names = [(e.event, e.properties.get("member_id")) for e in producer.events()]
    assert names == [
        ("wecom_group_create", None),
        ("wecom_group_update", None),
        ("wecom_group_join", "wmA"),
        ("wecom_group_join", "wmB"),
        ("wecom_group_join", "staff-9"),
        ("wecom_group_update", None),
        ("wecom_group_leave", "wmB"),
        ("wecom_group_dismiss", None),
    ]
    joins = [e for e in producer.events() if e.event == "wecom_group_join"]
    assert [dict(e.identities) for e in joins] == [
        {"wecom_external_id": "wmA"},
        {"wecom_external_id": "wmB"},
        {"wecom_staff": "staff-9"},
    ]
    assert {e.properties["chat_id"] for e in joins} == {"chat-1"}
    assert all(len(e.properties["local_date"]) == 10 for e in joins)


def test_wrong_signature_is_401_counted_and_never_stored(
    client: TestClient, producer: InMemoryProducer
) -> None:
    path, body = wecom_post(contact_xml("add_external_contact", "wmX"))
    before = _count("wecom", "default", "bad_signature")
    r = client.post(path.replace("msg_signature=", "msg_signature=0"), content=body)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "bad_signature"
    assert _count("wecom", "default", "bad_signature") == before + 1
    assert producer.sent == []


def test_replayed_callback_is_processed_once(
    client: TestClient, producer: InMemoryProducer
) -> None:
    xml = contact_xml("add_external_contact", "wmR", at=int(time.time()))
    path, body = wecom_post(xml)
    assert client.post(path, content=body).status_code == 200
    assert client.post(path, content=body).status_code == 200  # same timestamp + nonce
    again_path, again_body = wecom_post(xml)  # Tencent's retry: same message, new nonce
    assert client.post(again_path, content=again_body).status_code == 200
    assert len(producer.events()) == 1


def test_payload_that_does_not_decrypt_is_400_and_dead_lettered_as_received(
    client: TestClient, producer: InMemoryProducer
) -> None:
    path, _ = wecom_post(contact_xml("add_external_contact", "wmBad"))
    # Re-sign a corrupted ciphertext with the right token: the signature holds, AES fails.
    forged = "QUJD" * 8
    ts = path.split("timestamp=")[1].split("&")[0]
    nonce = path.split("nonce=")[1].split("&")[0]
    crypto = WeChatCrypto("demo-wecom-token", AES_KEY, CORP_ID)
    from wechatpy.crypto import _get_signature

    signature = _get_signature(crypto.token, ts, nonce, forged)
    bad_body = f"<xml><Encrypt><![CDATA[{forged}]]></Encrypt></xml>".encode()
    query = urlencode({"msg_signature": signature, "timestamp": ts, "nonce": nonce})
    r = client.post(f"/v1/wecom/callback?{query}", content=bad_body)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_payload"
    (dl,) = producer.dead_letters()
    assert dl.payload == bad_body
    assert AES_KEY.encode() not in dl.payload
    assert dl.reason.startswith("bad_payload")
    assert producer.events() == []


def test_unknown_project_is_404(client: TestClient) -> None:
    path, body = wecom_post(contact_xml("add_external_contact", "wmU"), project="nope")
    r = client.post(path, content=body)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "unknown_project"


def test_stale_timestamp_is_refused(client: TestClient, producer: InMemoryProducer) -> None:
    old = int(time.time()) - 301
    path, body = wecom_post(contact_xml("add_external_contact", "wmOld"), timestamp=old)
    r = client.post(path, content=body)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "stale_timestamp"
    oa_path, oa_body = wxoa_post(oa_xml("oOld", "subscribe"), timestamp=old)
    assert client.post(oa_path, content=oa_body).status_code == 401
    assert producer.sent == []


def test_official_account_url_verification(client: TestClient) -> None:
    ts, nonce = str(int(time.time())), "abc"
    query = urlencode({"signature": oa_signature(ts, nonce), "timestamp": ts, "nonce": nonce,
                       "echostr": "hello"})  # fmt: skip
    r = client.get(f"/v1/wxoa/callback?{query}")
    assert (r.status_code, r.text) == (200, "hello")
    bad = urlencode({"signature": "0" * 40, "timestamp": ts, "nonce": nonce, "echostr": "x"})
    assert client.get(f"/v1/wxoa/callback?{bad}").status_code == 401


@pytest.mark.parametrize("safe", [pytest.param(False, id="plain"), pytest.param(True, id="safe")])
def test_official_account_subscribe_with_qrscene(
    client: TestClient, producer: InMemoryProducer, safe: bool
) -> None:
    xml = oa_xml("oUser1", "subscribe", EventKey="qrscene_poster-7", Ticket="t", UnionId="u-1")
    path, body = wxoa_post(xml, safe=safe)
    r = client.post(path, content=body)
    assert (r.status_code, r.text) == (200, "success")
    (event,) = producer.events()
    assert event.event == "subscribe"
    assert event.platform == "official_account"
    assert dict(event.identities) == {f"wx_openid:{APP_ID}": "oUser1", "wx_unionid": "u-1"}
    assert event.context["qr"] == "poster-7"


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        pytest.param(oa_xml("o1", "unsubscribe"), [("unsubscribe", {})], id="unsubscribe"),
        pytest.param(
            oa_xml("o1", "SCAN", EventKey="store-3"),
            [("wxoa_scan", {"qr_id": "store-3"})],
            id="scan",
        ),
        pytest.param(
            oa_xml("o1", "CLICK", EventKey="menu_coupon"),
            [("wxoa_menu_click", {"key": "menu_coupon"})],
            id="click",
        ),
        pytest.param(
            oa_xml("o1", "VIEW", EventKey="https://x.example/p"),
            [("wxoa_menu_view", {"url": "https://x.example/p"})],
            id="view",
        ),
        pytest.param(
            oa_xml("o1", "TEMPLATESENDJOBFINISH", MsgID="200163836", Status="failed:user block"),
            [("wxoa_template_send_finish",
              {"msg_id": "200163836", "status": "failed:user block", "delivered": False})],
            id="template_failed",
        ),
        pytest.param(
            oa_xml("o1", "TEMPLATESENDJOBFINISH", MsgID="200163837", Status="success"),
            [("wxoa_template_send_finish",
              {"msg_id": "200163837", "status": "success", "delivered": True})],
            id="template_delivered",
        ),
        pytest.param(
            oa_xml("o1", "subscribe_msg_popup_event", SubscribeMsgPopupEvent=(
                "<List><TemplateId>t1</TemplateId><SubscribeStatusString>accept"
                "</SubscribeStatusString><PopupScene>2</PopupScene></List>"
                "<List><TemplateId>t2</TemplateId><SubscribeStatusString>reject"
                "</SubscribeStatusString><PopupScene>2</PopupScene></List>")),
            [("wxoa_subscribe_msg_popup", {"template_id": "t1", "status": "accept",
                                           "popup_scene": "2"}),
             ("wxoa_subscribe_msg_popup", {"template_id": "t2", "status": "reject",
                                           "popup_scene": "2"})],
            id="subscribe_message_popup",
        ),
        pytest.param(
            oa_xml("o1", msg_type="text", Content="hello", MsgId="9001"),
            [("wxoa_message", {"msg_type": "text"})],
            id="text_message_content_not_kept",
        ),
    ],
)  # fmt: skip
def test_official_account_events(
    client: TestClient,
    producer: InMemoryProducer,
    xml: str,
    expected: list[tuple[str, dict[str, object]]],
) -> None:
    # A literal <List> block must not be CDATA-wrapped: unwrap what oa_xml wrapped.
    xml = xml.replace("<![CDATA[<List>", "<List>").replace("</List>]]>", "</List>")
    path, body = wxoa_post(xml)
    assert client.post(path, content=body).status_code == 200
    got = [
        (e.event, {k: v for k, v in e.properties.items() if k != "app_id"})
        for e in producer.events()
    ]
    assert got == expected


def test_official_account_bad_xml_is_dead_lettered(
    client: TestClient, producer: InMemoryProducer
) -> None:
    path, _ = wxoa_post(oa_xml("o1", "subscribe"))
    r = client.post(path, content=b"<xml><not-closed>")
    assert r.status_code == 400
    assert [d.payload for d in producer.dead_letters()] == [b"<xml><not-closed>"]


class _SlowProducer(InMemoryProducer):
    """A broker that takes a second per send (Kafka away, spool slow)."""

    async def send_many(self, messages: Any) -> None:
        await asyncio.sleep(1.0)
        await super().send_many(messages)


def test_tencent_is_answered_before_a_slow_send_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(callbacks, "ANSWER_WITHIN_S", 0.05)
    slow = _SlowProducer()
    with TestClient(build_app(Settings(data_dir=tmp_path), slow)) as c:
        path, body = wecom_post(contact_xml("add_external_contact", "wmSlow", state="q"))
        r = c.post(path, content=body)
        assert r.status_code == 200
        assert slow.sent == []  # answered while the send is still under way
    # Shutting down waits for the background send: nothing is lost.
    assert [e.identities["wecom_external_id"] for e in slow.events()] == ["wmSlow"]
