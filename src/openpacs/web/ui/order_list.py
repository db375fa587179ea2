"""``GET /orders``: the account's patient orders, newest first, with search and paging.

Every filter is a query parameter (so a search is a link that can be bookmarked and
the back button works): ``name`` (prefix, any case and accents, ``*``/``?`` wildcards as
QIDO), ``pid``, ``opid`` (other patient ID), ``acc``, ``from``/``to`` (study date),
``bfrom``/``bto`` (birth date), ``modality`` and ``institution`` (each may repeat: any of
them), ``status`` (Scheduled / ImagesReceived), ``mine`` (assigned to me or my groups),
``sort``, ``page`` and ``size``: every filter of the vendor's ``/getpatientorderlist``
and the web application's own. The search is :meth:`OrderService.search`, the API's,
answered from the order indexes; a reader sees only their assigned orders, as everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from openpacs.services.directory import DirectoryService, InstitutionInfo
from openpacs.services.errors import BadRequest, ServiceError
from openpacs.services.orders import SORTS, OrderPage, OrderQuery, OrderService, OrderSummary
from openpacs.services.principal import Principal
from openpacs.services.shares import CreatedShare, ShareService, today_in
from openpacs.web.context import context
from openpacs.web.share.pages import format_date, format_name, format_sex
from openpacs.web.ui.common import (
    done_message,
    frame,
    in_thread,
    iso_date,
    prefix_of,
    sentence,
    signed_in_page,
)
from openpacs.web.ui.layout import Frame, h, notice, page, u, values
from openpacs.web.ui.share_list import create_share, share_fields, share_options

PAGE_SIZES = (25, 50, 100)
#: The modalities offered in the filter (any other can be typed into the API).
COMMON_MODALITIES = ("CT", "MR", "US", "CR", "DX", "MG", "XA", "RF", "NM", "PT", "OT", "SC")
STATUSES = (("", "Any status"), ("Scheduled", "Scheduled"), ("ImagesReceived", "Images received"))
SORT_LABELS = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "study_date": "Study date, newest",
    "study_date_asc": "Study date, oldest",
    "name": "Patient name, A-Z",
    "name_desc": "Patient name, Z-A",
}
FILTERS = ("name", "pid", "opid", "acc", "from", "to", "bfrom", "bto", "status", "mine")
#: The filters that may repeat (``modality=CT&modality=MR``: an order of any of them).
LIST_FILTERS = ("modality", "institution")
#: The filters folded under "More filters" (the form opens it when one of them is set).
MORE_FILTERS = ("opid", "bfrom", "bto", "institution")
_MAX_LIST = 50  # more choices than any form offers: a hand-made URL, cut short


@dataclass(frozen=True)
class Search:
    """The list's query parameters, as given (for the form) and as understood."""

    values: dict[str, str]
    lists: dict[str, tuple[str, ...]]
    query: OrderQuery
    page: int
    size: int
    error: str = ""


def _date_range(
    values: dict[str, str], keys: tuple[str, str], what: str
) -> tuple[date | None, date | None]:
    """A from/to pair of date fields; BadRequest naming the field that is wrong."""
    start = iso_date(values[keys[0]], f"{what} from")
    end = iso_date(values[keys[1]], f"{what} to")
    if start and end and start > end:
        raise BadRequest(f"{what} from is after {what} to")
    return start, end


def _chosen(params: ImmutableMultiDict[str, str], name: str) -> tuple[str, ...]:
    """A repeatable filter's values, trimmed, without blanks and repeats."""
    found = (v.strip()[:200] for v in params.getlist(name))
    chosen = [v.upper() if name == "modality" else v for v in found if v]
    return tuple(dict.fromkeys(chosen))[:_MAX_LIST]


