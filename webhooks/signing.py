"""Delivery signatures: ``X-Siyu-Signature: sha256=<hex HMAC-SHA256(secret, ts + "." + body)>``.

The timestamp (unix seconds, ``X-Siyu-Timestamp``) is part of what is signed, so a
receiver that also refuses old timestamps is safe from replays of captured requests.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify"]

TIMESTAMP_HEADER = "X-Siyu-Timestamp"
SIGNATURE_HEADER = "X-Siyu-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    if not timestamp.isdigit():
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)
