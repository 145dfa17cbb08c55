"""Per-request enrichment: client IP (trusted proxies only), user agent, region.

The result is the event's ``enrichment`` map (Avro ``EventBatch`` v2): ``os``,
``os_version``, ``browser``, ``browser_version``, ``device``, ``region`` and, when the
region answer has ip2region's 5-field layout, ``country``, ``province``, ``city``, ``isp``.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from ua_parser import parse as parse_ua

__all__ = ["Enricher", "client_ip", "parse_networks"]

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` → networks; raises ValueError on a bad entry."""
    return tuple(
        ipaddress.ip_network(p.strip(), strict=False) for p in spec.split(",") if p.strip()
    )


def _trusted(ip: str, networks: Iterable[Network]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in net for net in networks)


def client_ip(peer: str, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The client address: ``X-Forwarded-For`` is read only when the peer is a trusted proxy.

    Walks the header right to left, skipping trusted proxies; the first untrusted hop is
    the client (a client cannot forge hops to the right of what it sent).
    """
    if not trusted or not forwarded_for or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return hops[0] if hops else peer


@lru_cache(maxsize=4096)
def _user_agent(ua: str) -> tuple[tuple[str, str], ...]:
    if not ua:
        return ()
    result = parse_ua(ua[:1024])
    out: dict[str, str] = {}
    if result.user_agent is not None:
        out["browser"] = result.user_agent.family
        version = ".".join(v for v in (result.user_agent.major, result.user_agent.minor) if v)
        if version:
            out["browser_version"] = version
    if result.os is not None:
        out["os"] = result.os.family
        version = ".".join(v for v in (result.os.major, result.os.minor) if v)
        if version:
            out["os_version"] = version
    if result.device is not None:
        out["device"] = result.device.family
        if result.device.brand:
            out["device_brand"] = result.device.brand
    return tuple(out.items())


def _region_fields(answer: str) -> dict[str, str]:
    out = {"region": answer}
    parts = answer.split("|")
    if len(parts) == 5:  # ip2region 2.x data: country|area|province|city|isp, "0" = unknown
        for name, value in zip(("country", "", "province", "city", "isp"), parts, strict=True):
            if name and value and value != "0":
                out[name] = value
    return out


class Enricher:
    """Built once per process; ``enrich(peer, forwarded_for, user_agent)`` per request."""

    def __init__(self, *, trusted_proxies: str = "", ip2region_db: Path | None = None) -> None:
        self.trusted = parse_networks(trusted_proxies)
        self._searchers: dict[int, Any] = {}
        if ip2region_db is not None:
            self._load_region_db(ip2region_db)

    def _load_region_db(self, path: Path) -> None:
        if not path.is_file():
            logger.warning("ip2region data file %s not found: no region enrichment", path)
            return
        from ip2region import searcher as xdb_searcher
        from ip2region import util as xdb_util

        content = path.read_bytes()
        header = xdb_util.Header(content[: xdb_util.HeaderInfoLength])
        version = xdb_util.version_from_header(header)
        if version is None:
            logger.warning("ip2region data file %s has an unknown IP version", path)
            return
        self._searchers[version.byte_num] = xdb_searcher.new_with_buffer(version, content)
        logger.info("region enrichment from %s (%s)", path, version.name)
        self._region = lru_cache(maxsize=65536)(self._lookup)

    def _lookup(self, ip: str) -> tuple[tuple[str, str], ...]:
        try:
            packed = ipaddress.ip_address(ip).packed
        except ValueError:
            return ()
        searcher = self._searchers.get(len(packed))
        if searcher is None:
            return ()
        try:
            answer = searcher.search(packed)
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            logger.debug("region lookup of %s failed: %s", ip, exc)
            return ()
        return tuple(_region_fields(answer).items()) if answer else ()

    def ip(self, peer: str, forwarded_for: str | None) -> str:
        return client_ip(peer, forwarded_for, self.trusted)

    def enrich(self, ip: str, user_agent: str) -> dict[str, str]:
        out = dict(_user_agent(user_agent))
        if self._searchers and ip:
            out.update(self._region(ip))
        return out
