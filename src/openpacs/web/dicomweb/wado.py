"""WADO-RS (PS3.18 10.4): instances, metadata, bulk data and frames.

Retrieve (study, series, instance, and the PostDICOM forms ``/studies/series/{uid}`` and
``/studies/series/instances/{uid}``): ``multipart/related; type="application/dicom"``,
one complete Part-10 file per part, streamed blob by blob in 1 MiB reads in worker
threads, in the order series number, instance number, id.

* Transfer syntax: ``*``, or none asked for (PostDICOM clients send no Accept), returns
  every file byte-identical as stored; each part's Content-Type names its syntax. A
  specific syntax is produced per instance by :mod:`openpacs.dicom.transcode` into a
  temporary file; whether every instance can be converted is checked from the index
  before the response starts (406 naming the first instance that cannot).
* ``accept=application/zip`` (study, series): a streamed ZIP (see ``wado_zip``).
* Instance level also answers a single-part ``application/dicom``.

Metadata: ``application/dicom+json`` (or ``application/json``), from the DICOM JSON
stored at ingest, BulkDataURIs rebased on the DICOMweb root of the request; gzip when
Accept-Encoding allows it. Bulk data: the element value as stored (little endian).
Frames: see :func:`frames`.
"""

from __future__ import annotations

import re
import tempfile
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import orjson
from pydicom import dcmread
from pydicom.uid import UID
from starlette.requests import Request
from starlette.responses import Response

from openpacs.dicom.ingest import BULK_BASE
from openpacs.dicom.pixels import PixelDataError, decode_frame
from openpacs.dicom.transcode import (
    TRANSCODABLE_TARGETS,
    TranscodeError,
    transcode,
    transcode_problem,
)
from openpacs.protocol.accept import Offer
from openpacs.protocol.multipart import (
    closing_delimiter,
    multipart_content_type,
    new_boundary,
    part_header,
)
from openpacs.protocol.paths import ResourcePath
from openpacs.services.retrieve import InstanceRef, Scope, fetch_metadata
from openpacs.storage.base import BlobNotFound, BlobStore
from openpacs.web.context import AppContext, context, dicomweb_base, principal
from openpacs.web.dicomweb import wado_zip
from openpacs.web.dicomweb.wado_common import (
    AbortableStreamingResponse,
    StoredFileError,
    abort,
    accept_ranges,
    choose,
    file_chunks,
    in_thread,
    load_instance,
    load_instances,
    log,
    open_blob,
    read_blob_range,
    scope_of,
)
from openpacs.web.errors import HttpError

EVLE = "1.2.840.10008.1.2.1"
_NATIVE_LE = frozenset({"1.2.840.10008.1.2", EVLE})
DICOM_JSON = "application/dicom+json"
OCTET = "application/octet-stream"
_BULK_BASE = BULK_BASE.encode()
_METADATA_BATCH = 256
_BULK_PATH = re.compile(r"[0-9A-Fa-f]{8}(?:/[0-9]{1,6}/[0-9A-Fa-f]{8}){0,16}")
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_SWAP_WIDTH = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}

#: PS3.18 Table 8.7.3-5: media types of compressed frames, by transfer syntax (the first
#: name is the one we label parts with; the others are accepted aliases).
FRAME_MEDIA_TYPES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
         "1.2.840.10008.1.2.4.70"), ("image/jpeg",)),
    **dict.fromkeys(("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"),
                    ("image/jls", "image/x-jls")),
    **dict.fromkeys(("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"), ("image/jp2",)),
    **dict.fromkeys(("1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93"), ("image/jpx",)),
    **dict.fromkeys(("1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
                     "1.2.840.10008.1.2.4.203"), ("image/jphc",)),
    **dict.fromkeys(("1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.4.111",
                     "1.2.840.10008.1.2.4.112"), ("image/jxl",)),
    "1.2.840.10008.1.2.5": ("image/dicom-rle", "image/x-dicom-rle"),
}  # fmt: skip


def instance_path(ref: InstanceRef) -> ResourcePath:
    return ResourcePath(ref.study_uid, ref.series_uid, ref.sop_uid)


