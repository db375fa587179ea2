"""QIDO-RS search: a :class:`~openpacs.protocol.qido.QidoQuery` -> one SQL query -> DICOM JSON.

Everything comes from the index: the query runs on indexed columns (``index/qido_sql.py``
compiles it), and each result is built from the DICOM JSON fragments stored at ingest
(``study_json``, ``series_json``, ``instance_json``) plus the attribute columns of the
row and two values computed per response (RetrieveURL, InstanceAvailability). No blob is
read and there is one query per search (no N+1).

Which value wins (the attribute table's ``Source``): for attributes ingest copies from
the header the stored JSON wins (it keeps the file's form) and the column fills in when
the JSON lacks it; the values the index maintains or checks itself (UIDs, counts,
ModalitiesInStudy, the image description) come from their columns.

Matching keys and named includefield attributes are always returned, empty when the
entity has no value (as C-FIND return keys are).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Select
from sqlalchemy.orm import Session

from openpacs.dicom.attributes import (
    INSTANCE_LEVEL_TAGS,
    SERIES_LEVEL_TAGS,
    Attribute,
    Kind,
    Source,
    attributes_at,
    dictionary_vr,
)
from openpacs.dicom.tags import tag_key
from openpacs.index.qido_sql import JSON_LABELS, fetch_page, label
from openpacs.index.qido_sql import search_statement as _sql
from openpacs.protocol.paths import ResourcePath
from openpacs.protocol.qido import (
    Level,
    QidoQuery,
    default_return_tags,
    lower_level_tags,
)
from openpacs.services.permissions import Action, require
from openpacs.services.principal import Principal

__all__ = [
    "SearchResult",
    "effective_limit",
    "search",
    "search_statement",
]

Json = dict[str, Any]


@dataclass(frozen=True)
class SearchResult:
    """One page of matches as DICOM JSON objects (keys sorted by tag).

    ``more`` is True when matches exist beyond this page, either past the requested limit
    or past the server's maximum (the handler then sends the PS3.18 Warning header).
    """

    items: list[Json]
    more: bool


# ------------------------------------------------------------------------- public API


def search(
    session: Session,
    principal: Principal,
    query: QidoQuery,
    base_url: str,
    *,
    study_uid: str | None = None,
    series_uid: str | None = None,
    default_limit: int = 100,
    max_limit: int = 1000,
) -> SearchResult:
    """Run ``query`` at its level, optionally inside one study (and one series), over
    the studies in the principal's read scope."""
    require(principal, Action.READ)
    if query.level is Level.STUDY and (study_uid or series_uid):
        raise ValueError("a study search cannot be scoped by a parent")
    if series_uid and not study_uid:
        raise ValueError("a series scope needs its study")
    limit = effective_limit(query, default_limit, max_limit)
    plan = _Plan.make(query, study_uid=study_uid, series_uid=series_uid)
    rows = fetch_page(
        session,
        principal,
        query,
        json_levels=plan.json_levels,
        study_uid=study_uid,
        series_uid=series_uid,
        limit=limit,
    )
    more = len(rows) > limit
    base = base_url.rstrip("/")
    items = [plan.build(row, base) for row in rows[:limit]]
    return SearchResult(items=items, more=more)


def effective_limit(query: QidoQuery, default_limit: int, max_limit: int) -> int:
    """The page size: the requested limit (else the default), at most ``max_limit``."""
    wanted = query.limit if query.limit is not None else default_limit
    return max(1, min(wanted, max_limit))


def search_statement(
    principal: Principal,
    query: QidoQuery,
    *,
    dialect: str = "sqlite",
    study_uid: str | None = None,
    series_uid: str | None = None,
    limit: int = 100,
) -> Select[Any]:
    """The SELECT that :func:`search` runs (for EXPLAIN and benchmarks)."""
    plan = _Plan.make(query, study_uid=study_uid, series_uid=series_uid)
    return _sql(
        principal,
        query,
        dialect=dialect,
        json_levels=plan.json_levels,
        study_uid=study_uid,
        series_uid=series_uid,
        limit=limit,
    )


# ------------------------------------------------------------------------- values

_ONLINE: Json = {"vr": "CS", "Value": ["ONLINE"]}
_INSTANCE_AVAILABILITY = "00080056"
_RETRIEVE_URL = "00081190"
_PN_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")
# The attributes of each level that have a column, with their JSON key and VR.
_COLUMNS: dict[Level, tuple[tuple[Attribute, str, str, str], ...]] = {
    lvl: tuple((a, label(a), a.key, a.vr) for a in attributes_at(lvl) if a.column) for lvl in Level
}


