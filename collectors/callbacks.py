"""Tencent's server callbacks: WeCom (企业微信) and the official account (公众号).

``GET/POST /v1/wecom/callback?project=…`` and ``GET/POST /v1/wxoa/callback?project=…``
take Tencent's query parameters and XML unchanged. Signatures, AES and XML are wechatpy's
(``wechatpy.enterprise.crypto.WeChatCrypto``, ``wechatpy.crypto.WeChatCrypto``,
``wechatpy.utils.check_signature``, ``parse_message``). A verified callback becomes siyu
events (:mod:`collectors.wecom_events`, :mod:`collectors.wxoa_events`) produced to
``events.raw`` like any other request; Tencent gets its answer within
:data:`ANSWER_WITHIN_S` whatever the broker does (the produce goes on in the background
and falls back to the disk spool).

Bad input: a wrong signature is 401 (counted, body never stored); a signed timestamp
more than five minutes away is 401 ``stale_timestamp``; a payload that does not decrypt
or parse is 400 and kept as received in the dead letters; an unknown project, or one
without these settings, is 404; a callback seen before (same ``MsgId`` or event fields,
or the same timestamp + nonce) is answered and not processed again.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Literal
from xml.parsers.expat import ExpatError
from zoneinfo import ZoneInfo

import orjson
from wechatpy import parse_message as parse_oa_message
from wechatpy.crypto import WeChatCrypto as OfficialAccountCrypto
from wechatpy.enterprise import parse_message as parse_wecom_message
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto
from wechatpy.exceptions import InvalidSignatureException, WeChatException
from wechatpy.utils import check_signature

from collectors import metrics
from collectors.callback_guard import ReplayGuard, is_stale
from collectors.exceptions import BadBody, CollectorError, Unauthorized, UnknownProject
from collectors.http import Incoming, send_answer
from collectors.keys import group_by_key
from collectors.producer import EventProducer, Message
from collectors.wecom_api import UnionidFetcher
from collectors.wecom_events import callback_key, wecom_events
from collectors.wire import encode_batch
from collectors.wxoa_events import wxoa_events
from schemas.records import DeadLetter, TrackEvent, encode_dead_letter
from siyu.settings import Settings

__all__ = ["ANSWER_WITHIN_S", "CALLBACK_PATHS", "Callbacks"]

logger = logging.getLogger(__name__)

Kind = Literal["wecom", "wxoa"]
CALLBACK_PATHS: dict[str, Kind] = {"/v1/wecom/callback": "wecom", "/v1/wxoa/callback": "wxoa"}
# Tencent waits 5 s for an answer, then retries; answer well before, produce or not.
ANSWER_WITHIN_S = 3.0
# What a signature or decryption failure can raise inside wechatpy and the XML parser.
_UNREADABLE = (
    WeChatException,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    ExpatError,
    binascii.Error,
    UnicodeDecodeError,
)


class _Project:
    """One project's callback crypto, built once."""

    def __init__(self, name: str, settings: Settings) -> None:
        p = settings.projects[name]
        self.zone = ZoneInfo(p.timezone)
        self.wecom: WeComCrypto | None = None
        self.corp_id = ""
        if p.wecom is not None:
            self.corp_id = p.wecom.corp_id
            self.wecom = WeComCrypto(
                p.wecom.token.get_secret_value(),
                p.wecom.encoding_aes_key.get_secret_value(),
                p.wecom.corp_id,
            )
        self.fetcher: UnionidFetcher | None = None
        api = p.wecom_api
        if p.wecom is not None and api is not None and api.fetch_unionid and api.secret:
            self.fetcher = UnionidFetcher(p.wecom.corp_id, api.secret.get_secret_value())
        self.oa_token = ""
        self.app_id = ""
        self.oa_crypto: OfficialAccountCrypto | None = None
        if p.wxoa is not None:
            self.oa_token = p.wxoa.token.get_secret_value()
            self.app_id = p.wxoa.app_id
            if p.wxoa.encoding_aes_key is not None:
                self.oa_crypto = OfficialAccountCrypto(
                    self.oa_token, p.wxoa.encoding_aes_key.get_secret_value(), p.wxoa.app_id
                )


