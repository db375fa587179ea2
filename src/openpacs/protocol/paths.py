"""Where a DICOMweb resource lives: one value object builds every study, series and
instance URL (RetrieveURL, Content-Location, BulkDataURI targets, links in pages).

UIDs are percent-encoded as path segments, so a value that is not a clean UID can never
change the shape of the URL (a ``/`` or ``?`` in it stays inside its segment). Suffix
segments (``metadata``, ``frames/1,2``, a bulk data path) are made by the server and are
appended as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

# RFC 3986 unreserved characters: such a segment needs no encoding (every valid UID).
_UNRESERVED = re.compile(r"[0-9A-Za-z._~-]*")


def _segment(value: str) -> str:
    return value if _UNRESERVED.fullmatch(value) else quote(value, safe="")


@dataclass(frozen=True, slots=True)
class ResourcePath:
    """``/studies/{study}[/series/{series}[/instances/{sop}]]`` under a DICOMweb root."""

    study: str
    series: str | None = None
    sop: str | None = None

    def __post_init__(self) -> None:
        if self.sop is not None and self.series is None:
            raise ValueError("an instance path needs its series")

    @property
    def path(self) -> str:
        """The path below the DICOMweb root, starting with ``/studies/``."""
        path = f"/studies/{_segment(self.study)}"
        if self.series is not None:
            path += f"/series/{_segment(self.series)}"
        if self.sop is not None:
            path += f"/instances/{_segment(self.sop)}"
        return path

    def url(self, base: str, *suffix: str) -> str:
        """``base`` (a DICOMweb root, no trailing slash) + the path + ``/suffix/...``."""
        tail = "".join(f"/{part}" for part in suffix)
        return f"{base}{self.path}{tail}"

    def metadata(self, base: str) -> str:
        return self.url(base, "metadata")

    def frames(self, base: str, frames: int | str) -> str:
        """A frame list URL: ``frames(base, 3)`` or ``frames(base, "1,2")``."""
        return self.url(base, "frames", str(frames))

    def bulkdata(self, base: str, bulk_path: str) -> str:
        return self.url(base, "bulkdata", bulk_path)
