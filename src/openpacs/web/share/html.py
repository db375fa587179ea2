"""Escaping and the page frame of the share pages (no template engine, no CDN).

Every value that comes from data (patient names, descriptions, UIDs, the share's title)
goes through :func:`h` (``html.escape`` with quotes) or, inside URLs, :func:`u` (percent
encoding, then escaping). Pages carry a strict Content-Security-Policy: scripts and styles
only with the response's nonce, images only from this origin, so even a mistake in
escaping could not run an injected script.
"""

from __future__ import annotations

import html
import json
import secrets
from urllib.parse import quote

from starlette.responses import HTMLResponse

from openpacs.web.share.style import CSS


def h(value: object) -> str:
    """Text for HTML content and quoted attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def u(value: object) -> str:
    """One URL path segment (percent-encoded, then HTML-escaped)."""
    return h(quote(str(value), safe=""))


def json_for_script(value: object) -> str:
    """JSON safe to put inside ``<script type="application/json">``."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def security_headers(nonce: str) -> dict[str, str]:
    csp = (
        "default-src 'none'; "
        "img-src 'self' data:; "
        f"style-src 'nonce-{nonce}'; "
        f"script-src 'nonce-{nonce}'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        # The URL holds the share's secret token: never send it to anyone as a referrer.
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def document(title: str, body: str, nonce: str, *, script: str = "", body_class: str = "") -> str:
    """A whole page; ``title`` is plain text, ``body`` and ``script`` are ready HTML/JS."""
    script_tag = f'<script nonce="{h(nonce)}">{script}</script>' if script else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex, nofollow">'
        '<link rel="icon" href="data:,">'
        f"<title>{h(title)}</title>"
        f'<style nonce="{h(nonce)}">{CSS}</style></head>'
        f'<body class="{h(body_class)}">{body}{script_tag}</body></html>\n'
    )


def page_response(
    title: str,
    body: str,
    *,
    status: int = 200,
    script: str = "",
    body_class: str = "",
    headers: dict[str, str] | None = None,
    nonce: str | None = None,
) -> HTMLResponse:
    nonce = nonce or new_nonce()
    content = document(title, body, nonce, script=script, body_class=body_class)
    return HTMLResponse(
        content, status_code=status, headers={**security_headers(nonce), **(headers or {})}
    )
