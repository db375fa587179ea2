"""STOW-RS (PS3.18 10.5): POST /studies[/{study}], and the PostDICOM form POST {root}/.

The body is parsed as it streams; each part is collected in memory while small, else in
a staging file next to the blob store (so a large accepted file is renamed into place,
never copied; see services/upload.py), and is stored as soon as its closing boundary
arrives, while the next part is received. Bad parts fail alone.
"""

from __future__ import annotations

import logging

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import Response

from openpacs.protocol import status
from openpacs.protocol.multipart import (
    MultipartError,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    parse_content_type,
)
from openpacs.protocol.paths import ResourcePath
from openpacs.protocol.stow_response import FailedInstance, StowResult
from openpacs.services.audit import Event
from openpacs.services.store import StoreOutcome
from openpacs.services.upload import Upload, UploadSpool
from openpacs.web.context import context, dicomweb_base, principal
from openpacs.web.errors import HttpError, ascii_reason, error_response

log = logging.getLogger("openpacs.stow")

DICOM_MEDIA_TYPES = {"application/dicom"}
DICOM_JSON = "application/dicom+json"


def _check_content_type(request: Request) -> str:
    raw = request.headers.get("content-type") or request.headers.get("contenttype") or ""
    if not raw:
        raise HttpError(
            415, "Content-Type is missing; use multipart/related; type=application/dicom"
        )
    try:
        media_type, params = parse_content_type(raw)
    except MultipartError as exc:
        raise HttpError(400, f"malformed Content-Type: {exc}") from exc
    if media_type != "multipart/related":
        raise HttpError(
            415,
            f"unsupported media type {media_type}; use multipart/related; type=application/dicom",
        )
    part_type = params.get("type", "application/dicom").strip().lower()
    if part_type not in DICOM_MEDIA_TYPES:
        raise HttpError(
            415, f"unsupported part type {part_type}; only application/dicom parts are accepted"
        )
    boundary = params.get("boundary", "")
    if not boundary:
        raise HttpError(400, "the multipart Content-Type has no boundary parameter")
    return boundary


# Parts of one request stored at the same time: the next part is received while earlier
# ones are parsed and written, and the index writer can commit them together.
PARTS_IN_FLIGHT = 4


async def store_instances(request: Request) -> Response:
    ctx = context(request)
    who = principal(request)
    if who.read_only:
        raise HttpError(403, "this access is read-only; storing is not allowed")
    boundary = _check_content_type(request)
    study_uid = request.path_params.get("study")
    base = dicomweb_base(request)
    service = ctx.store
    staging = ctx.blobs.staging_dir()
    spool_threshold = ctx.settings.spool_threshold
    parser = MultipartParser(boundary)
    # One slot per part, in arrival order: (stored, failed, study UID).
    outcomes: list[StoreOutcome] = []
    slots = anyio.Semaphore(PARTS_IN_FLIGHT)
    current: UploadSpool | None = None
    current_ok = True
    current_reason = ""
    malformed: str | None = None

    async def store_part(index: int, upload: Upload) -> None:
        try:
            outcomes[index] = await anyio.to_thread.run_sync(
                lambda: service.store(who, upload, base_url=base, expected_study_uid=study_uid)
            )
        finally:
            slots.release()

    async with anyio.create_task_group() as tasks:

        async def finish(complete: bool) -> None:
            nonlocal current
            assert current is not None
            spool, current = current, None
            outcomes.append(StoreOutcome())
            index = len(outcomes) - 1
            if not complete:
                spool.discard()
                outcomes[index] = _failed(
                    status.CANNOT_UNDERSTAND, "the part was cut off (truncated body)"
                )
            elif not current_ok:
                spool.discard()
                outcomes[index] = _failed(status.SOP_CLASS_NOT_SUPPORTED, current_reason)
            else:
                upload = spool.finish()
                await slots.acquire()
                tasks.start_soon(store_part, index, upload)

        try:
            async for chunk in request.stream():
                for event in parser.feed(chunk):
                    if isinstance(event, PartData):
                        if current is not None:
                            current.write(event.data)
                    elif isinstance(event, PartStart):
                        current = UploadSpool(staging, spool_threshold)
                        current_ok, current_reason = _part_acceptable(event.headers)
                    elif isinstance(event, PartEnd):
                        await finish(event.complete)
            for event in parser.close():
                if isinstance(event, PartData) and current is not None:
                    current.write(event.data)
                elif isinstance(event, PartEnd):
                    await finish(event.complete)
        except MultipartError as exc:
            malformed = str(exc)
        finally:
            if current is not None:
                current.discard()

    result = StowResult(study_retrieve_url=None)
    studies: set[str] = set()
    for outcome in outcomes:
        if outcome.stored is not None:
            result.stored.append(outcome.stored)
            studies.add(outcome.study_instance_uid)
        elif outcome.failed is not None:
            result.failed.append(outcome.failed)
    if malformed is not None:
        if not outcomes:
            raise HttpError(400, f"malformed multipart body: {malformed}")
        result.failed.append(FailedInstance("", "", status.CANNOT_UNDERSTAND, malformed))
    if not result.stored and not result.failed:
        raise HttpError(400, "the request contains no parts")
    for study in sorted(studies):
        ctx.audit.record(
            Event(
                account_id=who.account_id,
                action="study.store",
                study_instance_uid=study,
                user_id=who.user_id,
                detail=f"{sum(o.study_instance_uid == study for o in outcomes)} instance(s)",
                client=request.client.host if request.client else "",
            )
        )
    if len(studies) == 1:
        result.study_retrieve_url = ResourcePath(next(iter(studies))).url(base)
    body = orjson.dumps(result.to_json())
    code = result.http_status()
    headers: dict[str, str] = {}
    reason = result.first_failure()
    if reason and code != 200:
        if code == 409:
            return error_response_with_body(code, reason, body)
        headers["X-Error-Reason"] = ascii_reason(reason)
    log.info("stow stored=%d failed=%d", len(result.stored), len(result.failed))
    return Response(body, status_code=code, media_type=DICOM_JSON, headers=headers)


def _failed(code: int, reason: str) -> StoreOutcome:
    return StoreOutcome(failed=FailedInstance("", "", code, reason))


def error_response_with_body(code: int, reason: str, body: bytes) -> Response:
    """A failure status that still carries the standard STOW response dataset."""
    template = error_response(code, reason)
    return Response(
        body,
        status_code=code,
        media_type=DICOM_JSON,
        headers={"X-Error-Reason": template.headers["X-Error-Reason"]},
    )


def _part_acceptable(headers: dict[str, str]) -> tuple[bool, str]:
    """Parts may omit Content-Type (the request's type applies); others must be DICOM."""
    raw = headers.get("content-type")
    if not raw:
        return True, ""
    try:
        media_type, _ = parse_content_type(raw)
    except MultipartError:
        return False, f"unreadable part Content-Type {raw!r}"
    if media_type in DICOM_MEDIA_TYPES:
        return True, ""
    return False, f"unsupported part media type {media_type}; only application/dicom is stored"
