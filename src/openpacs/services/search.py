"""QIDO-RS search: a :class:`~openpacs.protocol.qido.QidoQuery` -> one SQL query -> DICOM JSON.

Everything comes from index columns: the filters run on indexed columns, and each result
is built from the DICOM JSON fragments stored at ingest (``study_json``, ``series_json``,
``instance_json``) plus computed values (counts, ModalitiesInStudy, InstanceAvailability,
RetrieveURL). No blob is read and there is one query per search (no N+1).

Scope: every table is restricted to ``principal.account_id``; a share principal only sees
studies whose ``order_id`` is in ``share_order_ids``.

Order (stable, so limit/offset pages never repeat or skip a row):
- studies: StudyDate descending (newest first, undated last), then internal id descending;
  served by the index ``ix_study_account_date (account_id, study_date, id)``;
- series: their study in that order, then SeriesNumber ascending (missing last), then id;
- instances: their series in that order, then InstanceNumber ascending (missing last), id.

Index use (checked by EXPLAIN QUERY PLAN in the tests): equality on PatientID /
AccessionNumber, prefix matching of PatientName as a range ``>= 'DOE' AND < 'DOF'`` (the
column is already upper-case and accent-free), StudyDate ranges. Prefix ranges are
compared bytewise (``COLLATE "C"`` on PostgreSQL, whose default collation is usually
linguistic). Wildcards and LIKE metacharacters in values are escaped and every value is a
bound parameter. Wildcard matching is case-sensitive (GLOB on SQLite, LIKE elsewhere)
except for person names, which are compared in their normalised form.

Matching keys and named includefield attributes are always returned, empty when the
entity has no value (as C-FIND return keys are).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from pydicom.datadict import dictionary_VR, tag_for_keyword
from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    and_,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from openpacs.index.models import Instance, Series, SeriesRequestAttributes, Study
from openpacs.protocol.qido import (
    INSTANCE_LEVEL_TAGS,
    SERIES_LEVEL_TAGS,
    DateRange,
    DateTimeRange,
    Filter,
    Level,
    MultiValue,
    QidoError,
    QidoQuery,
    SequenceMatch,
    SingleValue,
    TimeRange,
    UidList,
    Universal,
    Wildcard,
    default_return_tags,
    lower_level_tags,
    normalise_person_name,
    person_name_words,
    tag_hex,
)
from openpacs.services.principal import Principal

__all__ = [
    "SearchResult",
    "search",
    "search_instances",
    "search_series",
    "search_statement",
    "search_studies",
]

Json = dict[str, Any]
Col = SQLColumnExpression[Any]


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
    """Run ``query`` at its level, optionally inside one study (and one series)."""
    if query.level is Level.STUDY and (study_uid or series_uid):
        raise ValueError("a study search cannot be scoped by a parent")
    if series_uid and not study_uid:
        raise ValueError("a series scope needs its study")
    limit = effective_limit(query, default_limit, max_limit)
    plan = _Plan.make(query, study_uid=study_uid, series_uid=series_uid)
    dialect = session.get_bind().dialect.name
    stmt = _statement(principal, query, plan, dialect, study_uid, series_uid, limit)
    rows = session.execute(stmt).all()
    more = len(rows) > limit
    base = base_url.rstrip("/")
    items = [plan.build(row._mapping, base) for row in rows[:limit]]
    return SearchResult(items=items, more=more)


def search_studies(
    session: Session,
    principal: Principal,
    query: QidoQuery,
    base_url: str,
    *,
    default_limit: int = 100,
    max_limit: int = 1000,
) -> SearchResult:
    _check_level(query, Level.STUDY)
    return search(
        session, principal, query, base_url, default_limit=default_limit, max_limit=max_limit
    )


def search_series(
    session: Session,
    principal: Principal,
    query: QidoQuery,
    base_url: str,
    *,
    study_uid: str | None = None,
    default_limit: int = 100,
    max_limit: int = 1000,
) -> SearchResult:
    _check_level(query, Level.SERIES)
    return search(
        session,
        principal,
        query,
        base_url,
        study_uid=study_uid,
        default_limit=default_limit,
        max_limit=max_limit,
    )


def search_instances(
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
    _check_level(query, Level.INSTANCE)
    return search(
        session,
        principal,
        query,
        base_url,
        study_uid=study_uid,
        series_uid=series_uid,
        default_limit=default_limit,
        max_limit=max_limit,
    )


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
    return _statement(principal, query, plan, dialect, study_uid, series_uid, limit)


def _check_level(query: QidoQuery, level: Level) -> None:
    if query.level is not level:
        raise ValueError(f"query parsed for {query.level.value}, not {level.value}")


# ------------------------------------------------------------------------- columns

# Tags used below, by keyword.
_T: dict[str, int] = {
    keyword: int(tag_for_keyword(keyword) or 0)
    for keyword in (
        "SpecificCharacterSet", "StudyDate", "SeriesDate", "StudyTime", "SeriesTime",
        "AccessionNumber", "InstanceAvailability", "Modality", "ModalitiesInStudy",
        "SOPClassesInStudy", "InstitutionName", "ReferringPhysicianName", "RetrieveURL",
        "StudyDescription", "SeriesDescription", "SOPClassUID", "SOPInstanceUID",
        "AvailableTransferSyntaxUID", "PatientName", "PatientID", "IssuerOfPatientID",
        "PatientBirthDate", "PatientSex", "BodyPartExamined", "StudyInstanceUID",
        "SeriesInstanceUID", "StudyID", "SeriesNumber", "InstanceNumber",
        "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances",
        "NumberOfSeriesRelatedInstances", "NumberOfFrames", "Rows", "Columns", "BitsAllocated",
        "ScheduledProcedureStepID", "PerformedProcedureStepStartDate",
        "PerformedProcedureStepStartTime", "RequestAttributesSequence", "RequestedProcedureID",
    )
}  # fmt: skip


@dataclass(frozen=True)
class _Key:
    """How a matching key maps onto the index: its column and the matching it needs."""

    column: Col
    kind: str = "text"  # text | pn | int | date | time | modalities
    words: Col | None = None  # PN: the space-separated component column (fuzzy)


_KEYS: dict[tuple[Level, int], _Key] = {
    (Level.STUDY, _T["StudyDate"]): _Key(Study.study_date, "date"),
    (Level.STUDY, _T["StudyTime"]): _Key(Study.study_time, "time"),
    (Level.STUDY, _T["AccessionNumber"]): _Key(Study.accession_number),
    (Level.STUDY, _T["ModalitiesInStudy"]): _Key(Study.modalities_in_study, "modalities"),
    (Level.STUDY, _T["ReferringPhysicianName"]): _Key(Study.referring_physician_name_norm, "pn"),
    (Level.STUDY, _T["PatientName"]): _Key(
        Study.patient_name_norm, "pn", words=Study.patient_name_words
    ),
    (Level.STUDY, _T["PatientID"]): _Key(Study.patient_id),
    (Level.STUDY, _T["StudyInstanceUID"]): _Key(Study.study_instance_uid),
    (Level.STUDY, _T["StudyID"]): _Key(Study.study_id),
    (Level.STUDY, _T["PatientBirthDate"]): _Key(Study.patient_birth_date, "date"),
    (Level.STUDY, _T["PatientSex"]): _Key(Study.patient_sex),
    (Level.STUDY, _T["StudyDescription"]): _Key(Study.study_description),
    (Level.STUDY, _T["InstitutionName"]): _Key(Study.institution_name),
    (Level.SERIES, _T["Modality"]): _Key(Series.modality),
    (Level.SERIES, _T["SeriesInstanceUID"]): _Key(Series.series_instance_uid),
    (Level.SERIES, _T["SeriesNumber"]): _Key(Series.series_number, "int"),
    (Level.SERIES, _T["PerformedProcedureStepStartDate"]): _Key(
        Series.performed_procedure_step_start_date, "date"
    ),
    (Level.SERIES, _T["PerformedProcedureStepStartTime"]): _Key(
        Series.performed_procedure_step_start_time, "time"
    ),
    (Level.SERIES, _T["SeriesDescription"]): _Key(Series.series_description),
    (Level.SERIES, _T["InstitutionName"]): _Key(Series.institution_name),
    (Level.SERIES, _T["BodyPartExamined"]): _Key(Series.body_part_examined),
    (Level.SERIES, _T["SeriesDate"]): _Key(Series.series_date, "date"),
    (Level.SERIES, _T["SeriesTime"]): _Key(Series.series_time, "time"),
    (Level.INSTANCE, _T["SOPClassUID"]): _Key(Instance.sop_class_uid),
    (Level.INSTANCE, _T["SOPInstanceUID"]): _Key(Instance.sop_instance_uid),
    (Level.INSTANCE, _T["InstanceNumber"]): _Key(Instance.instance_number, "int"),
}

_SEQUENCE_ITEMS: dict[int, dict[int, _Key]] = {
    _T["RequestAttributesSequence"]: {
        _T["RequestedProcedureID"]: _Key(SeriesRequestAttributes.requested_procedure_id),
        _T["ScheduledProcedureStepID"]: _Key(SeriesRequestAttributes.scheduled_procedure_step_id),
        _T["AccessionNumber"]: _Key(SeriesRequestAttributes.accession_number),
        _T["StudyInstanceUID"]: _Key(SeriesRequestAttributes.study_instance_uid),
    },
}

# Columns selected for each level (labels -> column); the *_json ones only when needed.
_STUDY_COLUMNS: dict[str, Col] = {
    "st_uid": Study.study_instance_uid,
    "st_charset": Study.specific_character_set,
    "st_patient_id": Study.patient_id,
    "st_issuer": Study.issuer_of_patient_id,
    "st_patient_name": Study.patient_name,
    "st_birth_date": Study.patient_birth_date,
    "st_sex": Study.patient_sex,
    "st_date": Study.study_date,
    "st_time": Study.study_time,
    "st_accession": Study.accession_number,
    "st_referring": Study.referring_physician_name,
    "st_study_id": Study.study_id,
    "st_description": Study.study_description,
    "st_institution": Study.institution_name,
    "st_modalities": Study.modalities_in_study,
    "st_sop_classes": Study.sop_classes_in_study,
    "st_num_series": Study.num_series,
    "st_num_instances": Study.num_instances,
}
_SERIES_COLUMNS: dict[str, Col] = {
    "se_uid": Series.series_instance_uid,
    "se_modality": Series.modality,
    "se_number": Series.series_number,
    "se_description": Series.series_description,
    "se_body_part": Series.body_part_examined,
    "se_institution": Series.institution_name,
    "se_date": Series.series_date,
    "se_time": Series.series_time,
    "se_pps_date": Series.performed_procedure_step_start_date,
    "se_pps_time": Series.performed_procedure_step_start_time,
    "se_num_instances": Series.num_instances,
}
_INSTANCE_COLUMNS: dict[str, Col] = {
    "in_uid": Instance.sop_instance_uid,
    "in_class": Instance.sop_class_uid,
    "in_number": Instance.instance_number,
    "in_ts": Instance.transfer_syntax_uid,
    "in_rows": Instance.rows,
    "in_columns": Instance.columns,
    "in_bits": Instance.bits_allocated,
    "in_frames": Instance.number_of_frames,
}
_JSON_COLUMNS: dict[Level, tuple[str, Col]] = {
    Level.STUDY: ("st_json", Study.study_json),
    Level.SERIES: ("se_json", Series.series_json),
    Level.INSTANCE: ("in_json", Instance.instance_json),
}

# Values taken from a column when the stored JSON fragment lacks them:
# (tag, VR, label, kind) with kind "s" (one string), "m" (backslash list), "uids", "pn",
# "int".
_FALLBACKS: dict[Level, tuple[tuple[int, str, str, str], ...]] = {
    Level.STUDY: (
        (_T["SpecificCharacterSet"], "CS", "st_charset", "m"),
        (_T["StudyDate"], "DA", "st_date", "s"),
        (_T["StudyTime"], "TM", "st_time", "s"),
        (_T["AccessionNumber"], "SH", "st_accession", "s"),
        (_T["InstitutionName"], "LO", "st_institution", "s"),
        (_T["ReferringPhysicianName"], "PN", "st_referring", "pn"),
        (_T["StudyDescription"], "LO", "st_description", "s"),
        (_T["PatientName"], "PN", "st_patient_name", "pn"),
        (_T["PatientID"], "LO", "st_patient_id", "s"),
        (_T["IssuerOfPatientID"], "LO", "st_issuer", "s"),
        (_T["PatientBirthDate"], "DA", "st_birth_date", "s"),
        (_T["PatientSex"], "CS", "st_sex", "s"),
        (_T["StudyID"], "SH", "st_study_id", "s"),
        (_T["SOPClassesInStudy"], "UI", "st_sop_classes", "uids"),
    ),
    Level.SERIES: (
        (_T["SeriesDate"], "DA", "se_date", "s"),
        (_T["SeriesTime"], "TM", "se_time", "s"),
        (_T["Modality"], "CS", "se_modality", "s"),
        (_T["InstitutionName"], "LO", "se_institution", "s"),
        (_T["SeriesDescription"], "LO", "se_description", "s"),
        (_T["BodyPartExamined"], "CS", "se_body_part", "s"),
        (_T["SeriesNumber"], "IS", "se_number", "int"),
        (_T["PerformedProcedureStepStartDate"], "DA", "se_pps_date", "s"),
        (_T["PerformedProcedureStepStartTime"], "TM", "se_pps_time", "s"),
    ),
    Level.INSTANCE: (
        (_T["AvailableTransferSyntaxUID"], "UI", "in_ts", "s"),
        (_T["InstanceNumber"], "IS", "in_number", "int"),
        (_T["NumberOfFrames"], "IS", "in_frames", "int"),
        (_T["Rows"], "US", "in_rows", "int"),
        (_T["Columns"], "US", "in_columns", "int"),
        (_T["BitsAllocated"], "US", "in_bits", "int"),
    ),
}

_ONLINE: Json = {"vr": "CS", "Value": ["ONLINE"]}


def _computed_study(row: Any, base: str) -> Json:
    uid = row["st_uid"]
    out: Json = {
        "0020000D": {"vr": "UI", "Value": [uid]},
        "00201206": {"vr": "IS", "Value": [int(row["st_num_series"] or 0)]},
        "00201208": {"vr": "IS", "Value": [int(row["st_num_instances"] or 0)]},
        "00080056": _ONLINE,
        "00081190": {"vr": "UR", "Value": [f"{base}/studies/{uid}"]},
    }
    modalities = [m for m in str(row["st_modalities"] or "").split("\\") if m]
    if modalities:
        out["00080061"] = {"vr": "CS", "Value": modalities}
    return out


def _computed_series(row: Any, base: str) -> Json:
    url = f"{base}/studies/{row['st_uid']}/series/{row['se_uid']}"
    return {
        "0020000E": {"vr": "UI", "Value": [row["se_uid"]]},
        "00201209": {"vr": "IS", "Value": [int(row["se_num_instances"] or 0)]},
        "00081190": {"vr": "UR", "Value": [url]},
    }


def _computed_instance(row: Any, base: str) -> Json:
    url = f"{base}/studies/{row['st_uid']}/series/{row['se_uid']}/instances/{row['in_uid']}"
    return {
        "00080016": {"vr": "UI", "Value": [row["in_class"]]},
        "00080018": {"vr": "UI", "Value": [row["in_uid"]]},
        "00080056": _ONLINE,
        "00081190": {"vr": "UR", "Value": [url]},
    }


_COMPUTED: dict[Level, Callable[[Any, str], Json]] = {
    Level.STUDY: _computed_study,
    Level.SERIES: _computed_series,
    Level.INSTANCE: _computed_instance,
}
_PN_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")


def _fallback_value(vr: str, kind: str, raw: Any) -> Json | None:
    if raw is None or raw == "":
        return None
    if kind == "int":
        return {"vr": vr, "Value": [int(raw)]}
    text = str(raw)
    if kind == "pn":
        groups = {name: g for name, g in zip(_PN_GROUPS, text.split("="), strict=False) if g}
        return {"vr": vr, "Value": [groups]} if groups else None
    if kind in ("m", "uids"):
        # "m": a backslash list; "uids": UIDs split on anything that is not part of one.
        values = [v for v in re.split(r"[^0-9.]+" if kind == "uids" else r"\\", text) if v]
        return {"vr": vr, "Value": values} if values else None
    return {"vr": vr, "Value": [text]}


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
            wanted=frozenset(tag_hex(t) for t in wanted),
            include_all=query.include_all,
            hidden=frozenset(tag_hex(t) for t in hidden),
            required=tuple((tag_hex(t), _dictionary_vr(t)) for t in required),
        )

    def columns(self) -> list[Col]:
        cols: list[Col] = []
        for lvl, table in (
            (Level.STUDY, _STUDY_COLUMNS),
            (Level.SERIES, _SERIES_COLUMNS),
            (Level.INSTANCE, _INSTANCE_COLUMNS),
        ):
            if lvl not in self.levels:
                continue
            cols.extend(col.label(label) for label, col in table.items())
            if lvl in self.json_levels:
                label, col = _JSON_COLUMNS[lvl]
                cols.append(col.label(label))
        return cols

    def build(self, row: Any, base: str) -> Json:
        available: Json = {}
        for lvl in self.levels:
            data = _fragment(row[_JSON_COLUMNS[lvl][0]]) if lvl in self.json_levels else {}
            for tag, vr, label, kind in _FALLBACKS[lvl]:
                key = tag_hex(tag)
                if key not in data:
                    value = _fallback_value(vr, kind, row[label])
                    if value is not None:
                        data[key] = value
            data.update(_COMPUTED[lvl](row, base))
            available.update(data)  # a lower level wins for shared tags (RetrieveURL)
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


def _dictionary_vr(tag: int) -> str:
    """The VR an empty attribute is returned with ("US or SS" -> "US"; unknown -> "UN")."""
    try:
        return str(dictionary_VR(tag)).split(" or ")[0]
    except KeyError:
        return "UN"


# ------------------------------------------------------------------------- SQL


def _statement(
    principal: Principal,
    query: QidoQuery,
    plan: _Plan,
    dialect: str,
    study_uid: str | None,
    series_uid: str | None,
    limit: int,
) -> Select[Any]:
    """One SELECT for the page (``limit + 1`` rows, to know whether more exist).

    The account is enforced on ``study``; series and instances are reached through
    their study (``series.study_id``, ``instance.study_id``), which the store service
    always sets within one account. Their own ``account_id`` is added only when a UID
    filter can use the ``(account_id, ...uid)`` unique index; otherwise SQLite would
    propagate that constant and start from a scan of every series of the account.
    """
    level = query.level
    account = principal.account_id
    filters = query.filters
    # A share sees a handful of orders: ix_study_order_id beats walking the account.
    shared = principal.share_order_ids is not None
    selective = shared or any(_selective(flt) for flt in filters)
    where: list[ColumnElement[bool]] = []
    if shared:
        ids = sorted(principal.share_order_ids or ())
        # "+ 0" keeps the account check but off the account-leading indexes.
        where += [Study.order_id.in_(ids) if ids else false(), (Study.account_id + 0) == account]
    else:
        where.append(Study.account_id == account)
    stmt = select(*plan.columns())
    if level is Level.STUDY:
        stmt = stmt.select_from(Study)
    else:
        stmt = stmt.select_from(Study).join(Series, Series.study_id == Study.id)
        if series_uid or _has_uid_filter(filters, Level.SERIES, _T["SeriesInstanceUID"]):
            where.append(Series.account_id == account)
    if level is Level.INSTANCE:
        stmt = stmt.join(Instance, Instance.series_id == Series.id)
        if _has_uid_filter(filters, Level.INSTANCE, _T["SOPInstanceUID"]):
            where.append(Instance.account_id == account)
    if study_uid:
        where.append(Study.study_instance_uid == study_uid)
    if series_uid:
        where.append(Series.series_instance_uid == series_uid)

    # With a selective (equality or prefix) filter, keep range filters and the sort off
    # the indexes: without statistics SQLite would otherwise walk ix_study_account_date
    # (for StudyDate or for the ORDER BY) instead of the selective filter's index.
    matcher = _Matcher(sqlite=dialect == "sqlite", fuzzy=query.fuzzy, hide_ranges=selective)
    for flt in filters:
        clause = matcher.filter_clause(flt, account)
        if clause is not None:
            where.append(clause)

    date_key: Any = func.coalesce(Study.study_date, "") if selective else Study.study_date
    order: list[Any] = [date_key.desc(), Study.id.desc()]
    if level is not Level.STUDY:
        order += [Series.series_number.asc().nulls_last(), Series.id.asc()]
    if level is Level.INSTANCE:
        order += [Instance.instance_number.asc().nulls_last(), Instance.id.asc()]
    return stmt.where(*where).order_by(*order).limit(limit + 1).offset(query.offset)


def _has_uid_filter(filters: Sequence[Filter], level: Level, tag: int) -> bool:
    return any(
        flt.level is level and flt.tag == tag and isinstance(flt, SingleValue | UidList)
        for flt in filters
    )


_SELECTIVE = frozenset(
    {_T["PatientID"], _T["PatientName"], _T["AccessionNumber"], _T["StudyInstanceUID"]}
)


def _selective(flt: Filter) -> bool:
    """An equality or prefix filter on an indexed study column (few matches expected)."""
    if flt.level is not Level.STUDY or flt.tag not in _SELECTIVE:
        return False
    if isinstance(flt, SingleValue | UidList):
        return True
    return isinstance(flt, Wildcard) and len(flt.literal_prefix) >= 2


def _increment(prefix: str) -> str | None:
    """The smallest string above every string that starts with ``prefix`` (code points)."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None


