"""``/orders/new``: a scheduled order (the fields of ``/createpatientorder``), with the
institution and the equipment chosen from lists. A wrong field shows the form again with
what was typed and the reason; a new order opens its page."""

from __future__ import annotations

from datetime import date, datetime

from starlette.requests import Request
from starlette.responses import Response

from openpacs.services.directory import DirectoryService, EquipmentInfo, InstitutionInfo
from openpacs.services.errors import BadRequest, ServiceError
from openpacs.services.orders import NewOrder, OrderService
from openpacs.services.principal import Principal
from openpacs.web.context import context
from openpacs.web.errors import status_of
from openpacs.web.ui.common import (
    Form,
    first,
    frame,
    in_thread,
    see_other,
    sentence,
    signed_in_form,
    signed_in_page,
)
from openpacs.web.ui.layout import Frame, h, notice, page
from openpacs.web.ui.order_list import COMMON_MODALITIES

#: (field, label, input type, required): the text fields, in the form's order.
TEXT_FIELDS = (
    ("family", "Family name", "text", True),
    ("given", "Given name", "text", False),
    ("pid", "Patient ID", "text", True),
    ("birthdate", "Birth date", "date", True),
    ("other_pid", "Other patient ID", "text", False),
    ("accession", "Accession number", "text", False),
    ("description", "Study description", "text", False),
    ("scheduled", "Scheduled for", "datetime-local", False),
    ("procedure_id", "Requested procedure ID", "text", False),
    ("procedure", "Requested procedure", "text", False),
    ("requesting", "Requesting physician", "text", False),
    ("referring", "Referring physician", "text", False),
)
SEXES = (("", "Not given"), ("F", "Female"), ("M", "Male"), ("O", "Other"))


def _options(pairs: list[tuple[str, str]], chosen: str) -> str:
    return "".join(
        f'<option value="{h(v)}"{" selected" if v == chosen else ""}>{h(t)}</option>'
        for v, t in pairs
    )


def form_html(
    fr: Frame,
    institutions: tuple[InstitutionInfo, ...],
    equipment: tuple[EquipmentInfo, ...],
    values: dict[str, str],
    error: str = "",
) -> str:
    default = next((i.institution_uuid for i in institutions if i.is_default), "")
    institution = values.get("institution") or default
    fields = []
    for name, label, kind, required in TEXT_FIELDS:
        mark = ' <span class="muted">(required)</span>' if required else ""
        fields.append(
            f'<div><label for="o-{name}">{label}{mark}</label>'
            f'<input type="{kind}" id="o-{name}" name="{name}" value="{h(values.get(name, ""))}"'
            f'{" required" if required else ""} maxlength="200"></div>'
        )
    names = {i.institution_uuid: i.institution_name for i in institutions}
    equipment_options = [("", "None")] + [
        (
            e.equipment_uuid,
            f"{e.equipment_name} ({e.modality or 'any'}"
            f"{', ' + e.ae_title if e.ae_title else ''}) · {names.get(e.institution_uuid, '')}",
        )
        for e in equipment
    ]
    modalities = [(m, m) for m in COMMON_MODALITIES]
    chosen_modality = values.get("modality", "CT").upper()
    if chosen_modality not in COMMON_MODALITIES:
        modalities.append((chosen_modality, chosen_modality))
    selects = (
        '<div><label for="o-institution">Institution</label>'
        f'<select id="o-institution" name="institution">'
        f"{_options([(i.institution_uuid, i.institution_name) for i in institutions], institution)}"
        "</select></div>"
        '<div><label for="o-modality">Modality</label>'
        f'<select id="o-modality" name="modality">{_options(modalities, chosen_modality)}'
        "</select></div>"
        '<div><label for="o-sex">Sex</label>'
        f'<select id="o-sex" name="sex">{_options(list(SEXES), values.get("sex", ""))}'
        "</select></div>"
        '<div><label for="o-equipment">Scheduled equipment</label>'
        f'<select id="o-equipment" name="equipment">'
        f"{_options(equipment_options, values.get('equipment', ''))}</select></div>"
    )
    complaints = (
        '<div class="wide"><label for="o-complaints">Complaints</label>'
        f'<textarea id="o-complaints" name="complaints" maxlength="2000">'
        f"{h(values.get('complaints', ''))}</textarea></div>"
    )
    return (
        "<h1>New order</h1>"
        '<p class="muted">A scheduled order: modalities see it in their worklist, and the '
        "images made for it join it when they arrive.</p>"
        f"{notice(error, 'error')}"
        f'<form method="post" action="{fr.url("/orders/new")}" class="card" id="new-order">'
        f'{fr.csrf_field()}<div class="grid">{"".join(fields[:4])}{selects}'
        f"{''.join(fields[4:])}{complaints}</div>"
        '<button class="button" type="submit" id="create-order">Create order</button> '
        f'<a class="button secondary" href="{fr.url("/orders")}">Cancel</a></form>'
    )


