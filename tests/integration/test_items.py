"""The item catalogue live in the content tags: Sensors item_set / item_delete records,
then native events naming only the item's id, end as ``interest:<tag>`` in the lookup API."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.sensors_app import android_body, android_event
from tests.stack import RunningStack

pytestmark = pytest.mark.integration

_UPDATED = "siyu_stream_items_updated_timestamp_seconds"


def _send_item(stack: RunningStack, item_id: str, etype: str, properties: dict[str, Any]) -> None:
    """One Sensors item record; returns once the worker's catalogue took it."""
    since = time.time()
    now = int(since * 1000)
    record = android_event(
        0,
        type=etype,
        item_type="product",
        item_id=item_id,
        properties=properties,
        time=now,
        _flush_time=now,
        _track_id=now % 1_000_000_007,
    )
    answer = stack.http.post(
        stack.collector_url + "/sa?project=default",
        content=android_body([record]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 1, "rejected": []}
    stack.wait_for_worker_metric(_UPDATED, lambda v: v >= since, timeout=60)


def _favorite(stack: RunningStack, anonymous_id: str, item_id: str) -> dict[str, Any]:
    """A native ``favorite`` naming only the item; returns the user's lookup answer after it."""
    event_id = uuid.uuid4().hex
    answer = stack.post(
        [
            {
                "event_id": event_id,
                "type": "track",
                "event": "favorite",
                "time": int(time.time() * 1000),
                "platform": "h5",
                "identities": {"anonymous_id": anonymous_id},
                "properties": {"item_id": item_id, "item_type": "product"},
            }
        ]
    )
    assert answer.status_code == 200, answer.text
    return stack.lookup_until(
        f"anonymous_id/{anonymous_id}",
        lambda d: d["tags"].get("last_seen") is not None,
        timeout=60,
    )


def _interests(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc["tags"].items() if k.startswith("interest:")}


def test_content_interest_follows_the_item_catalogue_live(stack: RunningStack) -> None:
    run = uuid.uuid4().hex[:8]
    item = f"p-{run}"
    early = f"early-{run}"
    # An event on an item nobody described yet gives no interest.
    assert _interests(_favorite(stack, early, item)) == {}

    # The item is set after that user's event: it applies to the user's later events.
    _send_item(stack, item, "item_set", {"content_tags": [f"trail{run}"], "price": 399})
    _favorite(stack, early, item)
    doc = stack.lookup_until(f"anonymous_id/{early}", lambda d: bool(_interests(d)), timeout=60)
    assert _interests(doc) == {f"interest:trail{run}": True}

    # Set again with other attributes: later events read the current ones.
    _send_item(stack, item, "item_set", {"category": f"yoga{run}"})
    later = f"later-{run}"
    _favorite(stack, later, item)
    doc = stack.lookup_until(f"anonymous_id/{later}", lambda d: bool(_interests(d)), timeout=60)
    assert _interests(doc) == {f"interest:yoga{run}": True}

    # Deleted: the item stops giving tags.
    _send_item(stack, item, "item_delete", {})
    gone = f"gone-{run}"
    assert _interests(_favorite(stack, gone, item)) == {}
    stack.wait_for(
        f"SELECT count() FROM siyu.items WHERE item_id = '{item}'",
        lambda n: int(n) == 0,
        operator=True,
    )
