"""The ``siyu`` command line: run the stack, send demo traffic, query, inspect."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from typing import Annotated

import typer

from siyu.qr_cli import qr_app
from siyu.settings import Settings

__all__ = ["app", "main"]

# No local variables in tracebacks: they can hold keys and personal data.
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help=__doc__,
    pretty_exceptions_show_locals=False,
)
app.add_typer(qr_app, name="qr")
logger = logging.getLogger("siyu")


def _setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # Offset probes open short-lived consumers; their INFO lines are noise.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _out(text: str = "") -> None:
    typer.echo(text)


@app.command()
def run() -> None:
    """Start the whole pipeline on the embedded stack; Ctrl-C drains and stops it."""
    from siyu.embedded import Stack, SupervisorError

    _setup_logging()
    settings = Settings()
    stack = Stack(settings)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        stack.start()
    except SupervisorError as exc:
        _out(f"siyu: could not start: {exc}")
        stack.stop()
        raise typer.Exit(1) from exc
    try:
        _banner(settings, stack.log_dir)
        while not stopping:
            stack.supervise_once()
            time.sleep(1)
    except SupervisorError as exc:
        _out(f"siyu: {exc}")
    finally:
        _out("stopping: collector, draining, workers, sink, broker …")
        drained = stack.stop()
        count = drained if drained is not None else "an unknown number of"
        _out(f"stopped; {count} events drained into ClickHouse")


def _banner(settings: Settings, log_dir: object) -> None:
    project, keys = next(iter(settings.projects.items()))
    write_key, read_key = keys.write_key.get_secret_value(), keys.read_key.get_secret_value()
    c, s, w = settings.collector, settings.sql, settings.worker
    _out("siyu is running (embedded stack)")
    _out(f"  broker     kafka://{settings.kafka.bootstrap}  (Tansu, in memory)")
    _out(f"  collector  http://{c.host}:{c.port}/v1/batch   write key: {write_key}")
    _out(f"  sql        http://{s.host}:{s.port}/?query=…      chDB at {settings.chdb_path}")
    lookup = settings.lookup
    _out(f"  lookup     http://{lookup.host}:{lookup.port}/v1/users/…  read key: {read_key}")
    _out(f"  sql auth   basic auth {project} / {read_key} (or X-Siyu-Key: {read_key})")
    if keys.admin_key is not None:
        admin_key = keys.admin_key.get_secret_value()
        _out(
            f"  admin      http://{lookup.host}:{lookup.port}/v1/segments, /v1/subscriptions  "
            f"admin key: {admin_key}"
        )
        _out(f"  privacy    DELETE …/v1/users/{{type}}/{{value}}  admin key: {admin_key}")
    _out(f"  overview   http://{s.host}:{s.port}/overview?key={read_key}")
    _out(
        f"  metrics    http://{c.host}:{c.port}/metrics, 127.0.0.1:{w.metrics_port}/metrics "
        f"(worker), 127.0.0.1:{settings.sink.metrics_port}/metrics (sink), "
        f"127.0.0.1:{settings.webhooks.metrics_port}/metrics (webhooks)"
    )
    callbacks = f"http://{c.host}:{c.port}/v1/wecom/callback?project={project}"
    _out(f"  wechat     {callbacks}, /v1/wxoa/callback?project={project}  (docs/wechat.md)")
    _out(f"  project    {project}")
    _out(f"  logs       {log_dir}")
    _out("Send demo traffic with `siyu demo` (or `make demo`), then `siyu status` or")
    _out('`siyu sql "SELECT event, count() FROM siyu.events GROUP BY event"`.')
    _out("Ctrl-C drains the pipeline and stops.")


@app.command()
def collector() -> None:
    """Run the HTTP collector (started by `siyu run`)."""
    from collectors.server import serve

    _setup_logging()
    serve(Settings())


@app.command()
def worker(index: Annotated[int, typer.Option(help="worker number on this host")] = 0) -> None:
    """Run one Faust stream worker (started by `siyu run`)."""
    from streams.worker import run_worker

    _setup_logging()
    run_worker(Settings(), index=index)


@app.command()
def sink() -> None:
    """Run the ClickHouse sink and, embedded, the SQL endpoint (started by `siyu run`)."""
    from sinks.main import serve

    _setup_logging()
    asyncio.run(serve(Settings()))


@app.command()
def lookup() -> None:
    """Run the lookup API (started by `siyu run`)."""
    from lookup.server import serve

    _setup_logging()
    serve(Settings())


@app.command()
def webhooks() -> None:
    """Run the webhook delivery process (started by `siyu run`)."""
    from webhooks.service import serve

    _setup_logging()
    asyncio.run(serve(Settings()))


@app.command()
def topics() -> None:
    """Create every siyu topic with its final partition count."""
    from siyu.topics import ensure_topics

    _setup_logging()
    created = asyncio.run(ensure_topics(Settings().kafka))
    _out("created: " + (", ".join(created) or "nothing, all exist"))


@app.command()
def sql(
    query: str,
    fmt: Annotated[str, typer.Option("--format", help="output format")] = "PrettyCompact",
) -> None:
    """Run a read-only query against the running stack (or the configured ClickHouse)."""
    from siyu.inspect import SqlError, run_sql

    try:
        _out(run_sql(Settings(), query, fmt).rstrip("\n"))
    except SqlError as exc:
        _out(f"siyu sql: {exc}")
        raise typer.Exit(1) from exc


@app.command()
def forget(
    id_type: str,
    id_value: str,
    project: Annotated[str, typer.Option(help="project (default: the first one)")] = "",
) -> None:
    """Forget one person everywhere (privacy request); prints the request id."""
    import httpx

    settings = Settings()
    name = project or next(iter(settings.projects))
    found = settings.projects.get(name)
    if found is None or found.admin_key is None:
        _out(f"siyu forget: project {name!r} has no admin key")
        raise typer.Exit(1)
    lookup = settings.lookup
    try:
        answer = httpx.delete(
            f"http://{lookup.host}:{lookup.port}/v1/users/{id_type}/{id_value}",
            headers={"X-Siyu-Key": found.admin_key.get_secret_value()},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        _out(f"siyu forget: cannot reach the lookup API ({type(exc).__name__}); is it up?")
        raise typer.Exit(1) from exc
    if answer.status_code != 202:
        _out(f"siyu forget: {answer.status_code} {answer.text.strip()}")
        raise typer.Exit(1)
    _out(f"forget request {answer.json()['request_id']} accepted")


@app.command()
def status() -> None:
    """Rows per table, consumer progress and errors of the running stack."""
    from siyu.inspect import SqlError, status_report

    try:
        _out(status_report(Settings()))
    except SqlError as exc:
        _out(f"siyu status: {exc}")
        raise typer.Exit(1) from exc


@app.command()
def demo(
    users: Annotated[int, typer.Option(help="synthetic users")] = 200,
    days: Annotated[int, typer.Option(help="days of history to spread them over")] = 3,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same traffic)")] = 7,
    webhooks: Annotated[
        bool, typer.Option(help="print segment webhooks received by a local receiver")
    ] = True,
    watch: Annotated[float, typer.Option(help="seconds to wait for webhooks at most")] = 30.0,
) -> None:
    """Send realistic synthetic mini-program + H5 traffic to the running collector."""
    from contextlib import nullcontext

    from siyu.demo import send_demo
    from siyu.demo_webhooks import wait_quiet, watching_segments

    _setup_logging("WARNING")
    settings = Settings()
    receiving = watching_segments(settings, _out) if webhooks else nullcontext()
    with receiving as receiver:
        report = send_demo(settings, users=users, days=days, seed=seed)
        if receiver is not None:
            _out(f"waiting up to {watch:.0f}s for segment webhooks …")
            wait_quiet(receiver, at_most=watch)
            _out(f"{len(receiver.received)} webhooks received")
    _out(
        f"sent {report.events} events for {report.users} users in {report.requests} requests "
        f"({report.seconds:.2f}s, {report.events / max(report.seconds, 1e-9):,.0f} events/s); "
        f"accepted {report.accepted}, rejected {report.rejected}"
    )
    _out('Try: siyu sql "SELECT event, count() FROM siyu.events GROUP BY event ORDER BY 2 DESC"')


@app.command("funnel-sql")
def funnel_sql(
    name: str,
    breakdown: Annotated[bool, typer.Option(help="per breakdown value")] = False,
    source: Annotated[str, typer.Option(help="events relation")] = "siyu.events_current",
    project: Annotated[str, typer.Option(help="project whose timezone makes the days")] = "default",
) -> None:
    """Print the windowFunnel query that must equal a funnel's live counts."""
    from streams.domain.funnel_sql import window_funnel_sql
    from streams.funnel_config import load_funnels
    from streams.zones import DEFAULT_ZONE, utc_offset_s

    settings = Settings()
    chosen = settings.projects.get(project)
    zone = chosen.timezone if chosen is not None else DEFAULT_ZONE
    defs = load_funnels(settings.worker.funnels_file).in_zone(utc_offset_s(zone))
    funnel = next((f for f in defs.funnels if f.name == name), None)
    if funnel is None:
        _out(f"siyu funnel-sql: no funnel {name!r} ({', '.join(f.name for f in defs.funnels)})")
        raise typer.Exit(1)
    _out(window_funnel_sql(funnel, source=source, breakdown=breakdown, fission=defs.fission))


