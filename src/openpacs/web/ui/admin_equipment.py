"""``/admin/equipment``: the account's modalities and workstations (name, modality, AE
title, host, port, institution): change, remove, and the form that adds one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openpacs.services.administration import AdminService, EquipmentInput
from openpacs.services.directory import DirectoryService, EquipmentInfo, InstitutionInfo
from openpacs.services.errors import BadRequest
from openpacs.services.permissions import Action, require
from openpacs.services.principal import Principal
from openpacs.web.context import context
from openpacs.web.ui.admin_common import ChangeRow, Params, Render, admin_page, tabs
from openpacs.web.ui.common import Form, confirmed_post, first, signed_in_page
from openpacs.web.ui.layout import Frame, h, notice, u


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
    return tabs(fr, "equipment") + notice(message) + empty + "".join(cards) + add


@signed_in_page
async def admin_equipment(request: Request, who: Principal) -> Response:
    ctx = context(request)

    def load(service: AdminService) -> Render:
        require(who, Action.ADMINISTER)  # the lists themselves are anyone's
        directory = DirectoryService(ctx.db)
        equipment = directory.equipment(who).equipment_list
        institutions = directory.institutions(who).institution_list
        return lambda fr, message: equipment_html(fr, equipment, institutions, message)

    return await admin_page(request, who, "Equipment", load)


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


def _add_equipment(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.add_equipment(w, _equipment_input(f))


def _equipment(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.update_equipment(w, p["equipment"], _equipment_input(f))


def _remove_equipment(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    s.remove_equipment(w, p["equipment"])


#: This page's forms by name (routes.py gives each its URL).
CHANGES: dict[str, ChangeRow] = {
    "add-equipment": (_add_equipment, "/admin/equipment", "equipment-added"),
    "equipment": (_equipment, "/admin/equipment", "equipment-changed"),
    "remove-equipment": (_remove_equipment, "/admin/equipment", "equipment-removed"),
}
