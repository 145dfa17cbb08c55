"""Which URLs a subscription may deliver to: http(s) only, never siyu's own listeners.

A target pointing at the collector would feed deliveries back in as events (a loop); one
pointing at the lookup API, the SQL endpoint or a metrics port would make siyu call
itself. Host names are resolved, so ``localhost`` or a name for 127.0.0.1 is caught too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import httpx

from siyu.settings import Settings

__all__ = ["own_listeners", "target_problem"]

Listener = tuple[str, int]


def own_listeners(settings: Settings) -> set[Listener]:
    """(host, port) of every listener of the stack."""
    s = settings
    out = {
        (s.collector.host, s.collector.port),
        (s.lookup.host, s.lookup.port),
        (s.sql.host, s.sql.port),
        ("127.0.0.1", s.sink.metrics_port),
        ("127.0.0.1", s.webhooks.metrics_port),
    }
    out |= {("127.0.0.1", s.worker.metrics_port + i) for i in range(s.worker.count)}
    for server in s.kafka.bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        if port.isdigit():
            out.add((host, int(port)))
    return out


def _addresses(host: str) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return {ipaddress.ip_address(host.strip("[]"))}
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return set()
    return {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}


def _local(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return addr.is_loopback or addr.is_unspecified


def target_problem(url: str, listeners: Iterable[Listener]) -> str | None:
    """Why ``url`` cannot be a webhook target (None: it can). Resolves host names."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        return f"not a URL: {exc}"
    if parsed.scheme not in ("http", "https"):
        return "the target must be an http(s) URL"
    if not parsed.host:
        return "the target has no host"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    mine = _addresses(parsed.host)
    for host, own_port in listeners:
        if own_port != port:
            continue
        theirs = _addresses(host)
        if mine & theirs or (any(map(_local, mine)) and (any(map(_local, theirs)) or not theirs)):
            return "the target points at siyu itself"
    return None
