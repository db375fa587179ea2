"""Entry point for an external ASGI server: ``uvicorn --factory openpacs.web.asgi:app_from_env``.

``openpacs serve`` does not use it: it builds the settings once (flags and environment)
and hands them to :func:`~openpacs.web.app.create_app`, or to each worker process.
"""

from __future__ import annotations

from starlette.applications import Starlette

from openpacs.settings import settings_from_env
from openpacs.web.app import create_app


def app_from_env() -> Starlette:
    return create_app(settings_from_env())
