"""The patient-CD layout of a download: every instance's File ID and the DICOMDIR.

A study or series ZIP (the account's and a share's) is a DICOM file set (PS3.10): the
files are named by their File IDs (``DICOM/PAT00001/STU00001/SER00001/IMG00001``) and a
``DICOMDIR`` lists them, so viewers that read patient CDs open the unpacked archive as
one. Everything the DICOMDIR says comes from index columns, read before the first byte is
sent; no stored file is opened for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from openpacs.index.db import Database
from openpacs.index.retrieve_sql import InstanceRef, fetch_directory_rows

if TYPE_CHECKING:
    from openpacs.dicom.dicomdir import FileSetPlan

__all__ = ["file_set_plan"]


def file_set_plan(db: Database, account_id: int, refs: Sequence[InstanceRef]) -> FileSetPlan:
    """The File IDs of ``refs`` (already scoped to the caller) and their directory tree."""
    # dicomdir.py writes with pydicom, loaded at the first download rather than before a
    # restarted server's first answer (see web/warm_up.py).
    from openpacs.dicom.dicomdir import DicomdirInstance, plan_file_set

    with db.session() as session:
        rows = fetch_directory_rows(session, account_id, [ref.id for ref in refs])
    instances = []
    for ref in refs:
        row = rows.get(ref.id)
        if row is None:
            continue  # deleted meanwhile: the ZIP will not find its file either
        (patient_id, patient_name, birth_date, sex, study_date, study_time, description,
         study_id, accession, modality, series_number, instance_number) = row  # fmt: skip
        instances.append(
            DicomdirInstance(
                sop_instance_uid=ref.sop_uid,
                sop_class_uid=ref.sop_class_uid,
                transfer_syntax_uid=ref.transfer_syntax_uid,
                study_instance_uid=ref.study_uid,
                series_instance_uid=ref.series_uid,
                patient_id=patient_id or "",
                patient_name=patient_name or "",
                patient_birth_date=birth_date or "",
                patient_sex=sex or "",
                study_date=study_date or "",
                study_time=study_time or "",
                study_description=description or "",
                study_id=study_id or "",
                accession_number=accession or "",
                modality=modality or "",
                series_number=series_number,
                instance_number=instance_number,
            )
        )
    return plan_file_set(instances)
