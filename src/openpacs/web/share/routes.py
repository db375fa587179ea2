"""The recipient's side of share links: every URL under ``/share/{token}``.

* ``GET /share/{token}``: the shared studies, or the password form (password shares
  without a session); ``POST`` with ``password`` (form-encoded) checks it, sets the
  session cookie and redirects (303) back; wrong: 401 with the form; too many: 429.
* ``GET /share/{token}/viewer/{series}?image=N&preset=P``: one series' images, with
  previous/next and window presets (default, soft, lung, bone).
* ``GET /share/{token}/download/{study}``: the study as a ZIP, if the share allows
  downloads (else 403 with a page saying so).
* ``/share/{token}/dicomweb/...``: the share's read-only DICOMweb root (``dicomweb.py``).
* ``/share/{token}/ohif/...``: the OHIF viewer on that root (when installed; the share
  page then has "Open in viewer" per study), after the password like every page.

Unknown and deleted links: 404; expired: 410, both as pages. The share page and the
first view of a series write a ``share.view`` audit event, a download ``share.download``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qs, quote

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from openpacs.services.errors import Gone, NotFound
from openpacs.services.retrieve import InstanceRef, Scope, list_instances
from openpacs.services.share_access import (
    OpenShare,
    SeriesView,
    SharedStudy,
    record_share_event,
    series_view,
    shared_studies,
)
from openpacs.web.context import AppContext, context
from openpacs.web.dicomweb import wado_zip
from openpacs.web.ohif.routes import (
    CONFIG_FILE,
    NOT_INSTALLED,
    SHARE_VIEWER,
    config_response,
    installed_bundle,
    is_client_route,
    page_response,
    share_viewer_config,
)
from openpacs.web.share import pages
from openpacs.web.share.auth import (
    check_password,
    client_address,
    has_session,
    resolve,
    set_session_cookie,
    share_access,
    share_path,
)
from openpacs.web.share.dicomweb import ShareDicomweb, ShareDicomwebRoot
from openpacs.web.share.html import h

T = TypeVar("T")
MAX_FORM_BYTES = 8 * 1024


async def _in_thread(func: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(func)


def _links(ctx: AppContext, token: str, *, ohif: bool = False) -> pages.ShareLinks:
    page = h(share_path(ctx.settings, quote(token, safe="")))
    return pages.ShareLinks(
        page=page, dicomweb=f"{page}/dicomweb", ohif=f"{page}/{SHARE_VIEWER}" if ohif else ""
    )


async def _open(request: Request) -> OpenShare | Response:
    try:
        return await resolve(context(request), str(request.path_params["token"]))
    except NotFound:
        return pages.not_found_page()
    except Gone as exc:
        return pages.expired_page(exc.reason)


async def _open_signed_in(request: Request) -> OpenShare | Response:
    """The share, when the visitor has passed its password (if any); else the page to show
    instead (not found, expired, or the password form)."""
    opened = await _open(request)
    if isinstance(opened, Response):
        return opened
    if not has_session(request, share_access(request.app), opened):
        return _login_form(request, status=401)
    return opened


def _audit(request: Request, share: OpenShare, action: str, study_uid: str, detail: str) -> None:
    record_share_event(
        context(request).db,
        share,
        action,
        study_uid=study_uid,
        detail=detail,
        client=client_address(request),
    )


def _login_form(request: Request, *, error: str = "", status: int = 200) -> Response:
    """The password form; after it the browser comes back to the page it asked for."""
    token = str(request.path_params["token"])
    action = share_path(context(request).settings, quote(token, safe=""))
    here = request.url.path
    if request.url.query:  # the OHIF viewer's pages carry the study in the query
        here += "?" + request.url.query
    next_path = here if here.startswith(action + "/") else ""
    return pages.password_page(action, error=error, next_path=next_path, status=status)


async def _read_form(request: Request) -> dict[str, str]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            break
    fields = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items() if values}


async def share_page(request: Request) -> Response:
    """GET: the shared studies (or the password form); POST: the password."""
    opened = await _open(request)
    if isinstance(opened, Response):
        return opened
    share, ctx = opened, context(request)
    token = str(request.path_params["token"])
    access = share_access(request.app)
    if request.method == "POST":
        return await _login(request, share)
    if not has_session(request, access, share):
        return _login_form(request)
    studies: list[SharedStudy] = await _in_thread(lambda: _studies_and_audit(request, ctx, share))
    ohif = installed_bundle(request) is not None
    return pages.share_page(share, studies, _links(ctx, token, ohif=ohif))


def _studies_and_audit(request: Request, ctx: AppContext, share: OpenShare) -> list[SharedStudy]:
    with ctx.db.session() as session:
        studies = shared_studies(session, share)
    _audit(request, share, "share.view", "", f"share page, {len(studies)} order(s)")
    return studies


async def _login(request: Request, share: OpenShare) -> Response:
    ctx, access = context(request), share_access(request.app)
    token = str(request.path_params["token"])
    page = share_path(ctx.settings, quote(token, safe=""))
    if not share.has_password:
        return RedirectResponse(page, status_code=303)
    client = client_address(request)
    wait = access.blocked(share, client)
    if wait is not None:
        return pages.too_many_attempts_page(wait)
    form = await _read_form(request)
    check = await check_password(access, share, form.get("password", ""), client)
    if check.retry_after is not None:
        return pages.too_many_attempts_page(check.retry_after)
    if not check.ok:
        return pages.password_page(
            page,
            error="That password is not right. Please try again.",
            next_path=_safe_next(form.get("next", ""), page),
            status=401,
        )
    response = RedirectResponse(_safe_next(form.get("next", ""), page) or page, status_code=303)
    set_session_cookie(response, ctx.settings, token, access, share)
    return response


def _safe_next(value: str, page: str) -> str:
    """Only a path inside this share (no open redirect)."""
    if value.startswith(page + "/") and "//" not in value and "\\" not in value:
        return value
    return ""


async def share_viewer(request: Request) -> Response:
    opened = await _open_signed_in(request)
    if isinstance(opened, Response):
        return opened
    share, ctx = opened, context(request)
    series_uid = str(request.path_params["series"])
    first_view = "image" not in request.query_params

    def load() -> SeriesView:
        with ctx.db.session() as session:
            view = series_view(session, share, series_uid)
        if first_view:
            _audit(
                request, share, "share.view", view.series.study_uid, f"viewer, series {series_uid}"
            )
        return view

    try:
        view = await _in_thread(load)
    except NotFound:
        return pages.missing_page("This series")
    raw = request.query_params.get("image", "1").strip()
    index = int(raw) - 1 if raw.isascii() and raw.isdigit() else 0
    index = min(max(index, 0), max(len(view.images) - 1, 0))
    preset = request.query_params.get("preset", "default")
    if preset not in pages.PRESET_WINDOWS:
        preset = "default"
    return pages.viewer_page(view, _links(ctx, str(request.path_params["token"])), index, preset)


async def share_download(request: Request) -> Response:
    opened = await _open_signed_in(request)
    if isinstance(opened, Response):
        return opened
    share, ctx = opened, context(request)
    links = _links(ctx, str(request.path_params["token"]))
    if not share.downloadable:
        return pages.download_refused_page(links.page)
    study_uid = str(request.path_params["study"])
    scope = Scope(study_uid)

    def load() -> list[InstanceRef]:
        with ctx.db.session() as session:
            refs = list_instances(session, share.principal(), scope)
        _audit(request, share, "share.download", study_uid, f"ZIP of {len(refs)} instance(s)")
        return refs

    try:
        refs = await _in_thread(load)
    except NotFound:
        return pages.missing_page("This study")
    return await wado_zip.zip_response(ctx.db, ctx.blobs, share.account_id, scope, refs)


async def share_ohif(request: Request) -> Response:
    """The OHIF viewer on the share's read-only DICOMweb root (see ``web/ohif``)."""
    bundle = installed_bundle(request)
    if bundle is None:
        return pages.notice_page(404, "Viewer not available", NOT_INSTALLED)
    path = str(request.path_params.get("path", ""))
    if path != CONFIG_FILE and not is_client_route(path):
        return pages.missing_page("This file")
    opened = await _open_signed_in(request)
    if isinstance(opened, Response):
        return opened
    share, ctx = opened, context(request)
    page = share_path(ctx.settings, quote(str(request.path_params["token"]), safe=""))
    if path == CONFIG_FILE:
        return config_response(share_viewer_config(page), referrer="no-referrer")
    await _in_thread(lambda: _audit(request, share, "share.view", "", "OHIF viewer"))
    return page_response(bundle, f"{page}/{SHARE_VIEWER}", referrer="no-referrer")


def share_routes() -> list[BaseRoute]:
    """Every route of the recipient's side (see the module docstring)."""
    return [
        Route("/share/{token}", share_page, methods=["GET", "POST"]),
        Route("/share/{token}/viewer/{series}", share_viewer, methods=["GET"]),
        Route("/share/{token}/download/{study}", share_download, methods=["GET"]),
        Route("/share/{token}/" + SHARE_VIEWER, share_ohif, methods=["GET"]),
        Route("/share/{token}/" + SHARE_VIEWER + "/{path:path}", share_ohif, methods=["GET"]),
        Route("/share/{token}/dicomweb", ShareDicomwebRoot()),
        Mount("/share/{token}/dicomweb", app=ShareDicomweb()),
    ]
