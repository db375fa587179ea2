"""The frame of every page of the web application: head, navigation bar, notices.

Pages are plain functions from data to HTML strings; every data value goes through
:func:`h` (or :func:`u` in URL paths). The Content-Security-Policy allows scripts and
styles only from this server's own files (``/static/``): no inline script or style at
all, so even an escaping mistake could not run anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import HTMLResponse

from openpacs.services.permissions import Action, Grant, grant_of
from openpacs.services.principal import Principal
from openpacs.web.share.html import h, u
from openpacs.web.ui.static import static_url

__all__ = ["Frame", "h", "page", "u", "values"]

CSP = (
    "default-src 'none'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
BRAND = '<span class="brand">open<span>pacs</span></span>'


@dataclass(frozen=True)
class Frame:
    """What the frame of a page needs: who is signed in, the CSRF token for its forms,
    the URL path prefix (behind a proxy), and which navigation entry is current."""

    who: Principal | None
    csrf: str = ""
    prefix: str = ""
    current: str = ""
    #: Where a study opens in OHIF (``study_viewer_path`` of the request), or None
    #: when the viewer is off or not installed: the pages then keep the built-in viewer.
    ohif: Callable[[str], str | None] | None = None

    def url(self, path: str) -> str:
        """An escaped URL path of this server (``path`` must be made of safe parts)."""
        return h(self.prefix + path)

    def ohif_link(self, study_uid: str) -> str | None:
        """The escaped URL that opens ``study_uid`` in OHIF, or None without OHIF."""
        path = self.ohif(study_uid) if self.ohif is not None else None
        return None if path is None else self.url(path)

    def csrf_field(self) -> str:
        return f'<input type="hidden" name="csrf_token" value="{h(self.csrf)}">'

    def may(self, action: Action) -> bool:
        return self.who is not None and grant_of(self.who, action) is not Grant.NONE

    @property
    def may_write(self) -> bool:
        return self.may(Action.WRITE)

    @property
    def is_admin(self) -> bool:
        return self.who is not None and self.who.is_admin


def _nav(frame: Frame) -> str:
    if frame.who is None:
        return f'<header class="bar">{BRAND}</header>'
    entries = [("orders", "/orders", "Orders", True)]
    entries.append(("upload", "/upload", "Upload", frame.may(Action.WRITE)))
    entries.append(("new-order", "/orders/new", "New order", frame.may(Action.WRITE)))
    entries.append(("folders", "/folders", "Folders", True))
    entries.append(("shares", "/shares", "Shares", frame.may(Action.REVOKE_SHARE)))
    entries.append(("admin", "/admin/users", "Administration", frame.is_admin))
    links = "".join(
        f'<a href="{frame.url(path)}" id="nav-{key}"'
        f"{' class=current aria-current=page' if key == frame.current else ''}>{label}</a>"
        for key, path, label, shown in entries
        if shown
    )
    user = (
        '<div class="user">'
        f'<a href="{frame.url("/account/password")}" id="nav-account" '
        f'title="Change your password">{h(frame.who.email or "")}</a>'
        f'<form method="post" action="{frame.url("/signout")}" class="inline">'
        f'{frame.csrf_field()}<button type="submit" class="link" id="sign-out">Sign out</button>'
        "</form></div>"
    )
    return (
        f'<header class="bar"><a class="brand-link" href="{frame.url("/orders")}">{BRAND}</a>'
        f'<nav class="nav" aria-label="Main">{links}</nav>{user}</header>'
    )


def values(text: str) -> str:
    """A DICOM value as people read it: the values of a multi-valued attribute
    (``A\\B``) separated by commas."""
    return ", ".join(part.strip() for part in text.split("\\") if part.strip())


def notice(message: str, kind: str = "ok") -> str:
    """A message box above a page's content (``ok`` or ``error``); plain text."""
    if not message:
        return ""
    role = "alert" if kind == "error" else "status"
    return f'<p class="notice-box {h(kind)}" role="{role}" id="notice">{h(message)}</p>'


def page(
    frame: Frame,
    title: str,
    body: str,
    *,
    status: int = 200,
    scripts: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
    wide: bool = False,
) -> HTMLResponse:
    """A whole page: ``title`` is plain text, ``body`` ready HTML; ``scripts`` are names
    of static files (``app.js`` is always there)."""
    tags = "".join(
        f'<script src="{frame.url(static_url(name))}" defer></script>'
        for name in ("app.js", *scripts)
    )
    meta = f'<meta name="csrf-token" content="{h(frame.csrf)}">' if frame.csrf else ""
    content = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex, nofollow">'
        f'<link rel="icon" href="data:,">{meta}'
        f"<title>{h(title)} · openpacs</title>"
        f'<link rel="stylesheet" href="{frame.url(static_url("app.css"))}">{tags}</head>'
        f'<body data-prefix="{h(frame.prefix)}">'
        '<a class="skip-link" href="#main" id="skip-link">Skip to the content</a>'
        f"{_nav(frame)}"
        f'<main id="main" tabindex="-1" class="{"wide" if wide else ""}">{body}</main>'
        "</body></html>\n"
    )
    return HTMLResponse(
        content, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})}
    )


def message_page(
    frame: Frame, status: int, title: str, message: str, back: str = ""
) -> HTMLResponse:
    """A short page with a title and one paragraph (plain text): errors, not found.
    ``back`` is the browser path of the page of ours the user came from (a form), or ""."""
    links = f'<a class="button secondary" href="{frame.url("/orders")}">Back to the orders</a>'
    if back:
        links = (
            f'<a class="button" href="{h(back)}" id="back">Back to the previous page</a> ' + links
        )
    body = (
        f'<section class="card narrow"><h1>{h(title)}</h1><p>{h(message)}</p>'
        f'<p class="head-actions">{links}</p></section>'
    )
    return page(frame, title, body, status=status)
