"""Every DICOMweb URL in one table (DESIGN: one routes table per face).

Order matters: Starlette takes the first route whose path matches, so the literal
PostDICOM paths (``/studies/series...``) come before the ones with a ``{study}``
parameter, and the QIDO searches ``GET /studies/series`` and
``GET /studies/series/instances`` come before the PostDICOM retrieves
``/studies/series/{series}`` and ``/studies/series/instances/{sop}``. A path that matches
with another method (``POST /studies/{study}`` vs ``GET``) is tried further down.

The last column is the permission the route's service checks
(:mod:`openpacs.services.permissions`): stated here so that the tests can walk every
route for every role; a route without one fails them. A share link's read-only root
serves the ``GET`` rows only (``web/share/dicomweb.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from openpacs.services.permissions import Action
from openpacs.web.dicomweb import delete, qido, stow, wado, wado_render

Endpoint = Callable[[Request], Awaitable[Response]]
Row = tuple[str, Endpoint, list[str], Action]

_STUDY = "/studies/{study}"
_SERIES = "/studies/{study}/series/{series}"
_INSTANCE = "/studies/{study}/series/{series}/instances/{sop}"
_FRAMES = _INSTANCE + "/frames/{frames}"


_GET, _POST, _DEL = ["GET"], ["POST"], ["DELETE"]
_READ, _WRITE, _DELETE = Action.READ, Action.WRITE, Action.DELETE

#: (path below the DICOMweb root, endpoint, methods, permission), in matching order.
TABLE: tuple[Row, ...] = (
    # STOW-RS; "" is the PostDICOM form POST {WebAddress}/ (trailing slash removed).
    ("", stow.store_instances, _POST, _WRITE),
    ("/studies", stow.store_instances, _POST, _WRITE),
    # QIDO-RS searches at the top level and the PostDICOM literal forms.
    ("/studies", qido.search_studies, _GET, _READ),
    ("/series", qido.search_series, _GET, _READ),
    ("/instances", qido.search_instances, _GET, _READ),
    ("/studies/series", qido.search_series, _GET, _READ),
    ("/studies/series/instances", qido.search_instances, _GET, _READ),
    # WADO-RS, PostDICOM forms: a series or instance by its UID alone.
    ("/studies/series/instances/{sop}", wado.retrieve, _GET, _READ),
    ("/studies/series/instances/{sop}/metadata", wado.metadata, _GET, _READ),
    ("/studies/series/{series}", wado.retrieve, _GET, _READ),
    ("/studies/series/{series}/metadata", wado.metadata, _GET, _READ),
    # Study level.
    (_STUDY, stow.store_instances, _POST, _WRITE),
    (_STUDY, wado.retrieve, _GET, _READ),
    (_STUDY, delete.delete, _DEL, _DELETE),
    (_STUDY + "/metadata", wado.metadata, _GET, _READ),
    (_STUDY + "/rendered", wado_render.rendered, _GET, _READ),
    (_STUDY + "/thumbnail", wado_render.thumbnail, _GET, _READ),
    (_STUDY + "/series", qido.search_series, _GET, _READ),
    (_STUDY + "/instances", qido.search_instances, _GET, _READ),
    # Series level.
    (_SERIES, wado.retrieve, _GET, _READ),
    (_SERIES, delete.delete, _DEL, _DELETE),
    (_SERIES + "/metadata", wado.metadata, _GET, _READ),
    (_SERIES + "/rendered", wado_render.rendered, _GET, _READ),
    (_SERIES + "/thumbnail", wado_render.thumbnail, _GET, _READ),
    (_SERIES + "/instances", qido.search_instances, _GET, _READ),
    # Instance level.
    (_INSTANCE, wado.retrieve, _GET, _READ),
    (_INSTANCE, delete.delete, _DEL, _DELETE),
    (_INSTANCE + "/metadata", wado.metadata, _GET, _READ),
    (_INSTANCE + "/rendered", wado_render.rendered, _GET, _READ),
    (_INSTANCE + "/thumbnail", wado_render.thumbnail, _GET, _READ),
    (_INSTANCE + "/bulkdata/{path:path}", wado.bulkdata, _GET, _READ),
    # Frame level.
    (_FRAMES, wado.frames, _GET, _READ),
    (_FRAMES + "/rendered", wado_render.rendered, _GET, _READ),
    (_FRAMES + "/thumbnail", wado_render.thumbnail, _GET, _READ),
)


def dicomweb_routes(prefix: str) -> list[BaseRoute]:
    placed = {(path, endpoint) for path, endpoint, methods, _ in TABLE if "GET" in methods}
    missing = [r.path for r in qido.QIDO_ROUTES if (r.path, r.endpoint) not in placed]
    if missing:  # a search was added to qido.QIDO_ROUTES but not placed in this table
        raise RuntimeError(f"QIDO routes missing from the DICOMweb table: {missing}")
    return [Route(prefix + path, endpoint, methods=methods) for path, endpoint, methods, _ in TABLE]
