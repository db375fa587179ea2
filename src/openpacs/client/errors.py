"""Typed errors of the SDK: each carries the HTTP status and the server's one-line reason.

The server puts its reason in the ``X-Error-Reason`` header (and the same text in a JSON
body ``{"Error": ...}``); other DICOMweb servers often only answer with a status, so the
message falls back to the standard phrase of the status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ConnectionFailed",
    "IncompleteResponse",
    "NoDicomFilesError",
    "NotFoundError",
    "PacsError",
    "PermissionDenied",
    "ServerError",
    "error_for_response",
]


class PacsError(Exception):
    """Base of every error the SDK raises for a failed call.

    ``status`` is the HTTP status (None when no answer arrived), ``reason`` the server's
    ``X-Error-Reason`` text (or the best substitute), ``url`` the address called.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str = "",
        url: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason or message
        self.url = url

    def __str__(self) -> str:
        return self.message


class BadRequestError(PacsError):
    """400: a parameter is missing or malformed (the reason names it)."""


class AuthenticationError(PacsError):
    """401: wrong user name or password."""


class PermissionDenied(PacsError):
    """403: the user may not do this (for example DICOMweb is off for the account)."""


class NotFoundError(PacsError):
    """404: no such study, series, instance, order, folder, share... (or wrong URL)."""


class ConflictError(PacsError):
    """409: the request conflicts with what is stored (STOW: no instance was stored)."""


class ServerError(PacsError):
    """5xx: the server failed; retrying later may help."""


class ConnectionFailed(PacsError):
    """No HTTP answer: the server is unreachable, refused the connection or timed out."""


class IncompleteResponse(PacsError):
    """The answer stopped before its end; ``files`` are the complete files kept."""

    def __init__(self, message: str, *, files: list[Path] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.files: list[Path] = list(files or [])


class NoDicomFilesError(ValueError):
    """A folder given to upload contains no DICOM files."""


_BY_STATUS: dict[int, type[PacsError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFoundError,
    409: ConflictError,
}


def reason_from_response(headers: Mapping[str, str], body: bytes) -> str:
    """The server's reason: ``X-Error-Reason``, else a JSON ``Error``/``Message``, else ""."""
    reason = ""
    for name, value in headers.items():
        if name.lower() == "x-error-reason":
            reason = value.strip()
            break
    if reason:
        return reason
    if body and body.lstrip()[:1] == b"{":
        try:
            data = json.loads(body[:65536])
        except ValueError:
            return ""
        if isinstance(data, dict):
            for key in ("Error", "error", "Message", "message", "detail"):
                text = data.get(key)
                if isinstance(text, str) and text.strip():
                    return " ".join(text.split())[:500]
    return ""


def error_for_response(
    status: int, headers: Mapping[str, str], body: bytes, *, url: str = ""
) -> PacsError:
    """The typed error for an unsuccessful HTTP answer."""
    reason = reason_from_response(headers, body)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    message = f"{status} {phrase}" + (f": {reason}" if reason else "")
    if status >= 500:
        cls: type[PacsError] = ServerError
    else:
        cls = _BY_STATUS.get(status, PacsError)
    return cls(message, status=status, reason=reason or phrase, url=url)
