"""One uploaded part on its way to the store: in memory while small, else a staging file.

Most DICOM instances are well under a few MiB. Keeping those in memory lets the event
loop receive the next bytes while a worker thread writes the part straight to its place
in the blob store and another parses it, instead of writing a staging file on the loop
and renaming it later. Larger parts spill to a staging file as they arrive, so memory
per part stays bounded whatever the upload size.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# Parts up to this size stay in memory (OPENPACS_SPOOL_THRESHOLD; at most a few parts
# per request are in flight).
MEMORY_LIMIT = 4 << 20


@dataclass(frozen=True)
class Upload:
    """A complete part: exactly one of ``data`` and ``path`` is set."""

    data: bytes | None = None
    path: Path | None = None

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


class UploadSpool:
    """Collects one part's bytes; ``finish`` gives the `Upload`, ``discard`` drops it."""

    def __init__(self, staging: Path, memory_limit: int = MEMORY_LIMIT) -> None:
        self._staging = staging
        self._limit = memory_limit
        self._chunks: list[bytes] = []
        self._size = 0
        self._file: BinaryIO | None = None
        self._path: Path | None = None

    def write(self, data: bytes) -> None:
        if self._file is None:
            self._size += len(data)
            if self._size <= self._limit:
                self._chunks.append(data)
                return
            self._file, self._path = _open_staging(self._staging)
            for chunk in self._chunks:
                self._file.write(chunk)
            self._chunks = []
        self._file.write(data)

    def finish(self) -> Upload:
        if self._file is None:
            data, self._chunks = b"".join(self._chunks), []
            return Upload(data=data)
        self._file.close()
        return Upload(path=self._path)

    def discard(self) -> None:
        self._chunks = []
        if self._file is not None:
            self._file.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)


def _open_staging(staging: Path) -> tuple[BinaryIO, Path]:
    fd, name = tempfile.mkstemp(dir=staging, prefix="stow-", suffix=".part")
    return os.fdopen(fd, "wb", buffering=1 << 20), Path(name)
