"""What the web application's order page shows: an order with its studies and series,
one series' images for the viewer, and the tags of one instance.

Every read goes through :func:`openpacs.services.orders.find_order` with the caller's
principal, so the read scope holds (a reader's unassigned order, or another account's,
is not found) and each is audited as the API's reads are (``order.read``,
``study.view``, ``order.tags``).
"""

from __future__ import annotations

from dataclasses import dataclass

from openpacs.index.db import Database
from openpacs.index.tag_rows import series_size
from openpacs.services.audit import AuditTrail, Event
from openpacs.services.errors import NotFound
from openpacs.services.orders import (
    OrderProperties,
    audit_order_read,
    find_order,
    order_properties,
)
from openpacs.services.permissions import Action, require
from openpacs.services.principal import Principal
from openpacs.services.share_access import (
    SeriesView,
    SharedStudy,
    order_series_view,
    order_studies,
)
from openpacs.services.tag_content import InstanceTags, TagContentService


@dataclass(frozen=True)
class OrderView:
    properties: OrderProperties
    studies: tuple[SharedStudy, ...]


@dataclass(frozen=True)
class InstanceTagsView:
    series_uuid: str
    series_instance_uid: str
    position: int  # 0-based position of the instance in the series
    count: int  # instances in the series
    instance: InstanceTags | None


class OrderViewService:
    def __init__(self, db: Database, audit: AuditTrail | None = None) -> None:
        self._db = db
        self._audit = audit

    def view(self, who: Principal, order_uuid: str) -> OrderView:
        require(who, Action.READ)
        with self._db.session() as session:
            order = find_order(session, who, order_uuid)
            properties = order_properties(session, order)
            studies = tuple(order_studies(session, who.account_id, [order.id]))
        audit_order_read(self._audit, who, "order.read", order)
        return OrderView(properties, studies)

    def series(self, who: Principal, order_uuid: str, series_uid: str) -> SeriesView:
        """The images of one series of the order, for the built-in viewer."""
        require(who, Action.READ)
        with self._db.session() as session:
            order = find_order(session, who, order_uuid)
            view = order_series_view(session, who.account_id, [order.id], series_uid)
        if self._audit is not None:
            self._audit.record_durably(
                Event.by(
                    who,
                    "study.view",
                    study_instance_uid=view.study.study_uid,
                    patient_id=view.study.patient_id,
                    detail=f"web viewer, series {series_uid}",
                )
            )
        return view

    def instance_tags(
        self, who: Principal, order_uuid: str, series_uuid: str, position: int
    ) -> InstanceTagsView:
        """Every attribute of the instance at ``position`` (0-based) in the series, from
        the metadata computed at store time (audited as ``order.tags``)."""
        with self._db.session() as session:
            order = find_order(session, who, order_uuid)
            count = series_size(session, order.id, series_uuid)
        if count is None:
            raise NotFound(f"no series {series_uuid} in order {order_uuid}")
        service = TagContentService(self._db, self._audit)
        content = service.tag_content(
            who,
            "",
            order_uuid,
            series_uuid=series_uuid,
            base_url="",
            instance_position=position,
        )
        if not content.series_list:
            raise NotFound(f"no series {series_uuid} in order {order_uuid}")
        series = content.series_list[0]
        return InstanceTagsView(
            series.patient_series_uuid,
            series.series_instance_uid,
            position,
            int(count),
            series.instance_list[0] if series.instance_list else None,
        )
