"""The modality worklist: scheduled patient orders are worklist items.

An order is on its account's worklist while it is scheduled and has no images; the
images a modality makes from the item carry the order's Study Instance UID (given when
the order was created) and so join it, which takes it off the list
(``index/order_link.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from openpacs.dicom.attributes import Attribute
from openpacs.index.db import Database
from openpacs.index.worklist_sql import worklist_statement
from openpacs.protocol.qido import Filter
from openpacs.services.principal import Principal

__all__ = ["WorklistItem", "worklist_items"]


@dataclass(frozen=True)
class WorklistItem:
    """One scheduled order, in the terms of a worklist item (DICOM date and time forms)."""

    patient_name: str
    patient_id: str
    other_patient_id: str
    patient_birth_date: str
    patient_sex: str
    accession_number: str
    study_instance_uid: str
    requested_procedure_id: str
    requested_procedure_description: str
    study_description: str
    referring_physician_name: str
    requesting_physician: str
    modality: str
    station_ae_title: str
    station_name: str
    start_date: str  # YYYYMMDD ("" when not scheduled at a time)
    start_time: str  # HHMM
    order_uuid: str


def worklist_items(
    db: Database, principal: Principal, filters: Mapping[str, tuple[Attribute, Filter]]
) -> Iterator[WorklistItem]:
    """The principal's account's worklist items matching ``filters`` (keyword -> filter)."""
    with db.session() as session:
        dialect = session.get_bind().dialect.name
        rows = session.execute(
            worklist_statement(principal.account_id, filters, dialect=dialect)
        ).all()
        items = [
            WorklistItem(
                patient_name=order.patient_name,
                patient_id=order.patient_id,
                other_patient_id=order.other_patient_id,
                patient_birth_date=order.patient_birth_date,
                patient_sex=order.patient_sex,
                accession_number=order.accession_number,
                study_instance_uid=order.study_instance_uid,
                requested_procedure_id=order.requested_procedure_id,
                requested_procedure_description=order.requested_procedure_description,
                study_description=order.study_description,
                referring_physician_name=order.referring_physicians_name,
                requesting_physician=order.requesting_physician,
                modality=order.modality,
                station_ae_title=ae_title or "",
                station_name=station or "",
                start_date=order.scheduled_datetime[:10].replace("-", ""),
                start_time=order.scheduled_datetime[11:16].replace(":", ""),
                order_uuid=order.uuid,
            )
            for order, ae_title, station in rows
        ]
    yield from items