# --------------------------------------------------------------------------- retrieve


@dataclass
class _Part:
    headers: dict[str, str]
    body: AsyncIterator[bytes]


def _dicom_offers(scope: Scope, refs: list[InstanceRef]) -> list[Offer]:
    stored = {ref.transfer_syntax_uid for ref in refs}
    syntaxes = ("*", *sorted(TRANSCODABLE_TARGETS | stored))
    offers = [Offer("multipart/related", "application/dicom", syntaxes, "*")]
    if scope.level == "instance":
        offers.append(Offer("application/dicom", None, syntaxes, "*"))
    else:
        offers.append(Offer(wado_zip.ZIP))
    return offers


def _check_transcodable(refs: list[InstanceRef], target: str) -> None:
    for ref in refs:
        problem = transcode_problem(
            ref.transfer_syntax_uid, target, has_pixel_data=ref.has_pixel_data
        )
        if problem:
            raise HttpError(
                406, f"instance {ref.sop_uid} cannot be sent in transfer syntax {target}: {problem}"
            )


def _transcode_to_temp(blobs: BlobStore, ref: InstanceRef, target: str) -> BinaryIO:
    # Next to the blobs, not in /tmp (often a small tmpfs): transcoded files can be large.
    out = tempfile.TemporaryFile(dir=blobs.staging_dir())  # noqa: SIM115 - closed by the stream
    try:
        with blobs.open(ref.blob_key) as src:
            transcode(src, out, target)  # type: ignore[arg-type]
        out.seek(0)
        return out  # type: ignore[return-value]
    except BaseException:
        out.close()
        raise


async def _open_part(ctx: AppContext, base: str, ref: InstanceRef, target: str) -> _Part:
    """The headers and body of one instance's part (raises before any byte is produced)."""
    headers = {"Content-Location": instance_path(ref).url(base)}
    if target in ("*", ref.transfer_syntax_uid):
        handle = await open_blob(ctx.blobs, ref)
        headers = {
            "Content-Type": f"application/dicom; transfer-syntax={ref.transfer_syntax_uid}",
            **headers,
        }
        return _Part(headers, file_chunks(handle, expected=ref.size, label=ref.sop_uid))
    try:
        handle = await in_thread(lambda: _transcode_to_temp(ctx.blobs, ref, target))
    except (BlobNotFound, FileNotFoundError):
        log.error("stored file of instance %s is missing (blob %s)", ref.sop_uid, ref.blob_key)
        raise StoredFileError(ref.sop_uid) from None
    except TranscodeError as exc:
        raise HttpError(406, f"instance {ref.sop_uid}: {exc}") from None
    headers = {"Content-Type": f"application/dicom; transfer-syntax={target}", **headers}
    return _Part(headers, file_chunks(handle, label=ref.sop_uid))


async def _multipart_body(
    ctx: AppContext, base: str, refs: list[InstanceRef], target: str, boundary: str, first: _Part
) -> AsyncIterator[bytes]:
    for index, ref in enumerate(refs):
        try:
            part = first if index == 0 else await _open_part(ctx, base, ref, target)
            head = part_header(boundary, part.headers, first=index == 0)
            async for chunk in part.body:
                if head:
                    chunk, head = head + chunk, b""
                yield chunk
            if head:
                yield head
        except (HttpError, OSError) as exc:
            reason = exc.reason if isinstance(exc, HttpError) else repr(exc)
            raise abort(
                "retrieve of %d instance(s), at %s: %s", len(refs), ref.sop_uid, reason
            ) from exc
    yield closing_delimiter(boundary)


