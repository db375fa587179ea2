"""How the SDK signs in: HTTP Basic (user name and password, or an API token as the
password), or an API token alone as ``Authorization: Bearer``."""

from __future__ import annotations

from collections.abc import Generator

import httpx


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` on every request (RFC 6750)."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


def credentials(username: str, password: str, token: str | None) -> httpx.Auth:
    """Basic with ``username``/``password``, or Bearer with ``token`` (not both)."""
    if token is not None:
        if username or password:
            raise ValueError("give either a user name and password or a token, not both")
        if not token.strip():
            raise ValueError("the token is empty")
        return BearerAuth(token.strip())
    return httpx.BasicAuth(username, password)
