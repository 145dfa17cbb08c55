"""Realistic synthetic traffic: mini-program and H5 users browsing, buying, logging in, sharing.

Deterministic for a seed, so tests and benchmarks can compare runs.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from siyu.settings import Settings

__all__ = ["DemoReport", "demo_events", "send_demo"]

APPID = "wx5f3c1a2b"
_SCENES = (1007, 1008, 1047, 1011, 1035, 1058, 1005, 1089, 1001)
_UTM = (
    ("wechat", "social", "spring_sale"),
    ("baidu", "cpc", "brand"),
    ("kol", "article", "koc_seed"),
)
_CATEGORIES = ("skincare", "snacks", "tea", "apparel", "baby")
_PAGES = ("/pages/index/index", "/pages/list/list", "/pages/item/item", "/pages/cart/cart")


@dataclass
class DemoReport:
    users: int = 0
    events: int = 0
    requests: int = 0
    accepted: int = 0
    rejected: int = 0
    seconds: float = 0.0


@dataclass
class _User:
    n: int
    seed: int
    platform: str
    identities: dict[str, str]
    login_id: str | None
    seq: int = 0


@dataclass
class _Session:
    """Events of one visit; ``add`` advances the clock a little each time."""

    user: _User
    rng: random.Random
    t: int
    context: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, props: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
        u = self.user
        self.t += self.rng.randint(2_000, 60_000)
        u.seq += 1
        page_view = "$MPViewScreen" if u.platform == "miniprogram" else "$pageview"
        self.events.append(
            {
                "event_id": f"demo-{u.seed}-{u.n}-{u.seq}",
                "type": "track",
                "event": page_view if name == "$view" else name,
                "time": self.t,
                "platform": u.platform,
                "identities": dict(u.identities),
                "properties": props,
                "context": {
                    "lib": {"name": "siyu-demo", "version": "0.1.0"},
                    **self.context,
                    **(extra or {}),
                },
            }
        )


def _new_user(rng: random.Random, n: int, seed: int) -> _User:
    mini = rng.random() < 0.6
    if mini:
        identities = {f"wx_openid:{APPID}": f"o{n:07d}{seed}"}
        if rng.random() < 0.5:
            identities["wx_unionid"] = f"union-{seed}-{n}"
    else:
        identities = {"anonymous_id": f"anon-{seed}-{n}"}
    login = f"member{seed}{n:05d}" if rng.random() < 0.35 else None
    return _User(n, seed, "miniprogram" if mini else "h5", identities, login)


def _entry_context(rng: random.Random, user: _User) -> dict[str, Any]:
    if user.platform != "miniprogram":
        source, medium, campaign = rng.choice(_UTM)
        return {"utm": {"source": source, "medium": medium, "campaign": campaign}}
    ctx: dict[str, Any] = {"scene": rng.choice(_SCENES)}
    if ctx["scene"] in (1007, 1008) and user.n > 0 and rng.random() < 0.7:
        sharer = f"o{rng.randrange(user.n):07d}{user.seed}"
        ctx["share"] = {"sharer": sharer, "depth": 1, "path": "/pages/item/item"}
    return ctx


def _visit(rng: random.Random, user: _User, start: int) -> list[dict[str, Any]]:
    s = _Session(user, rng, start, _entry_context(rng, user))
    for _ in range(rng.randint(1, 4)):
        s.add("$view", {"$url_path": rng.choice(_PAGES), "$title": "商城"})
    if rng.random() < 0.75:
        product = f"p{rng.randint(1, 60)}"
        price = round(rng.uniform(9, 399), 2)
        category = rng.choice(_CATEGORIES)
        s.add("view_product", {"product_id": product, "category": category, "price": price})
        if rng.random() < 0.55:
            s.add("add_to_cart", {"product_id": product, "price": price})
            if rng.random() < 0.6:
                order = f"ord-{user.seed}-{user.n}-{user.seq}"
                s.add("submit_order", {"order_id": order, "amount": price})
                if rng.random() < 0.8:
                    s.add("pay_order", {"order_id": order, "amount": price})
    if user.login_id and "login_id" not in user.identities and rng.random() < 0.7:
        user.identities["login_id"] = user.login_id
        s.add("register" if rng.random() < 0.4 else "login", {"method": "wechat"})
    if rng.random() < 0.2:
        share = {"share": {"path": "/pages/item/item", "depth": 1}}
        s.add("share", {"$url_path": "/pages/item/item"}, share)
    return s.events


def demo_events(
    *, users: int, days: int, seed: int, now_ms: int
) -> list[list[list[dict[str, Any]]]]:
    """Per user, a list of batches (one request each) of native events, oldest first."""
    rng = random.Random(seed)
    out: list[list[list[dict[str, Any]]]] = []
    for n in range(users):
        user = _new_user(rng, n, seed)
        starts = sorted(now_ms - rng.randint(0, days * 86400_000) for _ in range(rng.randint(1, 3)))
        out.append([_visit(rng, user, start) for start in starts])
    return out


def send_demo(
    settings: Settings, *, users: int, days: int, seed: int, concurrency: int = 8
) -> DemoReport:
    """Post the demo traffic to the collector and report what it answered."""
    return asyncio.run(_send(settings, users=users, days=days, seed=seed, concurrency=concurrency))


async def _send(
    settings: Settings, *, users: int, days: int, seed: int, concurrency: int
) -> DemoReport:
    now = time.time_ns() // 1_000_000
    per_user = demo_events(users=users, days=days, seed=seed, now_ms=now)
    key = next(iter(settings.projects.values())).write_key.get_secret_value()
    url = f"http://{settings.collector.host}:{settings.collector.port}/v1/batch"
    report = DemoReport(users=users)
    queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    for batches in per_user:
        for batch in batches:
            queue.put_nowait(batch)
    started = time.perf_counter()
    async with httpx.AsyncClient(headers={"X-Siyu-Key": key}, timeout=30) as client:

        async def post_all() -> None:
            while not queue.empty():
                batch = queue.get_nowait()
                answer = await client.post(
                    url, json={"sent_at": time.time_ns() // 1_000_000, "events": batch}
                )
                answer.raise_for_status()
                body = answer.json()
                report.requests += 1
                report.events += len(batch)
                report.accepted += body["accepted"]
                report.rejected += len(body["rejected"])

        await asyncio.gather(*(post_all() for _ in range(concurrency)))
    report.seconds = time.perf_counter() - started
    return report
