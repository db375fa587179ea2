"""openpacs Python SDK: every function of the vendor guide, sync and async.

>>> from openpacs.client import PacsClient
>>> with PacsClient("http://localhost:8080/dicomweb", "me@example.org", "secret") as pacs:
...     result = pacs.upload_directory("scans/")
...     studies = pacs.search(patient_id="123456")
...     files = pacs.retrieve(study_instance_uid=studies[0].study_instance_uid)

Every name is imported on first use (PEP 562), so that importing one submodule, such as
:mod:`openpacs.client.defaults`, loads nothing else: the command line starts at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openpacs.client import errors, results
    from openpacs.client.access_results import ApiToken, AuditEvent, AuditEventList
    from openpacs.client.aio import AsyncPacsClient
    from openpacs.client.errors import (
        AuthenticationError,
        BadRequestError,
        ConflictError,
        ConnectionFailed,
        IncompleteResponse,
        NoDicomFilesError,
        NotFoundError,
        PacsError,
        PermissionDenied,
        ServerError,
    )
    from openpacs.client.results import (
        Acknowledgement,
        DicomRecord,
        DicomTagContent,
        Equipment,
        FileResult,
        Folder,
        Institution,
        OrderSeries,
        PatientOrder,
        RetrieveResult,
        Share,
        TagValue,
        UploadResult,
        User,
        UserGroup,
    )
    from openpacs.client.sync import PacsClient

_ERRORS = (
    "AuthenticationError BadRequestError ConflictError ConnectionFailed IncompleteResponse "
    "NoDicomFilesError NotFoundError PacsError PermissionDenied ServerError"
)
_RESULTS = (
    "Acknowledgement DicomRecord DicomTagContent Equipment FileResult Folder Institution "
    "OrderSeries PatientOrder RetrieveResult Share TagValue UploadResult User UserGroup"
)
_ACCESS_RESULTS = "ApiToken AuditEvent AuditEventList"
_LAZY = {
    "PacsClient": "openpacs.client.sync",
    "AsyncPacsClient": "openpacs.client.aio",
    **{name: "openpacs.client.errors" for name in _ERRORS.split()},
    **{name: "openpacs.client.results" for name in _RESULTS.split()},
    **{name: "openpacs.client.access_results" for name in _ACCESS_RESULTS.split()},
}
_SUBMODULES = ("errors", "results")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value: Any = importlib.import_module(f"{__name__}.{name}")
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = [
    "Acknowledgement",
    "ApiToken",
    "AsyncPacsClient",
    "AuditEvent",
    "AuditEventList",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ConnectionFailed",
    "DicomRecord",
    "DicomTagContent",
    "Equipment",
    "FileResult",
    "Folder",
    "IncompleteResponse",
    "Institution",
    "NoDicomFilesError",
    "NotFoundError",
    "OrderSeries",
    "PacsClient",
    "PacsError",
    "PatientOrder",
    "PermissionDenied",
    "RetrieveResult",
    "ServerError",
    "Share",
    "TagValue",
    "UploadResult",
    "User",
    "UserGroup",
    "errors",
    "results",
]
