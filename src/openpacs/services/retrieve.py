"""The read side of WADO-RS: what a request may see, and the instances it covers, in order.

The SQL (scoping to the principal's account and read scope, the retrieval order, the batched
metadata reads) is in :mod:`openpacs.index.retrieve_sql`; this module turns "nothing
visible" into :class:`NotFound` (another account's UIDs are never revealed) and picks the
image a thumbnail shows.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from openpacs.index.retrieve_sql import (
    InstanceDetail,
    InstanceRef,
    Scope,
    fetch_metadata,
    find_instance,
    find_instances,
)
from openpacs.services.errors import NotFound
from openpacs.services.permissions import Action, require
from openpacs.services.principal import Principal

__all__ = [
    "InstanceDetail",
    "InstanceRef",
    "Scope",
    "fetch_metadata",
    "get_instance",
    "list_instances",
    "representative_instance",
]


def list_instances(
    session: Session | Connection, principal: Principal, scope: Scope
) -> list[InstanceRef]:
    """Every instance the scope names, in retrieval order; NotFound when there is none
    (or none in the principal's read scope)."""
    require(principal, Action.READ)
    refs = find_instances(session, principal, scope)
    if not refs:
        raise NotFound(f"{scope.describe()} not found")
    return refs


def get_instance(
    session: Session | Connection, principal: Principal, scope: Scope
) -> InstanceDetail:
    """One instance (``scope.sop_uid`` is required) with its frame and bulk data ranges."""
    require(principal, Action.READ)
    detail = find_instance(session, principal, scope)
    if detail is None:
        raise NotFound(f"{scope.describe()} not found")
    return detail


def representative_instance(refs: Sequence[InstanceRef]) -> InstanceRef | None:
    """The image a study or series thumbnail shows: the middle image of the first series
    that has images (None when no instance has pixel data)."""
    first_series: int | None = None
    images: list[InstanceRef] = []
    for ref in refs:
        if not ref.has_pixel_data:
            continue
        if first_series is None:
            first_series = ref.series_id
        if ref.series_id != first_series:
            break
        images.append(ref)
    return images[len(images) // 2] if images else None
