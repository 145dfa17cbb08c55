"""Dead letters of mini-program batches refused before CESU-8 was understood are replayed
with ``siyu replay-dead-letters`` and land once, however often they are replayed."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import time
import uuid
from urllib.parse import quote

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from schemas.records import DeadLetter, encode_dead_letter
from tests.sensors_text import TEXTS, sdk_utf8_encode
from tests.stack import RunningStack

pytestmark = pytest.mark.integration

# What the collector answered these requests before: the whole batch became one dead letter.
OLD_REASON = "bad_json: invalid JSON: str is not valid UTF-8: surrogates not allowed"


def _held_dead_letter(stack: RunningStack, body: bytes, at: int) -> None:
    letter = DeadLetter(
        project="default", received_at=at, route="/sa", reason=OLD_REASON, payload=body, index=-1
    )

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.settings.kafka.bootstrap)
        await producer.start()
        try:
            topic = stack.settings.kafka.topic("events.deadletter")
            await producer.send_and_wait(topic, encode_dead_letter(letter), key=b"default")
        finally:
            await producer.stop()

    asyncio.run(send())


def _replay(stack: RunningStack, since: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "siyu",
            "replay-dead-letters",
            "--reason",
            "surrogates not allowed",
            "--route",
            "/sa",
            "--since",
            since,
            "--collector",
            stack.collector_url,
        ],
        env={**os.environ, **stack.settings.child_env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_held_cesu8_dead_letters_replay_and_land_once(stack: RunningStack) -> None:
    device = "replay-" + uuid.uuid4().hex[:10]
    now = int(time.time() * 1000)
    events = [
        {
            "_track_id": 500 + i,
            "distinct_id": device,
            "identities": {"$identity_mp_id": device},
            "lib": {"$lib": "MiniProgram", "$lib_version": "1.22.7"},
            "properties": {"$lib": "MiniProgram", "case_id": name, "value": text},
            "type": "track",
            "event": "share",
            "time": now - 1000 + i,
            "_flush_time": now,
        }
        for i, (name, text) in enumerate(TEXTS.items())
    ]
    cesu = base64.b64encode(sdk_utf8_encode(orjson.dumps(events).decode())).decode()
    body = f"data_list={quote(cesu, safe='')}".encode()
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now / 1000 - 60))
    _held_dead_letter(stack, body, now)
    stack.wait_for(
        f"SELECT count() FROM siyu.dead_letters WHERE payload = '{body.decode()}'",
        lambda n: int(n) == 1,
    )
    for _ in range(2):  # replayed twice: the events still land once
        assert "accepted" in _replay(stack, since)
    where = f"identities['device_id'] = '{device}'"
    stack.wait_for(f"SELECT count() FROM siyu.events WHERE {where}", lambda n: int(n) >= len(TEXTS))
    stack.wait_drained(timeout=120)  # the second replay's copies are in too
    rows = stack.sql(f"SELECT properties, warnings FROM siyu.events WHERE {where}")
    assert len(rows) == len(TEXTS)
    values = {
        orjson.loads(r["properties"])["case_id"]: orjson.loads(r["properties"])["value"]
        for r in rows
    }
    assert values == TEXTS
    assert all(not r["warnings"] for r in rows)
