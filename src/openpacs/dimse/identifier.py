"""C-FIND identifiers -> the QIDO query model, and results -> response identifiers (pure).

A C-FIND request is answered from the same index, with the same matching rules, as
QIDO-RS: each key with a value becomes the query parameter QIDO would get for it (tag =
value; ``Sequence.Item`` = value for sequence matching) and goes through
:func:`openpacs.protocol.qido.parse_qido`, so single values, ``*``/``?`` wildcards,
ranges, UID lists and sequence items match exactly as they do over HTTP. Every key of
the identifier is a return key: its attribute is loaded (as an ``includefield``) and
returned, empty when the entity has no value, as PS3.4 C.4.1.1.3.2 wants.

What differs from QIDO, as C-FIND requires:

* a response holds exactly the requested keys plus the unique keys of the level and
  the levels above it in the information model, the Query/Retrieve Level and the
  Specific Character Set (UTF-8 when a value needs it);
* PATIENT level (Patient Root) matches on the patient attributes of the studies and
  groups them by patient (Patient ID and Issuer);
* a key of a level below the one asked for with a value cannot be matched (A900,
  as QIDO answers 400); empty, it is returned empty;
* a key with a value that no level matches on (PatientAge, ...) is ignored for
  matching: the results then come with the pending status FF01 ("one or more optional
  keys were not supported"), and the key is still returned when the index has it.

Relational-style requests (a SERIES query without the Study Instance UID) are answered
as well: every level's keys are matched where they live.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from openpacs.dicom.attributes import Level, dictionary_vr, matching_keys, tag_of
from openpacs.dicom.tags import tag_key
from openpacs.dimse.status import IDENTIFIER_DOES_NOT_MATCH
from openpacs.protocol.qido import QidoError, QidoQuery, is_valid_uid, parse_qido

__all__ = [
    "LEVELS",
    "FindError",
    "FindRequest",
    "RetrieveRequest",
    "parse_identifier",
    "parse_retrieve_identifier",
    "response_identifier",
]

QUERY_RETRIEVE_LEVEL: Final = 0x00080052
SPECIFIC_CHARACTER_SET: Final = 0x00080005
RETRIEVE_AE_TITLE: Final = 0x00080054
INSTANCE_AVAILABILITY: Final = 0x00080056
PATIENT_ID: Final = tag_of("PatientID")
ISSUER_OF_PATIENT_ID: Final = tag_of("IssuerOfPatientID")
STUDY_UID: Final = tag_of("StudyInstanceUID")
SERIES_UID: Final = tag_of("SeriesInstanceUID")
SOP_UID: Final = tag_of("SOPInstanceUID")
#: The counts a PATIENT-level answer computes.
PATIENT_COUNTS: Final = (
    tag_of("NumberOfPatientRelatedStudies"),
    tag_of("NumberOfPatientRelatedSeries"),
    tag_of("NumberOfPatientRelatedInstances"),
)

#: Query/Retrieve Level -> the index level searched (PATIENT: studies, grouped).
LEVELS: Final[dict[str, Level]] = {
    "PATIENT": Level.STUDY,
    "STUDY": Level.STUDY,
    "SERIES": Level.SERIES,
    "IMAGE": Level.INSTANCE,
}
_ORDER = ("PATIENT", "STUDY", "SERIES", "IMAGE")
_UNIQUE = {"PATIENT": PATIENT_ID, "STUDY": STUDY_UID, "SERIES": SERIES_UID, "IMAGE": SOP_UID}
# Keys the SCP handles itself (never matched, never an error).
_OWN = frozenset({QUERY_RETRIEVE_LEVEL, SPECIFIC_CHARACTER_SET, RETRIEVE_AE_TITLE,
                  INSTANCE_AVAILABILITY, *PATIENT_COUNTS})  # fmt: skip
_ALL_MATCHING = {tag for lvl in Level for tag in matching_keys(lvl)}


class FindError(ValueError):
    """The identifier cannot be answered: the status and the Error Comment to send."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class FindRequest:
    """One C-FIND request, ready for the search service."""

    model: str  # "patient" or "study" (the information model's root)
    level: str  # PATIENT, STUDY, SERIES or IMAGE
    query: QidoQuery  # at ``LEVELS[level]``; includefields: the return keys
    # The keys to return, in the order asked (top-level tags).
    keys: tuple[int, ...]
    # Item keys asked for in a sequence's first item (empty: the whole items).
    item_keys: dict[int, tuple[int, ...]]
    # Some key with a value was not matched on (answer with FF01).
    partial: bool

    @property
    def unique_keys(self) -> tuple[int, ...]:
        """The unique keys of this level and of the levels above it in the model."""
        first = 0 if self.model == "patient" else 1
        levels = _ORDER[first : _ORDER.index(self.level) + 1]
        return tuple(_UNIQUE[lvl] for lvl in levels)