async def retrieve(request: Request) -> Response:
    """GET /studies/{study}[/series/{series}[/instances/{sop}]] and the PostDICOM forms."""
    ctx, scope = context(request), scope_of(request)
    ranges = accept_ranges(request)
    refs = await load_instances(request, scope)
    choice = choose(request, ranges, _dicom_offers(scope, refs))
    if choice.media_type == wado_zip.ZIP:
        return await wado_zip.zip_response(ctx.blobs, scope, refs)
    target = choice.transfer_syntax or "*"
    if target != "*":
        _check_transcodable(refs, target)
    base = dicomweb_base(request)
    first = await _open_part(ctx, base, refs[0], target)  # errors here still get a status
    if choice.part_type is None:  # single-part application/dicom (instance level)
        stored = target in ("*", refs[0].transfer_syntax_uid)
        return AbortableStreamingResponse(
            _single(first, refs[0]),
            media_type=first.headers["Content-Type"],
            headers={"Content-Length": str(refs[0].size)} if stored else None,
        )
    boundary = new_boundary()
    media_type = multipart_content_type(
        boundary, "application/dicom", None if target == "*" else target
    )
    return AbortableStreamingResponse(
        _multipart_body(ctx, base, refs, target, boundary, first), media_type=media_type
    )


async def _single(part: _Part, ref: InstanceRef) -> AsyncIterator[bytes]:
    try:
        async for chunk in part.body:
            yield chunk
    except (HttpError, OSError) as exc:
        raise abort("retrieve of instance %s: %s", ref.sop_uid, exc) from exc


# --------------------------------------------------------------------------- metadata


def wants_gzip(request: Request) -> bool:
    """True if Accept-Encoding allows gzip (explicitly, or through ``*``) with q > 0."""
    star: bool | None = None
    for item in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            return q > 0
        if coding == "*":
            star = q > 0
    return bool(star)


async def metadata(request: Request) -> Response:
    """GET .../metadata at study, series and instance level (PS3.18 10.4.1.1.2)."""
    ctx, scope = context(request), scope_of(request)
    ranges = accept_ranges(request)
    refs = await load_instances(request, scope)
    choice = choose(request, ranges, [Offer(DICOM_JSON), Offer("application/json")])
    ids = [ref.id for ref in refs]
    gzip = wants_gzip(request)
    headers = {"Vary": "Accept-Encoding"}
    if gzip:
        headers["Content-Encoding"] = "gzip"
    body = _metadata_body(
        ctx, principal(request).account_id, ids, dicomweb_base(request).encode(), gzip
    )
    return AbortableStreamingResponse(body, media_type=choice.media_type, headers=headers)


