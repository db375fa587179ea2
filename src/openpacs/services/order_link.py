"""Incoming images join a patient order (SPEC section 2).

A new study joins the account's order with the same StudyInstanceUID; else a scheduled
order with the same AccessionNumber that has no images yet; else a new order is made in
the account's default institution from the image header.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from openpacs.index.models import PatientOrder, Study
from openpacs.services.accounts import default_institution_id

if TYPE_CHECKING:
    from openpacs.dicom.ingest import ParsedInstance

SCHEDULED = "Scheduled"
IMAGES_RECEIVED = "ImagesReceived"


def link_study_to_order(
    session: Session, account_id: int, study_id: int, parsed: ParsedInstance
) -> int:
    study_uid = parsed.study_instance_uid
    order = session.scalar(
        select(PatientOrder).where(
            PatientOrder.account_id == account_id,
            PatientOrder.study_instance_uid == study_uid,
        )
    )
    accession = str(parsed.study.get("accession_number") or "")
    if order is None and accession:
        has_images = select(Study.id).where(Study.order_id == PatientOrder.id).exists()
        order = session.scalar(
            select(PatientOrder)
            .where(
                PatientOrder.account_id == account_id,
                PatientOrder.accession_number == accession,
                PatientOrder.status == SCHEDULED,
                ~has_images,
            )
            .order_by(PatientOrder.id)
            .limit(1)
        )
        if order is not None:
            # The order's generated UID gives way to the real one from the modality.
            order.study_instance_uid = study_uid
    if order is None:
        order = _order_from_header(session, account_id, parsed)
        session.add(order)
    order.status = IMAGES_RECEIVED
    if not order.study_date:
        order.study_date = str(parsed.study.get("study_date") or "")
    session.flush()
    study = session.get(Study, study_id)
    assert study is not None
    study.order_id = order.id
    return order.id


def _order_from_header(session: Session, account_id: int, parsed: ParsedInstance) -> PatientOrder:
    study = parsed.study
    return PatientOrder(
        account_id=account_id,
        institution_id=default_institution_id(session, account_id),
        status=IMAGES_RECEIVED,
        study_instance_uid=parsed.study_instance_uid,
        patient_name=str(study.get("patient_name") or ""),
        patient_name_norm=str(study.get("patient_name_norm") or ""),
        patient_id=str(study.get("patient_id") or ""),
        other_patient_id=str(study.get("other_patient_ids") or "")[:64],
        patient_birth_date=str(study.get("patient_birth_date") or ""),
        patient_sex=str(study.get("patient_sex") or ""),
        modality=str(parsed.series.get("modality") or ""),
        study_description=str(study.get("study_description") or ""),
        study_date=str(study.get("study_date") or ""),
        accession_number=str(study.get("accession_number") or ""),
        referring_physicians_name=str(study.get("referring_physician_name") or ""),
    )
