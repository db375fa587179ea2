"""The OHIF viewer's URLs: ``/viewer/...`` for the account's users, and a share's
``/share/{token}/ohif/...`` for its recipients.

* ``/viewer/{file}``: a file of the bundle (public, see :mod:`.assets`); any other path
  without a file extension is one of OHIF's own routes (``/viewer/`` the study list,
  ``/viewer/viewer?StudyInstanceUIDs=...`` a study): the page, for a user signed in to
  the web application (its session cookie; else 303 to the sign-in page, which comes
  back here). OHIF's DICOMweb requests carry the same cookie (same origin), which the
  DICOMweb root accepts: no credentials in the page.
* ``/viewer/app-config.js``: that user's configuration (the account's DICOMweb root).
* ``/share/{token}/ohif/...``: the same page for a share's recipient (after the share's
  password, with its session cookie), configured with the share's read-only DICOMweb
  root, so OHIF sees only the shared studies; ``.../app-config.js`` its configuration.
  The bundle's files still come from ``/viewer/``.

With no usable installation (``OPENPACS_OHIF=false``, not installed, an install that
failed) these pages answer 404 saying so, and the share page offers only the built-in
viewer.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from openpacs.ohif.bundle import Bundle
from openpacs.ohif.release import PUBLIC_PATH
from openpacs.web.context import context
from openpacs.web.ohif.assets import asset_response
from openpacs.web.ohif.config import ViewerConfig, page_headers
from openpacs.web.session_auth import SIGN_IN_PATH, sign_in_redirect, signed_in, url_path

VIEWER_ROOT = PUBLIC_PATH.rstrip("/")  # /viewer
SHARE_VIEWER = "ohif"  # /share/{token}/ohif
CONFIG_FILE = "app-config.js"
NOT_INSTALLED = (
    "The OHIF viewer is not installed on this server (run `openpacs viewer install`, "
    "or see OPENPACS_OHIF in the README); the built-in viewer of the share pages works."
)


def installed_bundle(request: Request) -> Bundle | None:
    bundle: Bundle | None = getattr(request.app.state, "ohif", None)
    return bundle


def study_viewer_path(request: Request, study_uid: str) -> str | None:
    """Where a signed-in user opens a study in OHIF (None when the viewer is off): for
    the web application's order and study pages."""
    if installed_bundle(request) is None:
        return None
    return f"{VIEWER_ROOT}/viewer?StudyInstanceUIDs={quote(study_uid, safe='')}"


def _not_installed() -> Response:
    return PlainTextResponse(NOT_INSTALLED, status_code=404, headers={"Cache-Control": "no-store"})


def is_client_route(path: str) -> bool:
    """OHIF's own routes have no file extension (``viewer``, ``segmentation``, ``""``)."""
    return "." not in path.rsplit("/", 1)[-1]


def page_response(bundle: Bundle, base: str, *, referrer: str = "same-origin") -> Response:
    return Response(
        bundle.page(f"{base}/{CONFIG_FILE}"),
        media_type="text/html; charset=utf-8",
        headers=page_headers(referrer=referrer),
    )


def config_response(config: ViewerConfig, *, referrer: str = "same-origin") -> Response:
    return Response(
        config.script(),
        media_type="text/javascript; charset=utf-8",
        headers=page_headers(referrer=referrer),
    )


async def viewer(request: Request) -> Response:
    bundle = installed_bundle(request)
    if bundle is None:
        return _not_installed()
    path = str(request.path_params.get("path", ""))
    asset = bundle.asset(path)
    if asset is not None:
        return asset_response(request, asset)
    if path != CONFIG_FILE and not is_client_route(path):
        return PlainTextResponse("no such file of the viewer", status_code=404)
    if await signed_in(request) is None:
        return sign_in_redirect(request)  # and back here, study and all, afterwards
    if path == CONFIG_FILE:
        return config_response(
            ViewerConfig(
                router_basename=VIEWER_ROOT,
                dicomweb_root=urlsplit(context(request).settings.dicomweb_root).path,
                friendly_name="openpacs",
                sign_in=url_path(request, SIGN_IN_PATH),
            )
        )
    return page_response(bundle, VIEWER_ROOT)


def share_viewer_config(page: str) -> ViewerConfig:
    """A share's viewer: ``page`` is the share's path (``/share/{token}``)."""
    return ViewerConfig(
        router_basename=f"{page}/{SHARE_VIEWER}",
        dicomweb_root=f"{page}/dicomweb",
        friendly_name="Shared studies",
    )


def ohif_routes() -> list[BaseRoute]:
    return [
        Route(VIEWER_ROOT, viewer, methods=["GET", "HEAD"]),
        Route(VIEWER_ROOT + "/{path:path}", viewer, methods=["GET", "HEAD"]),
    ]
