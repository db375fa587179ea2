"""Folders: ``/folders`` (the tree, a chosen folder's orders, its forms).

* ``GET /folders?folder=UUID``: the tree of the account's folders; the chosen folder's
  orders (those the user may see), and forms to rename, describe or move it, delete it
  and share it by a link. ``&q=TEXT``: the folders whose name contains the text (as
  ``/searchfolder``'s ``FolderName``), by path, instead of the tree.
* ``POST /folders`` (``name``, ``description``, ``parent``): a new folder.
* ``POST /folders/{uuid}/change`` (``name``, ``description``, ``parent``),
  ``/delete`` (``with_contents``), ``/share`` (``title``, ``description``, ``expire``,
  ``password``, ``downloadable``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from openpacs.services.folders import FolderInfo, FolderQuery, FolderService
from openpacs.services.principal import Principal
from openpacs.services.shares import CreatedShare, ShareService, today_in
from openpacs.web.context import context
from openpacs.web.share.pages import format_name
from openpacs.web.ui.common import (
    Form,
    confirmed_post,
    done_message,
    first,
    frame,
    in_thread,
    run_change,
    signed_in_form,
    signed_in_page,
)
from openpacs.web.ui.layout import Frame, h, notice, page, u
from openpacs.web.ui.share_list import create_share, share_options
from openpacs.words import counted


def folder_paths(folders: Sequence[FolderInfo]) -> dict[str, str]:
    """Each folder's path from the top ("Teaching / Chest"), by FolderUuid."""
    by_uuid = {f.folder_uuid: f for f in folders}
    paths: dict[str, str] = {}

    def path_of(folder: FolderInfo, depth: int = 0) -> str:
        if folder.folder_uuid in paths:
            return paths[folder.folder_uuid]
        parent = by_uuid.get(folder.parent_folder_uuid)
        if parent is None or depth > 64:
            text = folder.folder_name
        else:
            text = f"{path_of(parent, depth + 1)} / {folder.folder_name}"
        paths[folder.folder_uuid] = text
        return text

    for folder in folders:
        path_of(folder)
    return paths


def _tree(fr: Frame, folders: Sequence[FolderInfo], chosen: str) -> str:
    children: dict[str, list[FolderInfo]] = {}
    known = {f.folder_uuid for f in folders}
    for folder in folders:
        parent = folder.parent_folder_uuid if folder.parent_folder_uuid in known else ""
        children.setdefault(parent, []).append(folder)

    def branch(parent: str, depth: int) -> str:
        items = []
        for folder in sorted(children.get(parent, []), key=lambda f: f.folder_name.lower()):
            current = ' class="current" aria-current="page"' if folder.folder_uuid == chosen else ""
            count = f' <span class="muted">({folder.number_of_orders})</span>'
            below = branch(folder.folder_uuid, depth + 1) if depth < 64 else ""
            items.append(
                f'<li><a href="{fr.url("/folders?folder=")}{u(folder.folder_uuid)}"{current}>'
                f"{h(folder.folder_name)}</a>{count}{below}</li>"
            )
        if not items:
            return ""
        return f'<ul class="tree{" root" if depth == 0 else ""}">{"".join(items)}</ul>'

    tree = branch("", 0)
    return tree or '<p class="empty">No folders yet.</p>'


def _parent_select(
    name: str, folders: Sequence[FolderInfo], chosen: str, exclude: set[str], label: str
) -> str:
    paths = folder_paths(folders)
    options = '<option value="">(top level)</option>' + "".join(
        f'<option value="{h(f.folder_uuid)}"{" selected" if f.folder_uuid == chosen else ""}>'
        f"{h(paths[f.folder_uuid])}</option>"
        for f in sorted(folders, key=lambda f: paths[f.folder_uuid].lower())
        if f.folder_uuid not in exclude
    )
    return (
        f'<label for="{name}">{label}</label><select id="{name}" name="parent">{options}</select>'
    )


def _create_form(fr: Frame, folders: Sequence[FolderInfo], parent: str) -> str:
    return (
        f'<details class="card"{" open" if not folders else ""}><summary>New folder</summary>'
        f'<form method="post" action="{fr.url("/folders")}" id="new-folder">{fr.csrf_field()}'
        '<label for="folder-name">Name</label>'
        '<input type="text" id="folder-name" name="name" required maxlength="200">'
        '<label for="folder-description">Description</label>'
        '<input type="text" id="folder-description" name="description" maxlength="1000">'
        + _parent_select("folder-parent", folders, parent, set(), "Inside")
        + '<button class="button" type="submit" id="create-folder">Create folder</button>'
        "</form></details>"
    )


