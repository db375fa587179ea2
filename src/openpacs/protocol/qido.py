"""QIDO-RS query parameters (PS3.18 8.3.4, 10.6) -> a frozen :class:`QidoQuery`.

Pure: no SQL, no web. The handler passes the query string as ``(key, value)`` pairs and
the target level; the search service turns the result into SQL.

Matching keys, the matching each one supports and the attributes returned by default all
come from the attribute table (:mod:`openpacs.dicom.attributes`). Keys are named by
keyword (``PatientID``) or tag (``00100020``); sequence matching uses
``RequestAttributesSequence.RequestedProcedureID`` or ``00400275.00401001``. Each value
becomes one filter class per PS3.4 C.2.2.2 matching type: :class:`Universal` (empty
value, or ``*`` alone), :class:`SingleValue`, :class:`UidList` (``\\`` or ``,`` separated
UIDs), :class:`MultiValue` (ModalitiesInStudy ``CT\\MR``: any of), :class:`Wildcard`
(``*`` and ``?``), :class:`DateRange` / :class:`TimeRange` / :class:`DateTimeRange`
(``A-B``, ``A-``, ``-B``) and :class:`SequenceMatch`. Values are kept as sent (minus
insignificant leading/trailing spaces); the service escapes them and binds them as
parameters. A key may name an attribute of the target level or of a level above it
(``/series?PatientID=x``).

Unknown and unsupported parameters are ignored (PS3.18 8.3: "The origin server shall
ignore any unsupported Query Parameters. The origin server shall process the request as
if the unsupported parameters were not present"; and "If a supported Query Parameter has
an invalid value, the origin server shall return a 400 (Bad Request)"). What a parameter
*is* decides whether it is supported; its value decides whether it is valid:

* ignored (listed in :attr:`QidoQuery.ignored_parameters`): a name that is no QIDO
  parameter and no DICOM attribute (``foo``, ``_`` cache busters, ``token``, an empty
  name, ``emptyvaluematching``); an attribute we do not match on at any level
  (``PatientAge``, ``OperatorsName``); an attribute path we do not support (an item key
  the sequence does not match on, nested sequences, an item of an attribute that is not
  a sequence). Ignoring a matching key widens the search, as a C-FIND SCP may do with an
  optional key it does not support (its Pending status FF01 says so);
* 400 (:class:`QidoError`): an invalid value of a supported parameter (a bad date, time,
  UID, integer, limit or offset, a wildcard where none is allowed, a value for a whole
  sequence, an unknown attribute in ``includefield``), a key given twice, and a matching
  key of a *lower* level than the search (``/studies?Modality=CT``). Such a key is not
  "unsupported": the resource does not allow it (PS3.18, since its first QIDO text: an
  attribute must be a Series IE attribute "SearchForSeries or SearchForInstances requests
  only", a Composite Instance IE attribute "SearchForInstances requests only"), as in
  C-FIND's hierarchical search; and dropping it silently would answer every study to a
  client that asked for the CT ones (the message points to ModalitiesInStudy).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from openpacs.dicom.attributes import (
    LEVEL_TAGS,
    Attribute,
    Kind,
    Level,
    matching_keys,
    return_tags,
    sequence_items,
)
from openpacs.dicom.dictionary import keyword_for_tag, tag_for_keyword
from openpacs.dicom.names import canonical_person_name, name_words, normalise_person_name

__all__ = [
    "WEB_PARAMETERS",
    "DateRange",
    "DateTimeRange",
    "Filter",
    "ItemFilter",
    "Level",
    "MultiValue",
    "QidoError",
    "QidoQuery",
    "SequenceMatch",
    "SingleValue",
    "TimeRange",
    "UidList",
    "Universal",
    "Wildcard",
    "default_return_tags",
    "is_valid_uid",
    "lower_level_tags",
    "normalise_person_name",
    "parse_qido",
    "person_name_words",
    "value_filter",
]


class QidoError(ValueError):
    """The query string is not a valid QIDO-RS query; the message says why (answer 400)."""


_MATCHING: dict[Level, dict[int, Attribute]] = {lvl: matching_keys(lvl) for lvl in Level}
_ITEMS: dict[Level, dict[int, dict[int, Attribute]]] = {lvl: sequence_items(lvl) for lvl in Level}

# Query parameters the web layer handles itself (content negotiation, PS3.18 8.3.3).
WEB_PARAMETERS = frozenset({"accept", "charset"})

# Largest limit/offset accepted; beyond it SQL integers may overflow.
_MAX_INT = 2**31 - 1


def default_return_tags(
    level: Level, *, study_scoped: bool = False, series_scoped: bool = False
) -> frozenset[int]:
    """Attributes every result of a search carries (PS3.18 10.6.3.3).

    Series searches add the study attributes unless scoped by a study (10.6.3.3.2: "If
    the Target Resource is All Series, then include all Study Level Attributes").
    Instance searches add the series and the study attributes unless scoped by a series:
    ``/studies/{study}/instances`` must carry the series attributes (10.6.3.3.3) and
    carries the study's too, so that each instance says whose it is (PatientName,
    StudyDate, ...) as it does in ``/instances``.
    """
    tags = set(return_tags(level))
    if level is Level.SERIES and not study_scoped:
        tags |= return_tags(Level.STUDY)
    if level is Level.INSTANCE and not series_scoped:
        tags |= return_tags(Level.SERIES) | return_tags(Level.STUDY)
    return frozenset(tags)


def lower_level_tags(level: Level) -> frozenset[int]:
    """Attributes of the levels below ``level`` only: never returned at ``level``."""
    own: set[int] = set()
    lower: set[int] = set()
    for lvl, tags in LEVEL_TAGS.items():
        (own if lvl.rank <= level.rank else lower).update(tags)
    return frozenset(lower - own)


# ----------------------------------------------------------------------------- filters


@dataclass(frozen=True, slots=True)
class Universal:
    """Empty value (or ``*``): every entity matches; the attribute is returned."""

    tag: int
    level: Level


@dataclass(frozen=True, slots=True)
class SingleValue:
    """Exact match (PN: case- and accent-insensitive; TM: the given precision)."""

    tag: int
    level: Level
    value: str


@dataclass(frozen=True, slots=True)
class UidList:
    """Any of these UIDs (PS3.4 C.2.2.2.2)."""

    tag: int
    level: Level
    uids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MultiValue:
    """Any of these values (ModalitiesInStudy ``CT\\MR``)."""

    tag: int
    level: Level
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Wildcard:
    """``*`` matches any run of characters, ``?`` any single one (PS3.4 C.2.2.2.4)."""

    tag: int
    level: Level
    pattern: str

    @property
    def literal_prefix(self) -> str:
        """The characters before the first wildcard (for index range scans)."""
        return re.split(r"[*?]", self.pattern, maxsplit=1)[0]


@dataclass(frozen=True, slots=True)
class DateRange:
    """YYYYMMDD bounds, inclusive; None is open-ended."""

    tag: int
    level: Level
    start: str | None
    end: str | None


@dataclass(frozen=True, slots=True)
class TimeRange:
    """HHMMSS.FFFFFF bounds (any precision), inclusive; None is open-ended."""

    tag: int
    level: Level
    start: str | None
    end: str | None


@dataclass(frozen=True, slots=True)
class DateTimeRange:
    """YYYYMMDDHHMMSS.FFFFFF&ZZXX bounds (any precision), inclusive."""

    tag: int
    level: Level
    start: str | None
    end: str | None


ItemFilter = Universal | SingleValue | UidList | Wildcard


@dataclass(frozen=True, slots=True)
class SequenceMatch:
    """All item filters must hold for the same item of the sequence (PS3.4 C.2.2.2.6)."""

    tag: int
    level: Level
    items: tuple[ItemFilter, ...]


Filter = (
    Universal
    | SingleValue
    | UidList
    | MultiValue
    | Wildcard
    | DateRange
    | TimeRange
    | DateTimeRange
    | SequenceMatch
)


@dataclass(frozen=True, slots=True)
class QidoQuery:
    level: Level
    filters: tuple[Filter, ...] = ()
    # includefield attributes (top-level tags), lower-level ones already dropped.
    includefields: frozenset[int] = frozenset()
    include_all: bool = False
    limit: int | None = None  # None: the server default
    offset: int = 0
    fuzzy: bool = False
    # Lower-level includefield attributes that were ignored (for a warning, if wanted).
    ignored_includefields: frozenset[int] = field(default=frozenset())
    # Unknown or unsupported parameters, by name as sent (ignored: PS3.18 8.3).
    ignored_parameters: tuple[str, ...] = ()

    @property
    def matching_tags(self) -> frozenset[int]:
        return frozenset(f.tag for f in self.filters)


# ----------------------------------------------------------------------------- parsing

_HEX_TAG = re.compile(r"[0-9A-Fa-f]{8}")
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
_DATE = re.compile(r"\d{8}")
_TIME = re.compile(r"([01]\d|2[0-3])([0-5]\d([0-5]\d(\.\d{1,6})?)?)?")
_DATETIME = re.compile(
    r"\d{4}((0[1-9]|1[0-2])((0[1-9]|[12]\d|3[01])(([01]\d|2[0-3])([0-5]\d([0-5]\d(\.\d{1,6})?)?)?)?)?)?"
    r"([+-](0\d|1[0-4])[0-5]\d)?"
)
_INT = re.compile(r"[+-]?\d{1,10}")


def is_valid_uid(uid: str) -> bool:
    """Digits separated by dots, at most 64 characters (PS3.5 9.1, leading zeros allowed)."""
    return len(uid) <= 64 and _UID.fullmatch(uid) is not None


def _shown(text: str) -> str:
    """Client text inside an error message: repr, at most 80 characters."""
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _resolve(name: str) -> int | None:
    """A keyword or eight hex digits -> tag; None when it names no attribute."""
    if _HEX_TAG.fullmatch(name):
        return int(name, 16)
    tag = tag_for_keyword(name)
    return None if tag is None else int(tag)


def _name(tag: int) -> str:
    keyword = keyword_for_tag(tag)
    return str(keyword) if keyword else f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _matching_key(tag: int, target: Level) -> Attribute | None:
    """The row of matching key ``tag`` for a search at ``target`` (its own level or the
    nearest above); None if no level matches on it; QidoError for a lower level's key."""
    for lvl in target.and_above():
        if (attr := _MATCHING[lvl].get(tag)) is not None:
            return attr
    for lvl in Level:
        if tag in _MATCHING[lvl]:
            hint = " (use ModalitiesInStudy)" if _name(tag) == "Modality" else ""
            raise QidoError(
                f"{_name(tag)} is a {lvl.value}-level attribute: it cannot be a matching key "
                f"when searching for {target.value} entities{hint}"
            )
    return None