def parse_search(params: ImmutableMultiDict[str, str], who: Principal) -> Search:
    values = {name: params.get(name, "").strip()[:200] for name in (*FILTERS, "sort")}
    lists = {name: _chosen(params, name) for name in LIST_FILTERS}
    sort = values["sort"] if values["sort"] in SORTS else "newest"
    values["sort"] = sort
    size = int(params.get("size", "")) if params.get("size", "").isdigit() else PAGE_SIZES[0]
    size = size if size in PAGE_SIZES else PAGE_SIZES[0]
    raw_page = params.get("page", "")
    number = max(int(raw_page), 1) if raw_page.isdigit() and len(raw_page) < 7 else 1
    error = ""
    try:
        start, end = _date_range(values, ("from", "to"), "Study date")
        born_from, born_to = _date_range(values, ("bfrom", "bto"), "Birth date")
    except BadRequest as exc:
        error, start, end, born_from, born_to = sentence(exc.reason), None, None, None, None
    status = values["status"] if values["status"] in ("Scheduled", "ImagesReceived") else ""
    query = OrderQuery(
        institution_uuids=lists["institution"],
        patient_name=values["name"],
        patient_id=values["pid"],
        other_patient_id=values["opid"],
        accession_number=values["acc"],
        modalities=lists["modality"],
        study_date_from=start,
        study_date_to=end,
        birthdate_from=born_from,
        birthdate_to=born_to,
        limit=size,
        offset=(number - 1) * size,
        status=status,
        assigned_to_user_id=who.user_id if values["mine"] else None,
        sort=sort,
    )
    return Search(values, lists, query, number, size, error)


def _link(fr: Frame, search: Search, **changes: str | int) -> str:
    """The escaped URL of this search with ``changes`` (another page, size...)."""
    return fr.url(_path(search, **changes))


def _path(search: Search, **changes: str | int) -> str:
    """The path and query of this search with ``changes`` (not escaped)."""
    params: dict[str, str | tuple[str, ...]] = {k: v for k, v in search.values.items() if v}
    params.update({k: v for k, v in search.lists.items() if v})
    params["size"] = str(search.size)
    params.update({k: str(v) for k, v in changes.items()})
    if params.get("size") == str(PAGE_SIZES[0]):
        params.pop("size")
    if params.get("sort") == "newest":
        params.pop("sort")
    if params.get("page") == "1":
        params.pop("page")
    return "/orders" + ("?" + urlencode(params, doseq=True) if params else "")


def _select(name: str, label: str, options: list[tuple[str, str]], chosen: str) -> str:
    items = "".join(
        f'<option value="{h(value)}"{" selected" if value == chosen else ""}>{h(text)}</option>'
        for value, text in options
    )
    return (
        f'<div><label for="f-{name}">{label}</label>'
        f'<select id="f-{name}" name="{name}">{items}</select></div>'
    )


def _text(name: str, label: str, value: str, kind: str = "text", hint: str = "") -> str:
    placeholder = f' placeholder="{h(hint)}"' if hint else ""
    return (
        f'<div><label for="f-{name}">{label}</label>'
        f'<input type="{kind}" id="f-{name}" name="{name}" value="{h(value)}"{placeholder}></div>'
    )


def _choices(
    name: str, legend: str, options: list[tuple[str, str]], chosen: tuple[str, ...]
) -> str:
    """A row of checkboxes for a repeatable filter (none ticked: any)."""
    boxes = "".join(
        f'<label class="choice"><input type="checkbox" name="{name}" value="{h(value)}" '
        f'id="f-{name}-{n}"{" checked" if value in chosen else ""}> {h(text)}</label>'
        for n, (value, text) in enumerate(options)
    )
    return (
        f'<fieldset class="choices wide" id="f-{name}"><legend>{legend} '
        f'<span class="muted">(any when none is ticked)</span></legend>{boxes}</fieldset>'
    )


def _more_filters(search: Search, institutions: tuple[InstitutionInfo, ...]) -> str:
    """The vendor search's less used filters, folded (open when one of them is set)."""
    v = search.values
    fields = (
        _text("opid", "Other patient ID", v["opid"])
        + _text("bfrom", "Birth date from", v["bfrom"], "date")
        + _text("bto", "Birth date to", v["bto"], "date")
    )
    if len(institutions) > 1:
        known = [(i.institution_uuid, i.institution_name) for i in institutions]
        fields += _choices("institution", "Institutions", known, search.lists["institution"])
    is_set = any(v.get(k) or search.lists.get(k) for k in MORE_FILTERS)
    return (
        f'<details class="wide more-filters" id="more-filters"{" open" if is_set else ""}>'
        f'<summary>More filters</summary><div class="filters">{fields}</div></details>'
    )


