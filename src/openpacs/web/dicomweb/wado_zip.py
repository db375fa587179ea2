"""``accept=application/zip`` on a study or series: the Part-10 files in a streamed ZIP.

:class:`zipfile.ZipFile` writes into an unseekable sink, so every member gets a data
descriptor and ZIP64 extra fields (``force_zip64``: members may exceed 4 GiB); entries
are STORED (DICOM pixel data is usually compressed already, and storing keeps the
server fast). A sync generator produces the archive chunk by chunk; Starlette iterates
it in worker threads, so the event loop never blocks on file reads and memory stays at
about one chunk whatever the study size.

The archive is a DICOM file set, as on a patient CD: each file is named by its File ID
(``DICOM/PAT00001/STU00001/SER00001/IMG00001``, from positions, never from values on the
wire) and a ``DICOMDIR`` that lists them all comes last (see services/file_set.py). A
level with more than 99,999 entries cannot be a file set; such an archive falls back to
``<StudyInstanceUID>/<series position>/<instance position>.dcm`` names without DICOMDIR.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

from starlette.responses import Response

from openpacs.index.db import Database
from openpacs.protocol.media_types import ZIP
from openpacs.services.file_set import file_set_plan
from openpacs.services.retrieve import InstanceRef, Scope
from openpacs.services.stored_files import check_stored
from openpacs.storage.base import BlobNotFound, BlobStore
from openpacs.web.dicomweb.wado_common import (
    CHUNK_SIZE,
    AbortableStreamingResponse,
    StreamAborted,
    in_thread,
)

if TYPE_CHECKING:
    from openpacs.dicom.dicomdir import FileSetPlan

_UID = re.compile(r"[0-9]{1,64}(?:\.[0-9]{1,64}){0,63}")
log = logging.getLogger("openpacs.wado")


class _Sink(io.RawIOBase):
    """An unseekable writer that collects what zipfile writes until drained."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _safe_uid(uid: str, fallback: str) -> str:
    return uid if len(uid) <= 64 and _UID.fullmatch(uid) else fallback


def member_names(refs: list[InstanceRef]) -> list[str]:
    """One archive path per instance, from positions (see the module docstring)."""
    names: list[str] = []
    studies: dict[str, str] = {}
    series_pos: dict[int, int] = {}
    counts: dict[int, int] = {}
    for ref in refs:
        study = studies.setdefault(
            ref.study_uid, _safe_uid(ref.study_uid, f"study{len(studies) + 1}")
        )
        series = series_pos.setdefault(ref.series_id, len(series_pos) + 1)
        counts[ref.series_id] = counts.get(ref.series_id, 0) + 1
        names.append(f"{study}/{series:03d}/{counts[ref.series_id]:05d}.dcm")
    return names


def zip_chunks(
    blobs: BlobStore, refs: list[InstanceRef], plan: FileSetPlan | None = None
) -> Iterator[bytes]:
    """The archive, about :data:`CHUNK_SIZE` bytes per item (blocking: iterate in threads).

    With a ``plan`` the members are named by their File IDs and the DICOMDIR comes last.
    """
    sink = _Sink()
    names = [plan.path(r.sop_uid) for r in refs] if plan is not None else member_names(refs)
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for ref, name in zip(refs, names, strict=True):
            try:
                handle = blobs.open(ref.blob_key)
            except (BlobNotFound, FileNotFoundError) as exc:
                log.error(
                    "response aborted: zip: stored file of instance %s is missing", ref.sop_uid
                )
                raise StreamAborted(f"stored file for instance {ref.sop_uid} is missing") from exc
            with handle, archive.open(name, "w", force_zip64=True) as member:
                while True:
                    try:
                        chunk = handle.read(CHUNK_SIZE)
                    except OSError as exc:
                        log.error(
                            "response aborted: zip: cannot read the stored file of instance %s: %r",
                            ref.sop_uid,
                            exc,
                        )
                        raise StreamAborted(f"stored file for instance {ref.sop_uid}") from exc
                    if not chunk:
                        break
                    member.write(chunk)
                    yield sink.drain()
            if data := sink.drain():
                yield data
        if plan is not None:
            from openpacs.dicom.dicomdir import build_dicomdir  # as in services/file_set.py

            with archive.open("DICOMDIR", "w", force_zip64=True) as member:
                member.write(build_dicomdir(plan))
    if data := sink.drain():
        yield data


def _plan_or_none(db: Database, account_id: int, refs: list[InstanceRef]) -> FileSetPlan | None:
    try:
        plan = file_set_plan(db, account_id, refs)
    except ValueError as exc:  # more than a file set can number at one level
        log.warning("zip without DICOMDIR: %s", exc)
        return None
    # An instance deleted after the listing has no File ID; its file is gone as well.
    return plan if all(r.sop_uid in plan.file_ids for r in refs) else None


async def zip_response(
    db: Database, blobs: BlobStore, account_id: int, scope: Scope, refs: list[InstanceRef]
) -> Response:
    """The ZIP download; a missing first file is still answered with a 500 status."""
    await in_thread(lambda: check_stored(blobs, refs[0]))
    plan = await in_thread(lambda: _plan_or_none(db, account_id, refs))
    uid = scope.series_uid if scope.level == "series" else scope.study_uid
    name = _safe_uid(uid or "", scope.level)
    return AbortableStreamingResponse(
        zip_chunks(blobs, refs, plan),
        media_type=ZIP,
        headers={"Content-Disposition": f'attachment; filename="{name}.zip"'},
    )
