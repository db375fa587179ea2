"""One error shape for every face: HTTP status, one-line reason header, JSON body.

Services raise :class:`~openpacs.services.errors.ServiceError` subclasses that say what
went wrong; :data:`STATUS_BY_ERROR` is the one place that says which HTTP status each
one is. Handlers raise :class:`HttpError` only for what is HTTP's own business
(negotiation, media types, malformed requests).
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from openpacs.protocol.header_text import header_text
from openpacs.services.errors import (
    BadRequest,
    CannotDecode,
    Conflict,
    Forbidden,
    Gone,
    NotAcceptable,
    NotFound,
    ServiceError,
    StoredFileError,
    TooLarge,
)


class HttpError(Exception):
    """Raised by handlers; rendered by the app's exception handler."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


#: The HTTP status of each service error; a subclass without a row takes its parent's.
STATUS_BY_ERROR: dict[type[ServiceError], int] = {
    ServiceError: 400,
    BadRequest: 400,
    Forbidden: 403,
    NotFound: 404,
    NotAcceptable: 406,
    Conflict: 409,
    Gone: 410,
    TooLarge: 413,
    StoredFileError: 500,
    # Stored pixel data no codec can decode: the image cannot be produced, the server
    # is working as it should (never a 500).
    CannotDecode: 422,
}


def status_of(error: ServiceError) -> int:
    """The HTTP status for ``error``: its class's row, else the nearest ancestor's."""
    for cls in type(error).__mro__:
        status = STATUS_BY_ERROR.get(cls)
        if status is not None:
            return status
    return 400  # pragma: no cover - ServiceError itself has a row


def ascii_reason(reason: str) -> str:
    """Header-safe: one line of printable ASCII (control characters escaped: a NUL in a
    header would make the server drop the connection instead of answering)."""
    return header_text(reason, non_ascii="replace")[:500]


def error_response(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    line = ascii_reason(reason)
    all_headers = {"X-Error-Reason": line, **(headers or {})}
    return JSONResponse({"Error": line, "Status": status}, status_code=status, headers=all_headers)


def service_error_response(error: ServiceError) -> Response:
    """The response for a service error (the status from :data:`STATUS_BY_ERROR`)."""
    return error_response(status_of(error), error.reason)