def _filters(fr: Frame, search: Search, institutions: tuple[InstitutionInfo, ...]) -> str:
    v = search.values
    modalities = [(m, m) for m in COMMON_MODALITIES]
    modalities += [(m, m) for m in search.lists["modality"] if m not in COMMON_MODALITIES]
    fields = (
        _text("name", "Patient name", v["name"], hint="e.g. doe or doe^j*")
        + _text("pid", "Patient ID", v["pid"])
        + _text("acc", "Accession number", v["acc"])
        + _text("from", "Study date from", v["from"], "date")
        + _text("to", "Study date to", v["to"], "date")
        + _select("status", "Status", list(STATUSES), v["status"])
        + _select("sort", "Sort", list(SORT_LABELS.items()), v["sort"])
        + _choices("modality", "Modalities", modalities, search.lists["modality"])
        + _more_filters(search, institutions)
    )
    mine = (
        '<label class="check"><input type="checkbox" name="mine" value="1" id="f-mine"'
        f"{' checked' if v['mine'] else ''}> Assigned to me or my groups</label>"
    )
    return (
        f'<form class="card filters" method="get" action="{fr.url("/orders")}" id="search" '
        f'role="search">{fields}<div>{mine}</div>'
        f'<input type="hidden" name="size" value="{search.size}">'
        '<div class="actions"><button class="button" type="submit" id="search-submit">'
        f'Search</button><a class="button secondary" href="{fr.url("/orders")}">Clear</a>'
        "</div></form>"
    )


def _status_pill(status: str) -> str:
    if status == "ImagesReceived":
        return '<span class="pill ok">Images received</span>'
    return '<span class="pill wait">Scheduled</span>'


def _row(fr: Frame, order: OrderSummary, institutions: dict[str, str]) -> str:
    link = fr.url("/orders/") + u(order.patient_order_uuid)
    modalities = ", ".join(order.modalities_in_study) or order.modality
    born = format_date(order.patient_birthdate.replace("-", ""))
    sex = format_sex(order.patient_sex)
    name = format_name(order.patient_name) or "(no name)"
    institution = institutions.get(order.patient_order_institution_uuid, "")
    if len(institutions) < 2:
        institution = ""
    pid = f'<span class="sub">ID {h(values(order.patient_id))}</span>' if order.patient_id else ""
    pick = (
        f'<td class="pick"><input type="checkbox" name="order" form="share-selected" '
        f'value="{h(order.patient_order_uuid)}" aria-label="Select {h(name)}"></td>'
        if fr.may_write
        else ""
    )
    return (
        f'<tr data-order="{h(order.patient_order_uuid)}">{pick}'
        f'<td><a class="patient" href="{link}">{h(name)}</a>'
        f"{pid}</td>"
        f'<td class="hide-narrow nowrap">{h(born)}<span class="sub">{h(sex)}</span></td>'
        f'<td class="study-date nowrap">{h(order.study_date or "—")}</td>'
        f"<td>{h(modalities)}</td>"
        f'<td class="hide-narrow">{h(values(order.study_description))}'
        f'<span class="sub">{h(institution)}</span></td>'
        f'<td class="hide-narrow">{h(values(order.accession_number))}</td>'
        f'<td class="num hide-narrow">{order.number_of_instances}</td>'
        f"<td>{_status_pill(order.order_status)}{_viewer_link(fr, order)}</td></tr>"
    )


def _viewer_link(fr: Frame, order: OrderSummary) -> str:
    """An order with images opens in OHIF from the list (the order page has the rest,
    the built-in viewer included, when OHIF is off)."""
    if order.order_status != "ImagesReceived" or not order.study_instance_uid:
        return ""
    link = fr.ohif_link(order.study_instance_uid)
    if link is None:
        return ""
    return f' <a class="viewer-link small" href="{link}">Open in viewer</a>'


def _share_form(fr: Frame, today: date) -> str:
    """ "Share selected": one share link for the orders ticked in the list (the vendor
    guide shares several orders at once)."""
    return (
        f'<form method="post" action="{fr.url("/orders/share")}" id="share-selected" '
        f'class="card">{fr.csrf_field()}'
        '<details id="share-selected-box"><summary>Share the selected orders by one link'
        "</summary><p class=muted>Tick the orders in the list, then make the link.</p>"
        f"{share_fields('sel', today)}"
        '<button class="button" type="submit" id="share-selected-submit">Share selected'
        "</button></details></form>"
    )


