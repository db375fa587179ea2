"""Entry point for ``uvicorn --factory openpacs.web.asgi:app_from_env`` (several workers)."""

from __future__ import annotations

from starlette.applications import Starlette

from openpacs.settings import settings_from_env
from openpacs.web.app import create_app


def app_from_env() -> Starlette:
    return create_app(settings_from_env())
