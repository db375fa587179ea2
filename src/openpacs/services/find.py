"""C-FIND on the service side: every match of a QIDO query, page by page, and the
PATIENT level made of the matching studies.

A C-FIND has no limit: its matches are read from the search service (the QIDO one, so
the same SQL, scoping and matching rules) a page at a time, each page in a short session
of its own, so a slow peer never holds a read transaction open between responses. The
caller stops pulling when the peer cancels (C-CANCEL).

PATIENT level (Patient Root): the studies matching the patient keys, grouped by
Patient ID and Issuer of Patient ID; each patient is answered with its newest study's
patient attributes and the Number of Patient Related Studies/Series/Instances summed
over its studies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from openpacs.dicom.attributes import tag_of
from openpacs.index.db import Database
from openpacs.protocol.qido import Level, QidoQuery
from openpacs.services.principal import Principal
from openpacs.services.search import search

__all__ = ["PAGE", "Match", "find_matches"]

PAGE = 500
Json = dict[str, Any]

_PATIENT_ID = "00100020"
_ISSUER = "00100021"
_STUDY_SERIES = "00201206"
_STUDY_INSTANCES = "00201208"
_PATIENT_STUDIES = tag_of("NumberOfPatientRelatedStudies")
_PATIENT_SERIES = tag_of("NumberOfPatientRelatedSeries")
_PATIENT_INSTANCES = tag_of("NumberOfPatientRelatedInstances")


@dataclass(frozen=True)
class Match:
    """One match: its attributes (DICOM JSON) and values computed for it (tag -> value)."""

    item: Json
    computed: dict[int, int] = field(default_factory=dict)


def find_matches(
    db: Database,
    principal: Principal,
    query: QidoQuery,
    *,
    base_url: str,
    patients: bool = False,
    cancelled: Callable[[], bool] = lambda: False,
) -> Iterator[Match]:
    """Every match of ``query`` in order (for ``patients``, one per patient)."""
    if patients:
        if query.level is not Level.STUDY:
            raise ValueError("a patient search runs on studies")
        yield from _patients(_items(db, principal, query, base_url, cancelled))
        return
    for item in _items(db, principal, query, base_url, cancelled):
        yield Match(item)


def _items(
    db: Database,
    principal: Principal,
    query: QidoQuery,
    base_url: str,
    cancelled: Callable[[], bool],
) -> Iterator[Json]:
    offset = 0
    while not cancelled():
        page_query = replace(query, limit=PAGE, offset=offset)
        with db.session() as session:
            page = search(
                session, principal, page_query, base_url, default_limit=PAGE, max_limit=PAGE
            )
        yield from page.items
        if not page.more:
            return
        offset += PAGE


def _patients(studies: Iterator[Json]) -> Iterator[Match]:
    first: dict[tuple[str, str], Json] = {}
    counts: dict[tuple[str, str], list[int]] = {}
    for study in studies:
        patient = (_text(study, _PATIENT_ID), _text(study, _ISSUER))
        if patient not in first:
            first[patient] = study  # the newest study comes first
            counts[patient] = [0, 0, 0]
        total = counts[patient]
        total[0] += 1
        total[1] += _number(study, _STUDY_SERIES)
        total[2] += _number(study, _STUDY_INSTANCES)
    for patient, study in first.items():
        studies_n, series_n, instances_n = counts[patient]
        computed = {
            _PATIENT_STUDIES: studies_n,
            _PATIENT_SERIES: series_n,
            _PATIENT_INSTANCES: instances_n,
        }
        yield Match(study, computed)


def _text(item: Json, key: str) -> str:
    values = item.get(key, {}).get("Value") or [""]
    return str(values[0])


def _number(item: Json, key: str) -> int:
    values = item.get(key, {}).get("Value") or [0]
    try:
        return int(values[0])
    except (TypeError, ValueError):
        return 0
