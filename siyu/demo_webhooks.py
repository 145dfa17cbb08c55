"""``siyu demo`` with webhooks: a local receiver subscribed to every segment prints the
deliveries as the demo users enter and leave segments.

The receiver listens on a free local port, subscribes through the lookup API with the
project's admin key, verifies every signature, and unsubscribes when the demo ends.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from siyu.ports import free_port
from siyu.settings import Settings
from webhooks.receiver import Delivery, LocalReceiver

__all__ = ["wait_quiet", "watching_segments"]


def _line(d: Delivery) -> str:
    b = d.body
    what = f"segment {b['segment']}" if "segment" in b else f"tag {b['tag']}"
    sig = "signature ok" if d.signature_ok else "BAD SIGNATURE"
    event = b["event_id"][:12]
    return f"  webhook: {b['user_id']} {b['change']:<5} {what}  (event_id {event}…, {sig})"


@contextmanager
def watching_segments(settings: Settings, show: Callable[[str], None]) -> Iterator[LocalReceiver]:
    """Subscribe a local receiver to every segment of the first project while inside."""
    project, keys = next(iter(settings.projects.items()))
    if keys.admin_key is None:
        raise ValueError(f"project {project!r} has no admin key: cannot subscribe")
    lookup = f"http://{settings.lookup.host}:{settings.lookup.port}"
    headers = {"X-Siyu-Key": keys.admin_key.get_secret_value()}
    secret = secrets.token_hex(16)
    receiver = LocalReceiver(secret, free_port(), on_delivery=lambda d: show(_line(d))).start()
    try:
        listed = httpx.get(f"{lookup}/v1/segments", headers=headers, timeout=10)
        listed.raise_for_status()
        names = [s["name"] for s in listed.json()["segments"]]
        made = httpx.post(
            f"{lookup}/v1/subscriptions",
            json={"url": receiver.url + "/siyu-demo", "secret": secret, "segments": names},
            headers=headers,
            timeout=10,
        )
        made.raise_for_status()
        sub_id = made.json()["id"]
        show(f"webhook receiver {receiver.url} subscribed to: {', '.join(names)}")
        try:
            yield receiver
        finally:
            httpx.delete(f"{lookup}/v1/subscriptions/{sub_id}", headers=headers, timeout=10)
    finally:
        receiver.stop()


def wait_quiet(receiver: LocalReceiver, *, at_most: float, quiet: float = 3.0) -> None:
    """Wait until no delivery came for ``quiet`` seconds (or ``at_most`` passed)."""
    deadline = time.monotonic() + at_most
    seen, last_change = len(receiver.received), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if len(receiver.received) != seen:
            seen, last_change = len(receiver.received), time.monotonic()
        elif seen and time.monotonic() - last_change >= quiet:
            return
