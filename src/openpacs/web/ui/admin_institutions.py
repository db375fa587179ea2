"""``/admin/institutions``: the account's institutions with what uses each, rename, make
one the default, remove one that nothing uses (or say why it cannot go), and the form that
adds one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openpacs.services.administration import AdminInstitution, AdminService
from openpacs.services.principal import Principal
from openpacs.web.ui.admin_common import ChangeRow, Params, Render, admin_page, tabs
from openpacs.web.ui.common import Form, confirmed_post, first, signed_in_page
from openpacs.web.ui.layout import Frame, h, notice, u
from openpacs.words import counted


def _uses(i: AdminInstitution) -> str:
    parts = [counted(i.orders, "orders")]
    if i.equipment:
        parts.append(f"{len(i.equipment)} equipment")
    if i.limited_users:
        parts.append(f"{counted(len(i.limited_users), 'users')} limited to it")
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
        tabs(fr, "institutions")
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

    return await admin_page(request, who, "Institutions", load)


def _add_institution(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.add_institution(w, first(f, "name"))


def _rename_institution(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.rename_institution(w, p["institution"], first(f, "name"))


def _default_institution(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.set_default_institution(w, p["institution"])


def _remove_institution(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.remove_institution(w, p["institution"])


#: This page's forms by name (routes.py gives each its URL).
CHANGES: dict[str, ChangeRow] = {
    "add-institution": (_add_institution, "/admin/institutions", "institution-added"),
    "rename-institution": (_rename_institution, "/admin/institutions", "institution-changed"),
    "default-institution": (_default_institution, "/admin/institutions", "institution-changed"),
    "remove-institution": (_remove_institution, "/admin/institutions", "institution-removed"),
}
