"""QIDO search in SQL: a :class:`~openpacs.protocol.qido.QidoQuery` -> one SELECT.

The query compiler of the search service. Filters run on the columns the attribute table
(:mod:`openpacs.dicom.attributes`) names, the kind of each key choosing the SQL; each row
carries every attribute column of the levels searched (labelled by :func:`label`) and,
when asked for, their stored DICOM JSON fragments. One query per search (no N+1).

Scope: every table is restricted to the viewer's account, and to the studies of the
orders the viewer may see (:func:`openpacs.index.viewer.visible_studies`: a share's
orders, a reader's assigned orders, a limited user's institutions).

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
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    Select,
    SQLColumnExpression,
    and_,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from openpacs.dicom.attributes import (
    Attribute,
    Kind,
    Level,
    attributes_at,
    matching_keys,
    sequence_items,
    tag_of,
)
from openpacs.dicom.tags import tag_key
from openpacs.index.models import (
    Instance,
    Series,
    SeriesRequestAttributes,
    Study,
    attribute_column,
)
from openpacs.index.viewer import Viewer, is_narrow, visible_studies
from openpacs.protocol.qido import (
    DateRange,
    DateTimeRange,
    Filter,
    MultiValue,
    QidoError,
    QidoQuery,
    SequenceMatch,
    SingleValue,
    TimeRange,
    UidList,
    Universal,
    Wildcard,
    normalise_person_name,
    person_name_words,
)

__all__ = ["JSON_LABELS", "fetch_page", "label", "match_column", "search_statement"]

Col = SQLColumnExpression[Any]


_PREFIX = {Level.STUDY: "st", Level.SERIES: "se", Level.INSTANCE: "in"}
#: The label of each level's stored DICOM JSON fragment in a result row.
JSON_LABELS = {Level.STUDY: "st_json", Level.SERIES: "se_json", Level.INSTANCE: "in_json"}
_JSON_COLUMNS: dict[Level, Col] = {
    Level.STUDY: Study.study_json,
    Level.SERIES: Series.series_json,
    Level.INSTANCE: Instance.instance_json,
}


def label(attr: Attribute) -> str:
    """The name of ``attr``'s column in a result row (``st_patient_id``)."""
    return f"{_PREFIX[attr.level]}_{attr.column}"


def _columns(levels: Sequence[Level], json_levels: frozenset[Level]) -> list[Col]:
    cols: list[Col] = []
    for lvl in levels:
        cols += [attribute_column(a).label(label(a)) for a in attributes_at(lvl) if a.column]
        if lvl in json_levels:
            cols.append(_JSON_COLUMNS[lvl].label(JSON_LABELS[lvl]))
    return cols


def fetch_page(
    session: Session,
    viewer: Viewer,
    query: QidoQuery,
    *,
    json_levels: frozenset[Level],
    study_uid: str | None,
    series_uid: str | None,
    limit: int,
) -> Sequence[RowMapping]:
    """The rows of one page (``limit + 1`` at most, to know whether more exist): every
    attribute column of the levels down to ``query.level``, the JSON of ``json_levels``."""
    dialect = session.get_bind().dialect.name
    stmt = search_statement(
        viewer,
        query,
        dialect=dialect,
        json_levels=json_levels,
        study_uid=study_uid,
        series_uid=series_uid,
        limit=limit,
    )
    return session.execute(stmt).mappings().all()


_SERIES_UID = tag_of("SeriesInstanceUID")
_SOP_UID = tag_of("SOPInstanceUID")


def search_statement(
    viewer: Viewer,
    query: QidoQuery,
    *,
    dialect: str = "sqlite",
    json_levels: frozenset[Level] = frozenset(),
    study_uid: str | None = None,
    series_uid: str | None = None,
    limit: int = 100,
) -> Select[Any]:
    """One SELECT for the page (``limit + 1`` rows, to know whether more exist).

    The account is enforced on ``study``; series and instances are reached through
    their study (``series.study_id``, ``instance.study_id``), which the store service
    always sets within one account. Their own ``account_id`` is added only when a UID
    filter can use the ``(account_id, ...uid)`` unique index; otherwise SQLite would
    propagate that constant and start from a scan of every series of the account.
    """
    level = query.level
    account = viewer.account_id
    filters = query.filters
    # A share or a reader sees a handful of orders: ix_study_order_id beats walking
    # the account. An institution scope is wide: checked on the rows found.
    visible = visible_studies(viewer)
    narrow = visible is not None and is_narrow(viewer)
    selective = narrow or any(_selective(flt) for flt in filters)
    where: list[ColumnElement[bool]] = []
    if narrow:
        assert visible is not None
        # "+ 0" keeps the account check but off the account-leading indexes.
        where += [visible, (Study.account_id + 0) == account]
    else:
        where.append(Study.account_id == account)
        if visible is not None:
            where.append(visible)
    levels = [lvl for lvl in Level if lvl.rank <= level.rank]
    stmt = select(*_columns(levels, json_levels))
    if level is Level.STUDY:
        stmt = stmt.select_from(Study)
    else:
        stmt = stmt.select_from(Study).join(Series, Series.study_id == Study.id)
        if series_uid or _has_uid_filter(filters, Level.SERIES, _SERIES_UID):
            where.append(Series.account_id == account)
    if level is Level.INSTANCE:
        stmt = stmt.join(Instance, Instance.series_id == Series.id)
        if _has_uid_filter(filters, Level.INSTANCE, _SOP_UID):
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


