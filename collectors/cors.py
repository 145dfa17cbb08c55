"""CORS for browsers: preflight answers and credentialed responses.

Browser SDKs send with cookies (``withCredentials``) from pages on other origins, so
the answer names the origin (never ``*``) and allows credentials. Error answers carry
the headers too, so a page can read why it was refused.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CORSMiddleware"]

_METHODS = b"GET, POST, OPTIONS"
_DEFAULT_HEADERS = b"Content-Type, Content-Encoding, X-Siyu-Key"
_MAX_AGE = b"86400"


class CORSMiddleware:
    def __init__(self, app: ASGIApp, *, origins: str = "*") -> None:
        self.app = app
        allowed = {o.strip().rstrip("/") for o in origins.split(",") if o.strip()}
        self.any_origin = "*" in allowed
        self.allowed = {o.encode() for o in allowed}

    def _allowed(self, origin: bytes) -> bool:
        return self.any_origin or origin.rstrip(b"/") in self.allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = b""
        request_method = b""
        request_headers = b""
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                request_method = value
            elif name == b"access-control-request-headers":
                request_headers = value
        if not origin:
            await self.app(scope, receive, send)
            return
        allowed = self._allowed(origin)
        if scope["method"] == "OPTIONS" and request_method:
            headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
            if allowed:
                headers += [
                    (b"access-control-allow-origin", origin),
                    (b"access-control-allow-credentials", b"true"),
                    (b"access-control-allow-methods", _METHODS),
                    (b"access-control-allow-headers", request_headers or _DEFAULT_HEADERS),
                    (b"access-control-max-age", _MAX_AGE),
                ]
            await send(
                {
                    "type": "http.response.start",
                    "status": 204 if allowed else 403,
                    "headers": headers,
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        if not allowed:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", origin),
                    (b"access-control-allow-credentials", b"true"),
                    (
                        b"access-control-expose-headers",
                        b"X-Siyu-Accepted, X-Siyu-Rejected, Retry-After",
                    ),
                    (b"vary", b"Origin"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)
