"""The modality worklist in SQL: the account's scheduled orders without images.

Matching keys are the worklist's own (PS3.4 K.6.1.2.2) but the rules are QIDO's: each
filter (from :func:`openpacs.protocol.qido.value_filter`) becomes a clause on an order
column through :func:`openpacs.index.qido_sql.match_column` (person names on the
normalised copy, wildcards, ranges, UID lists). The scheduled date and time are the two
halves of ``scheduled_datetime`` (``YYYY-MM-DD HH:MM``) in DICOM form; the station AE
title is the scheduled equipment's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, exists, func, select

from openpacs.dicom.attributes import Attribute
from openpacs.index.models import Equipment, PatientOrder, Study
from openpacs.index.order_link import SCHEDULED
from openpacs.index.qido_sql import match_column
from openpacs.protocol.qido import Filter

__all__ = ["COLUMNS", "worklist_statement"]

Col = SQLColumnExpression[Any]

#: Matching key (keyword) -> (column, normalised column for person names).
COLUMNS: dict[str, tuple[Col, Col | None]] = {
    "PatientName": (PatientOrder.patient_name, PatientOrder.patient_name_norm),
    "PatientID": (PatientOrder.patient_id, None),
    "PatientBirthDate": (PatientOrder.patient_birth_date, None),
    "PatientSex": (PatientOrder.patient_sex, None),
    "AccessionNumber": (PatientOrder.accession_number, None),
    "RequestedProcedureID": (PatientOrder.requested_procedure_id, None),
    "StudyInstanceUID": (PatientOrder.study_instance_uid, None),
    "Modality": (PatientOrder.modality, None),
    "ScheduledStationAETitle": (Equipment.ae_title, None),
    "ScheduledProcedureStepStartDate": (
        func.replace(func.substr(PatientOrder.scheduled_datetime, 1, 10), "-", ""),
        None,
    ),
    "ScheduledProcedureStepStartTime": (
        func.replace(func.substr(PatientOrder.scheduled_datetime, 12, 5), ":", ""),
        None,
    ),
}


def worklist_statement(
    account_id: int, filters: Mapping[str, tuple[Attribute, Filter]], *, dialect: str
) -> Select[PatientOrder, str, str]:
    """(order, station AE title, station name) of every matching worklist item, by
    scheduled time then creation."""
    where: list[ColumnElement[bool]] = [
        PatientOrder.account_id == account_id,
        PatientOrder.status == SCHEDULED,
        ~exists().where(Study.order_id == PatientOrder.id),
    ]
    for keyword, (attr, flt) in filters.items():
        column, norm = COLUMNS[keyword]
        clause = match_column(flt, attr, column, norm, dialect=dialect)
        if clause is not None:
            where.append(clause)
    return (
        select(PatientOrder, Equipment.ae_title, Equipment.name)
        .outerjoin(Equipment, Equipment.id == PatientOrder.scheduled_equipment_id)
        .where(*where)
        .order_by(PatientOrder.scheduled_datetime, PatientOrder.id)
    )
