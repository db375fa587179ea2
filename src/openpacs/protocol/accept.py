"""Content negotiation for DICOMweb (PS3.18 section 8.7, RFC 7231 section 5.3).

Two steps, both pure (and, for the content coding, :func:`accepts_gzip`):

1. :func:`parse_accept` turns the Accept header (or the ``accept`` query parameter,
   which replaces it, PS3.18 8.3.3.1) into :class:`MediaRange` objects.
2. :func:`negotiate` picks one of the resource's :class:`Offer` objects, trying ranges
   by highest q, then concrete before wildcard, then the client's order. A wildcard
   range (``*/*``, ``multipart/*``, ``multipart/related`` without ``type``) picks the
   first offer it matches, so the first offer is the default (PS3.18 8.7.8.1 step 4).
   Ranges nothing can satisfy (``application/json`` on WADO) are skipped, not fatal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from openpacs.protocol.header_text import header_text
from openpacs.protocol.multipart import MultipartError, parse_content_type

__all__ = [
    "BadAccept",
    "Choice",
    "MediaRange",
    "NotAcceptable",
    "Offer",
    "accepts_gzip",
    "negotiate",
    "parse_accept",
]


class BadAccept(ValueError):
    """The Accept header or ``accept`` query parameter is malformed (answer 400)."""


class NotAcceptable(ValueError):
    """No offer satisfies the request (answer 406); the message is one ASCII line."""


# RFC 7231 allows at most 3 decimals; more are tolerated, but only plain numbers.
_QVALUE = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)")


@dataclass(frozen=True, slots=True)
class MediaRange:
    """One element of an Accept list. ``params`` excludes ``q``; names are lowercase.

    A nested ``type="application/dicom; transfer-syntax=X"`` (seen in the wild) is
    flattened into ``type`` and ``transfer-syntax``; the ``type`` value is lowercased.
    """

    type: str
    subtype: str
    params: dict[str, str] = field(default_factory=dict)
    q: float = 1.0

    @property
    def media_type(self) -> str:
        return f"{self.type}/{self.subtype}"

    @property
    def specificity(self) -> int:
        """Wildcard level: 0 for ``*/*``, 1 for ``type/*``, 2 for ``type/subtype``.

        Among equal q a concrete range goes before a wildcard; between concrete ranges
        the client's order decides. (Parameters only matter for precedence between
        ranges matching the same offer, see ``_shadowed``.)
        """
        if self.type == "*":
            return 0
        return 1 if self.subtype == "*" else 2

    def __str__(self) -> str:
        text = self.media_type
        for name, value in self.params.items():
            text += f'; {name}="{value}"' if name == "type" else f"; {name}={value}"
        if self.q != 1.0:
            text += f"; q={self.q:g}"
        return text


def parse_accept(values: Sequence[str], query: Sequence[str] = ()) -> list[MediaRange]:
    """Parse Accept header values into media ranges, in the client's order.

    ``query`` holds the values of ``accept`` query parameters; if any is non-blank they
    replace the header values entirely. Comma lists are split (outside quotes). Blank
    or missing input gives ``[]``, which :func:`negotiate` treats as ``*/*``.
    Raises :class:`BadAccept` for a malformed element.
    """
    chosen = [v for v in query if v.strip()] or list(values)
    ranges: list[MediaRange] = []
    for value in chosen:
        for item in _split_list(value):
            ranges.append(_parse_range(item))
    return ranges


def _split_list(value: str) -> list[str]:
    # Commas inside quoted strings (a quoted "type" with parameters) do not split.
    items: list[str] = []
    start = 0
    quoted = escaped = False
    for idx, ch in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == ",":
            items.append(value[start:idx])
            start = idx + 1
    items.append(value[start:])
    # Empty list elements are legal (RFC 7230 section 7): skip them.
    return [item.strip() for item in items if item.strip()]


def _parse_range(item: str) -> MediaRange:
    try:
        media_type, params = parse_content_type(item)
    except MultipartError:
        raise BadAccept(f"malformed media range in Accept: {_shown(item)}") from None
    type_, _, subtype = media_type.partition("/")
    if type_ == "*" and subtype != "*":
        raise BadAccept(f"malformed media range in Accept: {_shown(item)}")
    q = 1.0
    if "q" in params:
        raw = params.pop("q").strip()
        if not _QVALUE.fullmatch(raw) or not 0.0 <= float(raw) <= 1.0:
            raise BadAccept(f"bad q value {_shown(raw)} in Accept: {_shown(item)}")
        q = float(raw)
    if "type" in params:
        try:
            part_type, nested = parse_content_type(params["type"])
        except MultipartError:
            raise BadAccept(f"bad type parameter in Accept: {_shown(item)}") from None
        params["type"] = part_type
        for name, value in nested.items():
            params.setdefault(name, value)
    if "transfer-syntax" in params:
        ts = params["transfer-syntax"].strip()
        if ts:
            params["transfer-syntax"] = ts
        else:
            del params["transfer-syntax"]
    return MediaRange(type_, subtype, params, q)


@dataclass(frozen=True, slots=True)
class Offer:
    """One representation a resource can produce, in the server's order of preference.

    ``transfer_syntaxes`` lists the syntaxes it can deliver, ``"*"`` meaning "as
    stored"; leave it empty for formats without one (JSON, JPEG, ZIP).
    ``default_transfer_syntax`` (default: the first listed) is used when the request
    names none. ``part_type`` is the type of each part of a ``multipart/*`` offer.
    """

    media_type: str
    part_type: str | None = None
    transfer_syntaxes: tuple[str, ...] = ()
    default_transfer_syntax: str | None = None

    def __post_init__(self) -> None:
        media_type = self.media_type.strip().lower()
        part_type = self.part_type.strip().lower() if self.part_type else None
        syntaxes = tuple(ts.strip() for ts in self.transfer_syntaxes)
        default = self.default_transfer_syntax
        if "/" not in media_type or (part_type is not None and "/" not in part_type):
            raise ValueError(f"bad offer media type: {self}")
        if part_type is not None and not media_type.startswith("multipart/"):
            raise ValueError(f"part_type given for a single-part offer: {self}")
        if default is None and syntaxes:
            default = syntaxes[0]
        if default is not None and default not in syntaxes:
            raise ValueError(f"default transfer syntax {default!r} not offered: {self}")
        object.__setattr__(self, "media_type", media_type)
        object.__setattr__(self, "part_type", part_type)
        object.__setattr__(self, "transfer_syntaxes", syntaxes)
        object.__setattr__(self, "default_transfer_syntax", default)

    def __str__(self) -> str:
        text = self.media_type
        if self.part_type:
            text += f'; type="{self.part_type}"'
        if self.transfer_syntaxes:
            text += f" (transfer-syntax {', '.join(self.transfer_syntaxes)})"
        return text


@dataclass(frozen=True, slots=True)
class Choice:
    """The negotiated representation.

    ``transfer_syntax`` is None for offers without transfer syntaxes, else a UID from
    the offer or ``"*"`` (send as stored).
    """

    media_type: str
    part_type: str | None = None
    transfer_syntax: str | None = None


_ANY = MediaRange("*", "*")


def negotiate(
    ranges: Sequence[MediaRange],
    offers: Sequence[Offer],
    transfer_syntax_param: str | None = None,
) -> Choice:
    """Pick the offer that best satisfies ``ranges`` (empty means ``*/*``).

    The transfer syntax comes from the range's ``transfer-syntax`` parameter, else
    ``transfer_syntax_param`` (the ``transfer-syntax`` query parameter), else the
    offer's default (PS3.18 8.7.3.7 order). ``*`` means "as stored" when the offer
    lists ``*``, otherwise its default. A named syntax the selected offer does not
    list makes that range fail. q=0 excludes what it matches. Raises
    :class:`NotAcceptable` when no range can be satisfied.
    """
    if not offers:
        raise ValueError("negotiate() needs at least one offer")
    ts_param = transfer_syntax_param.strip() if transfer_syntax_param else None
    asked: Sequence[MediaRange] = ranges or [_ANY]
    order = sorted(range(len(asked)), key=lambda i: (-asked[i].q, -asked[i].specificity, i))
    failures: list[str] = []
    for idx in order:
        rng = asked[idx]
        if rng.q <= 0.0:
            continue
        for offer in offers:
            spec = _match(rng, offer)
            if spec is None:
                continue
            ts = _transfer_syntax(rng, offer, ts_param)
            if _shadowed(idx, spec, ts, offer, asked, ts_param):
                continue
            if ts is not None and ts not in offer.transfer_syntaxes:
                failures.append(
                    f"transfer syntax {ts} is not available as {_without_ts(offer)} "
                    f"(available: {', '.join(offer.transfer_syntaxes)})"
                )
            else:
                return Choice(offer.media_type, offer.part_type, ts)
            # A range picks at most one offer: "*/*" with an unavailable transfer
            # syntax must not fall through to, say, a ZIP download.
            break
    raise NotAcceptable(_reason(ranges, offers, failures))


def _match(rng: MediaRange, offer: Offer) -> int | None:
    """Specificity with which ``rng`` matches ``offer`` (ignoring transfer syntax)."""
    o_type, _, o_sub = offer.media_type.partition("/")
    if rng.type == "*":
        spec = 0
    elif rng.type != o_type:
        return None
    elif rng.subtype == "*":
        spec = 1
    elif rng.subtype != o_sub:
        return None
    else:
        spec = 2
    wanted_part = rng.params.get("type")
    if offer.part_type is not None and wanted_part:
        if not _type_matches(wanted_part, offer.part_type):
            return None
        spec += 1
    if offer.transfer_syntaxes and "transfer-syntax" in rng.params:
        spec += 1
    return spec


def _type_matches(pattern: str, media_type: str) -> bool:
    p_type, _, p_sub = pattern.partition("/")
    m_type, _, m_sub = media_type.partition("/")
    if p_type == "*":
        return True
    return p_type == m_type and p_sub in ("*", m_sub)


def _transfer_syntax(rng: MediaRange, offer: Offer, ts_param: str | None) -> str | None:
    """The syntax ``rng`` asks of ``offer``; may be one the offer lacks."""
    if not offer.transfer_syntaxes:
        return None
    wanted = rng.params.get("transfer-syntax") or ts_param
    if not wanted:
        return offer.default_transfer_syntax
    if wanted == "*" and "*" not in offer.transfer_syntaxes:
        return offer.default_transfer_syntax  # "any syntax": the server's choice
    return wanted


def _shadowed(
    idx: int,
    spec: int,
    ts: str | None,
    offer: Offer,
    asked: Sequence[MediaRange],
    ts_param: str | None,
) -> bool:
    """True if another range governs this (offer, syntax) pair (RFC 7231 5.3.2).

    A more specific range wins, e.g. ``*/*, multipart/related;q=0`` excludes multipart
    from ``*/*``; of two equally specific ranges the lower q wins (cautious).
    """
    rng = asked[idx]
    for other_idx, other in enumerate(asked):
        if other_idx == idx:
            continue
        other_spec = _match(other, offer)
        if other_spec is None or _transfer_syntax(other, offer, ts_param) != ts:
            continue
        if other_spec > spec or (other_spec == spec and other.q < rng.q):
            return True
    return False


def _without_ts(offer: Offer) -> str:
    return f'{offer.media_type}; type="{offer.part_type}"' if offer.part_type else offer.media_type


def _reason(ranges: Sequence[MediaRange], offers: Sequence[Offer], failures: list[str]) -> str:
    if failures:
        text = "; ".join(dict.fromkeys(failures))
    else:
        asked = ", ".join(str(r) for r in ranges) or "*/*"
        text = f"none of the requested media types ({asked}) is available"
    text += f"; offered: {', '.join(str(o) for o in offers)}"
    return _ascii(text, 500)


def _shown(text: str) -> str:
    """Client text quoted for an error message: repr, at most 100 chars, ASCII."""
    return _ascii(repr(text[:100]), 130)


def _ascii(text: str, limit: int) -> str:
    # Reasons travel in an HTTP header (X-Error-Reason): one printable ASCII line.
    flat = header_text(text, non_ascii="backslashreplace")
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# --------------------------------------------------------------------------- Accept-Encoding


def accepts_gzip(accept_encoding: str) -> bool:
    """True if an Accept-Encoding value allows gzip (by name, or through ``*``) with
    q > 0 (RFC 7231 5.3.4); a named coding wins over ``*``; an unreadable q is 0."""
    star: bool | None = None
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            return q > 0
        if coding == "*":
            star = q > 0
    return bool(star)