def parse_identifier(identifier: Dataset, model: str) -> FindRequest:
    """The request an identifier makes in ``model``; FindError if it cannot be answered."""
    raw_level = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    if raw_level not in LEVELS or (model == "study" and raw_level == "PATIENT"):
        raise FindError(
            IDENTIFIER_DOES_NOT_MATCH, f"Query/Retrieve Level {raw_level!r} is not valid here"
        )
    target = LEVELS[raw_level]
    pairs: list[tuple[str, str]] = []
    keys: list[int] = []
    item_keys: dict[int, tuple[int, ...]] = {}
    for element in identifier:
        tag = int(element.tag)
        if tag >> 16 in (0x0000, 0x0002) or tag & 0xFFFF == 0 or tag == QUERY_RETRIEVE_LEVEL:
            continue
        keys.append(tag)
        if tag in _OWN:
            continue
        if raw_level == "PATIENT" and tag in _ALL_MATCHING and tag >> 16 != 0x0010:
            if not element.is_empty:
                raise FindError(
                    IDENTIFIER_DOES_NOT_MATCH,
                    f"{element.keyword or tag_key(tag)} cannot be matched at PATIENT level",
                )
            continue
        if element.VR == "SQ":
            items = element.value
            if items:
                item_keys[tag] = tuple(int(e.tag) for e in items[0])
                pairs += [
                    (f"{tag_key(tag)}.{tag_key(int(e.tag))}", _text(e))
                    for e in items[0]
                    if not e.is_empty
                ]
            continue
        if not element.is_empty and not _lower_level(tag, target):
            pairs.append((tag_key(tag), _text(element)))
        elif not element.is_empty:
            raise FindError(
                IDENTIFIER_DOES_NOT_MATCH,
                f"{element.keyword or tag_key(tag)} is a key of a level below {raw_level}",
            )
    wanted = [t for t in keys if t not in _OWN and not _lower_level(t, target)]
    if raw_level == "PATIENT":
        wanted.append(ISSUER_OF_PATIENT_ID)  # patients are told apart by ID and issuer
    pairs.append(("includefield", ",".join(tag_key(t) for t in wanted)))
    try:
        query = parse_qido(pairs, target)
    except QidoError as exc:
        raise FindError(IDENTIFIER_DOES_NOT_MATCH, str(exc)) from None
    return FindRequest(
        model=model,
        level=raw_level,
        query=query,
        keys=tuple(dict.fromkeys(keys)),
        item_keys=item_keys,
        partial=bool(query.ignored_parameters),
    )


def _lower_level(tag: int, target: Level) -> bool:
    """``tag`` is a matching key of a level below ``target`` only."""
    levels = [lvl for lvl in Level if tag in matching_keys(lvl)]
    return bool(levels) and all(lvl.rank > target.rank for lvl in levels)


