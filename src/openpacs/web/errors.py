"""One error shape for every face: HTTP status, one-line reason header, JSON body."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response


class HttpError(Exception):
    """Raised by handlers and services' adapters; rendered by the app's exception handler."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


def ascii_reason(reason: str) -> str:
    """Header-safe: one line, ASCII only."""
    flat = " ".join(reason.split())
    return flat.encode("ascii", "replace").decode("ascii")[:500]


def error_response(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    line = ascii_reason(reason)
    all_headers = {"X-Error-Reason": line, **(headers or {})}
    return JSONResponse({"Error": line, "Status": status}, status_code=status, headers=all_headers)
