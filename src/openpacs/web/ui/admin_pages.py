"""Administration for the account's admins: ``/admin/users``, ``/admin/groups``,
``/admin/institutions``, ``/admin/equipment`` (every change through
:class:`~openpacs.services.administration.AdminService`, which checks the role and the
account; others get 403)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from openpacs.services.administration import AccountUser, AdminService, EquipmentInput
from openpacs.services.directory import (
    DirectoryService,
    EquipmentInfo,
    InstitutionInfo,
    UserGroupInfo,
)
from openpacs.services.errors import BadRequest, Forbidden, ServiceError
from openpacs.services.permissions import Action, refusal
from openpacs.services.principal import Principal
from openpacs.web.context import context
from openpacs.web.ui.common import (
    done_message,
    error_page,
    first,
    frame,
    in_thread,
    see_other,
    signed_in_page,
    signed_in_post,
)
from openpacs.web.ui.layout import Frame, h, notice, page, u

TABS = (
    ("users", "Users"),
    ("groups", "Groups"),
    ("institutions", "Institutions"),
    ("equipment", "Equipment"),
)
ROLE_WORDS = {"admin": "Admin", "member": "Member", "reader": "Reader"}
ROLES_EXPLAINED = (
    '<p class="muted">Admins do everything, users and deletes too; members read every '
    "order, upload, organise and share; readers see only the orders assigned to them or "
    "their groups.</p>"
)


def _admin(request: Request) -> AdminService:
    ctx = context(request)
    return AdminService(ctx.db, ctx.settings.dicom_check_host)


def _tabs(fr: Frame, current: str) -> str:
    links = " ".join(
        f'<a class="button small {"" if key == current else "secondary"}" id="tab-{key}" '
        f'href="{fr.url("/admin/" + key)}">{label}</a>'
        for key, label in TABS
    )
    return f'<h1>Administration</h1><nav class="tabs" aria-label="Administration">{links}</nav>'


def _role_select(name: str, chosen: str, element_id: str) -> str:
    options = "".join(
        f'<option value="{role}"{" selected" if role == chosen else ""}>{h(words)}</option>'
        for role, words in ROLE_WORDS.items()
    )
    return f'<select name="{name}" id="{h(element_id)}">{options}</select>'


# -- users --------------------------------------------------------------------------------


def users_html(fr: Frame, users: tuple[AccountUser, ...], message: str) -> str:
    rows = []
    for user in users:
        base = fr.url("/admin/users/") + u(user.user_uuid)
        me = fr.who is not None and fr.who.user_uuid == user.user_uuid
        state = (
            '<span class="pill bad">disabled</span>'
            if user.disabled
            else '<span class="pill ok">active</span>'
        )
        toggle = ""
        if not me:
            verb = "enable" if user.disabled else "disable"
            confirm = (
                ""
                if user.disabled
                else (f' data-confirm="Disable {h(user.email)}? They are signed out at once."')
            )
            toggle = (
                f'<form method="post" action="{base}/{verb}" class="inline"{confirm}>'
                f'{fr.csrf_field()}<button class="button secondary small" type="submit">'
                f"{verb.capitalize()}</button></form>"
            )
        role = (
            f"<strong>{h(user.role)}</strong> (you)"
            if me
            else f'<form method="post" action="{base}/role" class="inline-form">'
            f"{fr.csrf_field()}<div>{_role_select('role', user.role, 'role-' + user.user_uuid)}"
            '</div><button class="button secondary small" type="submit">Set</button></form>'
        )
        rows.append(
            f'<tr data-user="{h(user.email)}"><td>{h(user.display_name or user.email)}'
            f'<span class="sub">{h(user.email)}</span></td><td>{role}</td>'
            f"<td>{state} {toggle}</td>"
            f'<td><form method="post" action="{base}/password" class="inline-form">'
            f'{fr.csrf_field()}<div><input type="password" name="password" minlength="10" '
            f'required autocomplete="new-password" aria-label="New password for {h(user.email)}">'
            '</div><button class="button secondary small" type="submit">Reset</button></form></td>'
            "</tr>"
        )
    table = (
        '<div class="table-wrap"><table id="users"><thead><tr><th>User</th><th>Role</th>'
        f"<th>State</th><th>New password</th></tr></thead><tbody>{''.join(rows)}</tbody>"
        "</table></div>"
    )
    add = (
        '<section class="card"><h2>Add a user</h2>'
        f'<form method="post" action="{fr.url("/admin/users")}" id="add-user">'
        f'{fr.csrf_field()}<div class="grid">'
        '<div><label for="new-email">E-mail</label>'
        '<input type="email" id="new-email" name="email" required></div>'
        '<div><label for="new-name">Name</label>'
        '<input type="text" id="new-name" name="name" maxlength="200"></div>'
        f'<div><label for="new-role">Role</label>{_role_select("role", "member", "new-role")}'
        "</div>"
        '<div><label for="new-password">First password</label>'
        '<input type="password" id="new-password" name="password" minlength="10" required '
        'autocomplete="new-password"></div></div>'
        '<p class="muted">At least 10 characters, not a common password. Give it to the user; '
        "they can change it under their e-mail address at the top right.</p>"
        '<button class="button" type="submit" id="add-user-submit">Add user</button>'
        "</form></section>"
    )
    return _tabs(fr, "users") + notice(message) + table + ROLES_EXPLAINED + add


@signed_in_page
async def admin_users(request: Request, who: Principal) -> Response:
    try:
        users = await in_thread(lambda: _admin(request).users(who))
    except ServiceError as exc:
        return error_page(request, who, exc)
    fr = frame(request, who, "admin")
    return page(fr, "Users", users_html(fr, users, done_message(request)))


# -- groups -------------------------------------------------------------------------------


def groups_html(
    fr: Frame, groups: tuple[UserGroupInfo, ...], users: tuple[AccountUser, ...], message: str
) -> str:
    names = {x.user_uuid: x.display_name or x.email for x in users}
    cards = []
    for group in groups:
        base = fr.url("/admin/groups/") + u(group.user_group_uuid) + "/members"
        members = "".join(
            f"<li><span>{h(names.get(m, m))}</span>"
            f'<form method="post" action="{base}" class="inline">{fr.csrf_field()}'
            f'<input type="hidden" name="user" value="{h(m)}">'
            '<input type="hidden" name="remove" value="1">'
            '<button class="button secondary small" type="submit">Remove</button></form></li>'
            for m in group.user_uuid_list
        )
        outside = [x for x in users if x.user_uuid not in group.user_uuid_list]
        options = "".join(
            f'<option value="{h(x.user_uuid)}">{h(x.display_name or x.email)}</option>'
            for x in outside
        )
        add = (
            f'<form method="post" action="{base}" class="inline-form">{fr.csrf_field()}'
            f'<div><label for="m-{h(group.user_group_uuid)}">Add a member</label>'
            f'<select name="user" id="m-{h(group.user_group_uuid)}">{options}</select></div>'
            '<button class="button small" type="submit">Add</button></form>'
            if outside
            else ""
        )
        listed = (
            f'<ul class="list">{members}</ul>' if members else '<p class="empty">No members.</p>'
        )
        cards.append(
            f'<section class="card" data-group="{h(group.user_group_name)}">'
            f"<h2>{h(group.user_group_name)}</h2>{listed}{add}</section>"
        )
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
    return _tabs(fr, "groups") + notice(message) + empty + "".join(cards) + add_group


@signed_in_page
async def admin_groups(request: Request, who: Principal) -> Response:
    ctx = context(request)

    def load() -> tuple[tuple[UserGroupInfo, ...], tuple[AccountUser, ...]]:
        users = _admin(request).users(who)
        return DirectoryService(ctx.db).user_groups(who).user_group_list, users

    try:
        groups, users = await in_thread(load)
    except ServiceError as exc:
        return error_page(request, who, exc)
    fr = frame(request, who, "admin")
    return page(fr, "Groups", groups_html(fr, groups, users, done_message(request)))


# -- institutions and equipment -----------------------------------------------------------


def institutions_html(fr: Frame, institutions: tuple[InstitutionInfo, ...], message: str) -> str:
    rows = "".join(
        f"<li><span>{h(i.institution_name)}</span>"
        f'<span class="muted mono">{h(i.institution_uuid)}'
        f"{' · default for new studies' if i.is_default else ''}</span></li>"
        for i in institutions
    )
    add = (
        '<section class="card"><h2>Add an institution</h2>'
        f'<form method="post" action="{fr.url("/admin/institutions")}" class="inline-form" '
        f'id="add-institution">{fr.csrf_field()}'
        '<div><label for="institution-name">Name</label>'
        '<input type="text" id="institution-name" name="name" required maxlength="200"></div>'
        '<button class="button" type="submit">Add institution</button></form></section>'
    )
    return (
        _tabs(fr, "institutions")
        + notice(message)
        + f'<section class="card"><ul class="list" id="institutions">{rows}</ul></section>'
        + add
    )


@signed_in_page
async def admin_institutions(request: Request, who: Principal) -> Response:
    fr = frame(request, who, "admin")
    if not fr.is_admin:
        return error_page(request, who, _not_admin(who))
    ctx = context(request)
    institutions = await in_thread(
        lambda: DirectoryService(ctx.db).institutions(who).institution_list
    )
    return page(fr, "Institutions", institutions_html(fr, institutions, done_message(request)))


def _equipment_fields(
    fr: Frame, prefix: str, e: EquipmentInfo | None, institutions: tuple[InstitutionInfo, ...]
) -> str:
    chosen = e.institution_uuid if e else ""
    options = "".join(
        f'<option value="{h(i.institution_uuid)}"'
        f"{' selected' if i.institution_uuid == chosen else ''}>{h(i.institution_name)}</option>"
        for i in institutions
    )

    def field(name: str, label: str, value: str, extra: str = "") -> str:
        return (
            f'<div><label for="{prefix}-{name}">{label}</label>'
            f'<input type="text" id="{prefix}-{name}" name="{name}" value="{h(value)}"{extra}>'
            "</div>"
        )

    return (
        '<div class="grid">'
        + field("name", "Name", e.equipment_name if e else "", " required maxlength=200")
        + field("modality", "Modality", e.modality if e else "", " maxlength=16")
        + field("ae_title", "AE title", e.ae_title if e else "", " maxlength=16")
        + field("host", "Host", e.host if e else "", " maxlength=255")
        + field("port", "Port", str(e.port) if e and e.port else "", ' inputmode="numeric"')
        + f'<div><label for="{prefix}-institution">Institution</label>'
        f'<select id="{prefix}-institution" name="institution">{options}</select></div>' + "</div>"
    )


def equipment_html(
    fr: Frame,
    equipment: tuple[EquipmentInfo, ...],
    institutions: tuple[InstitutionInfo, ...],
    message: str,
) -> str:
    cards = []
    for e in equipment:
        base = fr.url("/admin/equipment/") + u(e.equipment_uuid)
        cards.append(
            f'<details class="card" data-equipment="{h(e.equipment_name)}"><summary>'
            f"{h(e.equipment_name)} · {h(e.modality or 'any modality')} · "
            f"AE {h(e.ae_title or '—')}"
            f"{' · ' + h(e.host) + ':' + str(e.port) if e.host and e.port else ''}</summary>"
            f'<form method="post" action="{base}">{fr.csrf_field()}'
            + _equipment_fields(fr, "e-" + e.equipment_uuid, e, institutions)
            + '<button class="button small" type="submit">Save</button></form>'
            f'<form method="post" action="{base}/remove" data-confirm="Remove '
            f'{h(e.equipment_name)}? Its AE title is refused from the next association on.">'
            f'{fr.csrf_field()}<button class="button danger small" type="submit">Remove</button>'
            "</form></details>"
        )
    empty = '<p class="card empty">No equipment yet.</p>' if not equipment else ""
    add = (
        '<section class="card"><h2>Add equipment</h2>'
        '<p class="muted">A modality or workstation. Its AE title lets it reach the DICOM '
        "node (port and title in the README); with a host and a port it is also a C-MOVE "
        "destination.</p>"
        f'<form method="post" action="{fr.url("/admin/equipment")}" id="add-equipment">'
        f"{fr.csrf_field()}"
        + _equipment_fields(fr, "new", None, institutions)
        + '<button class="button" type="submit">Add equipment</button></form></section>'
    )
    return _tabs(fr, "equipment") + notice(message) + empty + "".join(cards) + add


@signed_in_page
async def admin_equipment(request: Request, who: Principal) -> Response:
    fr = frame(request, who, "admin")
    if not fr.is_admin:
        return error_page(request, who, _not_admin(who))
    ctx = context(request)

    def load() -> tuple[tuple[EquipmentInfo, ...], tuple[InstitutionInfo, ...]]:
        directory = DirectoryService(ctx.db)
        return (
            directory.equipment(who).equipment_list,
            directory.institutions(who).institution_list,
        )

    equipment, institutions = await in_thread(load)
    return page(fr, "Equipment", equipment_html(fr, equipment, institutions, done_message(request)))


def _not_admin(who: Principal) -> ServiceError:
    return Forbidden(refusal(who, Action.ADMINISTER))


# -- changes ------------------------------------------------------------------------------


def _equipment_input(form: dict[str, list[str]]) -> EquipmentInput:
    port_text = first(form, "port")
    if port_text and not port_text.isdigit():
        raise BadRequest(f"port: {port_text!r} is not a number")
    return EquipmentInput(
        institution_uuid=first(form, "institution"),
        name=first(form, "name"),
        modality=first(form, "modality"),
        ae_title=first(form, "ae_title"),
        host=first(form, "host"),
        port=int(port_text) if port_text else None,
    )


Form = dict[str, list[str]]
Params = dict[str, str]


def _add_user(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    password = (f.get("password") or [""])[0]
    s.add_user(w, first(f, "email"), first(f, "name"), first(f, "role"), password)


def _role(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.set_role(w, p["user"], first(f, "role"))


def _password(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.set_password(w, p["user"], (f.get("password") or [""])[0])


def _disable(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.set_disabled(w, p["user"], True)


def _enable(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.set_disabled(w, p["user"], False)


def _add_group(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.add_group(w, first(f, "name"))


def _members(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.set_member(w, p["group"], first(f, "user"), first(f, "remove") != "1")


def _add_institution(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.add_institution(w, first(f, "name"))


def _add_equipment(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.add_equipment(w, _equipment_input(f))


def _equipment(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.update_equipment(w, p["equipment"], _equipment_input(f))


def _remove_equipment(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.remove_equipment(w, p["equipment"])


Change = Callable[[AdminService, Principal, Form, Params], None]

#: name: (what it does, the page it goes back to, the DONE key)
CHANGES: dict[str, tuple[Change, str, str]] = {
    "add-user": (_add_user, "/admin/users", "user-added"),
    "role": (_role, "/admin/users", "user-changed"),
    "password": (_password, "/admin/users", "user-changed"),
    "disable": (_disable, "/admin/users", "user-changed"),
    "enable": (_enable, "/admin/users", "user-changed"),
    "add-group": (_add_group, "/admin/groups", "group-added"),
    "members": (_members, "/admin/groups", "group-changed"),
    "add-institution": (_add_institution, "/admin/institutions", "institution-added"),
    "add-equipment": (_add_equipment, "/admin/equipment", "equipment-added"),
    "equipment": (_equipment, "/admin/equipment", "equipment-changed"),
    "remove-equipment": (_remove_equipment, "/admin/equipment", "equipment-removed"),
}


def admin_change(name: str) -> Callable[[Request], Awaitable[Response]]:
    """The handler of one admin form (``CHANGES[name]``)."""
    work, back, done = CHANGES[name]

    async def handler(request: Request) -> Response:
        checked = await signed_in_post(request)
        if isinstance(checked, Response):
            return checked
        who, form = checked
        params = {k: str(v) for k, v in request.path_params.items()}
        service = _admin(request)
        try:
            await in_thread(lambda: work(service, who, form, params))
        except ServiceError as exc:
            return error_page(request, who, exc)
        return see_other(request, back, done)

    return handler
