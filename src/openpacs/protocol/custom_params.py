"""The PostDICOM-compatible custom API (SPEC section 4): endpoint specs and their parser.

Every custom endpoint is declared once, in ``ENDPOINTS``: its path, the request header
that carries its parameters in the GET form, and its keys with a kind and a required
flag. The same specs drive the request parser below, the route table
(``web/api/routes.py``) and the OpenAPI document (``web/api/openapi.py``).

Two wire forms carry the same JSON object:

* ``GET {root}/{path}`` with the object in the named header, every value a string:
  lists are JSON text inside the string (``"[\\"MR\\",\\" CT\\"]"``), booleans are
  ``"True"``/``"false"``/``""``; ``PatientOrderInfoList`` is a JSON list of JSON
  strings of ``{"PatientOrderUuid": "..."}`` (double encoding);
* ``POST {root}/{path}`` with the object as the JSON body; there real lists, booleans
  and numbers are accepted too.

Parsing is lenient about form and strict about content: ``""`` and ``null`` mean "not
given", text is trimmed, list items are trimmed and empty items dropped (``[""]`` is the
empty list), a list may also be given as comma-separated text, an all-zero UUID means
"not given"; but a missing required key, a value of the wrong kind, a bad date or UUID
and an unknown key are errors that name the key. This module does no I/O.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

import orjson

from openpacs.protocol.qido import is_valid_uid

# Header values arrive up to this size (a list of ~1000 double-encoded order ids).
MAX_HEADER_BYTES = 64 * 1024
# A POST body holds the same object; allow some room for pretty-printed JSON.
MAX_BODY_BYTES = 1024 * 1024


class Kind(StrEnum):
    TEXT = "str"
    DATE = "date"  # YYYY-MM-DD
    DATETIME = "datetime"  # YYYY-MM-DD HH:MM
    UUID = "uuid"
    UID = "uid"  # a DICOM UID (digits and dots, at most 64 characters)
    BOOL = "bool"
    INT = "int"
    TEXT_LIST = "list[str]"
    UUID_LIST = "list[uuid]"
    ORDER_INFO_LIST = "order-info-list"  # list of {"PatientOrderUuid": ...} -> list[uuid]


LIST_KINDS = frozenset({Kind.TEXT_LIST, Kind.UUID_LIST, Kind.ORDER_INFO_LIST})


@dataclass(frozen=True)
class Key:
    name: str
    kind: Kind = Kind.TEXT
    required: bool = False
    description: str = ""
    max_length: int | None = None  # TEXT (and TEXT_LIST items): characters
    choices: tuple[str, ...] = ()  # TEXT: allowed values, matched ignoring case
    minimum: int | None = None  # INT
    maximum: int | None = None  # INT
    extension: bool = False  # an openpacs addition, not in PostDICOM's table


@dataclass(frozen=True)
class EndpointSpec:
    path: str  # "/createpatientorder", below the DICOMweb root
    header: str | None  # the GET form's parameter header; None: no parameters
    summary: str
    group: str  # OpenAPI tag
    keys: tuple[Key, ...] = ()
    extension: bool = False  # an openpacs addition, not in PostDICOM's table
    _by_name: dict[str, Key] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {key.name: key for key in self.keys})

    def key(self, name: str) -> Key:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.path} has no parameter {name}") from None

    def has_key(self, name: str) -> bool:
        return name in self._by_name


class ParameterError(ValueError):
    """A request the spec rejects; ``key`` names the parameter (or the header)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = f"{key}: {reason}"


Value = str | bool | int | date | datetime | tuple[str, ...]


