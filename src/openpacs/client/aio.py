"""``AsyncPacsClient``: the async twin of :class:`~openpacs.client.sync.PacsClient`.

Same requests (built in :mod:`.requests`), same upload and retrieve logic (in
:mod:`.upload` and :mod:`.retrieve`); only the sending differs. Runs on asyncio or trio
(anyio), like httpx itself.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import httpx

from openpacs.client import requests as rq
from openpacs.client._ops import async_operation
from openpacs.client.auth import ClientBase
from openpacs.client.defaults import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY
from openpacs.client.errors import (
    ConnectionFailed,
    IncompleteResponse,
    PacsError,
    error_for_response,
)
from openpacs.client.layout import Layout
from openpacs.client.local_files import Candidate, LocalFile, candidates, inspect_file
from openpacs.client.requests import ApiRequest, Call, Reply
from openpacs.client.results import FileResult, RetrieveResult, UploadResult
from openpacs.client.retrieve import PartWriter, RetrieveProgress, open_writer, retrieve_result
from openpacs.client.sync import connection_error
from openpacs.client.upload import (
    Attempt,
    BatchPlanner,
    Progress,
    ProgressCounter,
    UploadPlan,
    UploadState,
    aiter_body,
    batch_failed,
    finish_upload,
    judge,
    plan_upload,
    retry_delay,
    stow_content_type,
    unsent,
)
from openpacs.protocol.multipart import new_boundary

T = TypeVar("T")

__all__ = ["AsyncPacsClient"]


async def _reply_of(response: httpx.Response) -> Reply:
    body = await response.aread()
    return Reply(response.status_code, response.headers, body, str(response.url))


def _check(reply: Reply) -> Reply:
    if not 200 <= reply.status < 300:
        raise error_for_response(reply.status, reply.headers, reply.body, url=reply.url)
    return reply


class AsyncPacsClient(ClientBase):
    """Async DICOMweb PACS client; every method of ``PacsClient``, awaited.

    ``async with AsyncPacsClient(url, user, password) as pacs: await pacs.search(...)``
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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(web_address, retries=retries, backoff=backoff, stow_path=stow_path)
        options = self.http_options(
            username, password, token, timeout=timeout, verify=verify, headers=headers
        )
        self._http = httpx.AsyncClient(**options, transport=transport)

    # -- plumbing ------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncPacsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (the ``async with`` block does it on leaving)."""
        await self._http.aclose()

    async def send(self, request: ApiRequest, content: AsyncIterable[bytes] | None = None) -> Reply:
        """Send one request; any HTTP answer comes back, no answer is ConnectionFailed."""
        url = self.url_for(request.path)
        body: Any = content if content is not None else request.body
        try:
            response = await self._http.request(
                request.method,
                url,
                headers=request.headers,
                params=tuple(request.params),
                content=body,
            )
        except httpx.TransportError as exc:
            raise connection_error(exc, url) from exc
        return await _reply_of(response)

    async def call(self, call: Call[T]) -> T:
        """Send a prepared call and parse its answer; errors become PacsError subclasses."""
        return call.parse(_check(await self.send(call.request)))

    # -- the guide's custom functions ----------------------------------------------------

    create_share_link = async_operation(rq.create_share_link)
    share_patient_orders = async_operation(rq.share_patient_orders)
    create_folder = async_operation(rq.create_folder)
    search_folders = async_operation(rq.search_folders)
    share_folder = async_operation(rq.share_folder)
    add_order_to_folder = async_operation(rq.add_order_to_folder)
    assign_order_to_user = async_operation(rq.assign_order_to_user)
    assign_order_to_user_group = async_operation(rq.assign_order_to_user_group)
    create_patient_order = async_operation(rq.create_patient_order)
    get_patient_order = async_operation(rq.get_patient_order)
    search_patient_orders = async_operation(rq.search_patient_orders)
    delete_patient_order = async_operation(rq.delete_patient_order)
    get_dicom_tag_content = async_operation(rq.get_dicom_tag_content)
    list_institutions = async_operation(rq.list_institutions)
    list_users = async_operation(rq.list_users)
    list_user_groups = async_operation(rq.list_user_groups)
    list_equipment = async_operation(rq.list_equipment)
    list_shares = async_operation(rq.list_shares)
    delete_share = async_operation(rq.delete_share)

    # -- access (openpacs additions): personal API tokens, the audit trail ------------

    create_api_token = async_operation(rq.create_api_token)
    list_api_tokens = async_operation(rq.list_api_tokens)
    revoke_api_token = async_operation(rq.revoke_api_token)
    get_audit_log = async_operation(rq.get_audit_log)

    # -- QIDO-RS -------------------------------------------------------------------------

    search = async_operation(rq.search)
    search_studies = async_operation(rq.search_studies)
    search_series = async_operation(rq.search_series)
    search_instances = async_operation(rq.search_instances)

    # -- WADO-RS -------------------------------------------------------------------------

    async def retrieve(
        self,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        output_dir: Path | str | None = None,
        *,
        layout: Layout = "flat",
        progress: RetrieveProgress | None = None,
    ) -> RetrieveResult:
        """See :meth:`PacsClient.retrieve`."""
        level, uid, request = rq.retrieve_request(
            study_instance_uid, series_instance_uid, sop_instance_uid
        )
        url = self.url_for(request.path)
        writer: PartWriter | None = None
        try:
            async with self._http.stream(request.method, url, headers=request.headers) as response:
                if not 200 <= response.status_code < 300:
                    _check(await _reply_of(response))
                writer = await anyio.to_thread.run_sync(
                    lambda: open_writer(
                        output_dir,
                        level,
                        layout,
                        response.headers.get("content-type", ""),
                        url=url,
                        bytes_total=int(response.headers.get("content-length") or 0),
                        progress=progress,
                    )
                )
                async for chunk in response.aiter_bytes():
                    await anyio.to_thread.run_sync(writer.feed, chunk)
                files = await anyio.to_thread.run_sync(writer.close)
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

    # -- STOW-RS -------------------------------------------------------------------------

    async def upload_directory(
        self,
        directory_path: Path | str,
        *,
        recursive: bool = True,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: Progress | None = None,
        any_file: bool = True,
    ) -> UploadResult:
        """See :meth:`PacsClient.upload_directory`."""
        return await self.upload_paths(
            [directory_path],
            recursive=recursive,
            batch_size=batch_size,
            concurrency=concurrency,
            progress=progress,
        )

    async def upload_paths(
        self,
        paths: Sequence[Path | str],
        *,
        recursive: bool = True,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: Progress | None = None,
    ) -> UploadResult:
        """See :meth:`PacsClient.upload_paths`."""
        where = ", ".join(str(p) for p in paths)
        plan = await anyio.to_thread.run_sync(
            lambda: plan_upload(candidates(paths, recursive=recursive), where)
        )
        return await self._upload(plan, batch_size, concurrency, progress)

    async def store_instances(
        self,
        paths: Sequence[Path | str],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: Progress | None = None,
    ) -> UploadResult:
        """See :meth:`PacsClient.store_instances`."""
        plan = await anyio.to_thread.run_sync(
            lambda: plan_upload([Candidate(Path(p), True) for p in paths])
        )
        return await self._upload(plan, batch_size, concurrency, progress)

    async def _upload(
        self, plan: UploadPlan, batch_size: int, concurrency: int, progress: Progress | None
    ) -> UploadResult:
        started = time.monotonic()
        total_bytes = await anyio.to_thread.run_sync(lambda: plan.bytes_to_send)
        counter = plan.progress_counter(total_bytes, progress)
        planner = BatchPlanner(batch_size)
        state = UploadState()
        limiter = anyio.Semaphore(max(1, concurrency))

        async def run(batch: list[LocalFile]) -> None:
            try:
                for index, result in await self._stow_batch(batch, counter, state):
                    plan.slots[index] = result
            finally:
                limiter.release()

        try:
            async with anyio.create_task_group() as group:
                async for batch in self._batches(plan, planner, counter):
                    await limiter.acquire()
                    group.start_soon(run, batch)
        except BaseExceptionGroup as group_error:
            raise _first_leaf(group_error) from None
        return finish_upload(plan, state, started)

    async def _batches(
        self, plan: UploadPlan, planner: BatchPlanner, counter: ProgressCounter
    ) -> AsyncIterator[list[LocalFile]]:
        for index in plan.to_send:
            inspected = await anyio.to_thread.run_sync(inspect_file, index, plan.paths[index])
            if isinstance(inspected, FileResult):
                plan.slots[index] = inspected
                counter.add(files=1, nbytes=inspected.size)
                continue
            for batch in planner.add(inspected):
                yield batch
        for batch in planner.finish():
            yield batch

    async def _stow_batch(
        self, batch: list[LocalFile], counter: ProgressCounter, state: UploadState
    ) -> list[tuple[int, FileResult]]:
        attempt = Attempt(counter, batch)
        results = await self._stow_with_retries(batch, attempt, state)
        if results is None:
            attempt.rewind()
            out: list[tuple[int, FileResult]] = []
            for item in batch:
                out.extend(await self._stow_batch([item], counter, state))
            return out
        attempt.done(len(batch))
        return [(item.index, result) for item, result in zip(batch, results, strict=True)]

    async def _stow_with_retries(
        self, batch: list[LocalFile], attempt: Attempt, state: UploadState
    ) -> list[FileResult] | None:
        last, lost = "", False
        for number in range(self.retries + 1):
            if state.stop_reason:
                return unsent(batch, state)
            if number:
                attempt.rewind()
                await anyio.sleep(retry_delay(number, self.backoff))
            boundary = new_boundary()
            request = rq.stow_request(self.stow_path, stow_content_type(boundary))
            try:
                reply = await self.send(request, aiter_body(boundary, batch, attempt.on_bytes))
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
        if lost:
            state.stop(last, connection=True)
        return batch_failed(batch, last)


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to show from a task group: the first SDK error, else the first one."""
    leaves: list[BaseException] = []

    def walk(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                walk(inner)
        else:
            leaves.append(error)

    walk(group)
    for leaf in leaves:
        if isinstance(leaf, PacsError):
            return leaf
    return leaves[0] if leaves else group
