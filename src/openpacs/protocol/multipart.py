"""multipart/related wire format (RFC 2046 section 5.1, RFC 2387): parser and encoder.

Pure code: bytes in, events out. STOW feeds ``request.stream()`` chunks into
:class:`MultipartParser`; WADO streams :func:`part_header` + body chunks +
:func:`closing_delimiter` (or uses :func:`encode_parts` / :func:`aencode_parts`).

Tolerances beyond the RFC, all seen from real clients: a quoted boundary with spaces,
the first delimiter without a leading CRLF, LF-only line endings, transport padding,
header continuation lines, and a body that ends without the close delimiter (reported
through :attr:`MultipartParser.truncated`, never silently accepted).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

__all__ = [
    "Event",
    "MultipartError",
    "MultipartParser",
    "PartData",
    "PartEnd",
    "PartStart",
    "aencode_parts",
    "closing_delimiter",
    "encode_parts",
    "get_boundary",
    "multipart_content_type",
    "new_boundary",
    "parse_content_type",
    "part_header",
]


_T = TypeVar("_T")


class MultipartError(ValueError):
    """The body or a Content-Type value cannot be read as multipart data."""


# RFC 7230 tchar: the characters allowed in a token (type, subtype, parameter name).
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _is_token(s: str) -> bool:
    return bool(s) and _TCHAR.issuperset(s)  # one C-level pass, not a generator per char


# --------------------------------------------------------------------------- Content-Type


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """Split a media type value into ``("type/subtype", {param: value})``.

    Type, subtype and parameter names are lowercased; values keep their case (a
    boundary is case-sensitive). Quoted values may contain spaces, ``;`` and ``\\``
    escapes. Parameters without ``=`` and stray separators are skipped; the first of
    duplicate parameters wins. Raises :class:`MultipartError` if there is no
    ``type/subtype`` made of token characters.
    """
    head, _, rest = value.partition(";")
    return _parse_media_type(head, value), _parse_params(rest)


def _parse_media_type(head: str, whole: str) -> str:
    type_, slash, subtype = head.partition("/")
    type_, subtype = type_.strip(), subtype.strip()
    if not slash or not _is_token(type_) or not _is_token(subtype):
        raise MultipartError(f"not a media type: {whole.strip()[:200]!r}")
    return f"{type_}/{subtype}".lower()


def _parse_params(s: str) -> dict[str, str]:
    params: dict[str, str] = {}
    i, n = 0, len(s)
    while i < n:
        while i < n and s[i] in " \t;":
            i += 1
        if i >= n:
            break
        eq = i
        while eq < n and s[eq] not in "=;":
            eq += 1
        name = s[i:eq].strip().lower()
        if eq >= n or s[eq] == ";":  # a bare word: not a parameter, skip it
            i = eq
            continue
        j = eq + 1
        while j < n and s[j] in " \t":
            j += 1
        if j < n and s[j] == '"':
            j += 1
            chars: list[str] = []
            while j < n and s[j] != '"':
                if s[j] == "\\" and j + 1 < n:
                    j += 1
                chars.append(s[j])
                j += 1
            val = "".join(chars)
            # Anything between the closing quote and the next ';' is junk: drop it.
            nxt = s.find(";", j)
            i = n if nxt < 0 else nxt
        else:
            nxt = s.find(";", j)
            end = n if nxt < 0 else nxt
            val = s[j:end].strip()
            i = end
        if name and name not in params:
            params[name] = val
    return params


def get_boundary(content_type: str) -> str:
    """Return the boundary of a ``multipart/*`` Content-Type, or raise MultipartError."""
    media_type, params = parse_content_type(content_type)
    if not media_type.startswith("multipart/"):
        raise MultipartError(f"expected a multipart media type, got {media_type!r}")
    boundary = params.get("boundary", "")
    if not boundary:
        raise MultipartError(f"{media_type} Content-Type has no boundary parameter")
    return boundary


# --------------------------------------------------------------------------- parser events


@dataclass(frozen=True, slots=True)
class PartStart:
    """A part's header block was read. Names are lowercased, duplicates joined by ", "."""

    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class PartData:
    """A piece of the current part's body (never empty)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class PartEnd:
    """The current part ended. ``complete`` is False when the input stopped inside it."""

    complete: bool


Event: TypeAlias = PartStart | PartData | PartEnd

_PREAMBLE, _HEADERS, _BODY, _EPILOGUE, _CLOSED = range(5)
# Transport padding after a boundary is whitespace; a longer run is not a real client.
_MAX_PADDING = 1024


class MultipartParser:
    """Push parser for a multipart body, fed chunk by chunk.

    Memory stays bounded: apart from one part's header block (``max_header_bytes``)
    the parser holds back at most about ``len(boundary) + 6`` bytes (plus transport
    padding) that might still turn out to be a delimiter.

    After :meth:`close`, ``truncated`` tells whether the close delimiter was missing.
    Parts that got ``PartEnd(complete=True)`` are intact even then.
    """

    def __init__(self, boundary: str | bytes, *, max_header_bytes: int = 65536) -> None:
        try:
            # Latin-1 undoes the way ASGI servers decode header bytes into str.
            raw = boundary.encode("latin-1") if isinstance(boundary, str) else bytes(boundary)
        except UnicodeEncodeError:
            raise MultipartError("multipart boundary is not latin-1 text") from None
        if not raw:
            raise MultipartError("empty multipart boundary")
        if b"\r" in raw or b"\n" in raw:
            raise MultipartError("multipart boundary contains a line break")
        # Search for LF + "--boundary"; an optional CR before it belongs to the delimiter.
        # That finds CRLF delimiters and tolerates LF-only senders with one search.
        self._needle = b"\n--" + raw
        self._max_header_bytes = max_header_bytes
        # A virtual CRLF lets the first delimiter sit at the very start of the body.
        self._buf = b"\r\n"
        self._state = _PREAMBLE
        self._headers: dict[str, str] = {}
        self._last_header: str | None = None
        self._header_bytes = 0
        self._parts = 0
        self.truncated = False

    def feed(self, data: bytes) -> list[Event]:
        """Consume a chunk and return the events it completes."""
        if self._state == _CLOSED:
            raise RuntimeError("MultipartParser.feed() called after close()")
        if self._state == _EPILOGUE or not data:
            return []
        # The held-back tail is small, so this copy is linear in the input, not quadratic.
        self._buf = self._buf + data if self._buf else bytes(data)
        events: list[Event] = []
        while True:
            if self._state == _BODY:
                more = self._step_body(events)
            elif self._state == _HEADERS:
                more = self._step_headers(events)
            elif self._state == _PREAMBLE:
                more = self._step_preamble()
            else:  # epilogue: ignore the rest
                self._buf = b""
                more = False
            if not more:
                return events

    def close(self) -> list[Event]:
        """Signal end of input; return the final events (see class doc for truncation)."""
        if self._state == _CLOSED:
            return []
        state, buf = self._state, self._buf
        self._state, self._buf = _CLOSED, b""
        events: list[Event] = []
        if state == _EPILOGUE:
            return events
        if state == _PREAMBLE:
            raise MultipartError("no multipart boundary found in the body")
        self.truncated = True
        if state == _BODY:
            found = self._dangling_delimiter(buf)
            if found is not None:
                # The body ended on "--boundary" without "--" or a line break: the part
                # itself is whole, only the close delimiter is missing.
                if found:
                    events.append(PartData(buf[:found]))
                events.append(PartEnd(complete=True))
            else:
                if buf:
                    events.append(PartData(buf))
                events.append(PartEnd(complete=False))
        # _HEADERS: the input stopped before a part's body; no PartStart was emitted.
        return events

    # -- states -------------------------------------------------------------------------

    def _find_delimiter(self) -> tuple[int, int, bool] | int:
        """Locate the first complete delimiter line in the buffer.

        Returns ``(start, after, is_close)``: ``start`` indexes the delimiter's leading
        CR (or LF), ``after`` the first byte past its line. When there is none yet,
        returns the index from which bytes must be held back because they may still
        begin a delimiter; everything before it is settled.
        """
        buf, needle = self._buf, self._needle
        pos = 0
        while True:
            i = buf.find(needle, pos)
            if i < 0:
                # No match: only a suffix shorter than the needle (plus the CR before
                # it) can still grow into one.
                return max(0, len(buf) - len(needle))
            start = i - 1 if i > 0 and buf[i - 1] == 0x0D else i
            j = i + len(needle)
            end = len(buf)
            if j == end:
                return start  # cannot tell yet what follows "--boundary"
            if buf[j] == 0x2D:  # "-"
                if j + 1 == end:
                    return start
                if buf[j + 1] == 0x2D:
                    return start, j + 2, True
            else:
                k = j
                while k < end and buf[k] in b" \t":
                    k += 1
                if k - j > _MAX_PADDING:
                    raise MultipartError("multipart delimiter line has too much padding")
                if k == end or (buf[k] == 0x0D and k + 1 == end):
                    return start
                if buf[k] == 0x0A:
                    return start, k + 1, False
                if buf[k] == 0x0D and buf[k + 1] == 0x0A:
                    return start, k + 2, False
            # "--boundary" followed by other text is data, not a delimiter.
            pos = i + 1

    def _step_preamble(self) -> bool:
        found = self._find_delimiter()
        if isinstance(found, int):
            self._buf = self._buf[found:]  # the preamble is discarded
            return False
        _, after, is_close = found
        self._buf = self._buf[after:]
        self._state = _EPILOGUE if is_close else self._start_headers()
        return True

    def _start_headers(self) -> int:
        self._headers = {}
        self._last_header = None
        self._header_bytes = 0
        return _HEADERS

    def _step_headers(self, events: list[Event]) -> bool:
        buf = self._buf
        pos = 0
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                self._buf = buf[pos:]
                if self._header_bytes + len(self._buf) > self._max_header_bytes:
                    raise self._too_big()
                return False
            self._header_bytes += nl + 1 - pos
            if self._header_bytes > self._max_header_bytes:
                raise self._too_big()
            line = buf[pos:nl]
            pos = nl + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:  # blank line: the body starts right after it
                self._buf = buf[pos:]
                self._parts += 1
                self._state = _BODY
                events.append(PartStart(self._headers))
                return True
            self._add_header_line(line)

    def _too_big(self) -> MultipartError:
        return MultipartError(
            f"headers of multipart part {self._parts + 1} exceed {self._max_header_bytes} bytes"
        )

    def _add_header_line(self, line: bytes) -> None:
        text = _decode_header(line)
        if text[0] in " \t":
            # Obsolete line folding: continues the previous header's value.
            if self._last_header is None:
                raise MultipartError(
                    f"malformed header line in multipart part {self._parts + 1}: {text[:100]!r}"
                )
            name = self._last_header
            self._headers[name] = f"{self._headers[name]} {text.strip()}".strip()
            return
        name, colon, value = text.partition(":")
        name = name.strip().lower()
        if not colon or not _is_token(name):
            raise MultipartError(
                f"malformed header line in multipart part {self._parts + 1}: {text[:100]!r}"
            )
        value = value.strip()
        old = self._headers.get(name)
        self._headers[name] = value if old is None else f"{old}, {value}"
        self._last_header = name

    def _step_body(self, events: list[Event]) -> bool:
        found = self._find_delimiter()
        buf = self._buf
        if isinstance(found, int):
            hold = found
            if hold:
                events.append(PartData(buf[:hold]))
                self._buf = buf[hold:]
            return False
        start, after, is_close = found
        if start:
            events.append(PartData(buf[:start]))
        events.append(PartEnd(complete=True))
        self._buf = buf[after:]
        self._state = _EPILOGUE if is_close else self._start_headers()
        return True

    def _dangling_delimiter(self, buf: bytes) -> int | None:
        """At end of input: index where a final, unterminated delimiter starts, if any."""
        i = buf.rfind(self._needle)
        if i < 0 or buf[i + len(self._needle) :].strip(b" \t\r-"):
            return None
        return i - 1 if i > 0 and buf[i - 1] == 0x0D else i


def _decode_header(line: bytes) -> str:
    # Header bytes are ASCII in practice; UTF-8 file names happen; latin-1 never fails.
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


# --------------------------------------------------------------------------- encoder


def new_boundary() -> str:
    """A fresh random boundary (32 hex digits); never appears in DICOM data by chance."""
    return secrets.token_hex(16)


def _quote(value: str) -> str:
    if _is_token(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def multipart_content_type(boundary: str, type_: str, transfer_syntax: str | None = None) -> str:
    """The response Content-Type, e.g. ``multipart/related; type="application/dicom";
    boundary=...`` (with ``transfer-syntax=...`` between them when given)."""
    value = f'multipart/related; type="{type_}"'
    if transfer_syntax:
        value += f"; transfer-syntax={_quote(transfer_syntax)}"
    return f"{value}; boundary={_quote(boundary)}"


def _check_header_text(text: str) -> None:
    if "\r" in text or "\n" in text:
        raise ValueError(f"line break in a multipart header: {text[:100]!r}")


def part_header(boundary: str, headers: dict[str, str], *, first: bool = False) -> bytes:
    """The bytes that open a part: delimiter line, header lines, blank line.

    Pass ``first=True`` for the first part only; every other part's header starts with
    the CRLF that ends the previous part's body (it belongs to the delimiter).
    """
    _check_header_text(boundary)
    lines = [f"--{boundary}"]
    for name, value in headers.items():
        _check_header_text(name)
        _check_header_text(value)
        lines.append(f"{name}: {value}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    if not first:
        head = "\r\n" + head
    return head.encode("utf-8")


def closing_delimiter(boundary: str) -> bytes:
    """The bytes that end the multipart body (after the last part's body)."""
    _check_header_text(boundary)
    return f"\r\n--{boundary}--\r\n".encode()


def encode_parts(
    boundary: str, parts: Iterable[tuple[dict[str, str], Iterable[bytes]]]
) -> Iterator[bytes]:
    """Stream a whole multipart body; each part's body is consumed lazily."""
    first = True
    for headers, body in parts:
        yield part_header(boundary, headers, first=first)
        first = False
        for chunk in body:
            if chunk:
                yield bytes(chunk)
    yield closing_delimiter(boundary)


async def aencode_parts(
    boundary: str,
    parts: (
        AsyncIterable[tuple[dict[str, str], AsyncIterable[bytes] | Iterable[bytes]]]
        | Iterable[tuple[dict[str, str], AsyncIterable[bytes] | Iterable[bytes]]]
    ),
) -> AsyncIterator[bytes]:
    """Async twin of :func:`encode_parts`; parts and bodies may be sync or async iterables."""
    first = True
    async for headers, body in _aiter(parts):
        yield part_header(boundary, headers, first=first)
        first = False
        async for chunk in _aiter(body):
            if chunk:
                yield bytes(chunk)
    yield closing_delimiter(boundary)


async def _aiter(items: AsyncIterable[_T] | Iterable[_T]) -> AsyncIterator[_T]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
