"""What the WADO-RS handlers share: scope from the URL, negotiation, file streaming, aborts.

Errors while a response is being streamed cannot change its status any more. They are
logged and the response is *aborted*: :class:`AbortableStreamingResponse` stops without
the final empty chunk, so the server closes the connection and the client sees an
incomplete body instead of a silently truncated but well-formed one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import BinaryIO, TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Send

from openpacs.protocol.accept import (
    BadAccept,
    Choice,
    MediaRange,
    NotAcceptable,
    Offer,
    negotiate,
    parse_accept,
)
from openpacs.services.errors import ServiceError, StoredFileError
from openpacs.services.retrieve import (
    InstanceDetail,
    InstanceRef,
    Scope,
    get_instance,
    list_instances,
)
from openpacs.services.stored_files import SHORTER
from openpacs.web.audit import AUDIT_STUDY
from openpacs.web.context import context, principal
from openpacs.web.errors import HttpError

log = logging.getLogger("openpacs.wado")

T = TypeVar("T")

#: Bytes read from a blob per worker-thread call while streaming.
CHUNK_SIZE = 1 << 20


class StreamAborted(Exception):
    """Raised inside a response body iterator after the error was logged."""


class AbortableStreamingResponse(StreamingResponse):
    """A streaming response whose body iterator may raise :class:`StreamAborted`.

    On abort the response ends without its final (empty, ``more_body=False``) message:
    the ASGI server then closes the connection, which the client sees as a cut-off body.
    """

    async def stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        try:
            async for chunk in self.body_iterator:
                if not isinstance(chunk, bytes | memoryview):
                    chunk = chunk.encode(self.charset)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except StreamAborted:
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def reason_of(exc: Exception) -> str:
    """What went wrong, for the log line of an aborted response."""
    return exc.reason if isinstance(exc, HttpError | ServiceError) else repr(exc)


def abort(message: str, *args: object) -> StreamAborted:
    """Log why a started response is cut off and return the exception to raise."""
    log.error("response aborted: " + message, *args)
    return StreamAborted(message % args if args else message)


async def in_thread(func: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(func)


def scope_of(request: Request) -> Scope:
    params = request.path_params
    return Scope(params.get("study"), params.get("series"), params.get("sop"))


def instances_of(request: Request, scope: Scope) -> list[InstanceRef]:
    """The instances the URL names, in order (404 when none is visible to the caller).
    Blocking: call it in a worker thread, then :func:`audit_study` on the loop."""
    with context(request).db.engine.connect() as conn:  # a read: no session, no commit
        return list_instances(conn, principal(request), scope)


def instance_of(request: Request, scope: Scope) -> InstanceDetail:
    """The one instance the URL names (blocking, as :func:`instances_of`)."""
    with context(request).db.engine.connect() as conn:
        return get_instance(conn, principal(request), scope)


async def load_instances(request: Request, scope: Scope) -> list[InstanceRef]:
    refs = await in_thread(lambda: instances_of(request, scope))
    audit_study(request, scope, refs[0].study_uid)
    return refs


async def load_instance(request: Request, scope: Scope) -> InstanceDetail:
    detail = await in_thread(lambda: instance_of(request, scope))
    audit_study(request, scope, detail.ref.study_uid)
    return detail


def audit_study(request: Request, scope: Scope, study_uid: str) -> None:
    """The study a PostDICOM form (no study in the URL) read, for its audit event."""
    if scope.study_uid is None:
        setattr(request.state, AUDIT_STUDY, study_uid)


def accept_ranges(request: Request) -> list[MediaRange]:
    """The Accept header, replaced by the ``accept`` query parameter when given (400 if bad)."""
    try:
        return parse_accept(
            request.headers.getlist("accept"), request.query_params.getlist("accept")
        )
    except BadAccept as exc:
        raise HttpError(400, str(exc)) from None


def choose(request: Request, ranges: list[MediaRange], offers: list[Offer]) -> Choice:
    """Negotiate (PS3.18 8.7); 406 with the reason when nothing offered fits."""
    try:
        return negotiate(ranges, offers, request.query_params.get("transfer-syntax"))
    except NotAcceptable as exc:
        raise HttpError(406, str(exc)) from None


def read_whole(handle: BinaryIO, size: int, ref: InstanceRef) -> bytes:
    """All ``size`` bytes of a stored file (blocking); StoredFileError when it is shorter."""
    data = handle.read(size)
    if len(data) != size:
        _damaged(ref.sop_uid, len(data), size)
    return data


def _damaged(label: str, got: int, expected: int) -> None:
    log.error("stored file of instance %s is damaged: %d of %d bytes", label, got, expected)
    raise StoredFileError(label, SHORTER)


async def file_chunks(
    handle: BinaryIO, *, expected: int | None = None, label: str = ""
) -> AsyncIterator[bytes]:
    """Stream an open file in :data:`CHUNK_SIZE` pieces read in worker threads; closes it.

    With ``expected`` the stream stops after that many bytes and a shorter file raises
    :class:`StoredFileError` (``label`` names the instance).
    """
    try:
        total = 0
        while expected is None or total < expected:
            want = CHUNK_SIZE if expected is None else min(CHUNK_SIZE, expected - total)
            chunk = await in_thread(lambda want=want: handle.read(want))  # type: ignore[misc]
            if not chunk:
                break
            total += len(chunk)
            yield chunk
        if expected is not None and total != expected:
            _damaged(label, total, expected)
    finally:
        handle.close()