@dataclass(frozen=True)
class Params:
    """The parsed parameters of one request; keys not given are absent from ``values``."""

    spec: EndpointSpec
    values: Mapping[str, Value]

    def _get(self, name: str, kinds: frozenset[Kind]) -> Value | None:
        key = self.spec.key(name)
        if key.kind not in kinds:
            raise TypeError(f"{name} is a {key.kind}, not one of {sorted(kinds)}")
        return self.values.get(name)

    def given(self, name: str) -> bool:
        self.spec.key(name)
        return name in self.values

    def text(self, name: str) -> str:
        """TEXT, UUID (canonical lower case) or UID value; "" when not given."""
        value = self._get(name, frozenset({Kind.TEXT, Kind.UUID, Kind.UID}))
        return value if isinstance(value, str) else ""

    def date(self, name: str) -> date | None:
        value = self._get(name, frozenset({Kind.DATE}))
        return value if isinstance(value, date) else None

    def datetime(self, name: str) -> datetime | None:
        value = self._get(name, frozenset({Kind.DATETIME}))
        return value if isinstance(value, datetime) else None

    def flag(self, name: str) -> bool:
        value = self._get(name, frozenset({Kind.BOOL}))
        return value is True

    def integer(self, name: str) -> int | None:
        value = self._get(name, frozenset({Kind.INT}))
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def items(self, name: str) -> tuple[str, ...]:
        """A list value (order-info lists as their order UUIDs); () when not given."""
        value = self._get(name, LIST_KINDS)
        return value if isinstance(value, tuple) else ()


# -- entry points ------------------------------------------------------------------------


