"""Serving the bundle's files: looked up in the bundle's table, gzip copies, caching.

Hashed names are cached for a year (``immutable``); the others are revalidated with
their ETag (304 when unchanged). A file with a gzip copy is sent compressed to clients
that accept gzip (``Vary: Accept-Encoding``; read by ``protocol.accept.accepts_gzip``,
as for DICOMweb metadata). The files are code and pictures of a public
release, the same for everyone: they need no sign-in (the pages and their configuration
do).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from openpacs.ohif.bundle import Asset
from openpacs.protocol.accept import accepts_gzip

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def _etag_matches(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match", "")
    return any(tag.strip() in (etag, "*", f"W/{etag}") for tag in given.split(","))


def asset_response(request: Request, asset: Asset) -> Response:
    headers = {
        "Cache-Control": IMMUTABLE if asset.immutable else REVALIDATE,
        "ETag": asset.etag,
        "X-Content-Type-Options": "nosniff",
    }
    if asset.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
    if _etag_matches(request, asset.etag):
        return Response(status_code=304, headers=headers)
    if asset.gzipped is not None and accepts_gzip(request.headers.get("accept-encoding", "")):
        headers["Content-Encoding"] = "gzip"
        return FileResponse(asset.gzipped, media_type=asset.media_type, headers=headers)
    return FileResponse(asset.path, media_type=asset.media_type, headers=headers)
