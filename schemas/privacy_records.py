"""Typed records of the privacy topics (``privacy.requests``, ``privacy.forget``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from schemas.codec import codec
from streams.domain.privacy import suppression_key

__all__ = [
    "PrivacyForget",
    "PrivacyRequest",
    "decode_forget",
    "decode_request",
    "encode_forget",
    "encode_request",
    "suppression_key",
]


@dataclass(frozen=True, slots=True)
class PrivacyRequest:
    request_id: str
    project: str
    action: str
    id_type: str
    id_value: str
    requested_at: int
    raw_type: str = ""
    raw_value: str = ""


@dataclass(frozen=True, slots=True)
class PrivacyForget:
    request_id: str
    project: str
    user_id: str
    suppress: tuple[str, ...]
    graph_keys: tuple[str, ...]


def encode_request(r: PrivacyRequest) -> bytes:
    return codec("privacy_request").encode(asdict(r))


def decode_request(data: bytes) -> PrivacyRequest:
    return PrivacyRequest(**codec("privacy_request").decode(data))


def encode_forget(f: PrivacyForget) -> bytes:
    doc = asdict(f)
    doc["suppress"], doc["graph_keys"] = list(f.suppress), list(f.graph_keys)
    return codec("privacy_forget").encode(doc)


def decode_forget(data: bytes) -> PrivacyForget:
    doc = codec("privacy_forget").decode(data)
    return PrivacyForget(
        request_id=doc["request_id"],
        project=doc["project"],
        user_id=doc["user_id"],
        suppress=tuple(doc["suppress"]),
        graph_keys=tuple(doc["graph_keys"]),
    )
