"""Errors services raise. They name what went wrong, not how a face reports it: the HTTP
status of each class is chosen in ``web/errors.py``, the CLI prints the reason."""

from __future__ import annotations


class ServiceError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequest(ServiceError):
    """The request itself is wrong (a malformed value, a missing parameter)."""


class Forbidden(ServiceError):
    """The caller is known but may not do this (e.g. a read-only share)."""


class NotFound(ServiceError):
    """Also used for other accounts' objects: their existence is never revealed."""


class Conflict(ServiceError):
    """The request contradicts what is stored."""


class TooLarge(ServiceError):
    """The request is larger than a configured limit (bytes, parts); the reason says which."""


class Gone(ServiceError):
    """It existed but no longer may be used (an expired share)."""


class NotAcceptable(ServiceError):
    """Nothing the caller accepts can be produced (e.g. a transfer syntax an instance
    cannot be converted to, an image that cannot be rendered)."""


class StoredFileError(ServiceError):
    """The index points at a stored file that is missing or damaged: our fault, not the
    caller's; a response being streamed is cut off rather than completed wrongly."""

    def __init__(self, sop_uid: str, problem: str = "missing") -> None:
        super().__init__(f"stored file for instance {sop_uid} is {problem}")
        self.sop_uid = sop_uid


class CannotDecode(ServiceError):
    """A stored image cannot be decoded (no codec for it, or its data is bad)."""
