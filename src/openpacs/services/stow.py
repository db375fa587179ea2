"""STOW-RS on the service side: one request's multipart body in, a `StowResult` out.

The web handler parses the Content-Type and hands the body over as an async iterator of
chunks (``request.stream()``); :class:`StowDriver` does the rest:

1. feed each chunk to the multipart parser (protocol/multipart.py) as it arrives: the
   body is never read whole;
2. collect each part in an :class:`~openpacs.services.upload.UploadSpool`: in memory
   while small, else in a staging file next to the blob store (so a large accepted file
   is renamed into place, never copied);
3. store each part as soon as its closing boundary arrives, in a worker thread, while
   the next part is received; up to :data:`PARTS_IN_FLIGHT` at a time, so the index
   writer can commit them together. Bad parts fail alone;
4. collect the outcomes in arrival order, each with its part's position (1-based, the
   answer's (0009,1003): the only sure way for a client to map answers to parts),
   record one ``study.store`` audit event per
   study (and ``instance.coerce`` for each instance stored under derived UIDs), and
   build the response dataset.

A body that is cut off keeps its complete parts (the cut one fails); a body that is not
multipart at all is a :class:`~openpacs.services.errors.BadRequest`.

Limits (``OPENPACS_MAX_REQUEST_BYTES``, ``OPENPACS_MAX_PARTS``): a declared
Content-Length beyond the byte limit is refused before anything is read
(:class:`~openpacs.services.errors.TooLarge`); a body that goes past either limit while
it streams stops being read there: the parts that ended before are stored as usual, the
part in progress is dropped, and the result says why (``over_limit``, answered 413). A
client that goes away mid-body (:class:`ClientGone` from the body) is the same, without
anyone left to answer.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable
from dataclasses import dataclass, replace
from pathlib import Path

import anyio
import anyio.abc

from openpacs.dicom import status
from openpacs.protocol.multipart import (
    MultipartError,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
)
from openpacs.protocol.paths import ResourcePath
from openpacs.protocol.stow_request import part_refusal
from openpacs.protocol.stow_response import FailedInstance, StowResult
from openpacs.services.audit import AuditTrail, Event
from openpacs.services.errors import BadRequest, TooLarge
from openpacs.services.permissions import Action, require
from openpacs.services.principal import Principal
from openpacs.services.store import StoreOutcome, StoreService
from openpacs.services.upload import Upload, UploadSpool

log = logging.getLogger("openpacs.stow")

# Parts of one request stored at the same time: the next part is received while earlier
# ones are parsed and written, and the index writer can commit them together.
PARTS_IN_FLIGHT = 4


@dataclass(frozen=True)
class StowRequest:
    """One STOW-RS request as the service sees it."""

    principal: Principal
    boundary: str
    # The DICOMweb root the request came through (RetrieveURLs point back into it).
    base_url: str
    # The study of ``POST /studies/{study}``: every instance must belong to it.
    study_uid: str | None = None
    client: str = ""  # for the audit trail
    content_length: int | None = None  # as declared by the client, if it did


class ClientGone(Exception):
    """Raised by a request body whose client closed the connection before its end."""


@dataclass(frozen=True)
class Limits:
    """What one request may send (see the module docstring)."""

    max_bytes: int
    max_parts: int

    def bytes_reason(self) -> str:
        return (
            f"the request is larger than the limit of {self.max_bytes} bytes "
            "(OPENPACS_MAX_REQUEST_BYTES); send the instances in several requests"
        )

    def parts_reason(self) -> str:
        return (
            f"the request has more than {self.max_parts} parts, the limit "
            "(OPENPACS_MAX_PARTS); send the instances in several requests"
        )


class StowDriver:
    """Runs STOW requests; one per process, beside the store service it feeds."""

    def __init__(
        self,
        store: StoreService,
        audit: AuditTrail,
        *,
        staging: Path,
        spool_threshold: int,
        limits: Limits,
    ) -> None:
        self._store = store
        self._audit = audit
        self._staging = staging
        self._spool_threshold = spool_threshold
        self._limits = limits

    async def run(self, request: StowRequest, body: AsyncIterable[bytes]) -> StowResult:
        """Store every part of ``body``; raises Forbidden / BadRequest / TooLarge for the
        request as a whole, never for one part, and ClientGone when no one is left to
        answer (after storing the parts that ended)."""
        require(request.principal, Action.WRITE)
        if (request.content_length or 0) > self._limits.max_bytes:
            raise TooLarge(self._limits.bytes_reason())
        parts = _Parts(self._store, request, self._staging, self._spool_threshold, self._limits)
        await parts.receive(body)
        last = self._record(request, parts.outcomes)
        if parts.client_gone:
            stored = sum(outcome.stored is not None for outcome in parts.outcomes)
            log.info("stow: the client disconnected mid-body; %d part(s) stored before", stored)
            raise ClientGone
        result = _result(parts, request.base_url)
        if last and self._audit.syncs:
            # The answer names what was stored: its audit events are on disk first.
            await anyio.to_thread.run_sync(self._audit.wait_durable, last)
        log.info("stow stored=%d failed=%d", len(result.stored), len(result.failed))
        return result

    def _record(self, request: StowRequest, outcomes: list[StoreOutcome]) -> int:
        """One ``study.store`` event per study, one ``instance.coerce`` per instance
        stored under derived UIDs; the journal number of the last one (0: none)."""
        last = 0
        per_study: dict[str, int] = {}
        for outcome in outcomes:
            if outcome.stored is None:
                continue
            study = outcome.study_instance_uid
            per_study[study] = per_study.get(study, 0) + 1
            if outcome.coercion is not None:
                last = self._event(request, "instance.coerce", study, outcome.coercion.describe())
        for study in sorted(per_study):
            last = self._event(request, "study.store", study, f"{per_study[study]} instance(s)")
        return last

    def _event(self, request: StowRequest, action: str, study: str, detail: str) -> int:
        event = Event.by(
            request.principal,
            action,
            study_instance_uid=study,
            detail=detail,
            client=request.client,
        )
        return self._audit.record(event)


class _Parts:
    """The parts of one request body, spooled as they arrive and stored as they end."""

    def __init__(
        self,
        store: StoreService,
        request: StowRequest,
        staging: Path,
        spool_threshold: int,
        limits: Limits,
    ) -> None:
        self._store = store
        self._request = request
        self._staging = staging
        self._spool_threshold = spool_threshold
        self._limits = limits
        self._received = 0  # body bytes
        self._started = 0  # parts
        self._slots = anyio.Semaphore(PARTS_IN_FLIGHT)
        self._spool: UploadSpool | None = None
        self._refusal: str | None = None  # why the current part will not be stored
        #: One per part, in arrival order (filled in when its store finishes).
        self.outcomes: list[StoreOutcome] = []
        #: Why the body could not be read to its end, if it could not.
        self.malformed: str | None = None
        #: The position of the part that was being read when reading stopped (malformed
        #: or over a limit); None when it stopped between parts.
        self.stopped_in: int | None = None
        #: Which limit the body went past (reading stopped there), if it did.
        self.over_limit: str | None = None
        #: The client closed the connection before the end of the body.
        self.client_gone = False

    async def receive(self, body: AsyncIterable[bytes]) -> None:
        parser = MultipartParser(self._request.boundary)
        async with anyio.create_task_group() as tasks:
            try:
                async for chunk in body:
                    allowed = self._limits.max_bytes - self._received
                    self._received += len(chunk)
                    # Up to the limit exactly: parts that end within it are stored.
                    for event in parser.feed(chunk[:allowed]):
                        if not await self._take(tasks, event):
                            return
                    if self._received > self._limits.max_bytes:
                        self.over_limit = self._limits.bytes_reason()
                        self.stopped_in = self._in_progress()
                        return
                for event in parser.close():
                    await self._take(tasks, event)
            except MultipartError as exc:
                self.malformed = str(exc)
                self.stopped_in = self._in_progress()
            except ClientGone:
                self.client_gone = True
            finally:
                if self._spool is not None:
                    self._spool.discard()
                    self._spool = None

    async def _take(self, tasks: anyio.abc.TaskGroup, event: object) -> bool:
        """Handle one parser event; False when the body must not be read further."""
        if isinstance(event, PartData):
            if self._spool is not None:
                self._spool.write(event.data)
        elif isinstance(event, PartStart):
            self._started += 1
            if self._started > self._limits.max_parts:
                self.over_limit = self._limits.parts_reason()
                self.stopped_in = self._started
                return False
            self._spool = UploadSpool(self._staging, self._spool_threshold)
            self._refusal = part_refusal(event.headers)
        elif isinstance(event, PartEnd):
            await self._finish(tasks, event.complete)
        return True

    def _in_progress(self) -> int | None:
        """The position of the part being read (None between parts)."""
        return self._started if self._spool is not None else None

    async def _finish(self, tasks: anyio.abc.TaskGroup, complete: bool) -> None:
        """The current part ended: fail it, or start storing it (waiting for a slot)."""
        assert self._spool is not None
        spool, self._spool = self._spool, None
        index = len(self.outcomes)
        self.outcomes.append(StoreOutcome())
        if not complete:
            spool.discard()
            self.outcomes[index] = _failed(
                status.CANNOT_UNDERSTAND, "the part was cut off (truncated body)"
            )
        elif self._refusal is not None:
            spool.discard()
            self.outcomes[index] = _failed(status.SOP_CLASS_NOT_SUPPORTED, self._refusal)
        else:
            upload = spool.finish()
            await self._slots.acquire()
            tasks.start_soon(self._store_part, index, upload)

    async def _store_part(self, index: int, upload: Upload) -> None:
        request = self._request
        try:
            self.outcomes[index] = await anyio.to_thread.run_sync(
                lambda: self._store.store(
                    request.principal,
                    upload,
                    base_url=request.base_url,
                    expected_study_uid=request.study_uid,
                )
            )
        finally:
            self._slots.release()


def _result(parts: _Parts, base_url: str) -> StowResult:
    """The response dataset, in arrival order, each item with its part's position;
    BadRequest when there is nothing to say, TooLarge when a limit stopped the body
    before any part ended."""
    outcomes, malformed, over_limit = parts.outcomes, parts.malformed, parts.over_limit
    if over_limit is not None and not outcomes:
        raise TooLarge(over_limit)
    result = StowResult(over_limit=over_limit)
    studies: set[str] = set()
    for position, outcome in enumerate(outcomes, start=1):
        if outcome.stored is not None:
            result.stored.append(replace(outcome.stored, part=position))
            studies.add(outcome.study_instance_uid)
        elif outcome.failed is not None:
            result.failed.append(replace(outcome.failed, part=position))
    if over_limit is not None:
        # The part in progress when reading stopped (and whatever came after it).
        result.failed.append(
            FailedInstance("", "", status.OUT_OF_RESOURCES, over_limit, parts.stopped_in)
        )
    if malformed is not None:
        if not outcomes:
            raise BadRequest(f"malformed multipart body: {malformed}")
        result.failed.append(
            FailedInstance("", "", status.CANNOT_UNDERSTAND, malformed, parts.stopped_in)
        )
    if not result.stored and not result.failed:
        raise BadRequest("the request contains no parts")
    if len(studies) == 1:
        result.study_retrieve_url = ResourcePath(next(iter(studies))).url(base_url)
    return result


def _failed(code: int, reason: str) -> StoreOutcome:
    return StoreOutcome(failed=FailedInstance("", "", code, reason))