@app.command("replay-dead-letters")
def replay_dead_letters(
    project: Annotated[str | None, typer.Option(help="only this project")] = None,
    reason: Annotated[str | None, typer.Option(help="only reasons containing this text")] = None,
    route: Annotated[str | None, typer.Option(help="only this route, e.g. /v1/batch")] = None,
    since: Annotated[str | None, typer.Option(help="only those received after (UTC)")] = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 10_000,
    collector: Annotated[str | None, typer.Option(help="collector base URL")] = None,
    dry_run: Annotated[bool, typer.Option(help="count what would be sent")] = False,
) -> None:
    """Send dead letters (siyu.dead_letters) through the collector again, after a fix."""
    from collectors.replay import replay_dead_letters as replay
    from siyu.inspect import SqlError

    _setup_logging("WARNING")
    settings = Settings()
    url = collector or f"http://{settings.collector.host}:{settings.collector.port}"
    try:
        done = replay(
            settings,
            collector_url=url,
            project=project,
            reason=reason,
            route=route,
            since=since,
            limit=limit,
            dry_run=dry_run,
        )
    except SqlError as exc:
        _out(f"siyu replay-dead-letters: {exc}")
        raise typer.Exit(1) from exc
    _out(
        f"selected {done.selected}, accepted {done.accepted}, still rejected {done.rejected}, "
        f"skipped {done.skipped}, failed {done.failed}"
    )
    for code, n in done.reasons.most_common(10):
        _out(f"  still rejected: {code} x{n}")
    if done.last_received_at:
        _out(f"next time: --since '{done.last_received_at}'")
    if done.failed:
        raise typer.Exit(1)


def main() -> None:
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    try:
        app()
    except (ValidationError, SettingsError) as exc:
        # One line per problem, without the values given (they may be keys): no traceback.
        sys.stderr.write(f"siyu: invalid settings: {exc}\n")
        raise SystemExit(2) from None
