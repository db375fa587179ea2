"""Addresses that lead nowhere: a page for a person, the plain answer for a program.

Starlette raises :class:`HTTPException` (404, 405) for a URL no route takes. Under the
paths that programs call (the DICOMweb root and custom API, a share link's DICOMweb
root, the OpenAPI document, health, static files) the answer stays the short text it
has always been; anywhere else a person followed a link or typed an address, so the
answer is a page of the web application, with its look and its strict CSP.
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from openpacs.web.session_auth import signed_in
from openpacs.web.ui.common import frame
from openpacs.web.ui.layout import h, page

#: Paths called by programs, not people (see the module docstring).
PROGRAM_PATHS = re.compile(
    r"^/(dicomweb|openapi\.json|healthz|static)(/|$)|^/share/[^/]+/dicomweb(/|$)"
)
TITLES = {404: "Page not found", 405: "Not available this way"}
WORDS = {
    404: "There is no page at this address. It may have been mistyped, or the link that "
    "led here is out of date.",
    405: "This address takes a form sent from one of our pages, not a visit.",
}


async def unknown_address(request: Request, exc: Exception) -> Response:
    """The exception handler for Starlette's HTTP errors (see the module docstring)."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status not in TITLES or PROGRAM_PATHS.match(request.url.path):
        return PlainTextResponse(exc.detail, status_code=status, headers=exc.headers)
    who = await signed_in(request)
    fr = frame(request, who)
    home = (
        f'<a class="button" href="{fr.url("/orders")}">Go to the orders</a>'
        if who is not None
        else f'<a class="button" href="{fr.url("/signin")}">Sign in</a>'
    )
    body = (
        f'<section class="card narrow" id="not-found"><h1>{h(TITLES[status])}</h1>'
        f"<p>{h(WORDS[status])}</p>"
        f'<p class="muted mono">{h(request.url.path)}</p><p>{home}</p></section>'
    )
    return page(fr, TITLES[status], body, status=status, headers=dict(exc.headers or {}))
