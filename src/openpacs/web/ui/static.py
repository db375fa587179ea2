"""The web application's static files: shipped in the package, served from memory.

Only the names in :data:`FILES` exist (nothing is looked up from a path on the wire).
URLs carry a digest of the content (``/static/app.css?v=...``), so a browser may keep
them for a day and still never mixes an old script with a new page.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

FILES: dict[str, str] = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "upload.js": "text/javascript; charset=utf-8",
}


@functools.cache
def _content(name: str) -> bytes:
    return resources.files("openpacs.web.ui").joinpath("static", name).read_bytes()


@functools.cache
def static_url(name: str) -> str:
    """The versioned path of a static file (``/static/NAME?v=DIGEST``)."""
    digest = hashlib.sha256(_content(name)).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


async def static_file(request: Request) -> Response:
    name = str(request.path_params["name"])
    media_type = FILES.get(name)
    if media_type is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(
        _content(name),
        media_type=media_type,
        headers={
            "Cache-Control": "public, max-age=86400",
            "X-Content-Type-Options": "nosniff",
        },
    )
