"""``/admin/account``: the account's name and AccountUuid, and the switch that turns its
DICOMweb root and custom API off or on."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openpacs.services.administration import AccountSettings, AdminService
from openpacs.services.errors import BadRequest
from openpacs.services.principal import Principal
from openpacs.web.ui.admin_common import ChangeRow, Params, Render, admin_page, tabs
from openpacs.web.ui.common import Form, confirmed_post, first, signed_in_page
from openpacs.web.ui.layout import Frame, h, notice


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
        tabs(fr, "account") + notice(message) + f'<section class="card"><h2>{h(settings.name)}</h2>'
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

    return await admin_page(request, who, "Account", load)


def _dicomweb(s: AdminService, w: Principal, f: Form, p: Params) -> None:
    enabled = first(f, "enabled")
    if enabled not in ("0", "1"):
        raise BadRequest("enabled: 1 (on) or 0 (off)")
    s.set_dicomweb(w, enabled == "1")


#: This page's forms by name (routes.py gives each its URL).
CHANGES: dict[str, ChangeRow] = {
    "dicomweb": (_dicomweb, "/admin/account", "account-changed"),
}