def _includefield(raw_value: str, lower: frozenset[int]) -> tuple[set[int], set[int], bool]:
    """(included tags, lower-level tags dropped, "all" given) of one includefield value."""
    includes: set[int] = set()
    dropped: set[int] = set()
    include_all = False
    for item in (part.strip() for part in raw_value.split(",")):
        if not item:
            continue
        if item.lower() == "all":
            include_all = True
            continue
        tag = _resolve(item.split(".", 1)[0])
        if tag is None:
            raise QidoError(f"includefield: unknown attribute {_shown(item)}")
        (dropped if tag in lower else includes).add(tag)
    return includes, dropped, include_all


def parse_qido(pairs: Iterable[tuple[str, str]], level: Level) -> QidoQuery:
    """Parse query-string pairs (in order, repeats allowed) for a search at ``level``."""
    filters: dict[int, Filter] = {}
    sequences: dict[int, tuple[Attribute, dict[int, ItemFilter]]] = {}
    includes: set[int] = set()
    ignored: set[int] = set()
    ignored_parameters: dict[str, None] = {}
    include_all = False
    limit: int | None = None
    offset = 0
    fuzzy = False
    seen_params: set[str] = set()
    lower = lower_level_tags(level)

    for raw_key, raw_value in pairs:
        key = raw_key.strip()
        lowered = key.lower()
        if lowered in WEB_PARAMETERS:
            continue
        if lowered == "includefield":
            more, dropped, everything = _includefield(raw_value, lower)
            includes |= more
            ignored |= dropped
            include_all = include_all or everything
            continue
        if lowered in ("limit", "offset", "fuzzymatching"):
            if lowered in seen_params:
                raise QidoError(f"query parameter {lowered!r} is given more than once")
            seen_params.add(lowered)
            if lowered == "limit":
                limit = _parse_int(lowered, raw_value, minimum=1, clamp=True)
            elif lowered == "offset":
                offset = _parse_int(lowered, raw_value, minimum=0, clamp=False)
            else:
                fuzzy = _parse_bool(lowered, raw_value)
            continue

        path = key.split(".")
        tag = _resolve(path[0])
        attr = None if tag is None else _matching_key(tag, level)
        item = _item_key(attr, path)
        if attr is None or (len(path) > 1 and item is None):
            ignored_parameters[key[:80]] = None  # unsupported: as if not sent (8.3)
            continue
        if item is not None:
            _, items = sequences.setdefault(attr.tag, (attr, {}))
            if item.tag in items:
                raise QidoError(f"matching key {_shown(key)} is given more than once")
            if attr.tag in filters:
                raise QidoError(f"{attr.keyword} is given both as a whole and by item")
            items[item.tag] = _item_filter(item, attr.level, raw_value)
            continue
        if attr.tag in filters or attr.tag in sequences:
            raise QidoError(f"matching key {attr.keyword} is given more than once")
        filters[attr.tag] = _filter(attr, attr.level, raw_value)

    for seq, items in sequences.values():
        filters[seq.tag] = SequenceMatch(seq.tag, seq.level, tuple(items.values()))

    return QidoQuery(
        level=level,
        filters=tuple(filters.values()),
        includefields=frozenset(includes),
        include_all=include_all,
        limit=limit,
        offset=offset,
        fuzzy=fuzzy,
        ignored_includefields=frozenset(ignored),
        ignored_parameters=tuple(ignored_parameters),
    )