class Callbacks:
    def __init__(
        self,
        settings: Settings,
        producer: EventProducer,
        *,
        max_body_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.producer = producer
        self.max_body_bytes = max_body_bytes
        self.clock = clock
        self.raw_topic = settings.kafka.topic("events.raw")
        self.dead_topic = settings.kafka.topic("events.deadletter")
        self.projects = {name: _Project(name, settings) for name in settings.projects}
        self.guard = ReplayGuard()
        self._background: set[asyncio.Task[None]] = set()

    # -- one request -------------------------------------------------------------------------
    async def handle(self, req: Incoming, receive: Any, send: Any) -> None:
        kind = CALLBACK_PATHS[req.path]
        project_name = req.query.get("project") or "default"
        try:
            project = self._project(req, project_name)
            body = await req.body(receive, self.max_body_bytes) if req.method == "POST" else b""
            if kind == "wecom":
                answer = await self._wecom(project_name, project, req, body)
            else:
                answer = await self._wxoa(project_name, project, req, body)
        except CollectorError as exc:
            label = project_name if project_name in self.projects else "-"
            metrics.CALLBACKS.labels(kind, label, exc.code).inc()
            error = {"error": {"code": exc.code, "message": exc.reason}}
            await send_answer(send, exc.status, orjson.dumps(error), b"application/json")
            return
        await send_answer(send, 200, answer, b"text/plain; charset=utf-8")

    def _project(self, req: Incoming, name: str) -> _Project:
        if req.method not in ("GET", "POST"):
            raise CollectorError(f"{req.method} not allowed here", status=405, code="method")
        project = self.projects.get(name)
        if project is None:
            raise UnknownProject(f"unknown project {name[:64]!r}")
        return project

    def _params(self, req: Incoming, *names: str) -> list[str]:
        values = [req.query.get(n, "") for n in names]
        missing = [n for n, v in zip(names, values, strict=True) if not v]
        if missing:
            raise BadBody(
                f"missing query parameter(s): {', '.join(missing)}", code="missing_parameter"
            )
        return values

    def _fresh(self, timestamp: str) -> None:
        if is_stale(timestamp, int(self.clock())):
            raise Unauthorized(
                "timestamp is more than 5 minutes away from now: refused as a replay",
                code="stale_timestamp",
            )

    # -- WeCom -------------------------------------------------------------------------------
    async def _wecom(self, name: str, p: _Project, req: Incoming, body: bytes) -> bytes:
        if p.wecom is None:
            raise UnknownProject(
                f"project {name!r} has no WeCom callback settings", code="not_configured"
            )
        signature, timestamp, nonce = self._params(req, "msg_signature", "timestamp", "nonce")
        if req.method == "GET":
            (echo,) = self._params(req, "echostr")
            try:
                plain = p.wecom.check_signature(signature, timestamp, nonce, echo)
            except InvalidSignatureException as exc:
                raise Unauthorized("msg_signature does not match", code="bad_signature") from exc
            except _UNREADABLE as exc:
                raise BadBody(
                    f"echostr does not decrypt: {type(exc).__name__}", code="bad_payload"
                ) from exc
            self._fresh(timestamp)
            metrics.CALLBACKS.labels("wecom", name, "verified").inc()
            return plain.encode() if isinstance(plain, str) else bytes(plain)
        xml = await self._decrypt(p.wecom, name, req, body, signature, timestamp, nonce)
        self._fresh(timestamp)
        data = await self._parse(name, req, body, xml, parse_wecom_message)
        received_at = int(self.clock() * 1000)

        def events() -> list[TrackEvent]:
            return wecom_events(data, corp_id=p.corp_id, received_at=received_at, zone=p.zone)

        found = await self._accept("wecom", name, req, data, timestamp, nonce, events, received_at)
        if p.fetcher is not None:
            for event in found:
                if external := p.fetcher.wanted(event):
                    self._later(self._fetch_unionid(name, req, p.fetcher, external, event.time))
        return b""

    # -- official account --------------------------------------------------------------------
    async def _wxoa(self, name: str, p: _Project, req: Incoming, body: bytes) -> bytes:
        if not p.oa_token:
            raise UnknownProject(
                f"project {name!r} has no official-account callback settings", code="not_configured"
            )
        signature, timestamp, nonce = self._params(req, "signature", "timestamp", "nonce")
        try:
            check_signature(p.oa_token, signature, timestamp, nonce)
        except InvalidSignatureException as exc:
            raise Unauthorized("signature does not match", code="bad_signature") from exc
        if req.method == "GET":
            (echo,) = self._params(req, "echostr")
            self._fresh(timestamp)
            metrics.CALLBACKS.labels("wxoa", name, "verified").inc()
            return echo.encode()
        xml: Any = body
        if req.query.get("encrypt_type", "raw").lower() == "aes":
            if p.oa_crypto is None:
                raise BadBody("safe mode needs encoding_aes_key in the project's wxoa settings")
            (msg_signature,) = self._params(req, "msg_signature")
            xml = await self._decrypt(p.oa_crypto, name, req, body, msg_signature, timestamp, nonce)
        self._fresh(timestamp)
        data = await self._parse(name, req, body, xml, parse_oa_message)
        received_at = int(self.clock() * 1000)

        def events() -> list[TrackEvent]:
            return wxoa_events(data, app_id=p.app_id, received_at=received_at)

        await self._accept("wxoa", name, req, data, timestamp, nonce, events, received_at)
        return b"success"

    # -- shared ------------------------------------------------------------------------------
    async def _decrypt(
        self,
        crypto: Any,
        name: str,
        req: Incoming,
        body: bytes,
        signature: str,
        timestamp: str,
        nonce: str,
    ) -> Any:
        """The message ``crypto`` (WeCom's or the official account's) decrypts from ``body``.

        A bad signature is refused; a body that does not decrypt is kept as a dead letter
        (as received, never the key) before it is refused.
        """
        try:
            return crypto.decrypt_message(body, signature, timestamp, nonce)
        except InvalidSignatureException as exc:
            raise Unauthorized("msg_signature does not match", code="bad_signature") from exc
        except _UNREADABLE as exc:
            self._fresh(timestamp)
            await self._dead_letter(
                name, req, body, f"bad_payload: does not decrypt ({type(exc).__name__})"
            )
            raise BadBody(
                f"payload does not decrypt: {type(exc).__name__}", code="bad_payload"
            ) from exc

    async def _parse(
        self, name: str, req: Incoming, body: bytes, xml: Any, parse: Callable[[Any], Any]
    ) -> dict[str, Any]:
        try:
            message = parse(xml)
            data = message._data if message is not None else None
        except _UNREADABLE as exc:
            data = None
            problem = type(exc).__name__
        else:
            problem = "no XML message"
        if not isinstance(data, dict):
            await self._dead_letter(
                name, req, body, f"bad_payload: not a callback message ({problem})"
            )
            raise BadBody(f"payload is not a callback message ({problem})", code="bad_payload")
        return data

    async def _accept(
        self,
        kind: Kind,
        name: str,
        req: Incoming,
        data: dict[str, Any],
        timestamp: str,
        nonce: str,
        events: Callable[[], list[TrackEvent]],
        received_at: int,
    ) -> list[TrackEvent]:
        """Produce the callback's events unless it was seen before; the events produced."""
        now_s = int(self.clock())
        # The message key is only remembered for a fresh request: a replayed timestamp +
        # nonce (plain mode signs nothing else) cannot mark a message it does not carry.
        fresh = self.guard.first_time(
            f"{name}|{kind}|ts|{timestamp}|{nonce}", now_s
        ) and self.guard.first_time(f"{name}|{kind}|msg|{callback_key(data)}", now_s)
        if not fresh:
            metrics.CALLBACKS.labels(kind, name, "duplicate").inc()
            return []
        found = events()
        metrics.CALLBACKS.labels(kind, name, "ok").inc()
        metrics.CALLBACK_EVENTS.labels(kind, name).inc(len(found))
        if found:
            await self._produce(self._messages(kind, name, req, found, received_at))
        return found

    def _messages(
        self, kind: Kind, name: str, req: Incoming, found: list[TrackEvent], received_at: int
    ) -> list[Message]:
        return [
            (self.raw_topic, b.key.encode(), encode_batch(b))
            for b in group_by_key(
                found,
                project=name,
                received_at=received_at,
                sent_at=None,
                ip=req.peer,
                user_agent=req.headers.get("user-agent", "")[:1024],
                source=kind,
            )
        ]

    async def _fetch_unionid(
        self, name: str, req: Incoming, fetcher: UnionidFetcher, external: str, at: int
    ) -> None:
        found = await fetcher.identify(external, at)
        if found is not None:
            await self._send(self._messages("wecom", name, req, [found], at))

    async def _dead_letter(self, name: str, req: Incoming, body: bytes, reason: str) -> None:
        dl = DeadLetter(
            project=name,
            received_at=int(self.clock() * 1000),
            route=req.path,
            reason=reason,
            payload=body,
            ip=req.peer,
        )
        await self._produce([(self.dead_topic, name.encode(), encode_dead_letter(dl))])

    def _later(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _produce(self, messages: Sequence[Message]) -> None:
        """Send, but return within :data:`ANSWER_WITHIN_S`; a slower send finishes later."""
        await asyncio.wait({self._later(self._send(messages))}, timeout=ANSWER_WITHIN_S)

    async def _send(self, messages: Sequence[Message]) -> None:
        try:
            await self.producer.send_many(messages)
        except CollectorError:
            metrics.CALLBACK_PRODUCE_FAILED.inc(len(messages))
            logger.exception("callback events could not be produced or spooled")

    async def drain(self) -> None:
        """Wait for background sends (at shutdown, before the producer stops)."""
        if self._background:
            await asyncio.wait(set(self._background))