def _text(element: DataElement) -> str:
    """An element's value as QIDO query text (multiple values joined by ``\\``)."""
    value = element.value
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(str(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


# --------------------------------------------------------------------------- responses

_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def response_identifier(
    item: dict[str, Any],
    request: FindRequest,
    *,
    ae_title: str,
    extra: dict[int, Any] | None = None,
) -> Dataset:
    """The response identifier for one match (``item``: DICOM JSON from the search
    service; ``extra``: values computed for this answer, tag -> value)."""
    extra = extra or {}
    wanted = dict.fromkeys((*request.unique_keys, *request.keys))
    selected: dict[str, Any] = {}
    for tag in wanted:
        key = tag_key(tag)
        if tag in extra or tag in _OWN:
            continue
        value = item.get(key)
        if value is None or "BulkDataURI" in value or "InlineBinary" in value:
            selected[key] = {"vr": dictionary_vr(tag)}
            continue
        if tag in request.item_keys and request.item_keys[tag] and "Value" in value:
            value = _items_subset(value, request.item_keys[tag])
        selected[key] = value
    ds = Dataset.from_json(selected)
    for tag in wanted:
        if tag == RETRIEVE_AE_TITLE:
            ds.add_new(tag, "AE", ae_title)
        elif tag == INSTANCE_AVAILABILITY:
            ds.add_new(tag, "CS", "ONLINE")
        elif tag in extra:
            ds.add_new(tag, dictionary_vr(tag), extra[tag])
        elif tag in PATIENT_COUNTS or tag == SPECIFIC_CHARACTER_SET:
            ds.add_new(tag, dictionary_vr(tag), None)
    ds.QueryRetrieveLevel = request.level
    if _NON_ASCII.search(str(selected)):
        ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8 (pydicom encodes the values so)
    return ds


def _items_subset(value: dict[str, Any], item_tags: Iterable[int]) -> dict[str, Any]:
    keys = {tag_key(t) for t in item_tags}
    items = [
        {k: v for k, v in item.items() if k in keys}
        for item in value.get("Value", [])
        if isinstance(item, dict)
    ]
    return {**value, "Value": items}


# --------------------------------------------------------------------------- retrieve


@dataclass(frozen=True)
class RetrieveRequest:
    """What a C-MOVE or C-GET identifier names: the unique keys of its level (a list
    each) and of the levels above it when given."""

    level: str
    patient_ids: tuple[str, ...] = ()
    study_uids: tuple[str, ...] = ()
    series_uids: tuple[str, ...] = ()
    sop_uids: tuple[str, ...] = ()

    def describe(self) -> str:
        named = self.sop_uids or self.series_uids or self.study_uids or self.patient_ids
        shown = ", ".join(named[:3]) + (f" (+{len(named) - 3})" if len(named) > 3 else "")
        return f"{self.level} {shown}"


_RETRIEVE_KEYS = {
    "PATIENT": ("PatientID", "patient_ids"),
    "STUDY": ("StudyInstanceUID", "study_uids"),
    "SERIES": ("SeriesInstanceUID", "series_uids"),
    "IMAGE": ("SOPInstanceUID", "sop_uids"),
}


def parse_retrieve_identifier(identifier: Dataset, model: str) -> RetrieveRequest:
    """The instances a C-MOVE/C-GET identifier asks for (PS3.4 C.4.2.2.1, C.4.3.2.1): the
    unique key of its level is required (one value or a list), those above optional."""
    level = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    if level not in _RETRIEVE_KEYS or (model == "study" and level == "PATIENT"):
        raise FindError(
            IDENTIFIER_DOES_NOT_MATCH, f"Query/Retrieve Level {level!r} is not valid here"
        )
    values: dict[str, tuple[str, ...]] = {}
    for lvl in _ORDER[_ORDER.index(level) :: -1]:
        keyword, field = _RETRIEVE_KEYS[lvl]
        if lvl == "PATIENT" and model == "study":
            continue
        element = identifier.get(keyword)
        found = () if element is None else _values(element)
        if lvl == level and not found:
            raise FindError(IDENTIFIER_DOES_NOT_MATCH, f"{keyword} is required at {level} level")
        if keyword != "PatientID":
            for uid in found:
                if not is_valid_uid(uid):
                    raise FindError(IDENTIFIER_DOES_NOT_MATCH, f"{keyword}: {uid!r} is no UID")
        values[field] = found
    return RetrieveRequest(level=level, **values)


def _values(value: Any) -> tuple[str, ...]:
    if isinstance(value, MultiValue | list | tuple):
        items = [str(v) for v in value]
    else:
        items = str(value or "").split("\\")
    return tuple(dict.fromkeys(v.strip(" \0") for v in items if v.strip(" \0")))
