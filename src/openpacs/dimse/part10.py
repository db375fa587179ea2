"""A C-STORE data set as a DICOM Part-10 file (pure).

What a C-STORE carries is the data set only, encoded in the presentation context's
transfer syntax; the store service takes Part-10 files (as STOW does). The data set's
bytes are kept exactly as received and get a File Meta Information group in front:
Media Storage SOP Class/Instance UID from the request, the negotiated Transfer Syntax,
and the calling AE title as Source Application Entity Title (PS3.10 7.1), so the file
says where it came from.
"""

from __future__ import annotations

from pydicom.dataset import FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import UID
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION

__all__ = ["part10"]


def part10(
    dataset: bytes,
    *,
    sop_class_uid: str,
    sop_instance_uid: str,
    transfer_syntax: str,
    source_ae_title: str = "",
) -> bytes:
    """``dataset`` (as received) behind a preamble, ``DICM`` and its File Meta group."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = UID(transfer_syntax)
    meta.ImplementationClassUID = PYNETDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = PYNETDICOM_IMPLEMENTATION_VERSION
    if source_ae_title:
        meta.SourceApplicationEntityTitle = source_ae_title
    out = DicomBytesIO()
    out.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(out, meta, enforce_standard=True)
    return bytes(out.getvalue()) + dataset
