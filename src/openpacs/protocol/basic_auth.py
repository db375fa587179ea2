"""HTTP Basic credentials (RFC 7617), decoded once for every face that accepts them.

The user authentication middleware needs the user name and password (or a Bearer
token, RFC 6750); a share link's DICOMweb root needs only the password (any user name).
Both read the header here.
"""

from __future__ import annotations

import base64
import binascii


def basic_credentials(authorization: str) -> tuple[str, str] | None:
    """``(user, password)`` from an ``Authorization`` header value, or None when the
    scheme is not Basic, the token is not base64, not UTF-8, or has no ``:``."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def bearer_token(authorization: str) -> str | None:
    """The token of a ``Bearer`` ``Authorization`` header value (RFC 6750), or None when
    the scheme is not Bearer or the token is empty or not printable ASCII."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or not token.isascii() or not token.isprintable():
        return None
    return token
