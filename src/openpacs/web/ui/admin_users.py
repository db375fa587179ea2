"""``/admin/users``: the account's users with their role, password, state (disabled or
active) and the institutions each is limited to, and the form that adds one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openpacs.services.administration import AccountUser, AdminService
from openpacs.services.directory import DirectoryService, InstitutionInfo
from openpacs.services.principal import Principal
from openpacs.web.context import context
from openpacs.web.ui.admin_common import ChangeRow, Params, Render, admin_page, tabs
from openpacs.web.ui.common import Form, confirmed_post, first, signed_in_page
from openpacs.web.ui.layout import Frame, h, notice, u

ROLE_WORDS = {"admin": "Admin", "member": "Member", "reader": "Reader"}
ROLES_EXPLAINED = (
    '<p class="muted">Admins do everything, users and deletes too; members read every '
    "order, upload, organise and share; readers see only the orders assigned to them or "
    "their groups.</p>"
)


def _role_select(name: str, chosen: str, element_id: str) -> str:
    options = "".join(
        f'<option value="{role}"{" selected" if role == chosen else ""}>{h(words)}</option>'
        for role, words in ROLE_WORDS.items()
    )
    return f'<select name="{name}" id="{h(element_id)}">{options}</select>'


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
    return tabs(fr, "users") + notice(message) + table + ROLES_EXPLAINED + add


@signed_in_page
async def admin_users(request: Request, who: Principal) -> Response:
    ctx = context(request)

    def load(service: AdminService) -> Render:
        users = service.users(who)
        institutions = DirectoryService(ctx.db).institutions(who).institution_list
        return lambda fr, message: users_html(fr, users, institutions, message)

    return await admin_page(request, who, "Users", load)


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


#: This page's forms by name (routes.py gives each its URL).
CHANGES: dict[str, ChangeRow] = {
    "add-user": (_add_user, "/admin/users", "user-added"),
    "role": (_role, "/admin/users", "user-changed"),
    "password": (_password, "/admin/users", "user-changed"),
    "disable": (_disable, "/admin/users", "user-changed"),
    "enable": (_enable, "/admin/users", "user-changed"),
    "institutions": (_institutions, "/admin/users", "user-changed"),
}
