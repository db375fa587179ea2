"""One order: ``/orders/{uuid}`` and what can be done with it.

* ``GET /orders/{uuid}``: patient and order fields, studies and series with thumbnails
  (the account's ``/dicomweb/.../thumbnail``), a ZIP of each study and of each series
  (the account's WADO-RS ``accept=application/zip``), folders, assignment, share links,
  and the actions the user's role allows.
* ``GET /orders/{uuid}/viewer/{series}``: the built-in viewer (the share viewer's page,
  on the account's DICOMweb root).
* ``GET /orders/{uuid}/tags/{series uuid}?i=N``: every attribute of the N-th instance.
* ``POST /orders/{uuid}/folders`` (``folder``, ``remove``), ``/assign`` (``user``,
  ``group``), ``/share`` (``expire``, ``password``, ``downloadable``): changes.
* ``GET /orders/{uuid}/delete``: a confirmation naming the patient; ``POST`` deletes.

Another account's order, and one outside a reader's assignments, is "not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from openpacs.dicom.dictionary import keyword_for_tag
from openpacs.protocol.paths import ResourcePath
from openpacs.services.assignments import AssignmentService
from openpacs.services.directory import DirectoryService, UserGroupInfo, UserInfo
from openpacs.services.errors import BadRequest, ServiceError
from openpacs.services.folders import FolderInfo, FolderQuery, FolderService
from openpacs.services.order_view import InstanceTagsView, OrderView, OrderViewService
from openpacs.services.orders import OrderService
from openpacs.services.permissions import Action
from openpacs.services.principal import Principal
from openpacs.services.share_access import SharedStudy
from openpacs.services.shares import CreatedShare, ShareInfo, ShareService, today_in
from openpacs.web.context import context
from openpacs.web.share import pages as share_pages
from openpacs.web.share.pages import format_date, format_name, format_sex
from openpacs.web.ui.common import (
    Form,
    done_message,
    error_page,
    first,
    frame,
    in_thread,
    run_change,
    signed_in_form,
    signed_in_page,
    user_or_redirect,
)
from openpacs.web.ui.folder_pages import folder_paths
from openpacs.web.ui.layout import Frame, h, notice, page, u, values
from openpacs.web.ui.share_list import (
    create_share,
    share_fields,
    share_options,
    share_service,
)


@dataclass(frozen=True)
class OrderPageData:
    view: OrderView
    folders: tuple[FolderInfo, ...]
    users: tuple[UserInfo, ...]
    groups: tuple[UserGroupInfo, ...]
    shares: tuple[ShareInfo, ...]


def _order_path(fr: Frame, order_uuid: str) -> str:
    return fr.url("/orders/") + u(order_uuid)


def patient_words(study_or_order_name: str, patient_id: str) -> str:
    """ "Doe, Jane (ID 123)" for confirmations and titles."""
    name = format_name(study_or_order_name) or "an unnamed patient"
    return f"{name} (ID {patient_id})" if patient_id else name


def load_order_page(request: Request, who: Principal, order_uuid: str) -> OrderPageData:
    """Blocking: the order and the lists its forms offer (one thread hop)."""
    ctx = context(request)
    view = OrderViewService(ctx.db, ctx.audit).view(who, order_uuid)
    directory = DirectoryService(ctx.db)
    folders = FolderService(ctx.db).search(who, FolderQuery()).folder_list
    users: tuple[UserInfo, ...] = ()
    groups: tuple[UserGroupInfo, ...] = ()
    shares: tuple[ShareInfo, ...] = ()
    fr = frame(request, who)
    if fr.may(Action.WRITE):
        users = directory.users(who).user_list
        groups = directory.user_groups(who).user_group_list
    if fr.may(Action.REVOKE_SHARE):
        shares = tuple(
            s
            for s in share_service(ctx).list_shares(who).share_list
            if order_uuid in s.patient_order_uuid_list and s.kind == "orders"
        )
    return OrderPageData(view, folders, users, groups, shares)


# -- the page -----------------------------------------------------------------------------


def _fact(label: str, value: str, name: str = "") -> str:
    """One field of the order; a multi-valued one (``A\\B``) reads "A, B"."""
    if not value:
        return ""
    css = f' class="{h(name)}"' if name else ""
    return f"<div><dt>{h(label)}</dt><dd{css}>{h(values(value))}</dd></div>"


def _facts(data: OrderPageData) -> str:
    p = data.view.properties
    modalities = ", ".join(p.modalities_in_study) or p.modality
    status = "Images received" if p.order_status == "ImagesReceived" else "Scheduled"
    return (
        '<dl class="facts">'
        + _fact("Patient ID", p.patient_id, "patient-id")
        + _fact("Birth date", p.patient_birthdate, "birth-date")
        + _fact("Sex", format_sex(p.patient_sex))
        + _fact("Other patient ID", p.other_patient_id)
        + _fact("Study date", p.study_date, "study-date")
        + _fact("Modality", modalities)
        + _fact("Accession number", p.accession_number, "accession")
        + _fact("Status", status, "status")
        + _fact("Institution", p.institution_name)
        + _fact("Scheduled", p.order_scheduled_datetime)
        + _fact("Description", p.study_description)
        + _fact("Requested procedure", p.requested_procedure_description)
        + _fact("Procedure ID", p.requested_procedure_id)
        + _fact("Requesting physician", format_name(p.requesting_physician))
        + _fact("Referring physician", format_name(p.referring_physicians_name))
        + _fact("Complaints", p.patient_complaints)
        + _fact("Images", f"{p.number_of_instances} in {p.number_of_series} series")
        + _fact("Study Instance UID", p.study_instance_uid, "mono")
        + "</dl>"
    )


def _zip_url(fr: Frame, resource: ResourcePath) -> str:
    """The escaped address of a study's or a series' ZIP (the account's WADO-RS, which
    checks the read scope: whoever may see the order may download it, as in the API)."""
    return fr.url("/dicomweb") + h(resource.url("") + "?accept=application/zip")


def _series_grid(fr: Frame, data: OrderPageData, study: SharedStudy) -> str:
    p = data.view.properties
    uuids = {s.series_instance_uid: s.patient_series_uuid for s in p.series_list}
    items = []
    for series in study.series:
        number = f"#{series.number} " if series.number is not None else ""
        label = " · ".join(x for x in (series.modality, series.description) if x)
        images = f"{series.images} image{'s' if series.images != 1 else ''}"
        thumb = fr.url("/dicomweb") + h(
            ResourcePath(series.study_uid, series.series_uid).url("", "thumbnail")
        )
        viewer = _order_path(fr, p.patient_order_uuid) + "/viewer/" + u(series.series_uid)
        links = []
        if series.series_uid in uuids:
            links.append(
                f'<a class="tags-link" href="{_order_path(fr, p.patient_order_uuid)}/tags/'
                f'{u(uuids[series.series_uid])}">Tags</a>'
            )
        if series.images:
            zip_url = _zip_url(fr, ResourcePath(series.study_uid, series.series_uid))
            links.append(
                f'<a class="series-zip" href="{zip_url}" '
                f'download title="Download {h((number + label).strip() or "the series")} as a ZIP">'
                "ZIP</a>"
            )
        items.append(
            f'<li><a class="series-link" href="{viewer}" '
            f'title="Open {h((number + label).strip() or "the series")} in the viewer">'
            f'<img class="thumb" loading="lazy" width="128" height="128" src="{thumb}" '
            f'alt="{h("Series " + number + label)}">'
            f'<span class="caption">{h(number + label)}<small>{h(images)}</small></span></a>'
            f'<span class="series-actions">{"".join(links)}</span></li>'
        )
    if not items:
        return '<p class="empty">No images have arrived for this order yet.</p>'
    return f'<ul class="series" id="series">{"".join(items)}</ul>'


def _folders_box(fr: Frame, data: OrderPageData) -> str:
    p = data.view.properties
    paths = folder_paths(data.folders)
    action = _order_path(fr, p.patient_order_uuid) + "/folders"
    rows = []
    for folder in p.folder_list:
        remove = ""
        if fr.may_write:
            remove = (
                f'<form method="post" action="{action}" class="inline">{fr.csrf_field()}'
                f'<input type="hidden" name="remove" value="{h(folder.folder_uuid)}">'
                '<button class="button secondary small" type="submit" '
                f'aria-label="Remove from {h(folder.folder_name)}">Remove</button></form>'
            )
        link = fr.url("/folders?folder=") + u(folder.folder_uuid)
        name = paths.get(folder.folder_uuid, folder.folder_name)
        rows.append(f'<li><a href="{link}">{h(name)}</a>{remove}</li>')
    listed = f'<ul class="list" id="order-folders">{"".join(rows)}</ul>' if rows else ""
    if not rows:
        listed = '<p class="empty" id="order-folders">In no folder.</p>'
    add = ""
    inside = {f.folder_uuid for f in p.folder_list}
    choices = [f for f in data.folders if f.folder_uuid not in inside]
    if fr.may_write and choices:
        options = "".join(
            f'<option value="{h(f.folder_uuid)}">{h(paths.get(f.folder_uuid, f.folder_name))}'
            "</option>"
            for f in sorted(choices, key=lambda f: paths.get(f.folder_uuid, "").lower())
        )
        add = (
            f'<form method="post" action="{action}" class="inline-form">{fr.csrf_field()}'
            '<div><label for="add-folder">Add to folder</label>'
            f'<select id="add-folder" name="folder">{options}</select></div>'
            '<button class="button small" type="submit" id="add-folder-submit">Add</button>'
            "</form>"
        )
    return f'<section class="card"><h2>Folders</h2>{listed}{add}</section>'


def _assignment_box(fr: Frame, data: OrderPageData) -> str:
    p = data.view.properties
    users = {x.user_uuid: x for x in data.users}
    groups = {g.user_group_uuid: g.user_group_name for g in data.groups}
    user = users.get(p.assigned_user_uuid)
    user_text = (
        (user.display_name or user.email)
        if user
        else ("—" if not p.assigned_user_uuid else "a user")
    )
    group_text = groups.get(
        p.assigned_user_group_uuid, "—" if not p.assigned_user_group_uuid else "a group"
    )
    shown = (
        '<dl class="facts">'
        f'<div><dt>User</dt><dd id="assigned-user">{h(user_text)}</dd></div>'
        f'<div><dt>Group</dt><dd id="assigned-group">{h(group_text)}</dd></div></dl>'
    )
    forms = ""
    if fr.may_write and (data.users or data.groups):
        action = _order_path(fr, p.patient_order_uuid) + "/assign"
        user_options = '<option value="">(unchanged)</option>' + "".join(
            f'<option value="{h(x.user_uuid)}">{h(x.display_name or x.email)}'
            f"{' (' + h(x.email) + ')' if x.display_name and x.display_name != x.email else ''}"
            "</option>"
            for x in data.users
        )
        group_options = '<option value="">(unchanged)</option>' + "".join(
            f'<option value="{h(g.user_group_uuid)}">{h(g.user_group_name)}</option>'
            for g in data.groups
        )
        forms = (
            f'<form method="post" action="{action}" id="assign-form">{fr.csrf_field()}'
            '<label for="assign-user">Assign to user</label>'
            f'<select id="assign-user" name="user">{user_options}</select>'
            + (
                '<label for="assign-group">Assign to group</label>'
                f'<select id="assign-group" name="group">{group_options}</select>'
                if data.groups
                else ""
            )
            + '<button class="button small" type="submit" id="assign-submit">Assign</button>'
            "</form>"
        )
    return f'<section class="card"><h2>Assignment</h2>{shown}{forms}</section>'


def share_row_facts(share: ShareInfo) -> str:
    until = f"until {share.expire_date}" if share.expire_date else "never expires"
    pills = [
        f'<span class="pill {"bad" if share.expired else "ok"}">'
        f"{'expired ' + share.expire_date if share.expired else 'active, ' + until}</span>"
    ]
    if share.password_protected:
        pills.append('<span class="pill">password</span>')
    if share.downloadable:
        pills.append('<span class="pill">downloads</span>')
    return " ".join(pills)


def _shares_box(fr: Frame, data: OrderPageData, today: date) -> str:
    p = data.view.properties
    rows = "".join(
        f"<li><span>{share_row_facts(s)}</span>"
        f'<a href="{fr.url("/shares")}#share-{h(s.share_uuid)}">Manage</a></li>'
        for s in data.shares
    )
    listed = f'<ul class="list" id="order-shares">{rows}</ul>' if rows else ""
    if not rows and fr.may(Action.REVOKE_SHARE):
        listed = '<p class="empty">Not shared by a link.</p>'
    form = ""
    if fr.may_write:
        form = (
            f'<form method="post" action="{_order_path(fr, p.patient_order_uuid)}/share" '
            f'id="share-form">{fr.csrf_field()}{share_fields("share", today)}'
            '<button class="button small" type="submit" id="share-submit">'
            "Create share link</button>"
            "</form>"
        )
    if not listed and not form:
        return ""
    return f'<section class="card"><h2>Share links</h2>{listed}{form}</section>'


def _study_viewer_link(fr: Frame, study: SharedStudy) -> str:
    """The study's "Open in viewer" link (OHIF), when it has images and OHIF is on."""
    link = fr.ohif_link(study.study_uid) if study.series else None
    if link is None:
        return ""
    return f'<p><a class="button small study-viewer" href="{link}">Open in viewer</a></p>'