def _lists(
    request: Request, who: Principal
) -> tuple[tuple[InstitutionInfo, ...], tuple[EquipmentInfo, ...]]:
    directory = DirectoryService(context(request).db)
    return (
        directory.institutions(who).institution_list,
        directory.equipment(who).equipment_list,
    )


def new_order_from(values: dict[str, str]) -> NewOrder:
    """The order the form describes (BadRequest naming the field that is wrong)."""
    family, given = values.get("family", ""), values.get("given", "")
    if not family:
        raise BadRequest("Family name: required")
    for label, text in (("Family name", family), ("Given name", given)):
        if "^" in text or "=" in text or "\\" in text:
            raise BadRequest(f"{label}: the characters ^ = \\ are not allowed")
    if not values.get("pid"):
        raise BadRequest("Patient ID: required")
    try:
        born = date.fromisoformat(values.get("birthdate", ""))
    except ValueError:
        raise BadRequest("Birth date: required, as a date") from None
    scheduled = None
    if values.get("scheduled"):
        try:
            scheduled = datetime.fromisoformat(values["scheduled"])
        except ValueError:
            raise BadRequest("Scheduled for: not a date and time") from None
    return NewOrder(
        institution_uuid=values.get("institution", ""),
        patient_name=f"{family}^{given}" if given else family,
        patient_id=values["pid"],
        patient_birthdate=born,
        modality=values.get("modality", ""),
        other_patient_id=values.get("other_pid", ""),
        patient_sex=values.get("sex", "") if values.get("sex", "") in ("F", "M", "O") else "",
        study_description=values.get("description", ""),
        accession_number=values.get("accession", ""),
        patient_complaints=values.get("complaints", ""),
        order_scheduled_datetime=scheduled,
        requested_procedure_id=values.get("procedure_id", ""),
        requested_procedure_description=values.get("procedure", ""),
        requesting_physician=values.get("requesting", ""),
        referring_physicians_name=values.get("referring", ""),
        scheduled_equipment_uuid=values.get("equipment", ""),
    )


@signed_in_page
async def _blank_form(request: Request, who: Principal) -> Response:
    fr = frame(request, who, "new-order")
    if not fr.may_write:
        body = (
            '<section class="card narrow"><h1>New order</h1>'
            f"<p>Your role ({h(who.role)}) may not create orders.</p></section>"
        )
        return page(fr, "New order", body, status=403)
    institutions, equipment = await in_thread(lambda: _lists(request, who))
    return page(fr, "New order", form_html(fr, institutions, equipment, {}))


async def new_order(request: Request) -> Response:
    if request.method == "GET":
        return await _blank_form(request)
    return await _create_order(request)


@signed_in_form
async def _create_order(request: Request, who: Principal, form: Form) -> Response:
    ctx = context(request)
    names = [n for n, *_ in TEXT_FIELDS] + ["institution", "modality", "sex", "equipment"]
    values = {name: first(form, name) for name in names}
    values["complaints"] = (form.get("complaints") or [""])[0].strip()

    def work() -> str:
        return OrderService(ctx.db).create(who, new_order_from(values)).patient_order_uuid

    try:
        order_uuid = await in_thread(work)
    except ServiceError as exc:
        fr = frame(request, who, "new-order")
        institutions, equipment = await in_thread(lambda: _lists(request, who))
        body = form_html(fr, institutions, equipment, values, sentence(exc.reason))
        return page(fr, "New order", body, status=status_of(exc))
    return see_other(request, f"/orders/{order_uuid}", "order-created")
