"""Who may use a share link: opening it, the password session cookie, Basic passwords.

The ``ShareAccess`` (secret, rate limiter, password cache) is made on first use and kept
on ``app.state.share_access``: one per application, like the user authenticator.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import anyio
from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.responses import Response

from openpacs.protocol.basic_auth import basic_credentials
from openpacs.services.share_access import OpenShare, PasswordCheck, ShareAccess, open_share
from openpacs.settings import Settings
from openpacs.web.context import AppContext

COOKIE_NAME = "openpacs_share"


def share_access(app: Starlette) -> ShareAccess:
    access: ShareAccess | None = getattr(app.state, "share_access", None)
    if access is None:
        ctx: AppContext = app.state.ctx
        access = ShareAccess.for_data_dir(ctx.settings.data_dir)
        app.state.share_access = access
    return access


def url_path_prefix(settings: Settings) -> str:
    """The path part of the public URL ("" or e.g. "/pacs" behind a reverse proxy)."""
    return urlsplit(settings.effective_public_url).path.rstrip("/")


def share_path(settings: Settings, token: str) -> str:
    """The path of a share's page, as the browser sees it (links, cookie path)."""
    return f"{url_path_prefix(settings)}/share/{token}"


def share_dicomweb_base(settings: Settings, token: str) -> str:
    return f"{settings.effective_public_url}/share/{token}/dicomweb"


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


async def resolve(ctx: AppContext, token: str) -> OpenShare:
    """The open share of ``token`` (NotFound / Gone raised as service errors)."""

    def run() -> OpenShare:
        with ctx.db.session() as session:
            return open_share(session, token, ctx.settings.timezone)

    return await anyio.to_thread.run_sync(run)


def session_cookies(conn: HTTPConnection) -> list[str]:
    """Every value of our cookie in the request (a browser may send more than one)."""
    values: list[str] = []
    for header in conn.headers.getlist("cookie"):
        for item in header.split(";"):
            name, sep, value = item.strip().partition("=")
            if sep and name == COOKIE_NAME:
                values.append(value.strip().strip('"'))
    return values


def has_session(conn: HTTPConnection, access: ShareAccess, share: OpenShare) -> bool:
    return not share.has_password or access.session_valid(share, session_cookies(conn))


def basic_password(conn: HTTPConnection) -> str | None:
    """The password of HTTP Basic credentials (any user name), or None."""
    credentials = basic_credentials(conn.headers.get("authorization", ""))
    return None if credentials is None else credentials[1]


async def check_password(
    access: ShareAccess, share: OpenShare, password: str, client: str
) -> PasswordCheck:
    return await anyio.to_thread.run_sync(access.check_password, share, password, client)


def set_session_cookie(
    response: Response, settings: Settings, token: str, access: ShareAccess, share: OpenShare
) -> None:
    value, max_age = access.new_session(share)
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=max_age,
        path=share_path(settings, token),
        secure=settings.effective_public_url.startswith("https:"),
        httponly=True,
        samesite="lax",
    )
