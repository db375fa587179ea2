"""Handlers of the assignment endpoints: parameters -> AssignmentService."""

from __future__ import annotations

from openpacs.services.assignments import AssignmentService, OrderAssignment
from openpacs.web.api.call import ApiCall


def assign_order_to_user(call: ApiCall) -> OrderAssignment:
    p = call.params
    return AssignmentService(call.ctx.db).assign_user(
        call.principal, p.text("PatientOrderUuid"), p.text("AssignedUserUuid")
    )


def assign_order_to_user_group(call: ApiCall) -> OrderAssignment:
    p = call.params
    return AssignmentService(call.ctx.db).assign_group(
        call.principal, p.text("PatientOrderUuid"), p.text("AssignedUserGroupUuid")
    )
