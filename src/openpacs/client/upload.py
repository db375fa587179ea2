"""Upload building blocks shared by the sync and async clients (no HTTP here).

- plan: which files are sent and which skipped (:mod:`.local_files` decides);
- group files into batches with no UID twice in a batch (several files of the test
  corpus are the same instance in different encodings: the answer names instances by
  UID, so two of them in one request could not be told apart);
- stream a batch as a multipart/related body, chunk by chunk from the open files;
- map the STOW-RS answer back to the files (:mod:`.stow_answer`);
- count progress, thread-safely, and decide what to retry;
- finish: a second file of a SOP Instance already stored counts as already stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio.to_thread

from openpacs.client.errors import (
    ConnectionFailed,
    NoDicomFilesError,
    PacsError,
    error_for_response,
    reason_from_response,
)
from openpacs.client.local_files import Candidate, LocalFile, file_size, skip_reason
from openpacs.client.requests import Reply
from openpacs.client.results import FileResult, UploadResult
from openpacs.client.stow_answer import results_from_answer
from openpacs.protocol.multipart import aencode_parts, encode_parts, multipart_content_type

CHUNK_SIZE = 256 * 1024
# A batch stops growing past this many bytes, so a few huge files travel alone.
MAX_BATCH_BYTES = 64 * 1024 * 1024

Progress = Callable[[int, int, int, int], None]
"""``progress(files_done, files_total, bytes_done, bytes_total)``; ``files_total`` counts every
file found, the skipped ones done from the start."""

# --------------------------------------------------------------------------- plan


@dataclass
class UploadPlan:
    """The files of an upload: ``slots`` holds the outcome of each (the skipped ones are
    known at once), ``to_send`` the indexes of the files to read and send."""

    paths: list[Path]
    slots: list[FileResult | None]
    to_send: list[int]

    @property
    def bytes_to_send(self) -> int:
        return sum(file_size(self.paths[i]) for i in self.to_send)

    def progress_counter(self, bytes_total: int, callback: Progress | None) -> ProgressCounter:
        """The counter of this upload: its files are every file found, the skipped ones
        done from the start, so the bar's total is the summary's."""
        return ProgressCounter(
            len(self.paths), bytes_total, callback, files_done=len(self.paths) - len(self.to_send)
        )


def plural_files(count: int) -> str:
    return "file" if count == 1 else "files"


def plan_upload(found: Sequence[Candidate], where: str = "") -> UploadPlan:
    """Skip what is not DICOM; NoDicomFilesError when a folder upload (``where`` names
    the folders) leaves nothing to send."""
    paths = [c.path for c in found]
    slots: list[FileResult | None] = [None] * len(found)
    to_send: list[int] = []
    for index, candidate in enumerate(found):
        reason = skip_reason(candidate)
        if reason is None:
            to_send.append(index)
        else:
            size = file_size(candidate.path)
            slots[index] = FileResult(candidate.path, "skipped", "", size, reason, sent=False)
    if where and not to_send:
        skipped = f" ({len(found)} other {plural_files(len(found))} skipped)" if found else ""
        raise NoDicomFilesError(f"no DICOM files in {where}{skipped}")
    return UploadPlan(paths, slots, to_send)


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

    def __init__(
        self, files_total: int, bytes_total: int, callback: Progress | None, files_done: int = 0
    ) -> None:
        self.files_total = files_total
        self.bytes_total = bytes_total
        self.files_done = files_done
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


def finish_upload(plan: UploadPlan, state: UploadState, started: float) -> UploadResult:
    """The final result; raises ConnectionFailed if the server was never reachable."""
    files = [
        slot
        if slot is not None
        else FileResult(plan.paths[i], "failed", reason="not sent", sent=False)
        for i, slot in enumerate(plan.slots)
    ]
    if state.connection_lost and not any(f.sent and f.ok for f in files):
        raise ConnectionFailed(state.stop_reason)
    files = mark_second_copies(files)
    return UploadResult(files=files, elapsed=time.monotonic() - started, requests=state.requests)


def mark_second_copies(files: Sequence[FileResult]) -> list[FileResult]:
    """Of files with one SOP Instance UID that were all reported ``stored``, the first
    stays ``stored`` and the others become ``already_stored``: the server keeps one copy
    per instance. openpacs marks re-sent copies itself (whichever arrived first is the
    stored one); a server that does not (PostDICOM) reports every copy as stored."""
    stored_paths: dict[str, list[Path]] = {}
    for result in files:
        if result.status == "stored" and result.sop_instance_uid:
            stored_paths.setdefault(result.sop_instance_uid, []).append(result.path)
    out: list[FileResult] = []
    for result in files:
        paths = stored_paths.get(result.sop_instance_uid or "", [])
        if result.status == "stored" and len(paths) > 1 and paths[0] != result.path:
            result = replace(
                result,
                status="already_stored",
                reason=f"same SOP Instance UID as {paths[0].name}: the server keeps one copy",
            )
        out.append(result)
    return out


def retry_delay(attempt: int, backoff: float) -> float:
    """Seconds to wait before attempt number ``attempt`` (1 = the first retry)."""
    return float(backoff * (2 ** (attempt - 1)))
