"""DICOM tag contents of an order's images (/getdicomtagcontent), from the stored metadata.

Each instance's full DICOM JSON was computed once at store time (``metadata_json``), so no
file is read here. Bulk data appears as BulkDataURIs on the DICOMweb root of the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from openpacs.dicom.parsed import BULK_BASE
from openpacs.dicom.tags import InvalidTag, parse_tag, tag_key
from openpacs.index.db import Database
from openpacs.index.tag_rows import instance_metadata, order_series
from openpacs.services.audit import AuditTrail
from openpacs.services.errors import BadRequest, NotFound
from openpacs.services.orders import audit_order_read, find_order
from openpacs.services.permissions import Action, require
from openpacs.services.principal import Principal

_BULK_BASE = BULK_BASE.encode()


@dataclass(frozen=True)
class InstanceTags:
    sop_instance_uid: str
    instance_number: int | None
    # DICOM JSON (PS3.18 F.2) of the requested attributes this instance has.
    dicom_tags: dict[str, Any]


@dataclass(frozen=True)
class SeriesTags:
    patient_series_uuid: str
    series_instance_uid: str
    modality: str
    series_number: int | None
    instance_list: tuple[InstanceTags, ...]


@dataclass(frozen=True)
class TagContent:
    patient_order_uuid: str
    study_instance_uid: str
    # The requested tags as eight hex digits; empty: every attribute except bulk data.
    dicom_tag_id_list: tuple[str, ...]
    series_list: tuple[SeriesTags, ...]


def parse_tag_ids(ids: Sequence[str], key: str = "DicomTagIdList") -> tuple[str, ...]:
    """``00100010`` / ``(0010,0010)`` / ``0010,0010`` / keyword -> DICOM JSON keys."""
    keys: list[str] = []
    for text in ids:
        try:
            name = tag_key(parse_tag(text))
        except InvalidTag as exc:
            raise BadRequest(f"{key}: {exc}") from None
        if name not in keys:
            keys.append(name)
    return tuple(keys)


class TagContentService:
    """Tag contents are study content: each read is audited (``order.tags``) when the
    service is given the audit trail."""

    def __init__(self, db: Database, audit: AuditTrail | None = None) -> None:
        self._db = db
        self._audit = audit

    def tag_content(
        self,
        who: Principal,
        institution_uuid: str,
        order_uuid: str,
        *,
        series_uuid: str = "",
        tag_ids: Sequence[str] = (),
        base_url: str,
        instance_position: int | None = None,
    ) -> TagContent:
        """``institution_uuid`` "" checks no institution; ``instance_position`` (with
        ``series_uuid``) keeps only the instance at that 0-based position in the series."""
        require(who, Action.READ)
        keys = parse_tag_ids(tag_ids)
        with self._db.session() as session:
            order = find_order(session, who, order_uuid, institution_uuid or None)
            series_rows = order_series(session, order.id, series_uuid)
            if series_uuid and not series_rows:
                raise NotFound(f"PatientSeriesUuid: no series {series_uuid} in order {order_uuid}")
            by_series: dict[int, list[InstanceTags]] = {s.id: [] for s in series_rows}
            position = instance_position if series_uuid else None
            base = base_url.encode()
            for series_id, sop_uid, number, metadata in instance_metadata(
                session, list(by_series), position
            ):
                tags = _select(_load(metadata, base), keys)
                by_series[series_id].append(InstanceTags(sop_uid, number, tags))
            content = TagContent(
                order.uuid,
                order.study_instance_uid,
                keys,
                tuple(
                    SeriesTags(
                        s.uuid,
                        s.series_instance_uid,
                        s.modality,
                        s.series_number,
                        tuple(by_series[s.id]),
                    )
                    for s in series_rows
                ),
            )
        audit_order_read(self._audit, who, "order.tags", order)
        return content


def _load(metadata: bytes, base: bytes) -> dict[str, Any]:
    if _BULK_BASE in metadata:
        metadata = metadata.replace(_BULK_BASE, base)
    loaded = orjson.loads(metadata)
    return loaded if isinstance(loaded, dict) else {}


def _select(dataset: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    if keys:
        return {key: dataset[key] for key in keys if key in dataset}
    return {
        key: element
        for key, element in dataset.items()
        if not (
            isinstance(element, dict) and ("BulkDataURI" in element or "InlineBinary" in element)
        )
    }
