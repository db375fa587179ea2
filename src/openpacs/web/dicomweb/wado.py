"""WADO-RS (PS3.18 10.4): instances, metadata, bulk data and frames.

Retrieve (study, series, instance, and the PostDICOM forms ``/studies/series/{uid}`` and
``/studies/series/instances/{uid}``): ``multipart/related; type="application/dicom"``,
one complete Part-10 file per part, streamed file by file in 1 MiB reads in worker
threads, in the order series number, instance number, id; ``accept=application/zip``
(study, series) a streamed ZIP (``wado_zip``); an instance also as a single
``application/dicom``. Which transfer syntaxes can be sent, and how, is decided by
:mod:`openpacs.services.wado`; errors before the first byte keep their status, later
ones cut the response off (``wado_common``).

Metadata: ``application/dicom+json`` (or ``application/json``), the stored DICOM JSON
rebased on the request's DICOMweb root, or ``multipart/related;
type="application/dicom+xml"`` with one Native DICOM Model document (PS3.19) per
instance, converted from that JSON; gzip when Accept-Encoding allows it. Bulk data:
the element value as stored (little endian). Frames: see :mod:`openpacs.services.frames`.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from openpacs.protocol.accept import Choice, Offer, accepts_gzip
from openpacs.protocol.dicom_xml import xml_parts
from openpacs.protocol.media_types import DICOM, DICOM_JSON, DICOM_XML, OCTET_STREAM, ZIP
from openpacs.protocol.multipart import (
    closing_delimiter,
    multipart_content_type,
    new_boundary,
    part_header,
)
from openpacs.services.errors import ServiceError
from openpacs.services.frames import (
    FramePlan,
    frame_offers,
    parse_frame_numbers,
    plan_frames,
    read_frame,
)
from openpacs.services.retrieve import InstanceDetail, InstanceRef
from openpacs.services.wado import (
    METADATA_BATCH,
    PartFile,
    bulk_offers,
    check_transcodable,
    instance_path,
    metadata_rows,
    open_part,
    parse_bulk_path,
    read_bulk,
    retrieve_offers,
    sent_as_stored,
    stored_content_type,
)
from openpacs.storage.base import BlobStore
from openpacs.web.context import context, dicomweb_base, principal
from openpacs.web.dicomweb import wado_zip
from openpacs.web.dicomweb.wado_common import (
    AbortableStreamingResponse,
    abort,
    accept_ranges,
    audit_study,
    choose,
    file_chunks,
    in_thread,
    instance_of,
    instances_of,
    load_instance,
    read_whole,
    reason_of,
    scope_of,
)
from openpacs.web.errors import HttpError

# --------------------------------------------------------------------------- retrieve


#: A single instance up to this size is read whole and answered with its length.
WHOLE_FILE = 4 << 20


@dataclass
class _Opened:
    refs: list[InstanceRef]
    choice: Choice
    target: str = "*"
    first: PartFile | None = None
    whole: bytes | None = None  # the only instance's file, read whole (small)


async def retrieve(request: Request) -> Response:
    """GET /studies/{study}[/series/{series}[/instances/{sop}]] and the PostDICOM forms."""
    ctx, scope = context(request), scope_of(request)
    ranges = accept_ranges(request)
    base, blobs = dicomweb_base(request), ctx.blobs

    def open_first() -> _Opened:
        """Look up, negotiate and open the first file (a small single one read whole) in
        one worker-thread call; errors here still get their status."""
        refs = instances_of(request, scope)
        opened = _Opened(refs, choose(request, ranges, retrieve_offers(scope, refs)))
        if opened.choice.media_type == ZIP:
            return opened
        opened.target = opened.choice.transfer_syntax or "*"
        check_transcodable(refs, opened.target)
        opened.first = first = open_part(blobs, refs[0], opened.target)
        if len(refs) == 1 and first.size is not None and first.size <= WHOLE_FILE:
            with first.handle:
                opened.whole = read_whole(first.handle, first.size, refs[0])
        return opened

    opened = await in_thread(open_first)
    refs, choice, target, first = opened.refs, opened.choice, opened.target, opened.first
    audit_study(request, scope, refs[0].study_uid)
    if choice.media_type == ZIP:
        account_id = principal(request).account_id
        return await wado_zip.zip_response(ctx.db, ctx.blobs, account_id, scope, refs)
    assert first is not None
    if opened.whole is not None:
        return _whole(opened.whole, first.content_type, choice, target, refs[0], base)
    if choice.part_type is None:  # single-part application/dicom (instance level)
        return AbortableStreamingResponse(
            _single(first, refs[0]),
            media_type=first.content_type,
            headers={"Content-Length": str(first.size)} if first.size is not None else None,
        )
    boundary = new_boundary()
    media_type = multipart_content_type(boundary, DICOM, None if target == "*" else target)
    length = _stored_length(refs, target, boundary, base)
    return AbortableStreamingResponse(
        _multipart(blobs, base, refs, target, boundary, first),
        media_type=media_type,
        headers=None if length is None else {"Content-Length": str(length)},
    )


def _whole(
    data: bytes, content_type: str, choice: Choice, target: str, ref: InstanceRef, base: str
) -> Response:
    """A single instance read whole: as such, or as the one part of a multipart body."""
    if choice.part_type is None:
        return Response(data, media_type=content_type)
    boundary = new_boundary()
    headers = {"Content-Type": content_type, "Content-Location": instance_path(ref).url(base)}
    body = part_header(boundary, headers, first=True) + data + closing_delimiter(boundary)
    media_type = multipart_content_type(boundary, DICOM, None if target == "*" else target)
    return Response(body, media_type=media_type)


async def _multipart(
    blobs: BlobStore,
    base: str,
    refs: list[InstanceRef],
    target: str,
    boundary: str,
    first: PartFile,
) -> AsyncIterator[bytes]:
    for index, ref in enumerate(refs):
        try:
            part = first if index == 0 else await in_thread(partial(open_part, blobs, ref, target))
            yield _part_head(boundary, base, part.content_type, ref, index)
            async for chunk in file_chunks(part.handle, expected=part.size, label=ref.sop_uid):
                yield chunk
        except (HttpError, ServiceError, OSError) as exc:
            raise abort(
                "retrieve of %d instance(s), at %s: %s", len(refs), ref.sop_uid, reason_of(exc)
            ) from exc
    yield closing_delimiter(boundary)


def _part_head(boundary: str, base: str, content_type: str, ref: InstanceRef, index: int) -> bytes:
    headers = {"Content-Type": content_type, "Content-Location": instance_path(ref).url(base)}
    return part_header(boundary, headers, first=index == 0)


def _stored_length(refs: list[InstanceRef], target: str, boundary: str, base: str) -> int | None:
    """The multipart body's length when every part is its file as stored (the sizes are
    in the index), so that it goes out with a Content-Length instead of chunked; None when
    a part is transcoded (its size is known only once it is made). The part headers are
    made again as the parts go out (about 1 us each) rather than kept for the whole
    answer."""
    if not all(sent_as_stored(ref, target) for ref in refs):
        return None
    heads = sum(
        len(_part_head(boundary, base, stored_content_type(ref), ref, index))
        for index, ref in enumerate(refs)
    )
    return heads + sum(ref.size for ref in refs) + len(closing_delimiter(boundary))


async def _single(part: PartFile, ref: InstanceRef) -> AsyncIterator[bytes]:
    try:
        async for chunk in file_chunks(part.handle, expected=part.size, label=ref.sop_uid):
            yield chunk
    except (HttpError, ServiceError, OSError) as exc:
        raise abort("retrieve of instance %s: %s", ref.sop_uid, reason_of(exc)) from exc


# --------------------------------------------------------------------------- metadata


_METADATA_OFFERS = [
    Offer(DICOM_JSON),
    Offer("application/json"),
    Offer("multipart/related", DICOM_XML),
    Offer(DICOM_XML),  # answered as the multipart form: one document per instance
]


async def metadata(request: Request) -> Response:
    """GET .../metadata at study, series and instance level (PS3.18 10.4.1.1.2)."""
    ctx, scope = context(request), scope_of(request)
    ranges = accept_ranges(request)
    gzip = accepts_gzip(request.headers.get("accept-encoding", ""))
    headers = {"Vary": "Accept-Encoding"}
    if gzip:
        headers["Content-Encoding"] = "gzip"
    account_id, base = principal(request).account_id, dicomweb_base(request)

    def look_up() -> tuple[list[InstanceRef], Choice, bytes | None]:
        """The instances and the negotiated type, in one worker-thread call; with them,
        when one batch holds them all (as JSON), the whole body."""
        refs = instances_of(request, scope)
        choice = choose(request, ranges, _METADATA_OFFERS)
        if len(refs) > METADATA_BATCH or DICOM_XML in (choice.media_type, choice.part_type):
            return refs, choice, None
        rows = metadata_rows(ctx.db, account_id, [ref.id for ref in refs], base)
        data = _JsonArray().batch(rows, first=True) + _JsonArray().end(empty=not rows)
        return refs, choice, zlib.compress(data, 1, wbits=31) if gzip else data

    refs, choice, whole = await in_thread(look_up)
    audit_study(request, scope, refs[0].study_uid)
    if whole is not None:
        return Response(whole, media_type=choice.media_type, headers=headers)
    ids = [ref.id for ref in refs]

    def batch(start: int) -> list[bytes]:
        return metadata_rows(ctx.db, account_id, ids[start : start + METADATA_BATCH], base)

    body: _Body
    if DICOM_XML in (choice.media_type, choice.part_type):
        boundary = new_boundary()
        body, media_type = _XmlParts(boundary), multipart_content_type(boundary, DICOM_XML)
    else:
        body, media_type = _JsonArray(), choice.media_type
    return AbortableStreamingResponse(
        _batches(batch, len(ids), body, gzip), media_type=media_type, headers=headers
    )


class _Body(Protocol):
    """How metadata rows become the response body, one batch at a time."""

    def batch(self, rows: list[bytes], first: bool) -> bytes: ...

    def end(self, empty: bool) -> bytes: ...


class _JsonArray:
    """``[`` + rows joined by ``,`` + ``]``."""

    def batch(self, rows: list[bytes], first: bool) -> bytes:
        return (b"[" if first else b",") + b",".join(rows) if rows else b""

    def end(self, empty: bool) -> bytes:
        return b"[]" if empty else b"]"


class _XmlParts:
    """One ``application/dicom+xml`` part per row."""

    def __init__(self, boundary: str) -> None:
        self.boundary = boundary

    def batch(self, rows: list[bytes], first: bool) -> bytes:
        return xml_parts(rows, self.boundary, first=first)

    def end(self, empty: bool) -> bytes:
        # A multipart body needs at least one part; an instance list is never empty.
        return closing_delimiter(self.boundary)


async def _batches(
    fetch: Callable[[int], list[bytes]], count: int, body: _Body, gzip: bool
) -> AsyncIterator[bytes]:
    """The rows from ``fetch(start)``, fetched, encoded and (optionally) compressed batch
    by batch in a worker thread, so neither the database nor zlib blocks the loop."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31) if gzip else None

    def encode(data: bytes, final: bool = False) -> bytes:
        if compressor is None:
            return data
        out = compressor.compress(data)
        return out + compressor.flush() if final else out

    def work(start: int, written: int) -> tuple[bytes, int]:
        rows = fetch(start)
        return encode(body.batch(rows, first=written == 0)), len(rows)

    written = 0
    for start in range(0, count, METADATA_BATCH):
        try:
            chunk, rows = await in_thread(partial(work, start, written))
        except Exception as exc:
            raise abort("metadata of %d instance(s): %r", count, exc) from exc
        written += rows
        if chunk:
            yield chunk
    yield encode(body.end(empty=written == 0), final=True)


