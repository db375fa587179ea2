"""Every URL of the web application in one table (DESIGN: one routes table per face)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from openpacs.web.ui import order_list, signin
from openpacs.web.ui.static import static_file


def ui_routes() -> list[BaseRoute]:
    return [
        Route("/", signin.home, methods=["GET"]),
        Route("/signin", signin.sign_in, methods=["GET", "POST"]),
        Route("/signout", signin.sign_out, methods=["POST"]),
        Route("/account/password", signin.change_password, methods=["GET", "POST"]),
        Route("/static/{name}", static_file, methods=["GET"]),
        Route("/orders", order_list.order_list, methods=["GET"]),
    ]