def order_html(fr: Frame, data: OrderPageData, today: date, message: str = "") -> str:
    p = data.view.properties
    name = format_name(p.patient_name) or "Unnamed patient"
    order_path = _order_path(fr, p.patient_order_uuid)
    actions = []
    first_series = next((s for st in data.view.studies for s in st.series), None)
    if first_series is not None:
        quick = f"{order_path}/viewer/{u(first_series.series_uid)}"
        ohif = fr.ohif_link(first_series.study_uid)
        if ohif is not None:
            actions.append(f'<a class="button" id="open-viewer" href="{ohif}">Open in viewer</a>')
            actions.append(f'<a class="button secondary" id="view" href="{quick}">Quick view</a>')
        else:
            actions.append(f'<a class="button" id="view" href="{quick}">View images</a>')
    for study in data.view.studies:
        if study.images:
            actions.append(
                f'<a class="button secondary" id="download" '
                f'href="{_zip_url(fr, ResourcePath(study.study_uid))}" download>Download ZIP</a>'
            )
    if fr.may(Action.DELETE):
        actions.append(
            f'<a class="button danger" id="delete" href="{order_path}/delete">Delete</a>'
        )
    studies = "".join(
        f'<section class="card" data-study="{h(study.study_uid)}">'
        f"<h2>{h(format_date(study.study_date) or 'Study')}"
        f"{' · ' + h(study.description) if study.description else ''}</h2>"
        f"{_study_viewer_link(fr, study)}"
        f"{_series_grid(fr, data, study)}</section>"
        for study in data.view.studies
    )
    side = _folders_box(fr, data) + _assignment_box(fr, data) + _shares_box(fr, data, today)
    return (
        f'<p><a href="{fr.url("/orders")}">← Orders</a></p>'
        f'<div class="head"><h1 id="patient-name">{h(name)}</h1>'
        f'<div class="head-actions">{"".join(actions)}</div></div>'
        f"{notice(message)}"
        f'<section class="card">{_facts(data)}</section>'
        f'<div class="columns"><div>{studies}</div><div>{side}</div></div>'
    )


