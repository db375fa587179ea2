"""Handler of the audit readout endpoint: parameters -> AuditReadout."""

from __future__ import annotations

from openpacs.services.audit_readout import DEFAULT_LIMIT, AuditEventPage, AuditQuery, AuditReadout
from openpacs.web.api.call import ApiCall


def get_audit_log(call: ApiCall) -> AuditEventPage:
    p = call.params
    query = AuditQuery(
        user=p.text("User"),
        patient_id=p.text("PatientId"),
        study_instance_uid=p.text("StudyInstanceUID"),
        action=p.text("Action"),
        outcome=p.text("Outcome"),
        date_from=p.date("DateFrom"),
        date_to=p.date("DateTo"),
        limit=p.integer("Limit") or DEFAULT_LIMIT,
        offset=p.integer("Offset") or 0,
    )
    # This process's last events are listed too (other processes' within a second).
    call.ctx.audit.flush()
    return AuditReadout(call.ctx.db, call.ctx.settings.timezone).events(call.principal, query)