_WILD = re.compile(r"([*?])")


class _Matcher:
    """Builds WHERE clauses; values are always bound parameters, never SQL text."""

    def __init__(self, *, sqlite: bool, fuzzy: bool, hide_ranges: bool = False) -> None:
        self.sqlite = sqlite
        self.fuzzy = fuzzy
        self.hide_ranges = hide_ranges

    # -- patterns ---------------------------------------------------------------------

    def pattern(self, column: Col, parts: Sequence[str]) -> ColumnElement[bool]:
        """``parts`` alternate literal text and wildcards ``*`` / ``?`` (as split by _WILD)."""
        if self.sqlite:
            # GLOB: case-sensitive, like DICOM matching; only * ? [ are special.
            glob = "".join(
                part if part in ("*", "?") else re.sub(r"([*?\[])", r"[\1]", part) for part in parts
            )
            return column.op("GLOB", is_comparison=True)(glob)
        like = "".join(
            "%" if part == "*" else "_" if part == "?" else re.sub(r"([!%_])", r"!\1", part)
            for part in parts
        )
        return column.like(like, escape="!")

    def prefix(self, column: Col, prefix: str) -> ColumnElement[bool]:
        """``column`` starts with ``prefix``: a B-tree range the index can serve.

        The range is only exact under a bytewise order. SQLite compares bytewise; on
        PostgreSQL the comparison is made ``COLLATE "C"``: under a database's linguistic
        default collation (en_US, ICU) ``'PID%1' < 'PID&'`` and ``'PAT0009' < 'PAT000:'``
        are false, and the range would silently drop matches. The ``*_norm`` columns are
        already "C", so their indexes still serve the range.
        """
        if not self.sqlite:
            column = column.collate("C")
        upper = _increment(prefix)
        low: ColumnElement[bool] = column >= prefix
        return low if upper is None else and_(low, column < upper)

    def wildcard(self, column: Col, pattern: str) -> ColumnElement[bool]:
        parts = [p for p in _WILD.split(pattern) if p]
        clause = self.pattern(column, parts)
        literal_prefix = parts[0] if parts and parts[0] not in ("*", "?") else ""
        if literal_prefix:
            return and_(self.prefix(column, literal_prefix), clause)
        return clause

    def contains(self, column: Col, text: str) -> ColumnElement[bool]:
        return self.pattern(column, ["*", text, "*"])

    # -- filters ----------------------------------------------------------------------

    def filter_clause(self, flt: Filter, account: int) -> ColumnElement[bool] | None:
        if isinstance(flt, Universal):
            return None
        if isinstance(flt, SequenceMatch):
            return self.sequence(flt, account)
        key = _KEYS.get((flt.level, flt.tag))
        if key is None:
            raise QidoError(f"matching on {tag_hex(flt.tag)} is not supported")
        return self.key_clause(flt, key)

    def sequence(self, flt: SequenceMatch, account: int) -> ColumnElement[bool] | None:
        keys = _SEQUENCE_ITEMS.get(flt.tag)
        if keys is None:
            raise QidoError(f"sequence matching on {tag_hex(flt.tag)} is not supported")
        clauses: list[ColumnElement[bool]] = []
        for item in flt.items:
            key = keys.get(item.tag)
            if key is None:
                raise QidoError(f"matching on {tag_hex(item.tag)} in a sequence is unsupported")
            clause = self.key_clause(item, key)
            if clause is not None:
                clauses.append(clause)
        if not clauses:
            return None
        sra = SeriesRequestAttributes
        # IN (not EXISTS): the item filters then use the (account_id, ...) indexes.
        return Series.id.in_(select(sra.series_id).where(sra.account_id == account, *clauses))

    def key_clause(self, flt: Filter, key: _Key) -> ColumnElement[bool] | None:
        col = key.column
        if isinstance(flt, Universal):
            return None
        if key.kind == "pn" and isinstance(flt, SingleValue | Wildcard):
            return self.person_name(flt, key)
        if key.kind == "modalities":
            if isinstance(flt, SingleValue):
                return self.contains(col, f"\\{flt.value}\\")
            if isinstance(flt, MultiValue):
                return or_(*(self.contains(col, f"\\{v}\\") for v in flt.values))
        if isinstance(flt, SingleValue):
            if key.kind == "int":
                return col == int(flt.value)
            if key.kind == "time":
                return self.prefix(col, flt.value)
            return col == flt.value
        if isinstance(flt, UidList):
            return col.in_(flt.uids)
        if isinstance(flt, Wildcard) and key.kind == "text":
            return self.wildcard(col, flt.pattern)
        if isinstance(flt, DateRange) and key.kind == "date":
            return self.range(col, flt.start, flt.end, inclusive_end=True)
        if isinstance(flt, TimeRange) and key.kind == "time":
            return self.range(col, flt.start, flt.end, inclusive_end=False)
        if isinstance(flt, DateTimeRange):
            raise QidoError(f"datetime range matching on {tag_hex(flt.tag)} is not supported")
        raise QidoError(f"this kind of matching is not supported for {tag_hex(flt.tag)}")

    def range(
        self, col: Col, start: str | None, end: str | None, *, inclusive_end: bool
    ) -> ColumnElement[bool]:
        """Inclusive range; a TM end bound covers every value at its precision
        (``-1000`` includes ``100059``). Empty (unknown) values never match a range."""
        if self.hide_ranges:
            col = func.coalesce(col, "")  # an expression: no index range on it
        clauses: list[ColumnElement[bool]] = []
        clauses.append(col >= start if start is not None else col > "")
        if end is not None:
            if inclusive_end:
                clauses.append(col <= end)
            else:
                upper = _increment(end)
                if upper is not None:
                    # "-0959" becomes "< '095:'": bytewise only (see prefix()).
                    clauses.append((col if self.sqlite else col.collate("C")) < upper)
        return and_(*clauses)

    def person_name(self, flt: SingleValue | Wildcard, key: _Key) -> ColumnElement[bool]:
        col = key.column
        raw = flt.value if isinstance(flt, SingleValue) else flt.pattern
        norm = normalise_person_name(raw)
        # A query without "=" matches the whole name or its first (alphabetic) group of
        # a multi-group name. One index range covers both; the exact test follows it.
        parts = [p for p in _WILD.split(norm) if p]
        exact = self.pattern(col, parts)
        if "=" not in norm and not norm.endswith("*"):
            exact = or_(exact, self.pattern(col, [*parts, "=", "*"]))
        literal_prefix = parts[0] if parts and parts[0] not in ("*", "?") else ""
        base = and_(self.prefix(col, literal_prefix), exact) if literal_prefix else exact
        if not self.fuzzy:
            return base
        fuzzy = self.fuzzy_words(raw, key)
        return base if fuzzy is None else or_(base, fuzzy)

    def fuzzy_words(self, raw: str, key: _Key) -> ColumnElement[bool] | None:
        """Each query word must start some name component (case and accents ignored)."""
        words = [_WILD.split(w, maxsplit=1)[0] for w in person_name_words(raw)]
        words = [w for w in words if w]
        if not words:
            return None
        clauses: list[ColumnElement[bool]] = []
        for word in words:
            if key.words is not None:
                spaced = literal(" ").concat(key.words)
                clauses.append(self.pattern(spaced, ["*", " " + word, "*"]))
            else:
                col = key.column
                clauses.append(
                    or_(
                        self.pattern(col, [word, "*"]),
                        *(self.pattern(col, ["*", sep + word, "*"]) for sep in ("^", " ", "=")),
                    )
                )
        return and_(*clauses)
