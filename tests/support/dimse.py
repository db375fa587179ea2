"""Registering DICOM peers in a test server's database, and a pynetdicom SCU."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_file_meta_info
from pydicom.uid import CTImageStorage as CT_IMAGE
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE, _config
from pynetdicom.association import Association
from pynetdicom.presentation import PresentationContext, build_context

from openpacs.index.db import Database
from openpacs.services import accounts
from tests.support.server import ServerProcess, TestAccount


def new_ae_title(prefix: str = "T") -> str:
    """A fresh AE title (16 characters at most), so tests never share one."""
    return (prefix + uuid.uuid4().hex)[:16].upper()


def add_equipment(
    server: ServerProcess,
    account: TestAccount,
    ae_title: str,
    *,
    host: str = "",
    port: int | None = None,
    modality: str = "",
    institution_uuid: str = "",
) -> str:
    """Register an equipment of ``account`` (its default institution unless another is
    named) with this AE title; its EquipmentUuid."""
    db = Database(server.database_url)
    try:
        with db.session() as session:
            equipment = accounts.add_equipment(
                session,
                institution_uuid or account.institution_uuid,
                name=f"equipment {ae_title}",
                modality=modality,
                ae_title=ae_title,
                host=host,
                port=port,
            )
            return equipment.uuid
    finally:
        db.dispose()


# -- pynetdicom as the SCU -----------------------------------------------------------------


@contextmanager
def association(
    server: ServerProcess,
    calling: str,
    contexts: list[PresentationContext],
    *,
    called: str = "OPENPACS",
    **kwargs: Any,
) -> Iterator[Association]:
    """An established association with the server's DICOM node (released afterwards)."""
    ae = AE(ae_title=calling)
    ae.requested_contexts = contexts
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 60
    assoc = ae.associate("127.0.0.1", server.dicom_port, ae_title=called, **kwargs)
    if not assoc.is_established:
        running = server.process is not None and server.process.poll() is None
        raise AssertionError(
            f"association of {calling} not established (the server is "
            f"{'running' if running else 'stopped'}); its log ends:\n"
            + server.log_path.read_text(errors="replace")[-1500:]
        )
    try:
        yield assoc
    finally:
        if assoc.is_established:
            assoc.release()
        ae.shutdown()


def file_meta(path: Path) -> tuple[str, str]:
    """(Media Storage SOP Class UID, Transfer Syntax UID) of a Part-10 file."""
    meta = read_file_meta_info(path)
    return str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID)


def store_files(
    server: ServerProcess, calling: str, paths: list[Path]
) -> dict[Path, Dataset | None]:
    """C-STORE each file exactly as it is (its data set bytes, in its own transfer
    syntax), like a modality; the response status data set of each (None when the
    server accepted no presentation context for it)."""
    _config.STORE_SEND_CHUNKED_DATASET = True  # send the file's bytes, never re-encoded
    pairs = sorted({file_meta(path) for path in paths})
    contexts = [build_context(sop_class, [ts]) for sop_class, ts in pairs]
    answers: dict[Path, Dataset | None] = {}
    with association(server, calling, contexts) as assoc:
        for path in paths:
            try:
                answers[path] = assoc.send_c_store(path)
            except ValueError:  # no accepted presentation context
                answers[path] = None
    return answers


def find(
    server: ServerProcess, calling: str, model: str, identifier: Dataset
) -> tuple[list[int], list[Dataset]]:
    """C-FIND with pynetdicom: every status received, and the pending identifiers."""
    with association(server, calling, [build_context(model)]) as assoc:
        statuses: list[int] = []
        found: list[Dataset] = []
        for answer, result in assoc.send_c_find(identifier, model):
            statuses.append(int(answer.Status))
            if result is not None and answer.Status in (0xFF00, 0xFF01):
                found.append(result)
    return statuses, found


def make_image(
    *,
    study: str,
    series: str,
    sop: str,
    patient: tuple[str, str],
    modality: str = "CT",
    study_date: str = "20200101",
    accession: str = "",
    instance_number: int = 1,
    series_number: int = 1,
    **extra: Any,
) -> bytes:
    """A small Part-10 image (8x8, 16 bit) with these attributes (``extra``: keyword=value)."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7" if modality == "OT" else CT_IMAGE
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = sop, study, series
    ds.PatientName, ds.PatientID = patient
    ds.PatientBirthDate, ds.PatientSex = "19700101", "O"
    ds.StudyDate, ds.StudyTime, ds.AccessionNumber = study_date, "101500", accession
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = modality, series_number, instance_number
    ds.StudyID, ds.ReferringPhysicianName = "1", "Ref^Rita"
    ds.Rows = ds.Columns = 8
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = bytes(128)
    for keyword, value in extra.items():
        setattr(ds, keyword, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = DicomBytesIO()
    ds.save_as(out, enforce_file_format=True)
    return bytes(out.getvalue())