def _results(fr: Frame, search: Search, result: OrderPage, institutions: dict[str, str]) -> str:
    total = result.total_count
    if total == 0:
        return '<p class="card empty" id="no-orders">No orders match this search.</p>'
    first_n = search.query.offset + 1
    last_n = search.query.offset + len(result.patient_order_list)
    pages = max((total + search.size - 1) // search.size, 1)
    rows = "".join(_row(fr, o, institutions) for o in result.patient_order_list)
    table = (
        '<div class="table-wrap"><table id="orders"><thead><tr>'
        + (
            '<th class="pick"><span class="visually-hidden">Select</span></th>'
            if fr.may_write
            else ""
        )
        + "<th>Patient</th><th class=hide-narrow>Born</th><th>Study date</th><th>Modality</th>"
        "<th class=hide-narrow>Description</th><th class=hide-narrow>Accession</th>"
        '<th class="num hide-narrow">Images</th><th>Status</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )
    prev_link = (
        f'<a class="button secondary small" rel="prev" id="prev-page" '
        f'href="{_link(fr, search, page=search.page - 1)}">← Previous</a>'
        if search.page > 1
        else ""
    )
    next_link = (
        f'<a class="button secondary small" rel="next" id="next-page" '
        f'href="{_link(fr, search, page=search.page + 1)}">Next →</a>'
        if search.page < pages
        else ""
    )
    sizes = "".join(
        f'<a href="{_link(fr, search, size=n, page=1)}"'
        f"{' class=sorted' if n == search.size else ''}>{n}</a> "
        for n in PAGE_SIZES
    )
    noun = "order" if total == 1 else "orders"
    count = (
        f'<span class="count" id="count">{first_n:,}–{last_n:,} of '
        f'<strong id="total">{total:,}</strong> {noun}</span>'
    )
    pager = (
        f'<div class="pager">{prev_link}<span class="muted">Page {search.page} of {pages:,}</span>'
        f'{next_link}<span class="muted hide-narrow">Per page: {sizes}</span></div>'
    )
    return f'<div class="toolbar">{count}</div>{table}{pager}'


def _known_institution(search: Search, institutions: tuple[InstitutionInfo, ...]) -> str:
    """Why the institution filter cannot be used, in words ("" when it is fine)."""
    known = {i.institution_uuid for i in institutions}
    if all(chosen in known for chosen in search.lists["institution"]):
        return ""
    return (
        "The institution in this search is not one of yours (it may have been removed): "
        "choose one from the list."
    )


@signed_in_page
async def order_list(request: Request, who: Principal) -> Response:
    ctx = context(request)
    fr = frame(request, who, "orders")
    search = parse_search(request.query_params, who)

    def load() -> tuple[OrderPage | None, tuple[InstitutionInfo, ...], str]:
        institutions = DirectoryService(ctx.db).institutions(who).institution_list
        error = search.error or _known_institution(search, institutions)
        if error:
            return None, institutions, error
        try:
            return OrderService(ctx.db).search(who, search.query), institutions, ""
        except ServiceError as exc:
            return None, institutions, sentence(exc.reason)

    result, institutions, error = await in_thread(load)
    if result is not None and result.total_count and not result.patient_order_list:
        # A page past the end (an old link, a typed number): the last page instead.
        last = (result.total_count + search.size - 1) // search.size
        return RedirectResponse(prefix_of(request) + _path(search, page=last), status_code=303)
    names = {i.institution_uuid: i.institution_name for i in institutions}
    today = today_in(ctx.settings.timezone)
    share = (
        _share_form(fr, today)
        if fr.may_write and result is not None and result.patient_order_list
        else ""
    )
    body = (
        '<div class="head"><h1>Orders</h1><div class="head-actions">'
        + (
            f'<a class="button" href="{fr.url("/upload")}">Upload images</a>'
            f'<a class="button secondary" href="{fr.url("/orders/new")}">New order</a>'
            if fr.may_write
            else ""
        )
        + "</div></div>"
        + notice(done_message(request))
        + _filters(fr, search, institutions)
        + notice(error, "error")
        + (_results(fr, search, result, names) if result is not None else "")
        + share
    )
    return page(fr, "Orders", body, status=400 if error else 200)


async def share_selected(request: Request) -> Response:
    """``POST /orders/share``: one share link for the orders ticked in the list."""

    def make(service: ShareService, who: Principal, form: dict[str, list[str]]) -> CreatedShare:
        chosen = list(dict.fromkeys(v.strip() for v in form.get("order", []) if v.strip()))
        if not chosen:
            raise BadRequest("tick the orders to share in the list first")
        return service.share_orders(who, chosen, share_options(form), "order")

    return await create_share(request, make, "/orders", "Back to the orders", "orders")
