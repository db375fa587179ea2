"""``PacsClient``: the blocking SDK (httpx.Client). Requests come from :mod:`.requests`."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from openpacs.client import requests as rq
from openpacs.client._ops import operation
from openpacs.client.auth import ClientBase
from openpacs.client.defaults import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY
from openpacs.client.errors import (
    ConnectionFailed,
    IncompleteResponse,
    error_for_response,
)
from openpacs.client.layout import Layout
from openpacs.client.local_files import Candidate, LocalFile, candidates, inspect_file
from openpacs.client.requests import ApiRequest, Call, Reply
from openpacs.client.results import FileResult, RetrieveResult, UploadResult
from openpacs.client.retrieve import PartWriter, RetrieveProgress, open_writer, retrieve_result
from openpacs.client.upload import (
    Attempt,
    BatchPlanner,
    Progress,
    ProgressCounter,
    UploadPlan,
    UploadState,
    batch_failed,
    finish_upload,
    iter_body,
    judge,
    plan_upload,
    retry_delay,
    stow_content_type,
    unsent,
)
from openpacs.protocol.multipart import new_boundary

T = TypeVar("T")

__all__ = ["PacsClient"]


def connection_error(exc: httpx.TransportError, url: str) -> ConnectionFailed:
    if isinstance(exc, httpx.TimeoutException):
        what = "timed out"
    elif isinstance(exc, httpx.ConnectError):
        what = "cannot connect"
    else:
        what = "connection failed"
    detail = str(exc) or type(exc).__name__
    return ConnectionFailed(f"{what}: {url} ({detail})", url=url)


def reply_of(response: httpx.Response) -> Reply:
    return Reply(response.status_code, response.headers, response.content, str(response.url))


def _check(reply: Reply) -> Reply:
    if not 200 <= reply.status < 300:
        raise error_for_response(reply.status, reply.headers, reply.body, url=reply.url)
    return reply


class PacsClient(ClientBase):
    """A DICOMweb PACS: openpacs, or any server that speaks PostDICOM's API.

    ``web_address`` is the DICOMweb root (``http://host:8042/dicomweb``); ``username``
    and ``password`` go out as HTTP Basic authentication (an openpacs API token works as
    the password), or ``token=`` as ``Authorization: Bearer``. One method per function of
    the vendor guide; errors are :class:`~openpacs.client.errors.PacsError` subclasses.
    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        web_address: str,
        username: str = "",
        password: str = "",
        *,
        token: str | None = None,
        timeout: float = 60.0,
        verify: bool | str | ssl.SSLContext = True,
        retries: int = 3,
        backoff: float = 0.5,
        stow_path: str = "studies",
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(web_address, retries=retries, backoff=backoff, stow_path=stow_path)
        options = self.http_options(
            username, password, token, timeout=timeout, verify=verify, headers=headers
        )
        self._http = httpx.Client(**options, transport=transport)

    # -- plumbing ------------------------------------------------------------------------

    def __enter__(self) -> PacsClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (the ``with`` block does it on leaving)."""
        self._http.close()

    def send(self, request: ApiRequest, content: Iterable[bytes] | None = None) -> Reply:
        """Send one request; any HTTP answer comes back, no answer is ConnectionFailed."""
        url = self.url_for(request.path)
        body: Any = content if content is not None else request.body
        try:
            response = self._http.request(
                request.method,
                url,
                headers=request.headers,
                params=tuple(request.params),
                content=body,
            )
        except httpx.TransportError as exc:
            raise connection_error(exc, url) from exc
        return reply_of(response)

    def call(self, call: Call[T]) -> T:
        """Send a prepared call and parse its answer; errors become PacsError subclasses."""
        return call.parse(_check(self.send(call.request)))

    # -- the guide's custom functions (built in requests.py) -------------------------------

    create_share_link = operation(rq.create_share_link)
    share_patient_orders = operation(rq.share_patient_orders)
    create_folder = operation(rq.create_folder)
    search_folders = operation(rq.search_folders)
    share_folder = operation(rq.share_folder)
    add_order_to_folder = operation(rq.add_order_to_folder)
    assign_order_to_user = operation(rq.assign_order_to_user)
    assign_order_to_user_group = operation(rq.assign_order_to_user_group)
    create_patient_order = operation(rq.create_patient_order)
    get_patient_order = operation(rq.get_patient_order)
    search_patient_orders = operation(rq.search_patient_orders)
    delete_patient_order = operation(rq.delete_patient_order)
    get_dicom_tag_content = operation(rq.get_dicom_tag_content)
    list_institutions = operation(rq.list_institutions)
    list_users = operation(rq.list_users)
    list_user_groups = operation(rq.list_user_groups)
    list_equipment = operation(rq.list_equipment)
    list_shares = operation(rq.list_shares)
    delete_share = operation(rq.delete_share)

    # -- access (openpacs additions): personal API tokens, the audit trail ------------

    create_api_token = operation(rq.create_api_token)
    list_api_tokens = operation(rq.list_api_tokens)
    revoke_api_token = operation(rq.revoke_api_token)
    get_audit_log = operation(rq.get_audit_log)

    # -- QIDO-RS ---------------------------------------------------------------------------

    search = operation(rq.search)
    search_studies = operation(rq.search_studies)
    search_series = operation(rq.search_series)
    search_instances = operation(rq.search_instances)

    # -- WADO-RS ---------------------------------------------------------------------------

    def retrieve(
        self,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        output_dir: Path | str | None = None,
        *,
        layout: Layout = "flat",
        progress: RetrieveProgress | None = None,
    ) -> RetrieveResult:
        """Retrieve a study, a series or one instance (exactly one UID) into a new folder,
        one ``.dcm`` file per part, streamed to disk. See :func:`.retrieve.make_output_dir`
        for where the folder goes; the answer is never held in memory."""
        level, uid, request = rq.retrieve_request(
            study_instance_uid, series_instance_uid, sop_instance_uid
        )
        url = self.url_for(request.path)
        writer: PartWriter | None = None
        try:
            with self._http.stream(request.method, url, headers=request.headers) as response:
                if not 200 <= response.status_code < 300:
                    response.read()
                    _check(reply_of(response))
                writer = open_writer(
                    output_dir,
                    level,
                    layout,
                    response.headers.get("content-type", ""),
                    url=url,
                    bytes_total=int(response.headers.get("content-length") or 0),
                    progress=progress,
                )
                for chunk in response.iter_bytes():
                    writer.feed(chunk)
                files = writer.close()
        except httpx.TransportError as exc:
            if writer is None:
                raise connection_error(exc, url) from exc
            writer.abort()
            raise IncompleteResponse(
                f"the connection broke after {len(writer.files)} files: {exc}",
                url=url,
                files=writer.destination.placement.files,
            ) from exc
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        assert writer is not None
        return retrieve_result(level, uid, writer, files)

    # -- STOW-RS ---------------------------------------------------------------------------

    def upload_directory(
        self,
        directory_path: Path | str,
        *,
        recursive: bool = True,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: Progress | None = None,
        any_file: bool = True,
    ) -> UploadResult:
        """Upload the DICOM files of a folder: ``*.dcm`` and every file that starts like
        DICOM (a CD's ``IMAGES/IM00001``); other files are skipped and counted.
        ``batch_size`` files per request, ``concurrency`` requests at a time.

        Files are streamed from disk. A file that fails does not stop the others; the
        result lists every file as stored, already stored, failed (with the reason) or
        skipped. Raises :class:`~openpacs.client.errors.NoDicomFilesError` when the
        folder holds no DICOM file. ``any_file`` is kept for compatibility (always on).
        """
        return self.upload_paths(
            [directory_path],
            recursive=recursive,
            batch_size=batch_size,
            concurrency=concurrency,
            progress=progress,
        )

    def upload_paths(
        self,
        paths: Sequence[Path | str],
        *,
        recursive: bool = True,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: Progress | None = None,
    ) -> UploadResult:
        """Upload files and folders (as :meth:`upload_directory` does for each folder; a
        file named here is always tried). FileNotFoundError for a path that is missing."""
        found = candidates(paths, recursive=recursive)
        where = ", ".join(str(p) for p in paths)
        plan = plan_upload(found, where)
        return self._upload(plan, batch_size, concurrency, progress)

    def store_instances(
        self,
        paths: Sequence[Path | str],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: Progress | None = None,
    ) -> UploadResult:
        """Upload the given files (STOW-RS); see :meth:`upload_directory`."""
        plan = plan_upload([Candidate(Path(p), True) for p in paths])
        return self._upload(plan, batch_size, concurrency, progress)

    def _upload(
        self, plan: UploadPlan, batch_size: int, concurrency: int, progress: Progress | None
    ) -> UploadResult:
        started = time.monotonic()
        counter = plan.progress_counter(plan.bytes_to_send, progress)
        planner = BatchPlanner(batch_size)
        state = UploadState()
        workers = max(1, concurrency)
        pending: set[Future[list[tuple[int, FileResult]]]] = set()

        def collect(done: Iterable[Future[list[tuple[int, FileResult]]]]) -> None:
            for future in done:
                for index, result in future.result():
                    plan.slots[index] = result

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openpacs-stow") as pool:
            try:
                for batch in self._batches(plan, planner, counter):
                    while len(pending) >= 2 * workers:
                        done, _ = wait(pending, return_when=FIRST_COMPLETED)
                        pending.difference_update(done)
                        collect(done)
                    pending.add(pool.submit(self._stow_batch, batch, counter, state))
                done, _ = wait(pending)
                pending.clear()
                collect(done)
            except BaseException as exc:
                state.stop(str(exc))
                for future in pending:
                    future.cancel()
                raise
        return finish_upload(plan, state, started)

    def _batches(
        self, plan: UploadPlan, planner: BatchPlanner, counter: ProgressCounter
    ) -> Iterator[list[LocalFile]]:
        for index in plan.to_send:
            inspected = inspect_file(index, plan.paths[index])
            if isinstance(inspected, FileResult):
                plan.slots[index] = inspected
                counter.add(files=1, nbytes=inspected.size)
                continue
            yield from planner.add(inspected)
        yield from planner.finish()

    def _stow_batch(
        self, batch: list[LocalFile], counter: ProgressCounter, state: UploadState
    ) -> list[tuple[int, FileResult]]:
        attempt = Attempt(counter, batch)
        results = self._stow_with_retries(batch, attempt, state)
        if results is None:  # the request as a whole was refused: one file at a time
            attempt.rewind()
            out: list[tuple[int, FileResult]] = []
            for item in batch:
                out.extend(self._stow_batch([item], counter, state))
            return out
        attempt.done(len(batch))
        return [(item.index, result) for item, result in zip(batch, results, strict=True)]

    def _stow_with_retries(
        self, batch: list[LocalFile], attempt: Attempt, state: UploadState
    ) -> list[FileResult] | None:
        last, lost = "", False
        for number in range(self.retries + 1):
            if state.stop_reason:
                return unsent(batch, state)
            if number:
                attempt.rewind()
                time.sleep(retry_delay(number, self.backoff))
            boundary = new_boundary()
            request = rq.stow_request(self.stow_path, stow_content_type(boundary))
            try:
                reply = self.send(request, iter_body(boundary, batch, attempt.on_bytes))
            except ConnectionFailed as exc:
                last, lost = str(exc), True
                continue
            state.count_request()
            lost = False
            verdict = judge(batch, reply)
            if verdict.error is not None:
                state.stop(str(verdict.error))
                raise verdict.error
            if verdict.split:
                return None
            if verdict.results is not None:
                return verdict.results
            last = verdict.retry_reason
        if lost:  # the server is gone: the batches not sent yet are not tried
            state.stop(last, connection=True)
        return batch_failed(batch, last)
