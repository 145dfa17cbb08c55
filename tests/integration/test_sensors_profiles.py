"""Sensors profile_* records from an app SDK become the user's properties
(``siyu.user_properties``), applied with the same rules as native profile events."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest

from tests.sensors_app import android_body, android_event
from tests.sensors_text import TEXTS
from tests.stack import RunningStack

pytestmark = pytest.mark.integration


def test_profile_records_from_an_app_sdk_become_user_properties(stack: RunningStack) -> None:
    device = uuid.uuid4().hex[:16]
    login = f"member-{device}"
    ids = {"$identity_android_id": device, "$identity_login_id": login}
    now = int(time.time() * 1000)

    def record(i: int, etype: str, properties: dict[str, object]) -> dict[str, object]:
        return android_event(
            i,
            type=etype,
            identities=ids,
            distinct_id=login,
            properties=properties,
            time=now - 10_000 + i,
            _flush_time=now,
            _track_id=int(device[:8], 16) + i,
        )

    records = [
        android_event(
            0,
            event="$AppStart",
            identities=ids,
            time=now - 10_000,
            _flush_time=now,
            _track_id=int(device[:8], 16),
        ),
        record(1, "profile_set", {"vip": True, "city": "深圳", "nickname": TEXTS["zwj"]}),
        record(2, "profile_set_once", {"first_channel": "小红书"}),
        record(3, "profile_set_once", {"first_channel": "抖音"}),  # already set: ignored
        record(4, "profile_increment", {"points": 10}),
        record(5, "profile_increment", {"points": 5}),
        record(6, "profile_append", {"interests": ["跑步"]}),
        record(7, "profile_append", {"interests": ["咖啡", "跑步"]}),
        record(8, "profile_unset", {"city": True}),
    ]
    answer = stack.http.post(
        stack.collector_url + "/sa?project=default",
        content=android_body(records),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": len(records), "rejected": []}
    user_id = stack.wait_for(
        "SELECT user_id FROM siyu.identity_map "
        f"WHERE id_type = 'login_id' AND id_value = '{login}' AND deleted = 0",
        lambda u: bool(u),
        timeout=90,
    )
    expected = {
        "vip": True,
        "nickname": TEXTS["zwj"],
        "first_channel": "小红书",
        "points": 15,
        "interests": ["跑步", "咖啡"],
    }
    stack.wait_for(
        f"SELECT properties_json FROM siyu.user_properties WHERE user_id = '{user_id}'",
        lambda text: bool(text) and orjson.loads(text) == expected,
        timeout=90,
    )
    platform = stack.scalar(
        f"SELECT platform FROM siyu.events WHERE identities['device_id'] = '{device}' "
        "AND event = '$AppStart'"
    )
    assert platform == "app"
