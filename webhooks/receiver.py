"""A minimal local webhook receiver: verifies signatures and keeps what it received.

Used by ``siyu demo`` (it prints deliveries as demo users enter segments), the benchmark
and the tests. Runs a threaded HTTP server on 127.0.0.1; ``answers`` lets a caller make
it refuse or fail some requests (to see retries and dead letters).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

__all__ = ["Delivery", "LocalReceiver"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    path: str
    body: dict[str, Any]
    raw: bytes
    headers: dict[str, str]
    signature_ok: bool
    received_at: float
    status: int = 200


@dataclass
class LocalReceiver:
    """``answer(path, body) -> (status, headers)`` decides each response (default 200)."""

    secret: str
    port: int
    answer: Callable[[str, dict[str, Any]], tuple[int, dict[str, str]]] | None = None
    on_delivery: Callable[[Delivery], None] | None = None
    received: list[Delivery] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = orjson.loads(raw)
                ok = verify(
                    receiver.secret,
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    raw,
                    self.headers.get(SIGNATURE_HEADER, ""),
                )
                status, extra = 200, dict[str, str]()
                if receiver.answer is not None:
                    status, extra = receiver.answer(self.path, body)
                delivery = Delivery(
                    self.path, body, raw, dict(self.headers.items()), ok, time.time(), status
                )
                with receiver._lock:
                    receiver.received.append(delivery)
                if receiver.on_delivery is not None:
                    receiver.on_delivery(delivery)
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug(format, *args)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def bodies(self, predicate: Callable[[dict[str, Any]], bool]) -> list[Delivery]:
        with self._lock:
            return [d for d in self.received if predicate(d.body)]
