"""Upload building blocks shared by the sync and async clients (no HTTP here).

- find the files (``*.dcm``, or every file with the ``DICM`` magic);
- read each file's SOP Instance UID from its header (never the whole file);
- group files into batches with no UID twice in a batch (several files of the test
  corpus are the same instance in different encodings: the answer names instances by
  UID, so two of them in one request could not be told apart);
- stream a batch as a multipart/related body, chunk by chunk from the open files;
- map the STOW-RS answer (ReferencedSOPSequence / FailedSOPSequence) back to the files;
- count progress, thread-safely, and decide what to retry.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread

from openpacs.client.errors import (
    ConnectionFailed,
    PacsError,
    error_for_response,
    reason_from_response,
)
from openpacs.client.requests import Reply
from openpacs.client.results import FileResult, UploadResult
from openpacs.protocol.multipart import aencode_parts, encode_parts, multipart_content_type
from openpacs.protocol.stow_response import (
    ERROR_COMMENT,
    FAILED_SOP_SEQUENCE,
    FAILURE_REASON,
    REFERENCED_SOP_INSTANCE_UID,
    REFERENCED_SOP_SEQUENCE,
    WARNING_REASON,
)

CHUNK_SIZE = 256 * 1024
DEFAULT_BATCH_SIZE = 20
DEFAULT_CONCURRENCY = 4
# A batch stops growing past this many bytes, so a few huge files travel alone.
MAX_BATCH_BYTES = 64 * 1024 * 1024
DICM_OFFSET = 128

Progress = Callable[[int, int, int, int], None]
"""``progress(files_done, files_total, bytes_done, bytes_total)``."""

# PS3.4 Annex B / PS3.18 failure reasons, for readable messages.
FAILURE_TEXT = {
    0x0110: "processing failure",
    0x0122: "SOP class not supported",
    0x0124: "not authorised",
    0xA700: "out of resources",
    0xA770: "out of resources",
    0xA900: "data set does not match SOP class",
    0xB000: "coercion of data elements",
    0xB006: "elements discarded",
    0xB007: "data set does not match SOP class (warning)",
    0xC000: "cannot understand",
    0xC122: "referenced transfer syntax not supported",
    0xC409: "study instance UID mismatch",
}


class NotDicom(ValueError):
    """The file cannot be read as DICOM (reported as failed, never sent)."""


@dataclass(frozen=True)
class LocalFile:
    """A file to send: its place in the result list, size and SOP Instance UID."""

    index: int
    path: Path
    size: int
    sop_instance_uid: str


# --------------------------------------------------------------------------- finding files


def has_dicm_magic(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.seek(DICM_OFFSET)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def find_files(
    directory: Path | str, *, recursive: bool = True, any_file: bool = False
) -> list[Path]:
    """The files to upload from a folder, sorted.

    Every ``*.dcm`` file (any case); with ``any_file`` also every other file that starts
    like a DICOM Part-10 file (``DICM`` at offset 128), whatever its name. Hidden
    files and folders (``.name``) are skipped.
    """
    root = Path(directory).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"no such folder: {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {root}")
    found: list[Path] = []
    if recursive:
        walker: Iterable[tuple[str, list[str], list[str]]] = os.walk(root)
    else:
        walker = [(str(root), [], [e.name for e in os.scandir(root) if e.is_file()])]
    for folder, dirs, names in walker:
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if name.startswith("."):
                continue
            path = Path(folder, name)
            if not path.is_file():
                continue
            if name.lower().endswith(".dcm") or (any_file and has_dicm_magic(path)):
                found.append(path)
    return sorted(found)


def read_sop_instance_uid(path: Path) -> str:
    """The SOP Instance UID from the header (dataset, else file meta); NotDicom if none."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    try:
        ds = dcmread(
            path,
            stop_before_pixels=True,
            specific_tags=["SOPInstanceUID"],
            force=True,
        )
    except InvalidDicomError as exc:
        raise NotDicom(f"not a DICOM file: {exc}") from exc
    except Exception as exc:  # pydicom raises many kinds of errors on garbage input
        raise NotDicom(f"not a readable DICOM file: {type(exc).__name__}: {exc}") from exc
    uid = _uid_text(ds.get("SOPInstanceUID"))
    if not uid:
        meta = getattr(ds, "file_meta", None)
        uid = _uid_text(meta.get("MediaStorageSOPInstanceUID") if meta is not None else None)
    if not uid:
        raise NotDicom("not a DICOM instance: no SOP Instance UID in its header")
    return uid


