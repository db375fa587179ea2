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

from starlette.requests import Request
from starlette.responses import Response

from openpacs.dicom.render_params import Viewport, parse_viewport_region, parse_window
from openpacs.protocol.accept import Offer
from openpacs.protocol.multipart import (
    closing_delimiter,
    multipart_content_type,
    new_boundary,
    part_header,
)
from openpacs.services.errors import ServiceError, StoredFileError
from openpacs.services.frames import (
    RenderJob,
    RenderParams,
    instance_render_jobs,
    render_image,
    render_key,
    resource_render_jobs,
)
from openpacs.web.context import AppContext, context, dicomweb_base
from openpacs.web.dicomweb.wado_common import (
    AbortableStreamingResponse,
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


async def render(ctx: AppContext, job: RenderJob, media_type: str, params: RenderParams) -> bytes:
    """One job's image: made before (the render cache), else rendered in a worker thread."""
    key = render_key(job, media_type, params)
    image = ctx.renders.get(key)
    if image is None:
        image = await in_thread(lambda: render_image(ctx.blobs, job, media_type, params))
        ctx.renders.put(key, image)
    return image


async def rendered(request: Request) -> Response:
    """GET .../rendered at study, series, instance and frame level."""
    return await _rendered(request, thumbnail=False)


async def thumbnail(request: Request) -> Response:
    """GET .../thumbnail at study, series, instance and frame level."""
    return await _rendered(request, thumbnail=True)


async def _jobs(request: Request, *, thumbnail: bool) -> list[RenderJob]:
    scope, base = scope_of(request), dicomweb_base(request)
    if scope.level == "instance":
        ref = (await load_instance(request, scope)).ref
        frames = request.path_params.get("frames")
        frames_text = None if frames is None else str(frames)
        return instance_render_jobs(ref, frames_text, thumbnail=thumbnail, base=base)
    refs = await load_instances(request, scope)
    return resource_render_jobs(refs, scope.describe(), thumbnail=thumbnail, base=base)


async def _rendered(request: Request, *, thumbnail: bool) -> Response:
    ctx, scope = context(request), scope_of(request)
    params = render_params(request, thumbnail=thumbnail)
    ranges = accept_ranges(request)
    jobs = await _jobs(request, thumbnail=thumbnail)
    multi_resource = len(jobs) > 1 or (scope.level != "instance" and not thumbnail)
    choice = choose(request, ranges, _offers(multi_resource))
    media_type = choice.part_type or choice.media_type
    if not multi_resource and choice.part_type is None:
        image = await render(ctx, jobs[0], media_type, params)
        return Response(image, media_type=media_type)
    skip = scope.level != "instance"  # study/series: leave out what cannot be rendered
    first_at, first = await _first_image(ctx, jobs, media_type, params, skip=skip)
    boundary = new_boundary()

    async def body() -> AsyncIterator[bytes]:
        opened = False
        for pos in range(first_at, len(jobs)):
            job = jobs[pos]
            if pos == first_at:
                image = first
            else:
                try:
                    image = await render(ctx, job, media_type, params)
                except ServiceError as exc:
                    if skip and not isinstance(exc, StoredFileError):
                        log.warning(
                            "rendered %s: left out %s: %s",
                            scope.describe(),
                            job.ref.sop_uid,
                            exc.reason,
                        )
                        continue
                    raise abort(
                        "rendered %s at %s: %s", scope.describe(), job.ref.sop_uid, exc.reason
                    ) from exc
            headers = {"Content-Type": media_type, "Content-Location": job.location}
            yield part_header(boundary, headers, first=not opened) + image
            opened = True
        yield closing_delimiter(boundary)

    return AbortableStreamingResponse(
        body(), media_type=multipart_content_type(boundary, media_type)
    )


async def _first_image(
    ctx: AppContext,
    jobs: list[RenderJob],
    media_type: str,
    params: RenderParams,
    *,
    skip: bool,
) -> tuple[int, bytes]:
    """Render the first job that can be rendered (all errors before the response starts)."""
    last: ServiceError | None = None
    for pos, job in enumerate(jobs):
        try:
            return pos, await render(ctx, job, media_type, params)
        except StoredFileError:
            raise
        except ServiceError as exc:
            if not skip:
                raise
            log.warning("rendered: left out %s: %s", job.ref.sop_uid, exc.reason)
            last = exc
    assert last is not None
    raise last