def _column_json(kind: Kind, vr: str, raw: Any) -> Json | None:
    """An attribute's DICOM JSON made from its column value (None when it has none)."""
    if raw is None or raw == "":
        return None
    if kind is Kind.INT:
        return {"vr": vr, "Value": [int(raw)]}
    text = str(raw)
    if kind is Kind.PERSON_NAME:
        groups = {name: g for name, g in zip(_PN_GROUPS, text.split("="), strict=False) if g}
        return {"vr": vr, "Value": [groups]} if groups else None
    if kind in (Kind.MULTI, Kind.MODALITIES, Kind.UIDS):
        # A backslash list (ModalitiesInStudy's also starts and ends with one); UIDs are
        # split on anything that is not part of one.
        values = [v for v in re.split(r"[^0-9.]+" if kind is Kind.UIDS else r"\\", text) if v]
        return {"vr": vr, "Value": values} if values else None
    return {"vr": vr, "Value": [text]}


def _level_values(lvl: Level, row: Any, base: str) -> Json:
    """Everything known of the row's entity at ``lvl``: stored JSON, columns, computed."""
    data = _fragment(row[JSON_LABELS[lvl]]) if JSON_LABELS[lvl] in row else {}
    for attr, name, key, vr in _COLUMNS[lvl]:
        value = _column_json(attr.kind, vr, row[name])
        if value is not None and (attr.source is not Source.HEADER or key not in data):
            data[key] = value
    path = ResourcePath(
        row["st_study_instance_uid"],
        row["se_series_instance_uid"] if lvl is not Level.STUDY else None,
        row["in_sop_instance_uid"] if lvl is Level.INSTANCE else None,
    )
    data[_RETRIEVE_URL] = {"vr": "UR", "Value": [path.url(base)]}
    if lvl is not Level.SERIES:
        data[_INSTANCE_AVAILABILITY] = _ONLINE
    return data


def _fragment(raw: bytes | None) -> Json:
    if not raw:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k).upper(): v for k, v in data.items()}


# ------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class _Plan:
    """What to fetch and return for one search."""

    level: Level
    levels: tuple[Level, ...]  # the levels whose data the row carries, top first
    json_levels: frozenset[Level]  # whose stored fragment must be loaded
    wanted: frozenset[str]  # tag keys to return (when not include_all)
    include_all: bool
    hidden: frozenset[str]  # lower-level tags, never returned
    # Matching keys and named includefields: returned even without a value (empty, as
    # C-FIND return keys are), so a client can tell "no value" from "not supported".
    required: tuple[tuple[str, str], ...] = ()  # (tag key, VR)

    @classmethod
    def make(cls, query: QidoQuery, *, study_uid: str | None, series_uid: str | None) -> _Plan:
        level = query.level
        study_scoped = bool(study_uid)
        series_scoped = bool(series_uid)
        wanted = set(
            default_return_tags(level, study_scoped=study_scoped, series_scoped=series_scoped)
        )
        wanted |= query.matching_tags
        hidden = lower_level_tags(level)
        wanted |= set(query.includefields) - hidden
        required = sorted((query.matching_tags | query.includefields) - hidden)
        levels = tuple(lvl for lvl in (Level.STUDY, Level.SERIES, Level.INSTANCE)
                       if lvl.rank <= level.rank)  # fmt: skip
        # Load a fragment only when something wanted may live in it.
        json_levels = {level}
        beyond_instance = wanted - INSTANCE_LEVEL_TAGS
        beyond_series = beyond_instance - SERIES_LEVEL_TAGS
        if level is Level.INSTANCE and (query.include_all or beyond_instance):
            json_levels.add(Level.SERIES)
        if level is not Level.STUDY and (query.include_all or beyond_series):
            json_levels.add(Level.STUDY)
        return cls(
            level=level,
            levels=levels,
            json_levels=frozenset(json_levels),
            wanted=frozenset(tag_key(t) for t in wanted),
            include_all=query.include_all,
            hidden=frozenset(tag_key(t) for t in hidden),
            required=tuple((tag_key(t), dictionary_vr(t)) for t in required),
        )

    def build(self, row: Any, base: str) -> Json:
        available: Json = {}
        for lvl in self.levels:
            # A lower level wins for the tags levels share (RetrieveURL).
            available.update(_level_values(lvl, row, base))
        keys = (
            set(available) - self.hidden
            if self.include_all
            else set(self.wanted & available.keys())
        )
        for key, vr in self.required:
            if key not in available:
                available[key] = {"vr": vr}
                keys.add(key)
        return {key: available[key] for key in sorted(keys)}
