"""What the administration pages share: the tabs across their top, loading a page
through :class:`~openpacs.services.administration.AdminService` and the handler of an
admin form. The service checks the role and the account (anyone but the account's admins
gets 403) and records every change in the audit trail. The pages themselves are
:mod:`~openpacs.web.ui.admin_users`, :mod:`~openpacs.web.ui.admin_groups`,
:mod:`~openpacs.web.ui.admin_institutions`, :mod:`~openpacs.web.ui.admin_equipment` and
:mod:`~openpacs.web.ui.admin_account`; each names its forms in a ``CHANGES`` table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from openpacs.services.administration import AdminService
from openpacs.services.errors import ServiceError
from openpacs.services.principal import Principal
from openpacs.web.context import context
from openpacs.web.ui.common import (
    Form,
    done_message,
    error_page,
    frame,
    in_thread,
    run_change,
    signed_in_form,
)
from openpacs.web.ui.layout import Frame, page

TABS = (
    ("users", "Users"),
    ("groups", "Groups"),
    ("institutions", "Institutions"),
    ("equipment", "Equipment"),
    ("account", "Account"),
)


def admin_service(request: Request) -> AdminService:
    """The administration service for this request's database and DICOM settings."""
    ctx = context(request)
    return AdminService(ctx.db, ctx.settings.dicom_check_host)


#: What renders a page's body from its frame and the ``done`` message.
Render = Callable[[Frame, str], str]


async def admin_page(
    request: Request, who: Principal, title: str, load: Callable[[AdminService], Render]
) -> Response:
    """An administration page: ``load`` reads what it shows (in a thread, through the
    service, which refuses anyone but the account's admins) and says how to render it."""
    try:
        render = await in_thread(lambda: load(admin_service(request)))
    except ServiceError as exc:
        return error_page(request, who, exc)
    fr = frame(request, who, "admin")
    return page(fr, title, render(fr, done_message(request)))


def tabs(fr: Frame, current: str) -> str:
    links = " ".join(
        f'<a class="button small {"" if key == current else "secondary"}" id="tab-{key}" '
        f'href="{fr.url("/admin/" + key)}">{label}</a>'
        for key, label in TABS
    )
    return f'<h1>Administration</h1><nav class="tabs" aria-label="Administration">{links}</nav>'


Params = dict[str, str]

Change = Callable[[AdminService, Principal, Form, Params], None]

#: One admin form: (what it does, the page it goes back to, the DONE key).
ChangeRow = tuple[Change, str, str]


def admin_change(work: Change, back: str, done: str) -> Callable[[Request], Awaitable[Response]]:
    """The handler of one admin form (a row of a page module's ``CHANGES``)."""

    @signed_in_form
    async def handler(request: Request, who: Principal, form: Form) -> Response:
        params = {k: str(v) for k, v in request.path_params.items()}
        service = admin_service(request)

        def change() -> str:
            work(service, who, form, params)
            return back

        return await run_change(request, who, change, done)

    return handler
