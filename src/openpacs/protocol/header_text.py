"""Text for an HTTP header value (``X-Error-Reason``): one line of printable ASCII.

A reason often quotes what the client sent (a UID from the URL, a parameter value). A
NUL or other control byte in a header makes the HTTP layer drop the connection instead
of answering, so control characters are written out as ``\\xNN`` escapes, and line
breaks and tabs fold into single spaces.
"""

from __future__ import annotations

import re
from typing import Literal

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def header_text(text: str, *, non_ascii: Literal["replace", "backslashreplace"]) -> str:
    """``text`` as one line of printable ASCII; other characters become ``?``
    (``replace``) or ``\\xNN``/``\\uNNNN`` escapes (``backslashreplace``)."""
    flat = " ".join(text.split())
    flat = _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", flat)
    return flat.encode("ascii", non_ascii).decode("ascii")
