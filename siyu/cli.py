"""siyu: run the embedded tracking pipeline, send demo traffic, query and inspect it."""

from __future__ import annotations

import asyncio
import logging
import sys
from importlib.metadata import version
from typing import Annotated

import httpx
import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError as EnvParseError

from siyu.exceptions import TrackingError
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
    from siyu.logsetup import configure

    configure(Settings().log, default_level=level)


def _out(text: str = "") -> None:
    typer.echo(text)


def _err(text: str) -> None:
    typer.echo(text, err=True)


def _version(value: bool) -> None:
    if value:
        _out(f"siyu {version('siyu')}")
        raise typer.Exit


@app.callback()
def _options(
    _: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
    log_level: Annotated[
        str | None,
        typer.Option(help="DEBUG, INFO, WARNING or ERROR, for this and every started process"),
    ] = None,
    log_format: Annotated[
        str | None, typer.Option(help="text or json (one JSON object per line)")
    ] = None,
) -> None:
    """siyu: run the embedded tracking pipeline, send demo traffic, query and inspect it."""
    from siyu.logsetup import apply_options

    apply_options(level=log_level, fmt=log_format)


@app.command()
def run() -> None:
    """Start the whole pipeline on the embedded stack; Ctrl-C drains and stops it."""
    from siyu.supervise import run_stack

    _setup_logging()
    code = run_stack(Settings())
    if code:
        raise typer.Exit(code)


@app.command()
def logs(
    part: Annotated[
        str | None, typer.Argument(help="broker, sink, lookup, worker-0, collector; all if unset")
    ] = None,
    follow: Annotated[bool, typer.Option(help="keep printing new lines")] = True,
    lines: Annotated[int, typer.Option(help="earlier lines to show first")] = 20,
) -> None:
    """Show and follow the logs of the processes `siyu run` started."""
    from siyu.logview import LogViewError, follow_logs

    try:
        follow_logs(Settings().data_dir / "logs", part, follow=follow, lines=lines)
    except LogViewError as exc:
        _err(f"siyu logs: {exc}")
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        pass


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
    from aiokafka.errors import KafkaError

    from siyu.topics import ensure_topics

    _setup_logging()
    kafka = Settings().kafka
    try:
        created = asyncio.run(ensure_topics(kafka))
    except (KafkaError, OSError) as exc:
        _err(f"siyu topics: cannot reach Kafka at {kafka.bootstrap}: {exc}")
        raise typer.Exit(1) from exc
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
        _err(f"siyu sql: {exc}")
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
        _err(f"siyu status: {exc}")
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
    try:
        with receiving as receiver:
            report = send_demo(settings, users=users, days=days, seed=seed)
            if receiver is not None:
                _out(f"waiting up to {watch:.0f}s for segment webhooks …")
                wait_quiet(receiver, at_most=watch)
                _out(f"{len(receiver.received)} webhooks received")
    except httpx.TransportError as exc:
        url = exc.request.url
        part = "collector" if url.port == settings.collector.port else "lookup API"
        _err(
            f"siyu demo: the {part} is not reachable at {url.scheme}://{url.host}:{url.port} "
            f"({type(exc).__name__}); start the stack with `make run` first"
        )
        raise typer.Exit(1) from exc
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
    from streams.funnel_config import funnels_of
    from streams.zones import DEFAULT_ZONE, utc_offset_s

    settings = Settings()
    chosen = settings.projects.get(project)
    zone = chosen.timezone if chosen is not None else DEFAULT_ZONE
    defs = funnels_of(settings.worker.funnels_file, settings.tags.file)
    defs = defs.in_zone(utc_offset_s(zone))
    funnel = next((f for f in defs.funnels if f.name == name), None)
    if funnel is None:
        _err(f"siyu funnel-sql: no funnel {name!r} ({', '.join(f.name for f in defs.funnels)})")
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
        _err(f"siyu replay-dead-letters: {exc}")
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
    """Entry point: settings errors and siyu's own errors as short lines on stderr."""
    from siyu.settings_env import all_problems, problems

    try:
        app()
    except (ValidationError, EnvParseError) as exc:
        _err("siyu: invalid settings:")
        for line in all_problems() or problems(exc):
            _err(f"  {line}")
        sys.exit(2)
    except TrackingError as exc:
        _err(f"siyu: {exc}")
        sys.exit(1)
