"""A lean view of one ASGI HTTP request, and answers, for the ingestion hot path.

The ingestion routes are plain ASGI callables: building Starlette's ``Request``,
``Headers`` and ``QueryParams`` objects per request cost more than parsing a
single-event beacon (docs/collector.md has the figures).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from collectors.exceptions import BadBody

__all__ = ["Incoming", "send_answer"]


class Incoming:
    """Headers (lower-case names, latin-1 text), lazily parsed query, and the body."""

    __slots__ = ("_query", "headers", "method", "path", "peer", "query_string", "scope")

    def __init__(self, scope: MutableMapping[str, Any]) -> None:
        self.scope = scope
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.query_string: bytes = scope.get("query_string", b"")
        client = scope.get("client")
        self.peer: str = client[0] if client else ""
        self._query: dict[str, str] | None = None

    @property
    def query(self) -> dict[str, str]:
        """Query parameters, first value of each name wins."""
        if self._query is None:
            query: dict[str, str] = {}
            if self.query_string:
                text = self.query_string.decode("latin-1")
                for name, value in parse_qsl(text, keep_blank_values=True, errors="replace"):
                    query.setdefault(name, value)
            self._query = query
        return self._query

    async def body(self, receive: Any, limit: int) -> bytes:
        declared = self.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise BadBody(f"body larger than {limit} bytes", status=413, code="too_large")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BadBody("client disconnected before the body was complete", code="aborted")
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise BadBody(f"body larger than {limit} bytes", status=413, code="too_large")
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_answer(
    send: Any, status: int, body: bytes, content_type: bytes, headers: dict[str, str] | None = None
) -> None:
    raw = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if headers:
        raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
