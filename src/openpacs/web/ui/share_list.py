"""Share links: ``/shares`` lists every share the user may manage (admins: all of the
account's; members: their own), active or expired, with revoke and a new expiry date.

A link's URL holds its secret and only a hash is stored, so the URL is shown once, when
the link is made (:func:`created_share_html`, with a copy button); a lost link is revoked
and made anew.

* ``GET /shares?show=active|expired|all``
* ``POST /shares/{uuid}/revoke``; ``POST /shares/{uuid}/extend`` (``expire``, or
  ``never=1``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import Response

from openpacs.services.directory import DirectoryService
from openpacs.services.errors import BadRequest, ServiceError
from openpacs.services.orders import OrderService
from openpacs.services.principal import Principal
from openpacs.services.shares import (
    CreatedShare,
    ShareInfo,
    ShareOptions,
    ShareService,
    today_in,
)
from openpacs.web.context import AppContext, context
from openpacs.web.share.pages import format_name
from openpacs.web.ui.common import (
    Form,
    done_message,
    error_page,
    first,
    frame,
    in_thread,
    iso_date,
    run_change,
    signed_in_form,
    signed_in_page,
    signed_in_post,
)
from openpacs.web.ui.layout import Frame, h, notice, page, u

SHOW = {"active": "Active", "expired": "Expired", "all": "All"}
#: A new link's default life (the form's first last day), in days.
SHARE_DAYS = 30


def parse_expiry(value: str) -> date | None:
    return iso_date(value, "expiry date")


def share_fields(key: str, today: date) -> str:
    """The fields of a "create share link" form (ids ``{key}-expire``, ``-password``,
    ``-downloadable``): last day, optional password, downloads allowed."""
    default = (today + timedelta(days=SHARE_DAYS)).isoformat()
    return (
        f'<label for="{key}-expire">Link works until (last day)</label>'
        f'<input type="date" id="{key}-expire" name="expire" value="{default}" '
        f'min="{today.isoformat()}" required>'
        f'<label for="{key}-password">Password (optional)</label>'
        f'<input type="password" id="{key}-password" name="password" '
        'autocomplete="new-password">'
        '<label class="check"><input type="checkbox" name="downloadable" value="1" '
        f'id="{key}-downloadable"> Recipients may download the images</label>'
    )


def created_share_html(fr: Frame, share: CreatedShare, back: str, back_label: str) -> str:
    until = f"until {share.expire_date}" if share.expire_date else "with no expiry date"
    return (
        '<section class="card narrow"><h1>Share link created</h1>'
        f"<p>The link works {h(until)}"
        f"{', with the password you chose' if share.password_protected else ''}"
        f"{', and allows downloads' if share.downloadable else ''}. "
        "Copy it now: for safety it is shown only this once.</p>"
        '<div class="copy-row"><input type="text" readonly id="share-url" '
        f'value="{h(share.share_url)}" aria-label="Share link">'
        '<button class="button" type="button" data-copy="share-url" id="copy">Copy</button></div>'
        f'<p><a class="button secondary" href="{back}">{h(back_label)}</a></p></section>'
    )


def share_service(ctx: AppContext) -> ShareService:
    return ShareService(ctx.db, ctx.settings.effective_public_url, ctx.settings.timezone)


def share_options(form: dict[str, list[str]], *, titled: bool = False) -> ShareOptions:
    """The options of a "create share link" form (BadRequest for a bad date)."""
    return ShareOptions(
        expire_date=parse_expiry(first(form, "expire")),
        password=(form.get("password") or [""])[0],
        downloadable=first(form, "downloadable") == "1",
        title=first(form, "title") if titled else "",
    )


async def create_share(
    request: Request,
    make: Callable[[ShareService, Principal, dict[str, list[str]]], CreatedShare],
    back: str,
    back_label: str,
    current: str,
) -> Response:
    """A "create share link" form post: the new link, shown once, or the error."""
    checked = await signed_in_post(request)
    if isinstance(checked, Response):
        return checked
    who, form = checked
    service = share_service(context(request))
    try:
        share = await in_thread(lambda: make(service, who, form))
    except ServiceError as exc:
        return error_page(request, who, exc)
    fr = frame(request, who, current)
    body = created_share_html(fr, share, fr.url(back), back_label)
    return page(fr, "Share link created", body)


def _state(share: ShareInfo) -> str:
    until = f"until {share.expire_date}" if share.expire_date else "no expiry date"
    pills = [
        f'<span class="pill bad">expired {h(share.expire_date)}</span>'
        if share.expired
        else f'<span class="pill ok">active, {h(until)}</span>'
    ]
    if share.password_protected:
        pills.append('<span class="pill">password</span>')
    if share.downloadable:
        pills.append('<span class="pill">downloads</span>')
    return " ".join(pills)


def _what(fr: Frame, share: ShareInfo, names: dict[str, str]) -> str:
    if share.kind == "folder":
        link = fr.url("/folders?folder=") + u(share.folder_uuid)
        return f'Folder <a href="{link}">{h(share.share_title or "(untitled)")}</a>'
    items = [
        f'<a href="{fr.url("/orders/")}{u(uuid)}">{h(names.get(uuid, "an order"))}</a>'
        for uuid in share.patient_order_uuid_list[:5]
    ]
    more = len(share.patient_order_uuid_list) - len(items)
    if more > 0:
        items.append(f"and {more} more")
    return ", ".join(items) or '<span class="muted">(its orders were deleted)</span>'


def _row(
    fr: Frame, share: ShareInfo, names: dict[str, str], users: dict[str, str], today: date
) -> str:
    base = fr.url("/shares/") + u(share.share_uuid)
    value = (
        share.expire_date if share.expire_date and share.expire_date >= today.isoformat() else ""
    )
    return (
        f'<tr id="share-{h(share.share_uuid)}" data-share="{h(share.share_uuid)}">'
        f"<td>{_what(fr, share, names)}"
        f'<span class="sub">made {h(share.created_at[:10])} by '
        f"{h(users.get(share.created_by_user_uuid, 'a former user'))}</span></td>"
        f"<td>{_state(share)}</td>"
        f'<td class="row-actions"><form method="post" action="{base}/extend" class="inline-form">'
        f'{fr.csrf_field()}<div><label for="x-{h(share.share_uuid)}">Last day</label>'
        f'<input type="date" id="x-{h(share.share_uuid)}" name="expire" value="{h(value)}" '
        f'min="{today.isoformat()}"></div>'
        '<button class="button secondary small" type="submit">Set</button></form></td>'
        f'<td class="row-actions"><form method="post" action="{base}/revoke" '
        'data-confirm="Revoke this share link? Whoever has it can no longer open it.">'
        f'{fr.csrf_field()}<button class="button danger small" type="submit">Revoke</button>'
        "</form></td></tr>"
    )


@signed_in_page
async def shares_page(request: Request, who: Principal) -> Response:
    ctx = context(request)
    show = request.query_params.get("show", "active")
    show = show if show in SHOW else "active"

    def load() -> tuple[tuple[ShareInfo, ...], dict[str, str], dict[str, str]]:
        shares = share_service(ctx).list_shares(who).share_list
        users = {
            x.user_uuid: x.display_name or x.email
            for x in DirectoryService(ctx.db).users(who).user_list
        }
        return shares, order_names(ctx, who, shares), users

    try:
        shares, names, users = await in_thread(load)
    except ServiceError as exc:
        return error_page(request, who, exc)
    fr = frame(request, who, "shares")
    today = today_in(ctx.settings.timezone)
    shown = [s for s in shares if show == "all" or (show == "expired") == s.expired]
    counts = {
        key: sum(1 for s in shares if key == "all" or (key == "expired") == s.expired)
        for key in SHOW
    }
    tabs = " ".join(
        f'<a href="{fr.url("/shares?show=" + key)}" id="show-{key}" '
        f'class="button {"" if key == show else "secondary"} small">{label} ({counts[key]})</a>'
        for key, label in SHOW.items()
    )
    rows = "".join(_row(fr, s, names, users, today) for s in shown)
    table = (
        '<div class="table-wrap"><table id="shares"><thead><tr><th>Shared</th><th>State</th>'
        f"<th>Expiry</th><th>Revoke</th></tr></thead><tbody>{rows}</tbody></table></div>"
        if rows
        else '<p class="card empty" id="no-shares">No share links here.</p>'
    )
    body = (
        "<h1>Share links</h1>"
        + notice(done_message(request))
        + '<p class="muted">A link is shown once, when it is made; to send a lost link '
        "again, revoke it and make a new one from the order or folder. Share an order from "
        "its page, a folder from the Folders page.</p>"
        + f'<div class="toolbar"><div>{tabs}</div></div>{table}'
    )
    return page(fr, "Share links", body)


def order_names(ctx: AppContext, who: Principal, shares: tuple[ShareInfo, ...]) -> dict[str, str]:
    """Patient names of the orders of these shares (those the user may see)."""
    wanted = [uuid for s in shares for uuid in s.patient_order_uuid_list[:5]]
    return {
        o.patient_order_uuid: format_name(o.patient_name) or "(no name)"
        for o in OrderService(ctx.db).summaries(who, wanted)
    }


@signed_in_form
async def share_revoke(request: Request, who: Principal, _form: Form) -> Response:
    share_uuid = str(request.path_params["share"])
    service = share_service(context(request))

    def work() -> str:
        service.delete(who, share_uuid)
        return "/shares"

    return await run_change(request, who, work, "share-deleted")


@signed_in_form
async def share_extend(request: Request, who: Principal, form: Form) -> Response:
    share_uuid = str(request.path_params["share"])
    service = share_service(context(request))

    def work() -> str:
        expire = parse_expiry(first(form, "expire"))
        if expire is None and first(form, "never") != "1":
            raise BadRequest("choose the link's last day")
        service.extend(who, share_uuid, expire)
        return "/shares?show=all"

    return await run_change(request, who, work, "share-extended")
