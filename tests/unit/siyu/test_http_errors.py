"""Collector errors in the one shape; `siyu sql` refuses a server that is not siyu's."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from collectors.app import build_app
from siyu.settings import Settings
from tests.fakes import InMemoryProducer


class _Client:
    """Requests to an ASGI app in process, no server."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.request(method, url, **kwargs)

        return asyncio.run(call())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


def _shape(body: bytes) -> dict[str, str]:
    doc = orjson.loads(body)
    assert list(doc) == ["error"]
    assert set(doc["error"]) == {"code", "message"}
    return doc["error"]  # type: ignore[no-any-return]


def test_collector_errors_outside_the_ingest_routes(tmp_path: Path) -> None:
    app = build_app(Settings(data_dir=tmp_path), InMemoryProducer())
    with _Client(app) as client:
        missing = client.get("/v2/nothing")
        wrong_method = client.post("/healthz")
        unauthorized = client.post("/v1/batch", content=b"[]")
    assert (missing.status_code, _shape(missing.content)["code"]) == (404, "not_found")
    assert _shape(wrong_method.content)["code"] == "method_not_allowed"
    assert wrong_method.status_code == 405
    assert _shape(unauthorized.content)["code"] == "unauthorized"


def test_siyu_sql_refuses_another_server_on_its_port(tmp_path: Path) -> None:
    """A ClickHouse on the SQL port answers 200 to everything; siyu sql must not trust it."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from siyu.inspect import SqlError, run_sql
    from siyu.ports import free_port
    from siyu.settings import SqlSettings

    class ClickHouseLike(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("X-ClickHouse-Server-Display-Name", "ch1")
            self.end_headers()
            self.wfile.write(b"1\n")

        def log_message(self, *_: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", free_port()), ClickHouseLike)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = Settings(data_dir=tmp_path, sql=SqlSettings(port=server.server_port))
        with pytest.raises(SqlError, match="not siyu's SQL endpoint \\(a ClickHouse server"):
            run_sql(settings, "SELECT 1")
    finally:
        server.shutdown()
        server.server_close()