@signed_in_page
async def order_page(request: Request, who: Principal) -> Response:
    order_uuid = str(request.path_params["order"])
    try:
        data = await in_thread(lambda: load_order_page(request, who, order_uuid))
    except ServiceError as exc:
        return error_page(request, who, exc)
    fr = frame(request, who, "orders")
    today = today_in(context(request).settings.timezone)
    title = format_name(data.view.properties.patient_name) or "Order"
    return page(fr, title, order_html(fr, data, today, done_message(request)), wide=True)


# -- viewer and tags ----------------------------------------------------------------------


@signed_in_page
async def order_viewer(request: Request, who: Principal) -> Response:
    ctx = context(request)
    order_uuid = str(request.path_params["order"])
    series_uid = str(request.path_params["series"])
    try:
        view = await in_thread(
            lambda: OrderViewService(ctx.db, ctx.audit).series(who, order_uuid, series_uid)
        )
    except ServiceError as exc:
        return error_page(request, who, exc)
    fr = frame(request, who)
    links = share_pages.ShareLinks(page=_order_path(fr, order_uuid), dicomweb=fr.url("/dicomweb"))
    raw = request.query_params.get("image", "1").strip()
    index = int(raw) - 1 if raw.isascii() and raw.isdigit() and len(raw) < 7 else 0
    index = min(max(index, 0), max(len(view.images) - 1, 0))
    preset = request.query_params.get("preset", "default")
    if preset not in share_pages.PRESET_WINDOWS:
        preset = "default"
    return share_pages.viewer_page(view, links, index, preset, back="The order")