def _chosen_html(
    fr: Frame, folder: FolderInfo, folders: Sequence[FolderInfo], descendants: set[str], today: date
) -> str:
    base = fr.url("/folders/") + u(folder.folder_uuid)
    rows = "".join(
        f'<tr><td><a href="{fr.url("/orders/")}{u(o.patient_order_uuid)}">'
        f"{h(format_name(o.patient_name) or '(no name)')}</a>"
        f'<span class="sub">ID {h(o.patient_id)}</span></td>'
        f"<td>{h(o.study_date or '—')}</td>"
        f"<td>{h(', '.join(o.modalities_in_study) or o.modality)}</td>"
        f'<td class="num">{o.number_of_instances}</td></tr>'
        for o in folder.patient_order_list
    )
    orders = (
        '<div class="table-wrap"><table id="folder-orders"><thead><tr><th>Patient</th>'
        '<th>Study date</th><th>Modality</th><th class="num">Images</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
        if rows
        else '<p class="empty" id="folder-orders">No orders in this folder. Add orders from '
        "their order page.</p>"
    )
    description = f"<p>{h(folder.folder_description)}</p>" if folder.folder_description else ""
    forms = ""
    if fr.may_write:
        not_empty = folder.number_of_orders or folder.number_of_subfolders
        confirm = (
            f"Delete the folder {folder.folder_name} with its "
            f"{counted(folder.number_of_subfolders, 'subfolders')} and "
            f"{counted(folder.number_of_orders, 'order links')}? The orders themselves stay."
        )
        forms = (
            '<div class="columns even"><section class="card"><h2>Rename or move</h2>'
            f'<form method="post" action="{base}/change" id="change-folder">{fr.csrf_field()}'
            '<label for="rename">Name</label>'
            f'<input type="text" id="rename" name="name" value="{h(folder.folder_name)}" '
            'required maxlength="200"><label for="redescribe">Description</label>'
            f'<input type="text" id="redescribe" name="description" '
            f'value="{h(folder.folder_description)}" maxlength="1000">'
            + _parent_select(
                "move-parent", folders, folder.parent_folder_uuid, descendants, "Inside"
            )
            + '<button class="button small" type="submit" id="change-folder-submit">Save'
            "</button></form>"
            + confirmed_post(
                fr,
                f"{base}/delete",
                "Delete folder",
                confirm,
                fields='<input type="hidden" name="with_contents" value="1">' if not_empty else "",
                form_attrs=' id="delete-folder"',
                button_id="delete-folder-submit",
            )
            + "</section>"
            '<section class="card"><h2>Share this folder</h2>'
            "<p class=muted>A folder link is live: orders added later are shown too.</p>"
            f'<form method="post" action="{base}/share" id="share-folder">{fr.csrf_field()}'
            '<label for="share-title">Title</label>'
            f'<input type="text" id="share-title" name="title" value="{h(folder.folder_name)}" '
            'maxlength="200"><label for="share-description">Description (optional, shown '
            "to the recipients)</label>"
            '<textarea id="share-description" name="description" maxlength="1000"></textarea>'
            '<label for="share-folder-expire">Link works until (optional)</label>'
            f'<input type="date" id="share-folder-expire" name="expire" min="{today.isoformat()}">'
            '<label for="share-folder-password">Password (optional)</label>'
            '<input type="password" id="share-folder-password" name="password" '
            'autocomplete="new-password">'
            '<label class="check"><input type="checkbox" name="downloadable" value="1"> '
            "Recipients may download the images</label>"
            '<button class="button small" type="submit" id="share-folder-submit">'
            "Create share link</button></form></section></div>"
        )
    return (
        f'<section class="card"><h2 id="folder-title">{h(folder.folder_name)}</h2>'
        f"{description}{orders}</section>{forms}"
    )


def _search_html(
    fr: Frame, folders: Sequence[FolderInfo], found: Sequence[FolderInfo], text: str, chosen: str
) -> str:
    """The folder-name search box and, after a search, the folders found, by path."""
    form = (
        f'<form method="get" action="{fr.url("/folders")}" class="inline-form" role="search" '
        'id="folder-search"><div><label for="folder-q">Find a folder</label>'
        f'<input type="text" id="folder-q" name="q" enterkeyhint="search" value="{h(text)}" '
        'maxlength="200" placeholder="part of a name"></div>'
        '<button class="button secondary small" type="submit">Find</button></form>'
    )
    if not text:
        return form
    paths = folder_paths(folders)
    current = ' aria-current="page" class="current"'
    items = "".join(
        f'<li><a href="{fr.url("/folders?folder=")}{u(f.folder_uuid)}&amp;q={u(text)}"'
        f"{current if f.folder_uuid == chosen else ''}>"
        f"{h(paths.get(f.folder_uuid, f.folder_name))}</a>"
        f' <span class="muted">({f.number_of_orders})</span></li>'
        for f in sorted(found, key=lambda f: paths.get(f.folder_uuid, f.folder_name).lower())
    )
    listed = (
        f'<ul class="tree root" id="folder-results">{items}</ul>'
        if items
        else '<p class="empty" id="folder-results">No folder name contains that.</p>'
    )
    return (
        form
        + f"<h3>{counted(len(found), 'folders')} found</h3>{listed}"
        + f'<p><a href="{fr.url("/folders")}">Show all folders</a></p>'
    )


