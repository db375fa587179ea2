"""Rendered images and thumbnails (PS3.18 10.4.1.1.3 rendered, 10.4.1.1.4 thumbnail).

Media types: ``image/jpeg`` (default), ``image/png``, ``image/gif``, from Accept or the
``accept`` query parameter. Query parameters: ``window=center,width[,function]``,
``viewport=vw,vh[,sx,sy,sw,sh]``, ``quality=1..100`` (JPEG); others are ignored.

* Instance ``/rendered``: the first frame; frame ``/frames/{list}/rendered``: each listed
  frame (one frame: a single image, several: ``multipart/related`` of images).
* Study and series ``/rendered``: ``multipart/related`` with one image per instance
  (first frame) in retrieval order; instances without pixel data are left out, an image
  that cannot be rendered is left out and logged.
* ``/thumbnail`` (default viewport 128x128): instance = its middle frame, frame = that
  frame, study and series = the thumbnail of a representative instance (the middle image
  of the first series with images).

Decoding and encoding are CPU-bound and run in worker threads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from openpacs.dicom.pixels import PixelDataError
from openpacs.dicom.render import (
    RenderError,
    Viewport,
    Window,
    parse_viewport_region,
    parse_window,
    render_frame,
)
from openpacs.protocol.accept import Offer
from openpacs.protocol.multipart import (
    closing_delimiter,
    multipart_content_type,
    new_boundary,
    part_header,
)
from openpacs.services.retrieve import InstanceRef, representative_instance
from openpacs.storage.base import BlobNotFound, BlobStore
from openpacs.web.context import context, dicomweb_base
from openpacs.web.dicomweb.wado import instance_path, parse_frame_numbers
from openpacs.web.dicomweb.wado_common import (
    AbortableStreamingResponse,
    StoredFileError,
    abort,
    accept_ranges,
    choose,
    in_thread,
    load_instance,
    load_instances,
    log,
    scope_of,
)
from openpacs.web.errors import HttpError

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif")
THUMBNAIL_SIZE = 128
_DEFAULT_QUALITY = 90
_THUMBNAIL_QUALITY = 80


@dataclass(frozen=True)
class RenderParams:
    window: Window | None
    viewport: Viewport | None
    quality: int


def render_params(request: Request, *, thumbnail: bool) -> RenderParams:
    """Query parameters, checked before any work (400 with the reason)."""
    query = request.query_params
    try:
        window = parse_window(query["window"]) if query.get("window") and not thumbnail else None
        viewport = parse_viewport_region(query["viewport"]) if query.get("viewport") else None
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    default = _THUMBNAIL_QUALITY if thumbnail else _DEFAULT_QUALITY
    raw = query.get("quality", "").strip()
    if raw and (not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100):
        raise HttpError(400, f"quality must be an integer from 1 to 100, got {raw[:20]!r}")
    quality = int(raw) if raw else default
    if thumbnail and viewport is None:
        viewport = Viewport(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    return RenderParams(window, viewport, quality)


def _offers(multi: bool) -> list[Offer]:
    single = [Offer(t) for t in IMAGE_TYPES]
    parts = [Offer("multipart/related", t) for t in IMAGE_TYPES]
    return parts + single if multi else single + parts


async def render(
    blobs: BlobStore, ref: InstanceRef, index: int, media_type: str, params: RenderParams
) -> bytes:
    """Render frame ``index`` (0-based) of an instance in a worker thread."""

    def run() -> bytes:
        with blobs.open(ref.blob_key) as handle:
            return render_frame(
                handle,
                index,
                media_type=media_type,
                window=params.window,
                viewport=params.viewport,
                quality=params.quality,
            )

    try:
        return await in_thread(run)
    except (BlobNotFound, FileNotFoundError):
        log.error("stored file of instance %s is missing (blob %s)", ref.sop_uid, ref.blob_key)
        raise StoredFileError(ref.sop_uid) from None
    except RenderError as exc:
        raise HttpError(406, f"instance {ref.sop_uid} cannot be rendered: {exc}") from None
    except PixelDataError as exc:
        log.error("cannot decode frame %d of instance %s: %s", index + 1, ref.sop_uid, exc)
        raise HttpError(
            500, f"cannot decode frame {index + 1} of instance {ref.sop_uid}: {exc}"
        ) from None


def _no_pixels(ref: InstanceRef) -> HttpError:
    return HttpError(404, f"instance {ref.sop_uid} has no pixel data to render")


async def rendered(request: Request) -> Response:
    """GET .../rendered at study, series, instance and frame level."""
    return await _rendered(request, thumbnail=False)


async def thumbnail(request: Request) -> Response:
    """GET .../thumbnail at study, series, instance and frame level."""
    return await _rendered(request, thumbnail=True)


async def _rendered(request: Request, *, thumbnail: bool) -> Response:
    ctx, scope = context(request), scope_of(request)
    params = render_params(request, thumbnail=thumbnail)
    ranges = accept_ranges(request)
    frames_text = request.path_params.get("frames")
    base = dicomweb_base(request)
    suffix = "thumbnail" if thumbnail else "rendered"

    jobs: list[tuple[InstanceRef, int, str]]  # (instance, 0-based frame, Content-Location)
    if scope.level == "instance":
        ref = (await load_instance(request, scope)).ref
        path = instance_path(ref)
        if frames_text is not None:
            numbers = parse_frame_numbers(str(frames_text), ref.number_of_frames, ref.sop_uid)
            if thumbnail:
                numbers = numbers[:1]
            jobs = [(ref, n - 1, path.url(base, "frames", str(n), suffix)) for n in numbers]
        elif ref.number_of_frames is None:
            raise _no_pixels(ref)
        else:
            index = ref.number_of_frames // 2 if thumbnail else 0
            jobs = [(ref, index, path.url(base, suffix))]
    else:
        refs = await load_instances(request, scope)
        if thumbnail:
            chosen = representative_instance(refs)
            if chosen is None:
                raise HttpError(404, f"{scope.describe()} has no images")
            n = chosen.number_of_frames or 1
            jobs = [(chosen, n // 2, instance_path(chosen).url(base, suffix))]
        else:
            jobs = [(r, 0, instance_path(r).url(base, suffix)) for r in refs if r.has_pixel_data]
            if not jobs:
                raise HttpError(404, f"{scope.describe()} has no images")

    multi_resource = len(jobs) > 1 or (scope.level != "instance" and not thumbnail)
    choice = choose(request, ranges, _offers(multi_resource))
    media_type = choice.part_type or choice.media_type
    if not multi_resource and choice.part_type is None:
        ref, index, _ = jobs[0]
        image = await render(ctx.blobs, ref, index, media_type, params)
        return Response(image, media_type=media_type)
    skip = scope.level != "instance"  # study/series: leave out what cannot be rendered
    first_at, first = await _first_image(ctx.blobs, jobs, media_type, params, skip=skip)
    boundary = new_boundary()

    async def body() -> AsyncIterator[bytes]:
        opened = False
        for pos in range(first_at, len(jobs)):
            ref, index, location = jobs[pos]
            if pos == first_at:
                image = first
            else:
                try:
                    image = await render(ctx.blobs, ref, index, media_type, params)
                except HttpError as exc:
                    if skip and not isinstance(exc, StoredFileError):
                        log.warning(
                            "rendered %s: left out %s: %s",
                            scope.describe(),
                            ref.sop_uid,
                            exc.reason,
                        )
                        continue
                    raise abort(
                        "rendered %s at %s: %s", scope.describe(), ref.sop_uid, exc.reason
                    ) from exc
            headers = {"Content-Type": media_type, "Content-Location": location}
            yield part_header(boundary, headers, first=not opened) + image
            opened = True
        yield closing_delimiter(boundary)

    return AbortableStreamingResponse(
        body(), media_type=multipart_content_type(boundary, media_type)
    )


async def _first_image(
    blobs: BlobStore,
    jobs: list[tuple[InstanceRef, int, str]],
    media_type: str,
    params: RenderParams,
    *,
    skip: bool,
) -> tuple[int, bytes]:
    """Render the first job that can be rendered (all errors before the response starts)."""
    last: HttpError | None = None
    for pos, (ref, index, _) in enumerate(jobs):
        try:
            return pos, await render(blobs, ref, index, media_type, params)
        except StoredFileError:
            raise
        except HttpError as exc:
            if not skip:
                raise
            log.warning("rendered: left out %s: %s", ref.sop_uid, exc.reason)
            last = exc
    assert last is not None
    raise last
