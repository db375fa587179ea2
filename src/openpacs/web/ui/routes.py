"""Every URL of the web application in one table (DESIGN: one routes table per face).

Pages answer GET; every change is a POST of a form with the session's CSRF token (see
:mod:`openpacs.web.session_auth`). What each page does is in its module's docstring.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from openpacs.web.ui import (
    admin_account,
    admin_equipment,
    admin_groups,
    admin_institutions,
    admin_users,
    folder_pages,
    new_order,
    order_list,
    order_page,
    share_list,
    signin,
    upload_page,
)
from openpacs.web.ui.admin_common import ChangeRow, admin_change
from openpacs.web.ui.static import static_file

_GET, _POST, _BOTH = ["GET"], ["POST"], ["GET", "POST"]

#: Every administration form by name, from the module of its page.
_ADMIN_CHANGES: dict[str, ChangeRow] = {
    **admin_users.CHANGES,
    **admin_groups.CHANGES,
    **admin_institutions.CHANGES,
    **admin_equipment.CHANGES,
    **admin_account.CHANGES,
}


def ui_routes() -> list[BaseRoute]:
    def change(name: str) -> Callable[[Request], Awaitable[Response]]:
        return admin_change(*_ADMIN_CHANGES[name])

    return [
        Route("/", signin.home, methods=_GET),
        Route("/signin", signin.sign_in, methods=_BOTH),
        Route("/signout", signin.sign_out, methods=_POST),
        Route("/account/password", signin.change_password, methods=_BOTH),
        Route("/static/{name}", static_file, methods=_GET),
        # orders
        Route("/orders", order_list.order_list, methods=_GET),
        Route("/orders/new", new_order.new_order, methods=_BOTH),
        Route("/orders/share", order_list.share_selected, methods=_POST),
        Route("/orders/{order}", order_page.order_page, methods=_GET),
        Route("/orders/{order}/viewer/{series}", order_page.order_viewer, methods=_GET),
        Route("/orders/{order}/tags/{series}", order_page.order_tags, methods=_GET),
        Route("/orders/{order}/folders", order_page.order_folders, methods=_POST),
        Route("/orders/{order}/assign", order_page.order_assign, methods=_POST),
        Route("/orders/{order}/share", order_page.order_share, methods=_POST),
        Route("/orders/{order}/delete", order_page.order_delete, methods=_BOTH),
        Route("/upload", upload_page.upload_page, methods=_GET),
        # folders and shares
        Route("/folders", folder_pages.folders_page, methods=_GET),
        Route("/folders", folder_pages.folder_create, methods=_POST),
        Route("/folders/{folder}/change", folder_pages.folder_change, methods=_POST),
        Route("/folders/{folder}/delete", folder_pages.folder_delete, methods=_POST),
        Route("/folders/{folder}/share", folder_pages.folder_share, methods=_POST),
        Route("/shares", share_list.shares_page, methods=_GET),
        Route("/shares/{share}/revoke", share_list.share_revoke, methods=_POST),
        Route("/shares/{share}/extend", share_list.share_extend, methods=_POST),
        # administration (admins)
        Route("/admin", admin_users.admin_users, methods=_GET),
        Route("/admin/users", admin_users.admin_users, methods=_GET),
        Route("/admin/users", change("add-user"), methods=_POST),
        Route("/admin/users/{user}/role", change("role"), methods=_POST),
        Route("/admin/users/{user}/password", change("password"), methods=_POST),
        Route("/admin/users/{user}/disable", change("disable"), methods=_POST),
        Route("/admin/users/{user}/enable", change("enable"), methods=_POST),
        Route("/admin/users/{user}/institutions", change("institutions"), methods=_POST),
        Route("/admin/groups", admin_groups.admin_groups, methods=_GET),
        Route("/admin/groups", change("add-group"), methods=_POST),
        Route("/admin/groups/{group}/members", change("members"), methods=_POST),
        Route("/admin/groups/{group}/rename", change("rename-group"), methods=_POST),
        Route("/admin/groups/{group}/remove", change("remove-group"), methods=_POST),
        Route("/admin/institutions", admin_institutions.admin_institutions, methods=_GET),
        Route("/admin/institutions", change("add-institution"), methods=_POST),
        Route(
            "/admin/institutions/{institution}/rename", change("rename-institution"), methods=_POST
        ),
        Route(
            "/admin/institutions/{institution}/default",
            change("default-institution"),
            methods=_POST,
        ),
        Route(
            "/admin/institutions/{institution}/remove", change("remove-institution"), methods=_POST
        ),
        Route("/admin/equipment", admin_equipment.admin_equipment, methods=_GET),
        Route("/admin/equipment", change("add-equipment"), methods=_POST),
        Route("/admin/equipment/{equipment}", change("equipment"), methods=_POST),
        Route("/admin/equipment/{equipment}/remove", change("remove-equipment"), methods=_POST),
        Route("/admin/account", admin_account.admin_account, methods=_GET),
        Route("/admin/account/dicomweb", change("dicomweb"), methods=_POST),
    ]
