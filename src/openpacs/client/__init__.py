"""openpacs Python SDK: every function of the vendor guide, sync and async.

>>> from openpacs.client import PacsClient
>>> with PacsClient("http://localhost:8042/dicomweb", "me@example.org", "secret") as pacs:
...     result = pacs.upload_directory("scans/")
...     studies = pacs.search(patient_id="123456")
...     files = pacs.retrieve(study_instance_uid=studies[0].study_instance_uid)
"""

from __future__ import annotations

from openpacs.client import errors, results
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

__all__ = [
    "Acknowledgement",
    "AsyncPacsClient",
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
