"""Incoming images join a patient order (SPEC section 2).

A new study joins the account's order with the same StudyInstanceUID; else a scheduled
order with the same AccessionNumber that has no images yet; else a new order is made in
the account's default institution (or in the institution of the equipment that sent it
over DICOM) from the image header. An upload by a user limited
to some institutions claims its order first (:func:`claim_study_order`): the order must
be in one of theirs, and a new one is made in theirs, not in the default institution.

Runs inside the index writer's transaction for every new study, so its statements go
straight to the DBAPI cursor (see index/raw.py). ``SCHEDULED`` and ``IMAGES_RECEIVED``
are the order statuses this rule and image deletion move an order between.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from openpacs.index.models import Institution, PatientOrder, Study, utcnow
from openpacs.index.raw import RawStatement, RowInsert

if TYPE_CHECKING:
    from openpacs.dicom.parsed import ParsedInstance

SCHEDULED = "Scheduled"
IMAGES_RECEIVED = "ImagesReceived"

_BY_STUDY_UID = RawStatement(
    select(PatientOrder.id, PatientOrder.study_date).where(
        PatientOrder.account_id == bindparam("account_id"),
        PatientOrder.study_instance_uid == bindparam("uid"),
    )
)
_SCHEDULED_BY_ACCESSION = RawStatement(
    select(PatientOrder.id, PatientOrder.study_date)
    .where(
        PatientOrder.account_id == bindparam("account_id"),
        PatientOrder.accession_number == bindparam("accession"),
        PatientOrder.status == SCHEDULED,
        ~select(Study.id).where(Study.order_id == PatientOrder.id).exists(),
    )
    .order_by(PatientOrder.id)
    .limit(1)
)
_DEFAULT_INSTITUTION = RawStatement(
    select(Institution.id)
    .where(Institution.account_id == bindparam("account_id"))
    .order_by(Institution.is_default.desc(), Institution.id)
    .limit(1)
)
_INSERT_ORDER = RowInsert(PatientOrder)
# The order's generated UID gives way to the real one from the modality.
_IMAGES_RECEIVED = RawStatement(
    update(PatientOrder)
    .where(PatientOrder.id == bindparam("order_id"))
    .values(
        status=IMAGES_RECEIVED,
        study_instance_uid=bindparam("uid"),
        study_date=bindparam("study_date"),
        updated_at=bindparam("now"),
    )
)
_SET_STUDY_ORDER = RawStatement(
    update(Study).where(Study.id == bindparam("study_id")).values(order_id=bindparam("order_id"))
)


def link_study_to_order(
    session: Session,
    cursor: Any,
    account_id: int,
    study_id: int,
    parsed: ParsedInstance,
    institution_id: int | None = None,
) -> int:
    """Link the new study ``study_id`` to its order (found or made, in ``institution_id``
    or else the account's default institution); the order's id."""
    dialect = session.connection().dialect
    study_uid = parsed.study_instance_uid
    header_date = str(parsed.study.get("study_date") or "")
    params = {"account_id": account_id, "uid": study_uid}
    order = _BY_STUDY_UID.execute(cursor, dialect, params).fetchone()
    accession = str(parsed.study.get("accession_number") or "")
    if order is None and accession:
        params = {"account_id": account_id, "accession": accession}
        order = _SCHEDULED_BY_ACCESSION.execute(cursor, dialect, params).fetchone()
    if order is None:
        if institution_id is None:
            institution_id = _institution(session, cursor, account_id)
        values = _order_from_header(institution_id, parsed)
        values["account_id"] = account_id
        order_id = int(_INSERT_ORDER.execute(cursor, dialect, values).fetchone()[0])
    else:
        order_id = int(order[0])
        update_params = {
            "order_id": order_id,
            "uid": study_uid,
            "study_date": order[1] or header_date,
            "now": utcnow(),
        }
        _IMAGES_RECEIVED.execute(cursor, dialect, update_params)
    _SET_STUDY_ORDER.execute(cursor, dialect, {"study_id": study_id, "order_id": order_id})
    return order_id


def _institution(session: Session, cursor: Any, account_id: int) -> int:
    found = _DEFAULT_INSTITUTION.execute(
        cursor, session.connection().dialect, {"account_id": account_id}
    ).fetchone()
    if found is not None:
        return int(found[0])
    # Every account is created with one; an account without any gets it now (rare: ORM).
    institution = Institution(account_id=account_id, name="Default", is_default=True)
    session.add(institution)
    session.flush()
    return institution.id


def _order_from_header(institution_id: int, parsed: ParsedInstance) -> dict[str, Any]:
    study = parsed.study
    return {
        "institution_id": institution_id,
        "status": IMAGES_RECEIVED,
        "study_instance_uid": parsed.study_instance_uid,
        "patient_name": str(study.get("patient_name") or ""),
        "patient_name_norm": str(study.get("patient_name_norm") or ""),
        "patient_id": str(study.get("patient_id") or ""),
        "other_patient_id": str(study.get("other_patient_ids") or "")[:64],
        "patient_birth_date": str(study.get("patient_birth_date") or ""),
        "patient_sex": str(study.get("patient_sex") or ""),
        "modality": str(parsed.series.get("modality") or ""),
        "study_description": str(study.get("study_description") or ""),
        "study_date": str(study.get("study_date") or ""),
        "accession_number": str(study.get("accession_number") or ""),
        "referring_physicians_name": str(study.get("referring_physician_name") or ""),
    }


def claim_study_order(
    session: Session, account_id: int, parsed: ParsedInstance, allowed: frozenset[int]
) -> bool:
    """For an upload by a user limited to the institutions ``allowed``: True when the
    instance may be stored, i.e. its study joins an order of one of them.

    The order the instance would join (the same rule as :func:`link_study_to_order`)
    must be in ``allowed``; when there is none yet, one is made now, from the header, in
    the first allowed institution (the account's default one if allowed), so that the
    index writer links the study to it instead of making one in the default institution.
    False: the order is in another institution (or the user has none).
    """
    found = session.execute(
        select(PatientOrder.institution_id).where(
            PatientOrder.account_id == account_id,
            PatientOrder.study_instance_uid == parsed.study_instance_uid,
        )
    ).first()
    accession = str(parsed.study.get("accession_number") or "")
    if found is None and accession:
        found = session.execute(
            select(PatientOrder.institution_id)
            .where(
                PatientOrder.account_id == account_id,
                PatientOrder.accession_number == accession,
                PatientOrder.status == SCHEDULED,
                ~select(Study.id).where(Study.order_id == PatientOrder.id).exists(),
            )
            .order_by(PatientOrder.id)
            .limit(1)
        ).first()
    if found is not None:
        return int(found[0]) in allowed
    home = session.scalar(
        select(Institution.id)
        .where(Institution.account_id == account_id, Institution.id.in_(sorted(allowed)))
        .order_by(Institution.is_default.desc(), Institution.id)
        .limit(1)
    )
    if home is None:
        return False
    values = _order_from_header(int(home), parsed)
    session.add(PatientOrder(**{**values, "account_id": account_id, "status": SCHEDULED}))
    session.flush()
    return True
