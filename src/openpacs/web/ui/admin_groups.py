"""``/admin/groups``: the account's groups with their members (add, remove), rename and
remove (after a confirmation that says what it ends), and the form that adds one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openpacs.services.administration import AccountUser, AdminGroup, AdminService
from openpacs.services.principal import Principal
from openpacs.web.ui.admin_common import ChangeRow, Params, Render, admin_page, tabs
from openpacs.web.ui.common import Form, confirmed_post, first, signed_in_page
from openpacs.web.ui.layout import Frame, h, notice, u
from openpacs.words import counted


def _group_remove_question(group: AdminGroup) -> str:
    """The confirmation of a group's removal: what it ends."""
    orders = group.assigned_orders
    return (
        f"Remove the group {group.user_group_name}? Its members "
        f"({len(group.user_uuid_list)}) stay users, outside the group"
        + (
            f"; the orders assigned to it ({orders}) are then assigned to no group "
            "(readers who saw them through it no longer do)"
            if orders
            else ""
        )
        + "."
    )


def _group_card(fr: Frame, group: AdminGroup, users: tuple[AccountUser, ...]) -> str:
    names = {x.user_uuid: x.display_name or x.email for x in users}
    key = h(group.user_group_uuid)
    base = fr.url("/admin/groups/") + u(group.user_group_uuid)
    members = "".join(
        f"<li><span>{h(names.get(m, m))}</span>"
        f'<form method="post" action="{base}/members" class="inline">{fr.csrf_field()}'
        f'<input type="hidden" name="user" value="{h(m)}">'
        '<input type="hidden" name="remove" value="1">'
        '<button class="button secondary small" type="submit">Remove</button></form></li>'
        for m in group.user_uuid_list
    )
    outside = [x for x in users if x.user_uuid not in group.user_uuid_list]
    options = "".join(
        f'<option value="{h(x.user_uuid)}">{h(x.display_name or x.email)}</option>' for x in outside
    )
    add = (
        f'<form method="post" action="{base}/members" class="inline-form">{fr.csrf_field()}'
        f'<div><label for="m-{key}">Add a member</label>'
        f'<select name="user" id="m-{key}">{options}</select></div>'
        '<button class="button small" type="submit">Add</button></form>'
        if outside
        else ""
    )
    listed = f'<ul class="list">{members}</ul>' if members else '<p class="empty">No members.</p>'
    assigned = (
        f'<p class="muted">{counted(group.assigned_orders, "orders")} assigned to this group.</p>'
        if group.assigned_orders
        else ""
    )
    change = (
        f"<details><summary>Rename or remove</summary>"
        f'<form method="post" action="{base}/rename" class="inline-form">{fr.csrf_field()}'
        f'<div><label for="g-{key}">New name</label><input type="text" id="g-{key}" '
        f'name="name" value="{h(group.user_group_name)}" required maxlength="200"></div>'
        '<button class="button secondary small" type="submit">Rename</button></form>'
        + confirmed_post(fr, f"{base}/remove", "Remove group", _group_remove_question(group))
        + "</details>"
    )
    return (
        f'<section class="card" data-group="{h(group.user_group_name)}">'
        f"<h2>{h(group.user_group_name)}</h2>{listed}{add}{assigned}{change}</section>"
    )


def groups_html(
    fr: Frame, groups: tuple[AdminGroup, ...], users: tuple[AccountUser, ...], message: str
) -> str:
    cards = "".join(_group_card(fr, group, users) for group in groups)
    add_group = (
        '<section class="card"><h2>Add a group</h2>'
        f'<form method="post" action="{fr.url("/admin/groups")}" class="inline-form" '
        f'id="add-group">{fr.csrf_field()}'
        '<div><label for="group-name">Name</label>'
        '<input type="text" id="group-name" name="name" required maxlength="200"></div>'
        '<button class="button" type="submit" id="add-group-submit">Add group</button></form>'
        "</section>"
    )
    empty = '<p class="card empty">No groups yet.</p>' if not groups else ""
    return tabs(fr, "groups") + notice(message) + empty + cards + add_group


@signed_in_page
async def admin_groups(request: Request, who: Principal) -> Response:
    def load(service: AdminService) -> Render:
        groups, users = service.groups(who), service.users(who)
        return lambda fr, message: groups_html(fr, groups, users, message)

    return await admin_page(request, who, "Groups", load)


def _add_group(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.add_group(w, first(f, "name"))


def _rename_group(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.rename_group(w, p["group"], first(f, "name"))


def _remove_group(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.remove_group(w, p["group"])


def _members(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.set_member(w, p["group"], first(f, "user"), first(f, "remove") != "1")


#: This page's forms by name (routes.py gives each its URL).
CHANGES: dict[str, ChangeRow] = {
    "add-group": (_add_group, "/admin/groups", "group-added"),
    "members": (_members, "/admin/groups", "group-changed"),
    "rename-group": (_rename_group, "/admin/groups", "group-renamed"),
    "remove-group": (_remove_group, "/admin/groups", "group-removed"),
}
