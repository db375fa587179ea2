"""What a custom-API handler receives, and the shape of a handler.

A handler is a plain (blocking) function ``(ApiCall) -> <frozen dataclass>``: it runs in
a worker thread, calls a service, and returns the 200 body, which ``wire.to_wire``
turns into PascalCase JSON. Errors are raised as ``services.errors.ServiceError`` (or
``web.errors.HttpError``) and rendered with ``X-Error-Reason``. The declared return type
also documents the response in the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openpacs.protocol.custom_params import Params
from openpacs.services.principal import Principal
from openpacs.web.context import AppContext


@dataclass(frozen=True)
class ApiCall:
    ctx: AppContext
    principal: Principal
    params: Params
    # The DICOMweb root the request came through (for BulkDataURIs and links).
    dicomweb_base: str


ApiHandler = Callable[[ApiCall], Any]