def decode_header_value(header: str, value: str) -> str:
    """The text of a parameter header, whose bytes arrive decoded as latin-1: they must
    be UTF-8 (non-ASCII text can also be sent as ``\\uXXXX`` escapes). Anything else is a
    `ParameterError` naming ``header``: guessing Latin-1 would store a patient name that
    no search finds again."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeEncodeError:
        return value  # already text (not bytes read as latin-1)
    except UnicodeDecodeError as exc:
        byte = ord(value[exc.start])
        raise ParameterError(
            header,
            f"the header is not UTF-8 (byte 0x{byte:02X} at position {exc.start}); "
            "send UTF-8, or \\uXXXX escapes inside the JSON strings",
        ) from None


def parse_header(spec: EndpointSpec, text: str | None) -> Params:
    """The GET form: ``text`` is the (already UTF-8 decoded) value of ``spec.header``."""
    name = spec.header or "parameters"
    if text is None or not text.strip():
        return parse_object(spec, {})
    if len(text.encode("utf-8", "surrogatepass")) > MAX_HEADER_BYTES:
        raise ParameterError(name, f"the header is larger than {MAX_HEADER_BYTES} bytes")
    return parse_object(spec, _load_object(name, text.strip().encode("utf-8", "surrogatepass")))


def parse_body(spec: EndpointSpec, body: bytes) -> Params:
    """The POST form: the JSON object as the request body (an empty body is ``{}``)."""
    name = spec.header or "body"
    if len(body) > MAX_BODY_BYTES:
        raise ParameterError(name, f"the body is larger than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        return parse_object(spec, {})
    return parse_object(spec, _load_object(name, body))


def parse_object(spec: EndpointSpec, obj: Mapping[str, object]) -> Params:
    unknown = [name for name in obj if not spec.has_key(name)]
    if unknown:
        known = ", ".join(key.name for key in spec.keys) or "none"
        raise ParameterError(unknown[0], f"unknown parameter (this endpoint takes: {known})")
    values: dict[str, Value] = {}
    for key in spec.keys:
        value = _coerce(key, obj.get(key.name))
        if value is None or value == ():
            if key.required:
                raise ParameterError(key.name, "missing required parameter")
            continue
        values[key.name] = value
    return Params(spec, values)


def _load_object(name: str, raw: bytes) -> dict[str, object]:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ParameterError(name, f"not valid JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise ParameterError(name, "must be a JSON object")
    return obj


# -- values ------------------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(?::\d{2})?$")
_INT = re.compile(r"^[+-]?\d{1,12}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})
NIL_UUID = "00000000-0000-0000-0000-000000000000"


def _coerce(key: Key, raw: object) -> Value | None:
    if raw is None:
        return None
    if key.kind in LIST_KINDS:
        return _list(key, raw)
    if key.kind is Kind.BOOL:
        return _bool(key, raw)
    if key.kind is Kind.INT:
        return _int(key, raw)
    text = _scalar_text(key, raw)
    if not text:
        return None
    if key.kind is Kind.TEXT:
        return _text(key, key.name, text)
    if key.kind is Kind.DATE:
        return _date(key.name, text)
    if key.kind is Kind.DATETIME:
        return _datetime(key.name, text)
    if key.kind is Kind.UUID:
        return _uuid(key.name, text)
    if key.kind is Kind.UID:
        if not is_valid_uid(text):
            raise ParameterError(key.name, "not a DICOM UID (digits and dots, at most 64)")
        return text
    raise AssertionError(key.kind)  # pragma: no cover - every kind is handled above


def _scalar_text(key: Key, raw: object) -> str:
    if not isinstance(raw, str):
        raise ParameterError(key.name, f"must be a string, not {_json_type(raw)}")
    return raw.strip()


def _text(key: Key, name: str, text: str) -> str:
    if _CONTROL.search(text):
        raise ParameterError(name, "contains control characters")
    if key.max_length is not None and len(text) > key.max_length:
        raise ParameterError(name, f"longer than {key.max_length} characters")
    if key.choices:
        for choice in key.choices:
            if text.casefold() == choice.casefold():
                return choice
        raise ParameterError(name, f"must be one of {', '.join(key.choices)}")
    return text


def _date(name: str, text: str) -> date:
    if _DATE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ParameterError(name, f"not a date (YYYY-MM-DD): {text!r}")


def _datetime(name: str, text: str) -> datetime:
    match = _DATETIME.match(text)
    if match:
        try:
            return datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}")
        except ValueError:
            pass
    raise ParameterError(name, f"not a date and time (YYYY-MM-DD HH:MM): {text!r}")


def _uuid(name: str, text: str) -> str | None:
    try:
        value = str(uuid.UUID(text))
    except ValueError:
        raise ParameterError(name, f"not a UUID: {text!r}") from None
    return None if value == NIL_UUID else value


def _bool(key: Key, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ParameterError(key.name, f"not a boolean (True or False): {raw!r}")


def _int(key: Key, raw: object) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        if not _INT.match(text):
            raise ParameterError(key.name, f"not an integer: {raw!r}")
        value = int(text)
    else:
        raise ParameterError(key.name, f"must be an integer, not {_json_type(raw)}")
    if key.minimum is not None and value < key.minimum:
        raise ParameterError(key.name, f"must be at least {key.minimum}")
    if key.maximum is not None and value > key.maximum:
        raise ParameterError(key.name, f"must be at most {key.maximum}")
    return value


def _list(key: Key, raw: object) -> tuple[str, ...]:
    items = _list_items(key, raw)
    out: list[str] = []
    for item in items:
        value = _list_item(key, item)
        if value is not None and value not in out:
            out.append(value)
    return tuple(out)


def _list_items(key: Key, raw: object) -> list[object]:
    if isinstance(raw, list):
        return raw
    if not isinstance(raw, str):
        raise ParameterError(key.name, f"must be a list, not {_json_type(raw)}")
    text = raw.strip()
    if not text:
        return []
    if text.startswith("{"):
        raise ParameterError(key.name, "must be a list, not an object")
    if text.startswith("["):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ParameterError(key.name, f"not a valid JSON list ({exc.msg})") from None
        if not isinstance(parsed, list):
            raise ParameterError(key.name, "not a valid JSON list")
        return parsed
    # Plain text: "MR, CT" is the list ["MR", "CT"].
    return list(text.split(","))


def _list_item(key: Key, item: object) -> str | None:
    if key.kind is Kind.ORDER_INFO_LIST:
        return _order_info(key, item)
    if not isinstance(item, str):
        raise ParameterError(key.name, f"list items must be strings, not {_json_type(item)}")
    text = item.strip()
    if not text:
        return None
    if key.kind is Kind.UUID_LIST:
        return _uuid(key.name, text)
    return _text(key, key.name, text)


def _order_info(key: Key, item: object) -> str | None:
    """One ``{"PatientOrderUuid": ...}`` (as an object, as JSON text, or a bare UUID)."""
    if isinstance(item, str):
        text = item.strip()
        if not text:
            return None
        if not text.startswith("{"):
            return _uuid(key.name, text)
        try:
            item = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ParameterError(key.name, f"an item is not valid JSON ({exc.msg})") from None
    if not isinstance(item, dict) or "PatientOrderUuid" not in item:
        raise ParameterError(key.name, 'each item must be {"PatientOrderUuid": "<uuid>"}')
    value = item["PatientOrderUuid"]
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(key.name, "an item has an empty PatientOrderUuid")
    order_uuid = _uuid(key.name, value.strip())
    if order_uuid is None:
        raise ParameterError(key.name, "an item has an empty PatientOrderUuid")
    return order_uuid


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return "a string" if isinstance(value, str) else "another JSON value"


# -- the endpoints -----------------------------------------------------------------------

_ORDER = "Patient orders"
_FOLDER = "Folders"
_SHARE = "Shares"
_ASSIGN = "Assignment"
_DIRECTORY = "Directory"
_TOKENS = "API tokens"
_AUDIT = "Audit trail"

_SHARE_PASSWORD = Key("SharePassword", max_length=200, description="Empty: no password.")
_EXPIRE = "The link stops working after this day."


def _order_keys(*extra: Key) -> tuple[Key, ...]:
    return (
        Key(
            "PatientOrderInstitutionUuid",
            Kind.UUID,
            True,
            "The institution of the order (must match it).",
        ),
        Key("PatientOrderUuid", Kind.UUID, True, "The patient order."),
        *extra,
    )


ENDPOINTS: tuple[EndpointSpec, ...] = (
    EndpointSpec(
        "/createsharelink",
        "ShareParameters",
        "Create a share link for a list of patient orders.",
        _SHARE,
        (
            Key(
                "PatientOrderInfoList",
                Kind.ORDER_INFO_LIST,
                True,
                'List of JSON strings {"PatientOrderUuid": "<uuid>"}.',
            ),
            Key("ExpireDate", Kind.DATE, True, _EXPIRE),
            _SHARE_PASSWORD,
            Key("Downloadable", Kind.BOOL, description="The recipient may download the studies."),
        ),
    ),
    EndpointSpec(
        "/sharepatientorderwithurl",
        "SharePatientOrderParameters",
        "Create a share URL for a list of patient order UUIDs.",
        _SHARE,
        (
            Key("OrderUuidList", Kind.UUID_LIST, True, "The patient orders to share."),
            Key("ExpireDate", Kind.DATE, True, _EXPIRE),
            _SHARE_PASSWORD,
            Key(
                "UserCanDownloadStudies",
                Kind.BOOL,
                description="The recipient may download the studies.",
            ),
        ),
    ),
    EndpointSpec(
        "/createfolder",
        "CreateFolderParameters",
        "Create a folder (a virtual container of patient orders).",
        _FOLDER,
        (
            Key("FolderName", required=True, max_length=200, description="Visible name."),
            Key("FolderDescription", max_length=4000),
            Key(
                "ParentFolderUuid",
                Kind.UUID,
                description="Create inside this folder; empty or all-zero: at the top.",
            ),
        ),
    ),
    EndpointSpec(
        "/searchfolder",
        "SearchFolderParameters",
        "Find folders by parent and (part of the) name.",
        _FOLDER,
        (
            Key("ParentFolderUuid", Kind.UUID, description="Only its subfolders."),
            Key("FolderName", max_length=200, description="Part of the name."),
            Key(
                "GetOrdersInFolder",
                Kind.BOOL,
                description="Also list the patient orders of each folder.",
            ),
        ),
    ),
    EndpointSpec(
        "/sharefolderwithurl",
        "ShareFolderParameters",
        "Create a share URL for a folder (live: later additions are visible).",
        _SHARE,
        (
            Key("FolderUuid", Kind.UUID, True, "The folder to share."),
            _SHARE_PASSWORD,
            Key("ShareTitle", max_length=200),
            Key("ShareDescription", max_length=4000),
            Key("ExpireDate", Kind.DATE, description=_EXPIRE),
            Key(
                "UserCanDownloadStudies",
                Kind.BOOL,
                description="The recipient may download the studies.",
            ),
        ),
    ),
    EndpointSpec(
        "/addordertofolder",
        "AddOrderToFolderParameters",
        "Link a patient order into folders (nothing is moved or copied).",
        _FOLDER,
        (
            Key("PatientOrderUuid", Kind.UUID, True),
            Key("FolderUuidList", Kind.UUID_LIST, True, "The destination folders."),
        ),
    ),
    EndpointSpec(
        "/assignordertouser",
        "AssignOrderToUserParameters",
        "Assign a patient order to a user.",
        _ASSIGN,
        (
            Key("PatientOrderUuid", Kind.UUID, True),
            Key("AssignedUserUuid", Kind.UUID, True),
        ),
    ),
    EndpointSpec(
        "/assignordertousergroup",
        "AssignOrderToUserGroupParameters",
        "Assign a patient order to a user group.",
        _ASSIGN,
        (
            Key("PatientOrderUuid", Kind.UUID, True),
            Key("AssignedUserGroupUuid", Kind.UUID, True),
        ),
    ),
    EndpointSpec(
        "/createpatientorder",
        "CreatePatientOrderParameters",
        "Create a (scheduled) patient order.",
        _ORDER,
        (
            Key("InstitutionUuid", Kind.UUID, True, "Institution of the new order."),
            Key(
                "PatientName",
                required=True,
                max_length=320,
                description="DICOM form Family^Given, or plain text.",
            ),
            Key("PatientId", required=True, max_length=64),
            Key("PatientBirthdate", Kind.DATE, True),
            Key("Modality", required=True, max_length=16, description="CT, MR, US, ..."),
            Key("OtherPatientId", max_length=64),
            Key("PatientSex", choices=("M", "F", "O")),
            Key("StudyDescription", max_length=400),
            Key("AccessionNumber", max_length=64, description="Unique in the account."),
            Key("PatientComplaints", max_length=10_000),
            Key("OrderScheduledDatetime", Kind.DATETIME),
            Key("RequestedProcedureId", max_length=64),
            Key("RequestedProcedureDescription", max_length=400),
            Key("RequestingPhysician", max_length=400),
            Key("ReferringPhysiciansName", max_length=400),
            Key("ScheduledEquipmentUuid", Kind.UUID, description="Equipment of the account."),
            Key(
                "StudyInstanceUID",
                Kind.UID,
                description="A known StudyInstanceUID; generated when not given.",
                extension=True,
            ),
        ),
    ),
    EndpointSpec(
        "/getpatientorderproperties",
        "GetPatientOrderPropertiesParameters",
        "Every property of one patient order, with its folders and series.",
        _ORDER,
        _order_keys(),
    ),
    EndpointSpec(
        "/getpatientorderlist",
        "GetPatientOrderListParameters",
        "Search patient orders (newest first).",
        _ORDER,
        (
            Key("InstitutionUuidList", Kind.UUID_LIST, description="Any of these institutions."),
            Key(
                "PatientName",
                max_length=320,
                description="Case- and accent-insensitive; * and ? are wildcards; "
                "without wildcards, names starting with the value.",
            ),
            Key("PatientId", max_length=64, description="Exact; * and ? are wildcards."),
            Key("OtherPatientId", max_length=64, description="Exact; * and ? are wildcards."),
            Key("AccessionNumber", max_length=64, description="Exact; * and ? are wildcards."),
            Key(
                "ModalityList",
                Kind.TEXT_LIST,
                max_length=16,
                description="The order's modality or any modality of its images.",
            ),
            Key("StudyDateFrom", Kind.DATE, description="Inclusive."),
            Key("StudyDateTo", Kind.DATE, description="Inclusive."),
            Key("PatientBirthdateFrom", Kind.DATE, description="Inclusive."),
            Key("PatientBirthdateTo", Kind.DATE, description="Inclusive."),
            Key("AssignedUserUuid", Kind.UUID, extension=True),
            Key("AssignedUserGroupUuid", Kind.UUID, extension=True),
            Key(
                "Limit",
                Kind.INT,
                minimum=1,
                maximum=1000,
                description="Page size (default and maximum 1000).",
                extension=True,
            ),
            Key("Offset", Kind.INT, minimum=0, description="Orders to skip.", extension=True),
        ),
    ),
    EndpointSpec(
        "/deleteorder",
        "DeleteOrderParameters",
        "Delete a patient order with its images, folder links and share entries.",
        _ORDER,
        _order_keys(),
    ),
    EndpointSpec(
        "/getdicomtagcontent",
        "GetDicomTagContentParameters",
        "DICOM attributes of every image of an order (or of one series).",
        _ORDER,
        _order_keys(
            Key("PatientSeriesUuid", Kind.UUID, description="Only this series of the order."),
            Key(
                "DicomTagIdList",
                Kind.TEXT_LIST,
                max_length=80,
                description="Tags as 00100010, (0010,0010), 0010,0010 or a keyword; "
                "empty: every attribute except bulk data.",
            ),
        ),
    ),
    EndpointSpec(
        "/getinstitutionlist",
        None,
        "The institutions of the caller's account.",
        _DIRECTORY,
        extension=True,
    ),
    EndpointSpec(
        "/getuserlist", None, "The users of the caller's account.", _DIRECTORY, extension=True
    ),
    EndpointSpec(
        "/getusergrouplist",
        None,
        "The user groups of the caller's account, with their members.",
        _DIRECTORY,
        extension=True,
    ),
    EndpointSpec(
        "/getequipmentlist",
        None,
        "The equipment (modalities) of the caller's account.",
        _DIRECTORY,
        extension=True,
    ),
    EndpointSpec(
        "/getsharelist", None, "The share links of the caller's account.", _SHARE, extension=True
    ),
    EndpointSpec(
        "/deleteshare",
        "DeleteShareParameters",
        "Delete a share link.",
        _SHARE,
        (Key("ShareUuid", Kind.UUID, True),),
        extension=True,
    ),
    EndpointSpec(
        "/createapitoken",
        "CreateApiTokenParameters",
        "Create a personal API token (shown once; needs the password, not a token).",
        _TOKENS,
        (
            Key("TokenName", required=True, max_length=200, description="What it is for."),
            Key("ExpireDate", Kind.DATE, True, "The last day it works (at most a year ahead)."),
            Key(
                "Scope",
                choices=("read", "read-write"),
                description="read (default): only reads; read-write: what your role allows.",
            ),
        ),
        extension=True,
    ),
    EndpointSpec(
        "/getapitokenlist",
        None,
        "The caller's API tokens (without the tokens themselves).",
        _TOKENS,
        extension=True,
    ),
    EndpointSpec(
        "/revokeapitoken",
        "RevokeApiTokenParameters",
        "Revoke one of the caller's API tokens (refused everywhere within seconds).",
        _TOKENS,
        (Key("ApiTokenUuid", Kind.UUID, True),),
        extension=True,
    ),
    EndpointSpec(
        "/getauditlog",
        "GetAuditLogParameters",
        "The account's audit trail, newest first (admins only).",
        _AUDIT,
        (
            Key("User", max_length=320, description="A user's e-mail or UserUuid."),
            Key("PatientId", max_length=64, description="Exact."),
            Key("StudyInstanceUID", Kind.UID),
            Key(
                "Action",
                max_length=40,
                description='Exact (study.retrieve), or a prefix ending in "*" (study.*).',
            ),
            Key("Outcome", choices=("success", "failure")),
            Key("DateFrom", Kind.DATE, description="Inclusive, in the server's time zone."),
            Key("DateTo", Kind.DATE, description="Inclusive, in the server's time zone."),
            Key(
                "Limit",
                Kind.INT,
                minimum=1,
                maximum=10_000,
                description="Page size (default 1000, at most 10000).",
            ),
            Key("Offset", Kind.INT, minimum=0, description="Events to skip."),
        ),
        extension=True,
    ),
)