@signed_in_page
async def folders_page(request: Request, who: Principal) -> Response:
    ctx = context(request)
    chosen_uuid = request.query_params.get("folder", "")
    text = " ".join(request.query_params.get("q", "").split())[:200]

    def load() -> tuple[tuple[FolderInfo, ...], tuple[FolderInfo, ...], FolderInfo | None]:
        service = FolderService(ctx.db)
        folders = service.search(who, FolderQuery()).folder_list
        found = service.search(who, FolderQuery(folder_name=text)).folder_list if text else ()
        chosen = next((f for f in folders if f.folder_uuid == chosen_uuid), None)
        if chosen is not None:
            query = FolderQuery(folder_name=chosen.folder_name, get_orders_in_folder=True)
            named = service.search(who, query).folder_list
            chosen = next((f for f in named if f.folder_uuid == chosen_uuid), chosen)
        return folders, found, chosen

    folders, found, chosen = await in_thread(load)
    fr = frame(request, who, "folders")
    today = today_in(ctx.settings.timezone)
    if chosen is not None:
        below = _descendants(folders, chosen.folder_uuid)
        main = _chosen_html(fr, chosen, folders, below, today)
    elif chosen_uuid:
        main = '<p class="card empty">That folder does not exist (any more).</p>'
    else:
        main = '<p class="card empty">Choose a folder in the list to see its orders.</p>'
    create = _create_form(fr, folders, chosen.folder_uuid if chosen else "") if fr.may_write else ""
    body = (
        "<h1>Folders</h1>"
        + notice(done_message(request))
        + '<div class="columns side-left"><div><section class="card" id="folder-tree">'
        + "<h2>All folders</h2>"
        + _search_html(fr, folders, found, text, chosen_uuid)
        + ("" if text else _tree(fr, folders, chosen_uuid))
        + "</section>"
        + create
        + "</div><div>"
        + main
        + "</div></div>"
    )
    return page(fr, "Folders", body, status=404 if chosen_uuid and chosen is None else 200)


def _descendants(folders: Sequence[FolderInfo], root: str) -> set[str]:
    below = {root}
    changed = True
    while changed:
        changed = False
        for f in folders:
            if f.parent_folder_uuid in below and f.folder_uuid not in below:
                below.add(f.folder_uuid)
                changed = True
    return below


def _to_folder(folder_uuid: str) -> str:
    return "/folders" + (f"?folder={quote(folder_uuid, safe='')}" if folder_uuid else "")


@signed_in_form
async def folder_create(request: Request, who: Principal, form: Form) -> Response:
    ctx = context(request)

    def change() -> str:
        made = FolderService(ctx.db).create(
            who, first(form, "name"), first(form, "description"), first(form, "parent")
        )
        return _to_folder(made.folder_uuid)

    return await run_change(request, who, change, "folder-created")


@signed_in_form
async def folder_change(request: Request, who: Principal, form: Form) -> Response:
    ctx = context(request)
    folder_uuid = str(request.path_params["folder"])

    def change() -> str:
        FolderService(ctx.db).change(
            who, folder_uuid, first(form, "name"), first(form, "description"), first(form, "parent")
        )
        return _to_folder(folder_uuid)

    return await run_change(request, who, change, "folder-changed")


@signed_in_form
async def folder_delete(request: Request, who: Principal, form: Form) -> Response:
    ctx = context(request)
    folder_uuid = str(request.path_params["folder"])

    def change() -> str:
        with_contents = first(form, "with_contents") == "1"
        FolderService(ctx.db).delete(who, folder_uuid, with_contents=with_contents)
        return _to_folder("")

    return await run_change(request, who, change, "folder-deleted")


async def folder_share(request: Request) -> Response:
    folder_uuid = str(request.path_params["folder"])

    def make(service: ShareService, who: Principal, form: Form) -> CreatedShare:
        options = replace(share_options(form, titled=True), description=first(form, "description"))
        return service.share_folder(who, folder_uuid, options)

    return await create_share(
        request, make, _to_folder(folder_uuid), "Back to the folder", "folders"
    )