async def _metadata_body(
    ctx: AppContext, account_id: int, ids: list[int], base: bytes, gzip: bool
) -> AsyncIterator[bytes]:
    """``[`` + rows joined by ``,`` + ``]``, fetched, rebased and (optionally) compressed
    batch by batch in a worker thread, so neither the database nor zlib blocks the loop."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31) if gzip else None
    state = {"opened": False, "rows": 0}

    def encode(data: bytes, final: bool = False) -> bytes:
        if compressor is None:
            return data
        out = compressor.compress(data)
        return out + compressor.flush() if final else out

    def work(batch: list[int]) -> bytes:
        with ctx.db.session() as session:
            rows = fetch_metadata(session, account_id, batch)
        head = b"" if state["opened"] else b"["
        lead = b"," if rows and state["rows"] else b""
        state["opened"] = True
        state["rows"] += len(rows)
        return encode(head + lead + b",".join(row.replace(_BULK_BASE, base) for row in rows))

    for start in range(0, len(ids), _METADATA_BATCH):
        batch = ids[start : start + _METADATA_BATCH]
        try:
            chunk = await in_thread(lambda batch=batch: work(batch))  # type: ignore[misc]
        except Exception as exc:
            raise abort("metadata of %d instance(s): %r", len(ids), exc) from exc
        if chunk:
            yield chunk
    yield encode((b"" if state["opened"] else b"[") + b"]", final=True)


# --------------------------------------------------------------------------- bulk data


def _bulk_offers() -> list[Offer]:
    return [Offer("multipart/related", OCTET), Offer(OCTET)]


async def bulkdata(request: Request) -> Response:
    """GET .../instances/{sop}/bulkdata/{path}: the element at the BulkDataURI."""
    ctx, scope = context(request), scope_of(request)
    path = str(request.path_params.get("path", "")).strip("/")
    if not _BULK_PATH.fullmatch(path):
        raise HttpError(400, f"malformed bulk data path {path[:80]!r}")
    path = path.upper()
    ranges = accept_ranges(request)
    detail = await load_instance(request, scope)
    choice = choose(request, ranges, _bulk_offers())
    ref = detail.ref
    ranges_by_path = orjson.loads(detail.bulk_json) if detail.bulk_json else None
    if ranges_by_path is not None and path in ranges_by_path:
        offset, length = ranges_by_path[path]
        data = await read_blob_range(ctx.blobs, ref, int(offset), int(length))
    elif ranges_by_path is None:
        found = await _bulk_from_file(ctx.blobs, ref, path)
        if found is None:
            raise HttpError(404, f"instance {ref.sop_uid} has no bulk data at {path}")
        data = found
    else:
        raise HttpError(404, f"instance {ref.sop_uid} has no bulk data at {path}")
    part_type = OCTET
    if path == "7FE00010" and UID(ref.transfer_syntax_uid).is_encapsulated:
        part_type = f"{OCTET}; transfer-syntax={ref.transfer_syntax_uid}"
    if choice.part_type is None:
        return Response(data, media_type=part_type)
    boundary = new_boundary()
    body = part_header(boundary, {"Content-Type": part_type}, first=True) + data
    body += closing_delimiter(boundary)
    return Response(body, media_type=multipart_content_type(boundary, OCTET))


async def _bulk_from_file(blobs: BlobStore, ref: InstanceRef, path: str) -> bytes | None:
    """Read a bulk element with pydicom (big endian / deflated files have no ranges)."""

    def run() -> bytes | None:
        with blobs.open(ref.blob_key) as handle:
            ds = dcmread(handle, force=True)
        steps = path.split("/")
        current = ds
        for i in range(0, len(steps) - 1, 2):
            seq = current.get(int(steps[i], 16))
            index = int(steps[i + 1])
            if seq is None or seq.VR != "SQ" or index >= len(seq.value):
                return None
            current = seq.value[index]
        element = current.get(int(steps[-1], 16))
        if element is None or element.VR not in _BINARY_VRS:
            return None
        value = element.value
        if not isinstance(value, bytes):
            return None
        width = _SWAP_WIDTH.get(element.VR, 1)
        if not ds.is_little_endian and width > 1 and len(value) % width == 0:
            value = np.frombuffer(value, dtype=f">u{width}").astype(f"<u{width}").tobytes()
        return value

    try:
        return await in_thread(run)
    except (BlobNotFound, FileNotFoundError):
        raise StoredFileError(ref.sop_uid) from None
    except (ValueError, KeyError, TypeError, AttributeError, EOFError) as exc:
        log.error("cannot read bulk data %s of instance %s: %r", path, ref.sop_uid, exc)
        raise StoredFileError(ref.sop_uid, "damaged (cannot be parsed)") from None


# --------------------------------------------------------------------------- frames


def parse_frame_numbers(text: str, count: int | None, sop_uid: str) -> list[int]:
    """``1`` or ``1,3,5`` -> [1, 3, 5]; 400 for junk or 0, 404 beyond the last frame."""
    numbers: list[int] = []
    for item in text.split(","):
        item = item.strip()
        if not (item.isascii() and item.isdigit()) or len(item) > 9:
            raise HttpError(400, f"invalid frame number {item[:20]!r}: use 1-based integers")
        number = int(item)
        if number < 1:
            raise HttpError(400, "frame numbers start at 1")
        numbers.append(number)
    if count is None:
        raise HttpError(404, f"instance {sop_uid} has no pixel data (no frames)")
    for number in numbers:
        if number > count:
            raise HttpError(
                404, f"frame {number} does not exist: instance {sop_uid} has {count} frame(s)"
            )
    return numbers


def _frame_offers(stored: str, cuttable: bool) -> list[Offer]:
    offers = [Offer("multipart/related", OCTET, (EVLE, "*"), EVLE)]
    if cuttable and stored in FRAME_MEDIA_TYPES:
        offers += [Offer("multipart/related", t, (stored,)) for t in FRAME_MEDIA_TYPES[stored]]
    return offers


async def frames(request: Request) -> Response:
    """GET .../instances/{sop}/frames/{list} as multipart/related.

    ``application/octet-stream`` (the default, ``*/*``): uncompressed little-endian
    frames; read straight from the file for native little-endian instances, otherwise
    decoded (colour as :mod:`openpacs.dicom.pixels` describes). With ``transfer-syntax=*``
    compressed frames come as stored, labelled per PS3.18 Table 8.7.3-5 (``image/jpeg``,
    ``image/jls``, ``image/jp2``, ``image/jpx``, ``image/jphc``, ``image/jxl``,
    ``image/dicom-rle``); asking for that media type directly works too.
    """
    ctx, scope = context(request), scope_of(request)
    ranges = accept_ranges(request)
    detail = await load_instance(request, scope)
    ref = detail.ref
    numbers = parse_frame_numbers(
        str(request.path_params["frames"]), ref.number_of_frames, ref.sop_uid
    )
    stored = ref.transfer_syntax_uid
    frame_ranges: list[list[list[int]]] | None = (
        orjson.loads(detail.frames_json) if detail.frames_json else None
    )
    choice = choose(request, ranges, _frame_offers(stored, frame_ranges is not None))
    as_stored = choice.transfer_syntax == stored or (
        choice.transfer_syntax == "*" and frame_ranges is not None
    )
    if stored in _NATIVE_LE and frame_ranges is not None:
        as_stored, label_ts = True, EVLE
    elif as_stored:
        label_ts = stored
    else:
        label_ts = EVLE
        problem = transcode_problem(stored, EVLE, has_pixel_data=True)
        if problem:
            raise HttpError(406, f"frames of instance {ref.sop_uid} cannot be decoded: {problem}")
    part_type = choice.part_type or OCTET
    if label_ts in FRAME_MEDIA_TYPES and part_type == OCTET and label_ts != EVLE:
        part_type = FRAME_MEDIA_TYPES[label_ts][0]
    content_type = f"{part_type}; transfer-syntax={label_ts}"
    location = instance_path(ref)
    base = dicomweb_base(request)

    async def one(number: int) -> bytes:
        if as_stored:
            assert frame_ranges is not None
            pieces = [
                await read_blob_range(ctx.blobs, ref, int(offset), int(length))
                for offset, length in frame_ranges[number - 1]
            ]
            return b"".join(pieces)
        return await _decode(ctx.blobs, ref, number - 1)

    first = await one(numbers[0])  # errors before the first byte keep their status
    boundary = new_boundary()

    async def body() -> AsyncIterator[bytes]:
        for i, number in enumerate(numbers):
            try:
                data = first if i == 0 else await one(number)
            except HttpError as exc:
                raise abort("frames of %s: %s", ref.sop_uid, exc.reason) from exc
            headers = {
                "Content-Type": content_type,
                "Content-Location": location.frames(base, number),
            }
            yield part_header(boundary, headers, first=i == 0) + data
        yield closing_delimiter(boundary)

    return AbortableStreamingResponse(
        body(), media_type=multipart_content_type(boundary, part_type.split(";")[0], label_ts)
    )


async def _decode(blobs: BlobStore, ref: InstanceRef, index: int) -> bytes:
    def run() -> bytes:
        with blobs.open(ref.blob_key) as handle:
            return decode_frame(handle, index)

    try:
        return await in_thread(run)
    except (BlobNotFound, FileNotFoundError):
        log.error("stored file of instance %s is missing (blob %s)", ref.sop_uid, ref.blob_key)
        raise StoredFileError(ref.sop_uid) from None
    except PixelDataError as exc:
        log.error("cannot decode frame %d of instance %s: %s", index + 1, ref.sop_uid, exc)
        raise HttpError(
            500, f"cannot decode frame {index + 1} of instance {ref.sop_uid}: {exc}"
        ) from None
