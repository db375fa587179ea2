"""Core of the request builders: requests and answers as data, and value formatting."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, Literal, TypeAlias, TypeVar
from urllib.parse import quote

from openpacs.client.errors import PacsError

T = TypeVar("T")

DateLike: TypeAlias = date | str
DateTimeLike: TypeAlias = datetime | str
StrList: TypeAlias = Sequence[str] | str
QidoValue: TypeAlias = (
    str | int | float | bool | date | tuple[DateLike | None, DateLike | None] | Sequence[str]
)
Level = Literal["study", "series", "instance"]

DICOM_JSON = "application/dicom+json"
DICOM_MULTIPART_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
USER_AGENT = "openpacs-client/0.1"


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request as data. ``path`` is relative to the DICOMweb root (WebAddress)."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    params: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None


@dataclass(frozen=True)
class Reply:
    """An HTTP answer as data, for the parsers (status, headers, whole body)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str = ""

    def header(self, name: str) -> str:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return ""

    def json(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            kind = self.header("content-type") or "unknown type"
            raise PacsError(
                f"the server's answer is not JSON ({kind}): {self.body[:80]!r}",
                status=self.status,
                url=self.url,
            ) from exc


@dataclass(frozen=True)
class Call(Generic[T]):
    """A request plus the parser of its successful answer."""

    request: ApiRequest
    parse: Callable[[Reply], T]


def join_url(web_address: str, path: str) -> str:
    """``WebAddress`` + ``/`` + path, with exactly one slash between them."""
    base = web_address.rstrip("/")
    return f"{base}/{path.lstrip('/')}" if path else f"{base}/"


# --------------------------------------------------------------------------- value checks

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


def format_date(value: DateLike | None, name: str) -> str:
    """A date as ``YYYY-MM-DD`` ("" for None); ValueError for anything else."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    if not text:
        return ""
    if _DATE.fullmatch(text):
        try:
            date.fromisoformat(text)
        except ValueError:
            pass
        else:
            return text
    raise ValueError(f"{name}: {value!r} is not a date in the form YYYY-MM-DD")


def format_datetime(value: DateTimeLike | None, name: str) -> str:
    """A date and time as ``YYYY-MM-DD HH:MM`` ("" for None); ValueError otherwise."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = str(value).strip()
    if not text:
        return ""
    if _DATETIME.fullmatch(text):
        try:
            datetime.strptime(text, "%Y-%m-%d %H:%M")
        except ValueError:
            pass
        else:
            return text
    raise ValueError(f"{name}: {value!r} is not a date and time in the form YYYY-MM-DD HH:MM")


def _required(value: str | None, name: str) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise ValueError(f"{name} is required")
    return text


def _optional(value: str | None) -> str:
    return "" if value is None else str(value).strip()


def _bool(value: bool | None) -> str:
    return "" if value is None else ("True" if value else "False")


def split_list(value: StrList | None) -> list[str]:
    """A list argument: a sequence, or one comma-separated string; items trimmed."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return [item.strip() for item in items if item and item.strip()]


def _list(value: StrList | None, name: str = "", *, required: bool = False) -> str:
    items = split_list(value)
    if not items:
        if required:
            raise ValueError(f"{name} needs at least one item")
        return ""
    return _compact(items)


def _compact(value: Any) -> str:
    # Like Newtonsoft's JsonConvert: no spaces. ASCII only, so it fits an HTTP header.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


def check_uid(uid: str, name: str) -> str:
    text = uid.strip() if isinstance(uid, str) else ""
    if not text or text in (".", "..") or any(c.isspace() or ord(c) < 32 for c in text):
        raise ValueError(f"{name}: {uid!r} is not a valid UID")
    return text


def uid_segment(uid: str, name: str) -> str:
    """A UID as one path segment: ``/``, ``?``, ``#`` and ``%`` are escaped, so no UID
    from a user can ever point the request elsewhere."""
    return quote(check_uid(uid, name), safe="")


def custom_request(path: str, header: str, parameters: Mapping[str, str]) -> ApiRequest:
    """``GET {WebAddress}/{path}`` with ``header: {"Key": "value", ...}`` (SPEC section 4)."""
    headers = {header: _compact(dict(parameters))} if header else {}
    return ApiRequest("GET", path, headers=headers)