def _tag_value(element: object) -> str:
    if not isinstance(element, dict):
        return ""
    values = element.get("Value")
    if values is None:
        if "BulkDataURI" in element or "InlineBinary" in element:
            return "(binary data)"
        return ""
    out = []
    for value in values:
        if isinstance(value, dict) and "Alphabetic" in value:
            out.append(str(value.get("Alphabetic", "")))
        elif isinstance(value, dict):
            out.append(f"(item with {len(value)} attribute{'s' if len(value) != 1 else ''})")
        else:
            out.append(str(value))
    text = "\\".join(out)
    return text if len(text) <= 400 else text[:400] + "…"


def tags_html(fr: Frame, order_uuid: str, view: InstanceTagsView, keywords: dict[str, str]) -> str:
    base = _order_path(fr, order_uuid) + "/tags/" + u(view.series_uuid)
    position = view.position
    nav = []
    if position > 0:
        nav.append(f'<a class="button secondary small" href="{base}?i={position}">← Previous</a>')
    nav.append(
        f'<span class="muted" id="tag-position">Instance {position + 1} of {view.count}</span>'
    )
    if position + 1 < view.count:
        nav.append(f'<a class="button secondary small" href="{base}?i={position + 2}">Next →</a>')
    if view.instance is None:
        table = '<p class="empty">This series has no instance here.</p>'
    else:
        rows = "".join(
            f"<tr><td>({h(key[:4])},{h(key[4:])})</td><td>{h(keywords.get(key, ''))}</td>"
            f"<td>{h(element.get('vr', '') if isinstance(element, dict) else '')}</td>"
            f'<td class="value">{h(_tag_value(element))}</td></tr>'
            for key, element in sorted(view.instance.dicom_tags.items())
        )
        table = (
            f'<p class="mono">SOP Instance UID {h(view.instance.sop_instance_uid)}</p>'
            '<div class="table-wrap"><table class="tags" id="tags"><thead><tr><th>Tag</th>'
            f"<th>Keyword</th><th>VR</th><th>Value</th></tr></thead><tbody>{rows}</tbody>"
            "</table></div>"
        )
    return (
        f'<p><a href="{_order_path(fr, order_uuid)}">← The order</a></p>'
        f'<h1>Tags</h1><p class="mono">Series {h(view.series_instance_uid)}</p>'
        f'<div class="pager">{"".join(nav)}</div>{table}'
    )


