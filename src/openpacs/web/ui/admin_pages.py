"""Administration for the account's admins: ``/admin/users`` (role, password, state,
the institutions a user is limited to), ``/admin/groups`` (members, rename, remove),
``/admin/institutions`` (rename, the default, remove when nothing uses it),
``/admin/equipment`` and ``/admin/account`` (the account's DICOMweb switch). Every change
goes through :class:`~openpacs.services.administration.AdminService`, which checks the
role and the account (others get 403) and records it in the audit trail.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from openpacs.services.administration import (
    AccountSettings,
    AccountUser,
    AdminGroup,
    AdminInstitution,
    AdminService,
    EquipmentInput,
)
from openpacs.services.directory import DirectoryService, EquipmentInfo, InstitutionInfo
from openpacs.services.errors import BadRequest, ServiceError
from openpacs.services.permissions import Action, require
from openpacs.services.principal import Principal
from openpacs.web.context import context
from openpacs.web.ui.common import (
    Form,
    confirmed_post,
    done_message,
    error_page,
    first,
    frame,
    in_thread,
    run_change,
    signed_in_form,
    signed_in_page,
)
from openpacs.web.ui.layout import Frame, h, notice, page, u

TABS = (
    ("users", "Users"),
    ("groups", "Groups"),
    ("institutions", "Institutions"),
    ("equipment", "Equipment"),
    ("account", "Account"),
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


#: What renders a page's body from its frame and the ``done`` message.
Render = Callable[[Frame, str], str]


async def _admin_page(
    request: Request, who: Principal, title: str, load: Callable[[AdminService], Render]
) -> Response:
    """An administration page: ``load`` reads what it shows (in a thread, through the
    service, which refuses anyone but the account's admins) and says how to render it."""
    try:
        render = await in_thread(lambda: load(_admin(request)))
    except ServiceError as exc:
        return error_page(request, who, exc)
    fr = frame(request, who, "admin")
    return page(fr, title, render(fr, done_message(request)))


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


def _institutions_cell(
    fr: Frame, user: AccountUser, institutions: tuple[InstitutionInfo, ...], base: str
) -> str:
    """The institutions a user is limited to, and (for another user, when the admin has
    no limit) the form that changes them: none ticked = every institution."""
    names = {i.institution_uuid: i.institution_name for i in institutions}
    chosen = set(user.institution_uuids)
    shown = (
        ", ".join(names.get(uuid, "another institution") for uuid in user.institution_uuids)
        if chosen
        else "All"
    )
    me = fr.who is not None and fr.who.user_uuid == user.user_uuid
    if me or (fr.who is not None and fr.who.institution_ids is not None):
        return h(shown)
    boxes = "".join(
        f'<label class="check"><input type="checkbox" name="institution" '
        f'value="{h(i.institution_uuid)}"{" checked" if i.institution_uuid in chosen else ""}>'
        f" {h(i.institution_name)}</label>"
        for i in institutions
    )
    return (
        f'<details class="institutions"><summary>{h(shown)}</summary>'
        f'<form method="post" action="{base}/institutions">{fr.csrf_field()}{boxes}'
        '<p class="muted">None ticked: every institution, also those added later.</p>'
        '<button class="button secondary small" type="submit">Set</button></form></details>'
    )


def users_html(
    fr: Frame,
    users: tuple[AccountUser, ...],
    institutions: tuple[InstitutionInfo, ...],
    message: str,
) -> str:
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
            question = (
                "" if user.disabled else f"Disable {user.email}? They are signed out at once."
            )
            toggle = confirmed_post(
                fr,
                f"{base}/{verb}",
                verb.capitalize(),
                question,
                kind="secondary",
                form_attrs=' class="inline"',
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
            f"<td>{_institutions_cell(fr, user, institutions, base)}</td>"
            f'<td><form method="post" action="{base}/password" class="inline-form">'
            f'{fr.csrf_field()}<div><input type="password" name="password" minlength="10" '
            f'required autocomplete="new-password" aria-label="New password for {h(user.email)}">'
            '</div><button class="button secondary small" type="submit">Reset</button></form></td>'
            "</tr>"
        )
    table = (
        '<div class="table-wrap"><table id="users"><thead><tr><th>User</th><th>Role</th>'
        "<th>State</th><th>Institutions</th><th>New password</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody>"
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
    ctx = context(request)

    def load(service: AdminService) -> Render:
        users = service.users(who)
        institutions = DirectoryService(ctx.db).institutions(who).institution_list
        return lambda fr, message: users_html(fr, users, institutions, message)

    return await _admin_page(request, who, "Users", load)


# -- groups -------------------------------------------------------------------------------


def _group_remove_question(group: AdminGroup) -> str:
    """The confirmation of a group's removal: what it ends."""
    orders = group.assigned_orders
    return (
        f"Remove the group {group.user_group_name}? Its {len(group.user_uuid_list)} "
        "member(s) stay users but leave it"
        + (
            f"; the {orders} order(s) assigned to it are then assigned to no group "
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
        f'<p class="muted">{group.assigned_orders} order(s) assigned to this group.</p>'
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
    return _tabs(fr, "groups") + notice(message) + empty + cards + add_group


@signed_in_page
async def admin_groups(request: Request, who: Principal) -> Response:
    def load(service: AdminService) -> Render:
        groups, users = service.groups(who), service.users(who)
        return lambda fr, message: groups_html(fr, groups, users, message)

    return await _admin_page(request, who, "Groups", load)


# -- institutions and equipment -----------------------------------------------------------


def _uses(i: AdminInstitution) -> str:
    parts = [f"{i.orders} order(s)"]
    if i.equipment:
        parts.append(f"{len(i.equipment)} equipment")
    if i.limited_users:
        parts.append(f"{len(i.limited_users)} user(s) limited to it")
    return " · ".join(parts)


def _institution_card(fr: Frame, i: AdminInstitution) -> str:
    key = h(i.institution_uuid)
    base = fr.url("/admin/institutions/") + u(i.institution_uuid)
    default = (
        ' <span class="pill ok">default</span>'
        if i.is_default
        else f'<form method="post" action="{base}/default" class="inline">{fr.csrf_field()}'
        '<button class="button secondary small" type="submit">Make default</button></form>'
    )
    remove = (
        f'<p class="muted" data-refusal>Cannot be removed: {h(i.removal_refusal)}.</p>'
        if i.removal_refusal
        else confirmed_post(
            fr,
            f"{base}/remove",
            "Remove institution",
            f"Remove the institution {i.institution_name}? Nothing refers to it any more.",
        )
    )
    return (
        f'<details class="card" data-institution="{h(i.institution_name)}"><summary>'
        f"{h(i.institution_name)}{' · default' if i.is_default else ''}"
        f' <span class="muted">· {h(_uses(i))}</span></summary>'
        f'<p class="muted mono">{key}</p>'
        f'<form method="post" action="{base}/rename" class="inline-form">{fr.csrf_field()}'
        f'<div><label for="i-{key}">Name</label><input type="text" id="i-{key}" name="name" '
        f'value="{h(i.institution_name)}" required maxlength="200"></div>'
        '<button class="button secondary small" type="submit">Rename</button></form>'
        f"<p>{default}</p>{remove}</details>"
    )


DEFAULT_EXPLAINED = (
    '<p class="muted">A study that arrives without an order (from a modality, an upload) '
    "gets its new order in the default institution. An institution with orders stays: it "
    "decides who may see them; rename it instead.</p>"
)


def institutions_html(fr: Frame, institutions: tuple[AdminInstitution, ...], message: str) -> str:
    add = (
        '<section class="card"><h2>Add an institution</h2>'
        f'<form method="post" action="{fr.url("/admin/institutions")}" class="inline-form" '
        f'id="add-institution">{fr.csrf_field()}'
        '<div><label for="institution-name">Name</label>'
        '<input type="text" id="institution-name" name="name" required maxlength="200"></div>'
        '<button class="button" type="submit" id="add-institution-submit">Add institution'
        "</button></form></section>"
    )
    cards = "".join(_institution_card(fr, i) for i in institutions)
    return (
        _tabs(fr, "institutions")
        + notice(message)
        + DEFAULT_EXPLAINED
        + f'<div id="institutions">{cards}</div>'
        + add
    )


@signed_in_page
async def admin_institutions(request: Request, who: Principal) -> Response:
    def load(service: AdminService) -> Render:
        institutions = service.institutions(who)
        return lambda fr, message: institutions_html(fr, institutions, message)

    return await _admin_page(request, who, "Institutions", load)


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
            + confirmed_post(
                fr,
                f"{base}/remove",
                "Remove",
                f"Remove {e.equipment_name}? Its AE title is refused from the next association on.",
            )
            + "</details>"
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
    ctx = context(request)

    def load(service: AdminService) -> Render:
        require(who, Action.ADMINISTER)  # the lists themselves are anyone's
        directory = DirectoryService(ctx.db)
        equipment = directory.equipment(who).equipment_list
        institutions = directory.institutions(who).institution_list
        return lambda fr, message: equipment_html(fr, equipment, institutions, message)

    return await _admin_page(request, who, "Equipment", load)


def account_html(fr: Frame, settings: AccountSettings, message: str) -> str:
    on = settings.dicomweb_enabled
    state = (
        '<span class="pill ok" id="dicomweb-state">on</span>'
        if on
        else '<span class="pill bad" id="dicomweb-state">off</span>'
    )
    question = (
        "Switch DICOMweb off? Viewers, scripts, API tokens, uploads and the viewer of this "
        "application stop working for the whole account."
        if on
        else ""
    )
    return (
        _tabs(fr, "account")
        + notice(message)
        + f'<section class="card"><h2>{h(settings.name)}</h2>'
        f'<p class="muted mono">AccountUuid {h(settings.account_uuid)}</p>'
        f"<h3>DICOMweb and the API: {state}</h3>"
        '<p class="muted">When it is off, the account\'s DICOMweb root and custom API '
        "answer 403 to every client (viewers, scripts, API tokens, PostDICOM-style "
        "clients), and so do this application's Upload page and OHIF viewer. The other "
        "pages, share links and the DICOM network services keep working.</p>"
        + confirmed_post(
            fr,
            fr.url("/admin/account/dicomweb"),
            f"Switch DICOMweb {'off' if on else 'on'}",
            question,
            kind="danger" if on else "",
            fields=f'<input type="hidden" name="enabled" value="{"0" if on else "1"}">',
            form_attrs=' id="dicomweb"',
            button_id="dicomweb-submit",
        )
        + "</section>"
    )


@signed_in_page
async def admin_account(request: Request, who: Principal) -> Response:
    def load(service: AdminService) -> Render:
        settings = service.settings(who)
        return lambda fr, message: account_html(fr, settings, message)

    return await _admin_page(request, who, "Account", load)


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


def _institutions(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.set_institutions(w, p["user"], [x for x in f.get("institution", []) if x.strip()])


def _add_group(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.add_group(w, first(f, "name"))


def _rename_group(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.rename_group(w, p["group"], first(f, "name"))


def _remove_group(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.remove_group(w, p["group"])


def _members(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.set_member(w, p["group"], first(f, "user"), first(f, "remove") != "1")


def _add_institution(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.add_institution(w, first(f, "name"))


def _rename_institution(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.rename_institution(w, p["institution"], first(f, "name"))


def _default_institution(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.set_default_institution(w, p["institution"])


def _remove_institution(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.remove_institution(w, p["institution"])


def _dicomweb(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    enabled = first(f, "enabled")
    if enabled not in ("0", "1"):
        raise BadRequest("enabled: 1 (on) or 0 (off)")
    s.set_dicomweb(w, enabled == "1")


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
    "institutions": (_institutions, "/admin/users", "user-changed"),
    "add-group": (_add_group, "/admin/groups", "group-added"),
    "members": (_members, "/admin/groups", "group-changed"),
    "rename-group": (_rename_group, "/admin/groups", "group-renamed"),
    "remove-group": (_remove_group, "/admin/groups", "group-removed"),
    "add-institution": (_add_institution, "/admin/institutions", "institution-added"),
    "rename-institution": (_rename_institution, "/admin/institutions", "institution-changed"),
    "default-institution": (_default_institution, "/admin/institutions", "institution-changed"),
    "remove-institution": (_remove_institution, "/admin/institutions", "institution-removed"),
    "dicomweb": (_dicomweb, "/admin/account", "account-changed"),
    "add-equipment": (_add_equipment, "/admin/equipment", "equipment-added"),
    "equipment": (_equipment, "/admin/equipment", "equipment-changed"),
    "remove-equipment": (_remove_equipment, "/admin/equipment", "equipment-removed"),
}


def admin_change(name: str) -> Callable[[Request], Awaitable[Response]]:
    """The handler of one admin form (``CHANGES[name]``)."""
    work, back, done = CHANGES[name]

    @signed_in_form
    async def handler(request: Request, who: Principal, form: Form) -> Response:
        params = {k: str(v) for k, v in request.path_params.items()}
        service = _admin(request)

        def change() -> str:
            work(service, who, form, params)
            return back

        return await run_change(request, who, change, done)

    return handler