def _item_key(attr: Attribute | None, path: list[str]) -> Attribute | None:
    """The item row of a ``Sequence.Item`` path, when the sequence matches on it."""
    if attr is None or len(path) != 2:
        return None
    item_tag = _resolve(path[1])
    items = _ITEMS[attr.level].get(attr.tag, {})
    return None if item_tag is None else items.get(item_tag)


def _parse_int(name: str, raw: str, *, minimum: int, clamp: bool) -> int:
    text = raw.strip()
    if not text.isascii() or not text.isdigit():
        raise QidoError(f"{name} must be a whole number, not {_shown(raw)}")
    value = int(text[:12]) if len(text) > 12 else int(text)
    if len(text) > 12 or value > _MAX_INT:
        if not clamp:
            raise QidoError(f"{name} is too large: {_shown(raw)}")
        value = _MAX_INT
    if value < minimum:
        raise QidoError(f"{name} must be at least {minimum}, not {_shown(raw)}")
    return value


def _parse_bool(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise QidoError(f"{name} must be true or false, not {_shown(raw)}")


def _is_all_stars(value: str) -> bool:
    return bool(value) and set(value) == {"*"}


def _item_filter(attr: Attribute, level: Level, raw: str) -> ItemFilter:
    result = _filter(attr, level, raw)
    if not isinstance(result, Universal | SingleValue | UidList | Wildcard):
        raise QidoError(f"unsupported matching inside a sequence for {attr.keyword}")
    return result


def value_filter(attr: Attribute, raw: str) -> Filter:
    """The filter one value makes for matching key ``attr`` (QidoError when invalid), for
    callers with keys of their own that match by the same rules (the modality worklist)."""
    return _filter(attr, attr.level, raw)


def _filter(attr: Attribute, level: Level, raw: str) -> Filter:
    """The filter for value ``raw`` of matching key ``attr``, by the kind of its values."""
    tag, name, kind = attr.tag, attr.keyword, attr.kind
    value = raw.strip(" ")
    # "*" alone means "any value" whatever the VR: clients send it for dates, UIDs and
    # numbers too (PS3.4 only defines it for text VRs, where it is universal matching).
    if value == "" or _is_all_stars(value):
        return Universal(tag, level)
    if kind is Kind.SEQUENCE:
        raise QidoError(
            f"{name} is a sequence: match its items ({name}.Keyword=value) "
            "or give it empty to have it returned"
        )
    if kind is Kind.UID:
        return _uid_filter(tag, level, value, name)
    if kind is Kind.DATE:
        return _range_filter(tag, level, value, "DA", name)
    if kind is Kind.TIME:
        return _range_filter(tag, level, value, "TM", name)
    if kind is Kind.INT:
        if not _INT.fullmatch(value):
            raise QidoError(f"{name} must be an integer, not {_shown(raw)}")
        return SingleValue(tag, level, str(int(value)))
    if kind is Kind.MODALITIES:
        return _modalities_filter(tag, level, value, name)
    if kind not in (Kind.TEXT, Kind.PERSON_NAME):  # pragma: no cover - a table mistake
        raise QidoError(f"matching on {name} is not supported")
    if "*" in value or "?" in value:
        return Wildcard(tag, level, value)
    return SingleValue(tag, level, value)


def _uid_filter(tag: int, level: Level, value: str, name: str) -> Filter:
    if "*" in value or "?" in value:
        raise QidoError(f"wildcards are not allowed in UIDs ({name}={_shown(value)})")
    uids = tuple(u.strip(" \0") for u in re.split(r"[\\,]", value))
    for uid in uids:
        if not is_valid_uid(uid):
            raise QidoError(f"{name}: {_shown(uid)} is not a valid UID")
    uids = tuple(dict.fromkeys(uids))
    if len(uids) == 1:
        return SingleValue(tag, level, uids[0])
    return UidList(tag, level, uids)


def _modalities_filter(tag: int, level: Level, value: str, name: str) -> Filter:
    if _is_all_stars(value):
        return Universal(tag, level)
    values = tuple(dict.fromkeys(v.strip() for v in re.split(r"[\\,]", value) if v.strip()))
    for item in values:
        if "*" in item or "?" in item:
            raise QidoError(f"wildcards are not supported in {name}: {_shown(value)}")
    if not values:
        return Universal(tag, level)
    if len(values) == 1:
        return SingleValue(tag, level, values[0])
    return MultiValue(tag, level, values)


def _valid(vr: str, text: str) -> bool:
    if vr == "DA":
        if not _DATE.fullmatch(text):
            return False
        try:
            date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        except ValueError:
            return False
        return True
    if vr == "TM":
        return _TIME.fullmatch(text) is not None
    return _DATETIME.fullmatch(text) is not None


_FORMATS = {"DA": "YYYYMMDD", "TM": "HHMMSS.FFFFFF", "DT": "YYYYMMDDHHMMSS.FFFFFF&ZZXX"}


def _range_filter(tag: int, level: Level, value: str, vr: str, name: str) -> Filter:
    fmt = _FORMATS[vr]
    if "*" in value or "?" in value:
        raise QidoError(f"wildcards are not allowed in {name} ({vr}): {_shown(value)}")
    # A DT value may carry a "-ZZXX" offset: a whole valid DT is a single value.
    if "-" not in value or (vr == "DT" and _valid(vr, value)):
        if not _valid(vr, value):
            raise QidoError(f"{name}: {_shown(value)} is not a valid {vr} ({fmt})")
        return SingleValue(tag, level, value)
    start, end = _split_range(vr, value, name)
    if start is None and end is None:
        raise QidoError(f"{name}: {_shown(value)} is not a valid {vr} range")
    for bound in (start, end):
        if bound is not None and not _valid(vr, bound):
            raise QidoError(
                f"{name}: {_shown(value)} is not a valid {vr} range "
                f"({fmt}-{fmt}, open ends allowed)"
            )
    if start is not None and end is not None and _sort_key(vr, start) > _sort_key(vr, end):
        raise QidoError(f"{name}: range {_shown(value)} ends before it starts")
    if vr == "DA":
        return DateRange(tag, level, start, end)
    if vr == "TM":
        return TimeRange(tag, level, start, end)
    return DateTimeRange(tag, level, start, end)


def _split_range(vr: str, value: str, name: str) -> tuple[str | None, str | None]:
    parts = value.split("-")
    if vr != "DT" or len(parts) == 2:
        if len(parts) != 2:
            raise QidoError(f"{name}: {_shown(value)} is not a valid {vr} range")
        left, right = (p.strip() for p in parts)
        return left or None, right or None
    # DT bounds may carry negative offsets: try each '-' as the separator.
    for idx in range(1, len(parts)):
        left, right = "-".join(parts[:idx]).strip(), "-".join(parts[idx:]).strip()
        if (not left or _valid(vr, left)) and (not right or _valid(vr, right)):
            return left or None, right or None
    raise QidoError(f"{name}: {_shown(value)} is not a valid {vr} range")


def _sort_key(vr: str, text: str) -> str:
    # Compare bounds at equal precision: pad the start of a partial value with zeros.
    return text.split("+")[0].split("-")[0] if vr == "DT" else text


# ------------------------------------------------------------------------ person names


def person_name_words(value: str) -> list[str]:
    """The normalised words of a name, as stored (space-joined) in ``patient_name_words``."""
    return name_words(canonical_person_name(value.strip())).split()