@signed_in_page
async def order_tags(request: Request, who: Principal) -> Response:
    ctx = context(request)
    order_uuid = str(request.path_params["order"])
    series_uuid = str(request.path_params["series"])
    raw = request.query_params.get("i", "1")
    position = int(raw) - 1 if raw.isdigit() and len(raw) < 7 else 0
    try:
        view = await in_thread(
            lambda: OrderViewService(ctx.db, ctx.audit).instance_tags(
                who, order_uuid, series_uuid, max(position, 0)
            )
        )
    except ServiceError as exc:
        return error_page(request, who, exc)
    keywords: dict[str, str] = {}
    if view.instance is not None:
        for key in view.instance.dicom_tags:
            try:
                keywords[key] = keyword_for_tag(int(key, 16)) or ""
            except ValueError:
                keywords[key] = ""
    fr = frame(request, who, "orders")
    return page(fr, "Tags", tags_html(fr, order_uuid, view, keywords))


# -- changes ------------------------------------------------------------------------------


@signed_in_form
async def order_folders(request: Request, who: Principal, form: Form) -> Response:
    ctx = context(request)
    order_uuid = str(request.path_params["order"])
    remove, add = first(form, "remove"), first(form, "folder")

    def work() -> str:
        service = FolderService(ctx.db)
        if remove:
            service.remove_order(who, order_uuid, remove)
        elif add:
            service.add_order(who, order_uuid, [add])
        else:
            raise BadRequest("choose a folder")
        return f"/orders/{order_uuid}"

    return await run_change(request, who, work, "folders-changed")


