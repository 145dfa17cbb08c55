"""The one error shape of every siyu HTTP endpoint (collector, lookup API, SQL endpoint).

``{"error": {"code": "<snake_case>", "message": "<human text>"}}`` with the HTTP status
that fits. ``code`` is stable and meant for programs; ``message`` is for people and may
change.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["EXCEPTION_HANDLERS", "error_body", "error_response"]

# Codes of the errors Starlette raises itself (unknown path, wrong method).
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
}


def error_body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


def error_response(
    code: str, message: str, status: int, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        error_body(code, message),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


async def _http_exception(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for this type only
    code = _STATUS_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return error_response(code, str(exc.detail), exc.status_code, exc.headers)


EXCEPTION_HANDLERS = {HTTPException: _http_exception}
