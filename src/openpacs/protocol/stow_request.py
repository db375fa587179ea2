"""What a STOW-RS request body must be (PS3.18 10.5.1.1): ``multipart/related`` with
``application/dicom`` parts. Pure checks of the request's and each part's Content-Type;
which HTTP status a refusal gets is the web face's business.
"""

from __future__ import annotations

from openpacs.protocol.multipart import MultipartError, parse_content_type

DICOM_MEDIA_TYPES = frozenset({"application/dicom"})
_USE = "use multipart/related; type=application/dicom"


class UnsupportedMediaType(ValueError):
    """The body is not ``multipart/related`` of DICOM parts (the message says why)."""


def request_boundary(content_type: str) -> str:
    """The multipart boundary of a STOW request with this Content-Type.

    Raises :class:`UnsupportedMediaType` for a missing header or another media type, and
    :class:`~openpacs.protocol.multipart.MultipartError` for a malformed header or one
    without a boundary.
    """
    if not content_type:
        raise UnsupportedMediaType(f"Content-Type is missing; {_USE}")
    try:
        media_type, params = parse_content_type(content_type)
    except MultipartError as exc:
        raise MultipartError(f"malformed Content-Type: {exc}") from exc
    if media_type != "multipart/related":
        raise UnsupportedMediaType(f"unsupported media type {media_type}; {_USE}")
    part_type = params.get("type", "application/dicom").strip().lower()
    if part_type not in DICOM_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"unsupported part type {part_type}; only application/dicom parts are accepted"
        )
    boundary = params.get("boundary", "")
    if not boundary:
        raise MultipartError("the multipart Content-Type has no boundary parameter")
    return boundary


def part_refusal(headers: dict[str, str]) -> str | None:
    """Why a part is not stored because of its own Content-Type, or None when it may be.

    Parts may omit Content-Type (the request's type applies); others must be DICOM.
    """
    raw = headers.get("content-type")
    if not raw:
        return None
    try:
        media_type, _ = parse_content_type(raw)
    except MultipartError:
        return f"unreadable part Content-Type {raw!r}"
    if media_type in DICOM_MEDIA_TYPES:
        return None
    return f"unsupported part media type {media_type}; only application/dicom is stored"