@signed_in_form
async def order_assign(request: Request, who: Principal, form: Form) -> Response:
    ctx = context(request)
    order_uuid = str(request.path_params["order"])
    user, group = first(form, "user"), first(form, "group")

    def work() -> str:
        if not user and not group:
            raise BadRequest("choose a user or a group to assign the order to")
        service = AssignmentService(ctx.db)
        if user:
            service.assign_user(who, order_uuid, user)
        if group:
            service.assign_group(who, order_uuid, group)
        return f"/orders/{order_uuid}"

    return await run_change(request, who, work, "assigned")


async def order_share(request: Request) -> Response:
    order_uuid = str(request.path_params["order"])

    def make(service: ShareService, who: Principal, form: dict[str, list[str]]) -> CreatedShare:
        return service.share_orders(who, [order_uuid], share_options(form), "order")

    back = "/orders/" + quote(order_uuid, safe="")
    return await create_share(request, make, back, "Back to the order", "orders")


async def order_delete(request: Request) -> Response:
    if request.method == "GET":
        return await _delete_question(request, str(request.path_params["order"]))
    return await _delete_order(request)


@signed_in_form
async def _delete_order(request: Request, who: Principal, form: Form) -> Response:
    ctx = context(request)
    order_uuid = str(request.path_params["order"])

    def work() -> str:
        if first(form, "confirm") != order_uuid:
            raise BadRequest("the deletion was not confirmed")
        service = OrderService(ctx.db, ctx.blobs)
        properties = OrderViewService(ctx.db).view(who, order_uuid).properties
        service.delete(who, properties.patient_order_institution_uuid, order_uuid)
        return "/orders"

    return await run_change(request, who, work, "order-deleted")


async def _delete_question(request: Request, order_uuid: str) -> Response:
    who = await user_or_redirect(request)
    if isinstance(who, Response):
        return who
    ctx = context(request)
    try:
        view = await in_thread(lambda: OrderViewService(ctx.db).view(who, order_uuid))
    except ServiceError as exc:
        return error_page(request, who, exc)
    fr = frame(request, who, "orders")
    return page(fr, "Delete order", delete_html(fr, view))


def delete_html(fr: Frame, view: OrderView) -> str:
    p = view.properties
    who_words = patient_words(p.patient_name, p.patient_id)
    images = f"{p.number_of_instances} image{'s' if p.number_of_instances != 1 else ''}"
    path = _order_path(fr, p.patient_order_uuid)
    if not fr.may(Action.DELETE):
        return (
            '<section class="card narrow"><h1>Delete order</h1>'
            f"<p>Your role ({h(fr.who.role if fr.who else '')}) may not delete orders.</p>"
            f'<p><a class="button secondary" href="{path}">Back to the order</a></p></section>'
        )
    return (
        '<section class="card narrow danger-zone"><h1>Delete this order?</h1>'
        f'<p id="delete-question">The order of <strong>{h(who_words)}</strong>'
        f"{' from ' + h(p.study_date) if p.study_date else ''}"
        f"{' and its ' + h(images) if p.number_of_instances else ' (no images yet)'} will be "
        "deleted for good, with its folder links and share links. This cannot be undone.</p>"
        f'<form method="post" action="{path}/delete">{fr.csrf_field()}'
        f'<input type="hidden" name="confirm" value="{h(p.patient_order_uuid)}">'
        f'<button class="button danger" type="submit" id="confirm-delete">'
        f"Delete the order of {h(format_name(p.patient_name) or 'this patient')}</button> "
        f'<a class="button secondary" href="{path}">Cancel</a></form></section>'
    )