# --------------------------------------------------------------------------- bulk data


async def bulkdata(request: Request) -> Response:
    """GET .../instances/{sop}/bulkdata/{path}: the element at the BulkDataURI."""
    ctx, scope = context(request), scope_of(request)
    path = parse_bulk_path(str(request.path_params.get("path", "")))
    ranges = accept_ranges(request)
    detail = await load_instance(request, scope)
    choice = choose(request, ranges, bulk_offers())
    value = await in_thread(lambda: read_bulk(ctx.blobs, detail, path))
    if choice.part_type is None:
        return Response(value.data, media_type=value.media_type)
    boundary = new_boundary()
    body = part_header(boundary, {"Content-Type": value.media_type}, first=True) + value.data
    body += closing_delimiter(boundary)
    return Response(body, media_type=multipart_content_type(boundary, OCTET_STREAM))


# --------------------------------------------------------------------------- frames


async def frames(request: Request) -> Response:
    """GET .../instances/{sop}/frames/{list} as multipart/related (see services/frames)."""
    ctx, scope = context(request), scope_of(request)
    ranges = accept_ranges(request)
    blobs, base = ctx.blobs, dicomweb_base(request)

    def first_frame() -> tuple[InstanceDetail, list[int], FramePlan, bytes]:
        """Look up, negotiate and read the first frame in one worker-thread call (an
        error here still gets its status)."""
        detail = instance_of(request, scope)
        ref = detail.ref
        numbers = parse_frame_numbers(
            str(request.path_params["frames"]), ref.number_of_frames, ref.sop_uid
        )
        plan = plan_frames(detail, choose(request, ranges, frame_offers(detail)))
        return detail, numbers, plan, read_frame(blobs, plan, numbers[0])

    detail, numbers, plan, first = await in_thread(first_frame)
    ref, path = detail.ref, instance_path(detail.ref)
    audit_study(request, scope, ref.study_uid)
    boundary = new_boundary()
    media_type = multipart_content_type(boundary, plan.part_type, plan.transfer_syntax)
    if len(numbers) == 1:  # all there is: one plain response with its length
        location = path.frames(base, numbers[0])
        headers = {"Content-Type": plan.content_type, "Content-Location": location}
        whole = part_header(boundary, headers, first=True) + first + closing_delimiter(boundary)
        return Response(whole, media_type=media_type)

    async def body() -> AsyncIterator[bytes]:
        for i, number in enumerate(numbers):
            try:
                data = (
                    first if i == 0 else await in_thread(partial(read_frame, blobs, plan, number))
                )
            except (HttpError, ServiceError) as exc:
                raise abort("frames of %s: %s", ref.sop_uid, reason_of(exc)) from exc
            headers = {
                "Content-Type": plan.content_type,
                "Content-Location": path.frames(base, number),
            }
            yield part_header(boundary, headers, first=i == 0) + data
        yield closing_delimiter(boundary)

    return AbortableStreamingResponse(body(), media_type=media_type)
