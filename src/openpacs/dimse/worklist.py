"""Modality Worklist C-FIND (PS3.4 K): identifier -> filters, worklist item -> response.

The matching keys (PS3.4 K.6.1.2.2) are matched by QIDO's rules: patient name without
case and accents, ``*``/``?`` wildcards, date and time ranges, UID lists. Keys of the
Scheduled Procedure Step Sequence item (Modality, Scheduled Station AE Title, start
date and time) match the order's modality, scheduled equipment and scheduled time. A
key with a value that is not a matching key is ignored (pending status FF01). Exactly
the requested keys come back; a requested Scheduled Procedure Step Sequence with an
empty item (or none) gets every item attribute we have.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from pydicom.dataset import Dataset
from pynetdicom import evt

from openpacs.dicom.attributes import Attribute, Kind, Level, dictionary_vr, tag_of
from openpacs.dicom.dictionary import keyword_for_tag
from openpacs.dimse.find import matching_summary
from openpacs.dimse.identifier import FindError
from openpacs.dimse.status import (
    IDENTIFIER_DOES_NOT_MATCH,
    PENDING,
    PENDING_WARNING,
    status_dataset,
)
from openpacs.protocol.qido import Filter, QidoError, value_filter
from openpacs.services.worklist import WorklistItem, worklist_items

if TYPE_CHECKING:
    from openpacs.dimse.node import DicomNode

__all__ = ["WorklistRequest", "handle_worklist", "parse_worklist", "worklist_dataset"]

SPS: Final = "ScheduledProcedureStepSequence"
_K, _ST = Kind, Level.STUDY
#: Matching keys: top level, and in the Scheduled Procedure Step item.
MATCHING: Final[dict[str, Attribute]] = {
    a.keyword: a
    for a in (
        Attribute("PatientName", _ST, _K.PERSON_NAME),
        Attribute("PatientID", _ST),
        Attribute("PatientBirthDate", _ST, _K.DATE),
        Attribute("PatientSex", _ST),
        Attribute("AccessionNumber", _ST),
        Attribute("RequestedProcedureID", _ST),
        Attribute("StudyInstanceUID", _ST, _K.UID),
    )
}
ITEM_MATCHING: Final[dict[str, Attribute]] = {
    a.keyword: a
    for a in (
        Attribute("Modality", _ST),
        Attribute("ScheduledStationAETitle", _ST),
        Attribute("ScheduledProcedureStepStartDate", _ST, _K.DATE),
        Attribute("ScheduledProcedureStepStartTime", _ST, _K.TIME),
    )
}

# What a worklist item answers, keyword -> WorklistItem field (top level, then item).
_VALUES: Final = {
    "PatientName": "patient_name",
    "PatientID": "patient_id",
    "OtherPatientIDs": "other_patient_id",
    "PatientBirthDate": "patient_birth_date",
    "PatientSex": "patient_sex",
    "AccessionNumber": "accession_number",
    "StudyInstanceUID": "study_instance_uid",
    "RequestedProcedureID": "requested_procedure_id",
    "RequestedProcedureDescription": "requested_procedure_description",
    "StudyDescription": "study_description",
    "ReferringPhysicianName": "referring_physician_name",
    "RequestingPhysician": "requesting_physician",
}
_ITEM_VALUES: Final = {
    "Modality": "modality",
    "ScheduledStationAETitle": "station_ae_title",
    "ScheduledStationName": "station_name",
    "ScheduledProcedureStepStartDate": "start_date",
    "ScheduledProcedureStepStartTime": "start_time",
    "ScheduledProcedureStepDescription": "requested_procedure_description",
    "ScheduledProcedureStepID": "requested_procedure_id",
}
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@dataclass(frozen=True)
class WorklistRequest:
    filters: dict[str, tuple[Attribute, Filter]]
    keys: tuple[int, ...]  # top-level tags asked for
    item_keys: tuple[int, ...]  # Scheduled Procedure Step item tags asked for (empty: all)
    partial: bool  # a key with a value was not matched on


def parse_worklist(identifier: Dataset) -> WorklistRequest:
    filters: dict[str, tuple[Attribute, Filter]] = {}
    partial = False
    keys: list[int] = []
    item_keys: list[int] = []
    for element in identifier:
        tag = int(element.tag)
        if tag >> 16 in (0x0000, 0x0002) or tag & 0xFFFF == 0:
            continue
        keys.append(tag)
        if element.keyword == SPS:
            for item in element.value[:1]:
                for inner in item:
                    item_keys.append(int(inner.tag))
                    partial |= _add(filters, ITEM_MATCHING, inner.keyword, inner)
            continue
        partial |= _add(filters, MATCHING, element.keyword, element)
    return WorklistRequest(filters, tuple(keys), tuple(item_keys), partial)


def _add(
    filters: dict[str, tuple[Attribute, Filter]],
    table: dict[str, Attribute],
    keyword: str,
    element: Any,
) -> bool:
    """Add the filter of one key; True when it has a value we do not match on."""
    if element.is_empty or element.VR == "SQ" or keyword == "SpecificCharacterSet":
        return False
    attr = table.get(keyword)
    if attr is None:
        return True
    value = element.value
    text = "\\".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    try:
        filters[keyword] = (attr, value_filter(attr, text))
    except QidoError as exc:
        raise FindError(IDENTIFIER_DOES_NOT_MATCH, str(exc)) from None
    return False


def worklist_dataset(item: WorklistItem, request: WorklistRequest) -> Dataset:
    """The response identifier of one item: the keys asked for, empty when unknown."""
    ds = Dataset()
    sps_tag = tag_of(SPS)
    for tag in request.keys:
        if tag == sps_tag:
            ds.ScheduledProcedureStepSequence = [_item(item, request.item_keys)]
            continue
        keyword = _keyword(tag)
        value = getattr(item, _VALUES[keyword]) if keyword in _VALUES else None
        ds.add_new(tag, dictionary_vr(tag), value or None)
    if _NON_ASCII.search(" ".join(str(e.value) for e in ds.iterall())):
        ds.SpecificCharacterSet = "ISO_IR 192"
    elif "SpecificCharacterSet" in ds:
        ds.SpecificCharacterSet = None
    return ds


def _item(item: WorklistItem, tags: tuple[int, ...]) -> Dataset:
    wanted = tags or tuple(tag_of(k) for k in _ITEM_VALUES)
    out = Dataset()
    for tag in wanted:
        keyword = _keyword(tag)
        value = getattr(item, _ITEM_VALUES[keyword]) if keyword in _ITEM_VALUES else None
        out.add_new(tag, dictionary_vr(tag), value or None)
    return out


def _keyword(tag: int) -> str:
    return keyword_for_tag(tag)


def handle_worklist(node: DicomNode, event: evt.Event) -> Iterator[tuple[Any, Dataset | None]]:
    """C-FIND on the Modality Worklist Information Model."""
    record = node.record(event.assoc)
    identifier = event.identifier
    try:
        request = parse_worklist(identifier)
    except FindError as exc:
        node.trail.event(record, "dicom.worklist", f"worklist C-FIND refused: {exc.reason}")
        yield status_dataset(exc.status, exc.reason), None
        return
    pending = PENDING_WARNING if request.partial else PENDING
    count = 0
    for item in worklist_items(node.services.db, record.peer.principal, request.filters):
        if event.is_cancelled:
            yield 0xFE00, None
            break
        count += 1
        yield pending, worklist_dataset(item, request)
    detail = f"worklist C-FIND matched {count}: {matching_summary(identifier)}"
    node.trail.event(record, "dicom.worklist", detail)
