"""Every DICOMweb URL in one table (DESIGN: one routes table per face).

Order matters: Starlette takes the first route whose path matches, so the literal
PostDICOM paths (``/studies/series...``) come before the ones with a ``{study}``
parameter, and the QIDO searches ``GET /studies/series`` and
``GET /studies/series/instances`` come before the PostDICOM retrieves
``/studies/series/{series}`` and ``/studies/series/instances/{sop}``. A path that matches
with another method (``POST /studies/{study}`` vs ``GET``) is tried further down.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from openpacs.web.dicomweb import delete, qido, stow, wado, wado_render

Endpoint = Callable[[Request], Awaitable[Response]]

_STUDY = "/studies/{study}"
_SERIES = "/studies/{study}/series/{series}"
_INSTANCE = "/studies/{study}/series/{series}/instances/{sop}"
_FRAMES = _INSTANCE + "/frames/{frames}"


def dicomweb_routes(prefix: str) -> list[BaseRoute]:
    get, post, delete_ = ["GET"], ["POST"], ["DELETE"]
    table: list[tuple[str, Endpoint, list[str]]] = [
        # STOW-RS; "" is the PostDICOM form POST {WebAddress}/ (trailing slash removed).
        ("", stow.store_instances, post),
        ("/studies", stow.store_instances, post),
        # QIDO-RS searches at the top level and the PostDICOM literal forms.
        ("/studies", qido.search_studies, get),
        ("/series", qido.search_series, get),
        ("/instances", qido.search_instances, get),
        ("/studies/series", qido.search_series, get),
        ("/studies/series/instances", qido.search_instances, get),
        # WADO-RS, PostDICOM forms: a series or instance by its UID alone.
        ("/studies/series/instances/{sop}", wado.retrieve, get),
        ("/studies/series/instances/{sop}/metadata", wado.metadata, get),
        ("/studies/series/{series}", wado.retrieve, get),
        ("/studies/series/{series}/metadata", wado.metadata, get),
        # Study level.
        (_STUDY, stow.store_instances, post),
        (_STUDY, wado.retrieve, get),
        (_STUDY, delete.delete, delete_),
        (_STUDY + "/metadata", wado.metadata, get),
        (_STUDY + "/rendered", wado_render.rendered, get),
        (_STUDY + "/thumbnail", wado_render.thumbnail, get),
        (_STUDY + "/series", qido.search_series, get),
        (_STUDY + "/instances", qido.search_instances, get),
        # Series level.
        (_SERIES, wado.retrieve, get),
        (_SERIES, delete.delete, delete_),
        (_SERIES + "/metadata", wado.metadata, get),
        (_SERIES + "/rendered", wado_render.rendered, get),
        (_SERIES + "/thumbnail", wado_render.thumbnail, get),
        (_SERIES + "/instances", qido.search_instances, get),
        # Instance level.
        (_INSTANCE, wado.retrieve, get),
        (_INSTANCE, delete.delete, delete_),
        (_INSTANCE + "/metadata", wado.metadata, get),
        (_INSTANCE + "/rendered", wado_render.rendered, get),
        (_INSTANCE + "/thumbnail", wado_render.thumbnail, get),
        (_INSTANCE + "/bulkdata/{path:path}", wado.bulkdata, get),
        # Frame level.
        (_FRAMES, wado.frames, get),
        (_FRAMES + "/rendered", wado_render.rendered, get),
        (_FRAMES + "/thumbnail", wado_render.thumbnail, get),
    ]
    placed = {(path, endpoint) for path, endpoint, methods in table if "GET" in methods}
    missing = [r.path for r in qido.QIDO_ROUTES if (r.path, r.endpoint) not in placed]
    if missing:  # a search was added to qido.QIDO_ROUTES but not placed in this table
        raise RuntimeError(f"QIDO routes missing from the DICOMweb table: {missing}")
    return [Route(prefix + path, endpoint, methods=methods) for path, endpoint, methods in table]