def _uid_text(element: Any) -> str:
    value = getattr(element, "value", element)
    if value is None or isinstance(value, bytes | list):
        return ""
    return str(value).strip("\x00 ")


def inspect_file(index: int, path: Path) -> LocalFile | FileResult:
    """A :class:`LocalFile` ready to send, or the failed :class:`FileResult` of a file
    that cannot be sent (missing, unreadable, not DICOM)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return FileResult(
            path, "failed", reason=f"cannot read the file: {exc.strerror}", sent=False
        )
    try:
        uid = read_sop_instance_uid(path)
    except NotDicom as exc:
        return FileResult(path, "failed", size=size, reason=str(exc), sent=False)
    return LocalFile(index, path, size, uid)


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# --------------------------------------------------------------------------- batches


class BatchPlanner:
    """Groups files into batches of at most ``size`` files (and about ``max_bytes``),
    never two files with the same SOP Instance UID in one batch. Fed one file at a time;
    returns batches as they fill up, so sending can start before every file is read."""

    def __init__(self, size: int, max_bytes: int = MAX_BATCH_BYTES) -> None:
        if size < 1:
            raise ValueError("batch_size must be at least 1")
        self.size = size
        self.max_bytes = max_bytes
        self._batch: list[LocalFile] = []
        self._uids: set[str] = set()
        self._bytes = 0
        self._waiting: list[LocalFile] = []

    def add(self, item: LocalFile) -> list[list[LocalFile]]:
        ready: list[list[LocalFile]] = []
        if item.sop_instance_uid in self._uids:
            self._waiting.append(item)
            return ready
        if self._batch and self._bytes + item.size > self.max_bytes:
            ready.extend(self._flush())
            if item.sop_instance_uid in self._uids:
                self._waiting.append(item)
                return ready
        self._put(item)
        if len(self._batch) >= self.size:
            ready.extend(self._flush())
        return ready

    def finish(self) -> list[list[LocalFile]]:
        ready: list[list[LocalFile]] = []
        while self._batch or self._waiting:
            ready.extend(self._flush(final=True))
        return ready

    def _put(self, item: LocalFile) -> None:
        self._batch.append(item)
        self._uids.add(item.sop_instance_uid)
        self._bytes += item.size

    def _flush(self, final: bool = False) -> list[list[LocalFile]]:
        ready = [self._batch] if self._batch else []
        self._batch, self._uids, self._bytes = [], set(), 0
        # Files held back for a duplicate UID start the next batch.
        waiting, self._waiting = self._waiting, []
        for item in waiting:
            if item.sop_instance_uid in self._uids or len(self._batch) >= self.size:
                self._waiting.append(item)
            else:
                self._put(item)
        if not final and len(self._batch) >= self.size:
            ready.extend(self._flush())
        return ready


# --------------------------------------------------------------------------- bodies

PART_HEADERS = {"Content-Type": "application/dicom"}


def _read_file(item: LocalFile, on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    with open(item.path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            on_bytes(len(chunk))
            yield chunk


def iter_body(
    boundary: str, batch: Sequence[LocalFile], on_bytes: Callable[[int], None]
) -> Iterator[bytes]:
    """The multipart/related body of a batch, read from disk as it is sent."""
    return encode_parts(boundary, ((PART_HEADERS, _read_file(item, on_bytes)) for item in batch))


async def _aread_file(item: LocalFile, on_bytes: Callable[[int], None]) -> AsyncIterator[bytes]:
    fh = await anyio.to_thread.run_sync(open, item.path, "rb")
    try:
        while chunk := await anyio.to_thread.run_sync(fh.read, CHUNK_SIZE):
            on_bytes(len(chunk))
            yield chunk
    finally:
        fh.close()


def aiter_body(
    boundary: str, batch: Sequence[LocalFile], on_bytes: Callable[[int], None]
) -> AsyncIterator[bytes]:
    """Async twin of :func:`iter_body` (file reads run in a worker thread)."""
    return aencode_parts(boundary, [(PART_HEADERS, _aread_file(item, on_bytes)) for item in batch])


# --------------------------------------------------------------------------- answers


def _first(item: dict[str, Any], tag: str) -> Any:
    element = item.get(tag)
    if isinstance(element, dict):
        values = element.get("Value")
        if isinstance(values, list) and values:
            return values[0]
    return None


def _items(data: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    element = data.get(tag)
    if isinstance(element, dict) and isinstance(element.get("Value"), list):
        return [item for item in element["Value"] if isinstance(item, dict)]
    return []


def failure_text(code: int | None, comment: str) -> str:
    known = FAILURE_TEXT.get(code, "") if code is not None else ""
    label = f"0x{code:04X}" + (f" {known}" if known else "") if code is not None else ""
    comment = " ".join(comment.split())
    if comment and label:
        return f"{comment} ({label})"
    return comment or label or "failed (no reason given)"


def results_from_answer(
    batch: Sequence[LocalFile], data: Any, fallback_reason: str
) -> list[FileResult]:
    """Per-file results from a STOW-RS response dataset (DICOM JSON).

    Items are matched by SOP Instance UID. A failed item without a UID (the server could
    not read the part) goes to a file the answer does not otherwise mention; files that
    are still unaccounted for are failed with ``fallback_reason``.
    """
    data = data if isinstance(data, dict) else {}
    by_uid = {item.sop_instance_uid: item for item in batch}
    results: dict[str, FileResult] = {}
    anonymous: list[FileResult] = []
    for item in _items(data, REFERENCED_SOP_SEQUENCE):
        uid = str(_first(item, REFERENCED_SOP_INSTANCE_UID) or "")
        warning = _first(item, WARNING_REASON)
        local = by_uid.get(uid)
        if local is not None and uid not in results:
            results[uid] = FileResult(
                local.path,
                "stored",
                uid,
                local.size,
                warning_code=warning if isinstance(warning, int) else None,
            )
    for item in _items(data, FAILED_SOP_SEQUENCE):
        uid = str(_first(item, REFERENCED_SOP_INSTANCE_UID) or "")
        code = _first(item, FAILURE_REASON)
        code = code if isinstance(code, int) else None
        comment = str(_first(item, ERROR_COMMENT) or "")
        reason = failure_text(code, comment)
        local = by_uid.get(uid)
        if local is not None and uid not in results:
            results[uid] = FileResult(local.path, "failed", uid, local.size, reason, code)
        elif local is None:
            anonymous.append(FileResult(Path(), "failed", uid, 0, reason, code))
    out: list[FileResult] = []
    for local in batch:
        found = results.get(local.sop_instance_uid)
        if found is None and anonymous:
            guess = anonymous.pop(0)
            found = FileResult(
                local.path,
                "failed",
                local.sop_instance_uid,
                local.size,
                guess.reason,
                guess.failure_code,
            )
        if found is None:
            found = FileResult(
                local.path, "failed", local.sop_instance_uid, local.size, fallback_reason
            )
        out.append(found)
    return out


def batch_failed(batch: Sequence[LocalFile], reason: str, *, sent: bool = True) -> list[FileResult]:
    return [
        FileResult(item.path, "failed", item.sop_instance_uid, item.size, reason, sent=sent)
        for item in batch
    ]


def retryable(status: int) -> bool:
    """Statuses worth sending the same batch again for (STOW is idempotent)."""
    return status >= 500 or status in (408, 429)


def split_on(status: int) -> bool:
    """Statuses that condemn a whole request: try its files one by one."""
    return status in (400, 413, 415)


def fatal(status: int) -> bool:
    """Statuses that no other batch will escape: stop the upload and raise."""
    return status in (401, 403, 404, 405)


# --------------------------------------------------------------------------- progress


class ProgressCounter:
    """Files and bytes done, safe to update from several threads.

    Bytes advance while a batch streams; if it is sent again, the bytes of the failed
    attempt are taken back, so ``bytes_done`` ends at exactly ``bytes_total``.
    """

    def __init__(self, files_total: int, bytes_total: int, callback: Progress | None) -> None:
        self.files_total = files_total
        self.bytes_total = bytes_total
        self.files_done = 0
        self.bytes_done = 0
        self._callback = callback
        self._lock = threading.Lock()

    def add(self, files: int = 0, nbytes: int = 0) -> None:
        with self._lock:
            self.files_done += files
            self.bytes_done = min(max(0, self.bytes_done + nbytes), self.bytes_total)
            if self._callback is not None:
                self._callback(self.files_done, self.files_total, self.bytes_done, self.bytes_total)


class Attempt:
    """Byte accounting for one batch across its attempts."""

    def __init__(self, counter: ProgressCounter, batch: Sequence[LocalFile]) -> None:
        self.counter = counter
        self.total = sum(item.size for item in batch)
        self.sent = 0

    def on_bytes(self, n: int) -> None:
        self.sent += n
        self.counter.add(nbytes=n)

    def rewind(self) -> None:
        self.counter.add(nbytes=-self.sent)
        self.sent = 0

    def done(self, files: int) -> None:
        self.counter.add(files=files, nbytes=self.total - self.sent)
        self.sent = self.total


# --------------------------------------------------------------------------- decisions


@dataclass
class Verdict:
    """What to do after one STOW answer: results, a retry, a split, or a fatal error."""

    results: list[FileResult] | None = None
    retry_reason: str = ""
    split: bool = False
    error: PacsError | None = None


def stow_content_type(boundary: str) -> str:
    return multipart_content_type(boundary, "application/dicom")


def judge(batch: Sequence[LocalFile], reply: Reply) -> Verdict:
    """Interpret a STOW-RS answer for a batch (pure; the clients act on the verdict)."""
    status = reply.status
    if 200 <= status < 300 or status == 409:
        reason = reason_from_response(reply.headers, reply.body)
        data: Any = None
        try:
            data = reply.json() if reply.body.strip() else None
        except PacsError:
            data = None
        if not isinstance(data, dict) or not data:
            if status == 200:  # all stored, but the answer names nobody
                return Verdict(
                    results=[
                        FileResult(i.path, "stored", i.sop_instance_uid, i.size) for i in batch
                    ]
                )
            fallback = reason or f"the server answered {status} without naming the instances"
            return Verdict(results=batch_failed(batch, fallback))
        fallback = (
            "the server did not report this instance"
            if status < 300
            else reason or "the server stored nothing (409)"
        )
        return Verdict(results=results_from_answer(batch, data, fallback))
    error = error_for_response(status, reply.headers, reply.body, url=reply.url)
    if retryable(status):
        return Verdict(retry_reason=str(error))
    if fatal(status):
        return Verdict(error=error)
    if split_on(status) and len(batch) > 1:
        return Verdict(split=True)
    return Verdict(results=batch_failed(batch, str(error)))


class UploadState:
    """Shared by the batches of one upload: request count and the stop signal."""

    def __init__(self) -> None:
        self.requests = 0
        self.stop_reason = ""
        self.connection_lost = False
        self._lock = threading.Lock()

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1

    def stop(self, reason: str, *, connection: bool = False) -> None:
        with self._lock:
            if not self.stop_reason:
                self.stop_reason = reason
                self.connection_lost = connection


def unsent(batch: Sequence[LocalFile], state: UploadState) -> list[FileResult]:
    return batch_failed(batch, f"not sent: {state.stop_reason}", sent=False)


def finish_upload(
    slots: Sequence[FileResult | None], state: UploadState, started: float, paths: Sequence[Path]
) -> UploadResult:
    """The final result; raises ConnectionFailed if the server was never reachable."""
    files = [
        slot if slot is not None else FileResult(paths[i], "failed", reason="not sent", sent=False)
        for i, slot in enumerate(slots)
    ]
    if state.connection_lost and not any(f.ok for f in files):
        raise ConnectionFailed(state.stop_reason)
    return UploadResult(files=files, elapsed=time.monotonic() - started, requests=state.requests)


def retry_delay(attempt: int, backoff: float) -> float:
    """Seconds to wait before attempt number ``attempt`` (1 = the first retry)."""
    return float(backoff * (2 ** (attempt - 1)))
