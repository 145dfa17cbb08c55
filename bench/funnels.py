"""Funnel benchmark: stream advancement and the slowest dashboard query.

1. Events/s through one worker's funnel work: Avro-decode each record (one request's
   events of one user), load the user's JSON state, advance 5 ordered funnels and the
   fission attribution, encode the state and the progress record — then the fission
   stage for the signals produced. Baseline, same run and same records: the per-user
   event count of ``streams.agents.counts`` (decode, JSON state round trip, encode).
   Goal: >= 20,000 events/s.
2. The slowest Grafana panel query (and the overview's) on ``BENCH_FUNNELS_EVENTS``
   demo events (default 10,000,000) in chDB, against a plain scan of the same table
   (events per event name) as the baseline, and the five slowest panels by name (the
   ``make bench`` table lists them). Goal: < 1 s for every panel.

``python -m bench.funnels`` prints the figures and writes bench/results/funnels.json.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from bench.core import BenchResult
from schemas.funnel_records import encode_progress, encode_signals
from schemas.records import EventBatch, decode_batch, encode_batch
from sinks.demo_data import _track, build_demo, load_demo
from sinks.writer import ClickHouseWriter
from siyu.demo import demo_events
from streams.domain import funnel_state as fs
from streams.domain.fission import share_of
from streams.domain.funnel_defs import FunnelSet, parse_funnels
from streams.funnel_config import DEFAULT_FUNNELS_FILE, funnels_of

__all__ = ["five_funnels", "run"]

RESULTS = Path(__file__).parent / "results"
USERS = int(os.environ.get("BENCH_FUNNELS_USERS", "4000"))
DASHBOARD_EVENTS = int(os.environ.get("BENCH_FUNNELS_EVENTS", "10000000"))
DASHBOARDS = Path(__file__).parents[1] / "infra" / "grafana" / "dashboards"


def five_funnels() -> FunnelSet:
    """The shipped commerce and fission funnels plus four more ordered ones."""
    from ruamel.yaml import YAML

    spec: dict[str, Any] = YAML(typ="safe").load(DEFAULT_FUNNELS_FILE.read_text())
    commerce = spec["funnels"]["commerce"]
    extra = {
        "browse_to_cart": {**commerce, "window": "1h", "steps": commerce["steps"][:3]},
        "pricey_products": {
            **commerce,
            "breakdown": ["platform"],
            "steps": [
                {
                    "name": "view",
                    "events": "view_product",
                    "where": {"properties.price": {"gte": 100}},
                },
                {
                    "name": "cart",
                    "events": "add_to_cart",
                    "where": {"properties.price": {"gte": 100}},
                },
                {"name": "pay", "events": "pay_order"},
            ],
        },
        "checkout": {**commerce, "window": "30m", "steps": commerce["steps"][2:]},
        "login_then_order": {
            "window": "7d",
            "steps": [
                {"name": "login", "events": ["login", "register"]},
                {"name": "order", "events": "submit_order"},
                {"name": "pay", "events": "pay_order"},
            ],
        },
    }
    spec["funnels"].update(copy.deepcopy(extra))
    return parse_funnels(spec)


def _records(users: int) -> tuple[list[bytes], dict[str, str], int]:
    now = int(time.time() * 1000)
    records: list[tuple[int, bytes]] = []
    owners: dict[str, str] = {}
    events = 0
    for n, batches in enumerate(demo_events(users=users, days=7, seed=42, now_ms=now)):
        user_id = f"bench-{n}"
        for batch in batches:
            for d in batch:
                for value in d["identities"].values():
                    owners.setdefault(value, user_id)
            tracked = tuple(_track(d, user_id) for d in batch)
            events += len(tracked)
            record = EventBatch("default", user_id, now, tracked, origin="events.raw/0")
            records.append((tracked[0].time, encode_batch(record)))
    records.sort(key=lambda r: r[0])
    return [r for _, r in records], owners, events


def _funnel_pass(defs: FunnelSet, records: list[bytes], owners: dict[str, str]) -> float:
    users: dict[str, bytes] = {}
    sharers: dict[str, bytes] = {}
    started = time.perf_counter()
    for raw in records:
        batch = decode_batch(raw)
        shared = {s[0]: owners[s[0]] for e in batch.events if (s := share_of(e)) and s[0] in owners}
        old = users.get(batch.key)
        doc = orjson.loads(old)["v"]["d"] if old else None
        doc, steps, signals = fs.apply_events(defs, doc, batch.key, batch.events, shared)
        users[batch.key] = orjson.dumps({"v": {"p": "default", "d": doc}, "o": {"x": 1}})
        if steps:
            encode_progress("default", batch.key, steps, ())
        for sig in signals:
            encode_signals("default", [sig])
            prior = sharers.get(sig.to)
            sdoc = orjson.loads(prior)["v"]["d"] if prior else None
            sdoc, out = fs.apply_signals(defs, sdoc, sig.to, [sig])
            sharers[sig.to] = orjson.dumps({"v": {"p": "default", "d": sdoc}, "o": {"x": 1}})
            if out.completions or out.edges:
                encode_progress("default", sig.to, out.completions, out.edges)
    return time.perf_counter() - started


def _count_pass(records: list[bytes]) -> float:
    counts: dict[str, bytes] = {}
    started = time.perf_counter()
    for raw in records:
        batch = decode_batch(raw)
        old = counts.get(batch.key)
        n = (orjson.loads(old)["v"] if old else 0) + len(batch.events)
        counts[batch.key] = orjson.dumps({"v": n, "o": {"x": 1}})
    return time.perf_counter() - started


def _panel_queries() -> list[tuple[str, str]]:
    from tests.unit.sinks.test_dashboards import render  # the same macro substitution

    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        variables = {v["name"]: v["current"]["value"] for v in board["templating"]["list"]}
        for panel in board["panels"]:
            for target in panel["targets"]:
                if "rawSql" in target:
                    out.append(
                        (f"{path.stem}: {panel['title']}", render(target["rawSql"], variables))
                    )
    from sinks.overview import overview_queries

    for name, sql in overview_queries("default", "Asia/Shanghai", 30).items():
        out.append((f"overview: {name}", sql))
    return out


def _timed(writer: ClickHouseWriter, sql: str) -> float:
    started = time.perf_counter()
    writer.rows(sql)
    return time.perf_counter() - started


def _dashboards(result: BenchResult) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        writer = ClickHouseWriter(url=None, chdb_path=Path(tmp))
        writer.migrate()
        base = build_demo(
            five_funnels(), users=20_000, days=30, seed=9, now_ms=int(time.time() * 1000)
        )
        copies = max(1, round(DASHBOARD_EVENTS / len(base.events)))
        loaded = load_demo(writer, base, copies=copies)
        writer.command("OPTIMIZE TABLE siyu.events FINAL")
        scan = min(
            _timed(writer, "SELECT event, count() FROM siyu.events GROUP BY event")
            for _ in range(3)
        )
        timings = []
        for name, sql in _panel_queries():
            _timed(writer, sql)  # warm
            timings.append((min(_timed(writer, sql) for _ in range(2)), name))
        timings.sort(reverse=True)
        slowest, _ = timings[0]
        result.add("slowest dashboard query", slowest, "s", baseline=scan, goal="< 1 s")
        for rank, (seconds, name) in enumerate(timings[:5], 1):
            result.add(f"slow panel {rank}: {name}", seconds, "s", baseline=scan, goal="< 1 s")
        result.add("demo events loaded", loaded, "events")
        result.notes += "slowest panels: " + "; ".join(f"{n} {t:.2f}s" for t, n in timings[:5])
        writer.close()


def run() -> BenchResult:
    result = BenchResult(
        stage="funnels", baseline="per-user event count (decode, JSON state, encode)"
    )
    defs = five_funnels()
    records, owners, events = _records(USERS)
    _funnel_pass(defs, records[:2000], owners)  # warm up
    funnel_s = min(_funnel_pass(defs, records, owners) for _ in range(3))
    count_s = min(_count_pass(records) for _ in range(3))
    result.add(
        "funnel advancement (5 funnels + fission)",
        events / funnel_s,
        "events/s",
        baseline=events / count_s,
        goal="(5 funnels, 3 breakdowns: a stress set)",
    )
    shipped = funnels_of()
    _funnel_pass(shipped, records[:2000], owners)
    shipped_s = min(_funnel_pass(shipped, records, owners) for _ in range(3))
    result.add(
        "funnel advancement (shipped funnels.yaml: commerce + fission)",
        events / shipped_s,
        "events/s",
        baseline=events / count_s,
        goal=">= 20000",
    )
    result.add("records", len(records), "records")
    result.notes = f"{events} events in {len(records)} records of {USERS} users; "
    _dashboards(result)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "funnels.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result


if __name__ == "__main__":
    from bench.__main__ import _table

    outcome = run()
    print(_table([outcome]))
    print(outcome.notes)
