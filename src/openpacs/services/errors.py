"""Errors services raise; each face (HTTP, CLI) maps them to its own status."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequest(ServiceError):
    status = 400


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    """Also used for other accounts' objects: their existence is never revealed."""

    status = 404


class Conflict(ServiceError):
    status = 409


class Gone(ServiceError):
    status = 410
