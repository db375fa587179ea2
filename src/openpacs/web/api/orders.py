"""Handlers of the order endpoints: parameters -> OrderService / TagContentService."""

from __future__ import annotations

from openpacs.services.orders import (
    DEFAULT_LIMIT,
    DeletedOrder,
    NewOrder,
    OrderPage,
    OrderProperties,
    OrderQuery,
    OrderService,
)
from openpacs.services.tag_content import TagContent, TagContentService
from openpacs.web.api.call import ApiCall


def create_patient_order(call: ApiCall) -> OrderProperties:
    p = call.params
    birthdate = p.date("PatientBirthdate")
    assert birthdate is not None  # required: the parser rejects requests without it
    new = NewOrder(
        institution_uuid=p.text("InstitutionUuid"),
        patient_name=p.text("PatientName"),
        patient_id=p.text("PatientId"),
        patient_birthdate=birthdate,
        modality=p.text("Modality"),
        other_patient_id=p.text("OtherPatientId"),
        patient_sex=p.text("PatientSex"),
        study_description=p.text("StudyDescription"),
        accession_number=p.text("AccessionNumber"),
        patient_complaints=p.text("PatientComplaints"),
        order_scheduled_datetime=p.datetime("OrderScheduledDatetime"),
        requested_procedure_id=p.text("RequestedProcedureId"),
        requested_procedure_description=p.text("RequestedProcedureDescription"),
        requesting_physician=p.text("RequestingPhysician"),
        referring_physicians_name=p.text("ReferringPhysiciansName"),
        scheduled_equipment_uuid=p.text("ScheduledEquipmentUuid"),
        study_instance_uid=p.text("StudyInstanceUID"),
    )
    return OrderService(call.ctx.db).create(call.principal, new)


def get_patient_order_properties(call: ApiCall) -> OrderProperties:
    p = call.params
    return OrderService(call.ctx.db, audit=call.ctx.audit).properties(
        call.principal, p.text("PatientOrderInstitutionUuid"), p.text("PatientOrderUuid")
    )


def get_patient_order_list(call: ApiCall) -> OrderPage:
    p = call.params
    query = OrderQuery(
        institution_uuids=p.items("InstitutionUuidList"),
        patient_name=p.text("PatientName"),
        patient_id=p.text("PatientId"),
        other_patient_id=p.text("OtherPatientId"),
        accession_number=p.text("AccessionNumber"),
        modalities=p.items("ModalityList"),
        study_date_from=p.date("StudyDateFrom"),
        study_date_to=p.date("StudyDateTo"),
        birthdate_from=p.date("PatientBirthdateFrom"),
        birthdate_to=p.date("PatientBirthdateTo"),
        assigned_user_uuid=p.text("AssignedUserUuid"),
        assigned_user_group_uuid=p.text("AssignedUserGroupUuid"),
        limit=p.integer("Limit") or DEFAULT_LIMIT,
        offset=p.integer("Offset") or 0,
    )
    return OrderService(call.ctx.db).search(call.principal, query)


def delete_order(call: ApiCall) -> DeletedOrder:
    p = call.params
    return OrderService(call.ctx.db, call.ctx.blobs).delete(
        call.principal, p.text("PatientOrderInstitutionUuid"), p.text("PatientOrderUuid")
    )


def get_dicom_tag_content(call: ApiCall) -> TagContent:
    p = call.params
    return TagContentService(call.ctx.db, call.ctx.audit).tag_content(
        call.principal,
        p.text("PatientOrderInstitutionUuid"),
        p.text("PatientOrderUuid"),
        series_uuid=p.text("PatientSeriesUuid"),
        tag_ids=p.items("DicomTagIdList"),
        base_url=call.dicomweb_base,
    )