def match_column(
    flt: Filter, key: Attribute, column: Col, norm_column: Col | None = None, *, dialect: str
) -> ColumnElement[bool] | None:
    """The clause of one QIDO filter on a column of another table than the attribute's
    (the modality worklist matches orders with the same rules); ``norm_column`` is the
    normalised copy a person name is matched on. None for universal matching."""
    matcher = _Matcher(sqlite=dialect == "sqlite", fuzzy=False)
    return matcher.key_clause(
        flt, key, (column, norm_column if norm_column is not None else column)
    )


def _has_uid_filter(filters: Sequence[Filter], level: Level, tag: int) -> bool:
    return any(
        flt.level is level and flt.tag == tag and isinstance(flt, SingleValue | UidList)
        for flt in filters
    )


# Study keys with an index of their own (ix_study_account_*) that few studies match.
_SELECTIVE = frozenset(
    tag_of(k) for k in ("PatientID", "PatientName", "AccessionNumber", "StudyInstanceUID")
)
_MATCHING: dict[Level, dict[int, Attribute]] = {lvl: matching_keys(lvl) for lvl in Level}
_ITEMS: dict[Level, dict[int, dict[int, Attribute]]] = {lvl: sequence_items(lvl) for lvl in Level}


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
        key = _MATCHING[flt.level].get(flt.tag)
        if key is None:
            raise QidoError(f"matching on {tag_key(flt.tag)} is not supported")
        return self.key_clause(flt, key)

    def sequence(self, flt: SequenceMatch, account: int) -> ColumnElement[bool] | None:
        keys = _ITEMS[flt.level].get(flt.tag)
        if keys is None:
            raise QidoError(f"sequence matching on {tag_key(flt.tag)} is not supported")
        clauses: list[ColumnElement[bool]] = []
        for item in flt.items:
            key = keys.get(item.tag)
            if key is None:
                raise QidoError(f"matching on {tag_key(item.tag)} in a sequence is unsupported")
            clause = self.key_clause(item, key)
            if clause is not None:
                clauses.append(clause)
        if not clauses:
            return None
        sra = SeriesRequestAttributes
        # IN (not EXISTS): the item filters then use the (account_id, ...) indexes.
        return Series.id.in_(select(sra.series_id).where(sra.account_id == account, *clauses))

    def key_clause(
        self, flt: Filter, key: Attribute, columns: tuple[Col, Col] | None = None
    ) -> ColumnElement[bool] | None:
        """The clause of one filter on matching key ``key``; its kind decides the SQL."""
        kind = key.kind
        if isinstance(flt, Universal):
            return None
        if kind is Kind.PERSON_NAME and isinstance(flt, SingleValue | Wildcard):
            return self.person_name(flt, key, columns[1] if columns else None)
        col: Col = columns[0] if columns else attribute_column(key)
        if kind is Kind.MODALITIES:
            if isinstance(flt, SingleValue):
                return self.contains(col, f"\\{flt.value}\\")
            if isinstance(flt, MultiValue):
                return or_(*(self.contains(col, f"\\{v}\\") for v in flt.values))
        if isinstance(flt, SingleValue):
            if kind is Kind.INT:
                return col == int(flt.value)
            if kind is Kind.TIME:
                return self.prefix(col, flt.value)
            return col == flt.value
        if isinstance(flt, UidList):
            return col.in_(flt.uids)
        if isinstance(flt, Wildcard) and kind is Kind.TEXT:
            return self.wildcard(col, flt.pattern)
        if isinstance(flt, DateRange) and kind is Kind.DATE:
            return self.range(col, flt.start, flt.end, inclusive_end=True)
        if isinstance(flt, TimeRange) and kind is Kind.TIME:
            return self.range(col, flt.start, flt.end, inclusive_end=False)
        if isinstance(flt, DateTimeRange):
            raise QidoError(f"datetime range matching on {tag_key(flt.tag)} is not supported")
        raise QidoError(f"this kind of matching is not supported for {tag_key(flt.tag)}")

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

    def person_name(
        self, flt: SingleValue | Wildcard, key: Attribute, norm_column: Col | None = None
    ) -> ColumnElement[bool]:
        """Matched on the normalised column: case- and accent-insensitive."""
        col: Col = (
            norm_column if norm_column is not None else attribute_column(key, key.norm_column)
        )
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

    def fuzzy_words(self, raw: str, key: Attribute) -> ColumnElement[bool] | None:
        """Each query word must start some name component (case and accents ignored)."""
        words = [_WILD.split(w, maxsplit=1)[0] for w in person_name_words(raw)]
        words = [w for w in words if w]
        if not words:
            return None
        clauses: list[ColumnElement[bool]] = []
        for word in words:
            if key.words:
                spaced = literal(" ").concat(attribute_column(key, key.words_column))
                clauses.append(self.pattern(spaced, ["*", " " + word, "*"]))
            else:
                col: Col = attribute_column(key, key.norm_column)
                clauses.append(
                    or_(
                        self.pattern(col, [word, "*"]),
                        *(self.pattern(col, ["*", sep + word, "*"]) for sep in ("^", " ", "=")),
                    )
                )
        return and_(*clauses)
