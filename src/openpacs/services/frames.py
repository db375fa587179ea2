"""Frames and rendered images on the retrieve side: which frames, in which form, and their
bytes (PS3.18 10.4.1.1.3-4, 8.7.3.5).

Frames (``.../frames/{list}``):

* ``application/octet-stream`` (the default): uncompressed little-endian frames, cut
  from the stored file with the byte ranges computed at ingest when the instance is
  native little endian, otherwise decoded (colour as dicom/pixels.py describes);
* with ``transfer-syntax=*``, or the frame media type of the stored syntax
  (protocol/media_types.py), compressed frames are sent as stored, labelled with that
  media type.

Rendered images: the first frame of each instance with pixel data (study, series,
instance) or each listed frame; a thumbnail is the middle frame of an instance, or of
the representative instance of a study or series. Reading and rendering block: run them
in worker threads.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from openpacs.dicom.render_params import RenderError, Viewport, Window
from openpacs.protocol.accept import Choice, Offer
from openpacs.protocol.media_types import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    FRAME_MEDIA_TYPES,
    NATIVE_LITTLE_ENDIAN,
    OCTET_STREAM,
    frame_media_type,
)
from openpacs.services.errors import BadRequest, CannotDecode, NotAcceptable, NotFound
from openpacs.services.retrieve import InstanceDetail, InstanceRef, representative_instance
from openpacs.services.stored_files import read_stored_range, stored_file
from openpacs.services.wado import instance_path
from openpacs.storage.base import BlobStore

log = logging.getLogger("openpacs.wado")

EVLE = EXPLICIT_VR_LITTLE_ENDIAN
#: Byte ranges of each frame in the stored file: frame -> [[offset, length], ...].
FrameRanges = list[list[list[int]]]


def parse_frame_numbers(text: str, count: int | None, sop_uid: str) -> list[int]:
    """``1`` or ``1,3,5`` -> [1, 3, 5]; BadRequest for junk or 0, NotFound beyond the
    last frame or for an instance without pixel data."""
    numbers: list[int] = []
    for item in text.split(","):
        item = item.strip()
        if not (item.isascii() and item.isdigit()) or len(item) > 9:
            raise BadRequest(f"invalid frame number {item[:20]!r}: use 1-based integers")
        number = int(item)
        if number < 1:
            raise BadRequest("frame numbers start at 1")
        numbers.append(number)
    if count is None:
        raise NotFound(f"instance {sop_uid} has no pixel data (no frames)")
    for number in numbers:
        if number > count:
            raise NotFound(
                f"frame {number} does not exist: instance {sop_uid} has {count} frame(s)"
            )
    return numbers


# --------------------------------------------------------------------------- frames


def _ranges(detail: InstanceDetail) -> FrameRanges | None:
    ranges: FrameRanges | None = orjson.loads(detail.frames_json) if detail.frames_json else None
    return ranges


def frame_offers(detail: InstanceDetail) -> list[Offer]:
    """Uncompressed first; the stored compressed form when its frames can be cut out."""
    stored = detail.ref.transfer_syntax_uid
    offers = [Offer("multipart/related", OCTET_STREAM, (EVLE, "*"), EVLE)]
    if detail.frames_json and stored in FRAME_MEDIA_TYPES:
        offers += [Offer("multipart/related", t, (stored,)) for t in FRAME_MEDIA_TYPES[stored]]
    return offers


@dataclass(frozen=True)
class FramePlan:
    """How the frames of one instance are sent: cut as stored, or decoded."""

    ref: InstanceRef
    # Byte ranges per frame when cut from the file as stored; None when decoded.
    ranges: FrameRanges | None
    transfer_syntax: str  # what each part is labelled with
    part_type: str

    @property
    def content_type(self) -> str:
        return f"{self.part_type}; transfer-syntax={self.transfer_syntax}"


def plan_frames(detail: InstanceDetail, choice: Choice) -> FramePlan:
    """The plan for the negotiated ``choice`` (from :func:`frame_offers`); NotAcceptable
    when the frames would have to be decoded and cannot be."""
    ref, ranges = detail.ref, _ranges(detail)
    stored = ref.transfer_syntax_uid
    as_stored = choice.transfer_syntax == stored or (
        choice.transfer_syntax == "*" and ranges is not None
    )
    if stored in NATIVE_LITTLE_ENDIAN and ranges is not None:
        as_stored, label = True, EVLE  # native frames are the uncompressed bytes asked for
    elif as_stored:
        label = stored
    else:
        label = EVLE
        # Decoding (pydicom, NumPy, Pillow) loads at first use or after the first answers
        # (web/warm_up.py), not before a restarted server answers.
        from openpacs.dicom.transcode import transcode_problem

        problem = transcode_problem(stored, EVLE, has_pixel_data=True)
        if problem:
            raise NotAcceptable(f"frames of instance {ref.sop_uid} cannot be decoded: {problem}")
    part_type = choice.part_type or OCTET_STREAM
    if part_type == OCTET_STREAM and label != EVLE:
        part_type = frame_media_type(label)
    return FramePlan(ref, ranges if as_stored else None, label, part_type)


def read_frame(blobs: BlobStore, plan: FramePlan, number: int) -> bytes:
    """Frame ``number`` (1-based, checked by :func:`parse_frame_numbers`) as planned."""
    if plan.ranges is not None:
        return b"".join(
            read_stored_range(blobs, plan.ref, int(offset), int(length))
            for offset, length in plan.ranges[number - 1]
        )
    return _decoded(blobs, plan.ref, number - 1)


def _decoded(blobs: BlobStore, ref: InstanceRef, index: int) -> bytes:
    from openpacs.dicom.pixels import PixelDataError, decode_frame  # as in plan_frames

    try:
        with stored_file(ref), blobs.open(ref.blob_key) as handle:
            return decode_frame(handle, index)
    except PixelDataError as exc:
        log.warning("cannot decode frame %d of instance %s: %s", index + 1, ref.sop_uid, exc)
        raise CannotDecode(
            f"cannot decode frame {index + 1} of instance {ref.sop_uid}: {exc}"
        ) from None


# --------------------------------------------------------------------------- rendered


@dataclass(frozen=True)
class RenderParams:
    """What the caller asked of each image (parsed from the query by the web face)."""

    window: Window | None
    viewport: Viewport | None
    quality: int


@dataclass(frozen=True)
class RenderJob:
    """One image of a rendered answer: which frame (0-based) of which instance."""

    ref: InstanceRef
    index: int
    location: str  # Content-Location of its part


def instance_render_jobs(
    ref: InstanceRef, frames: str | None, *, thumbnail: bool, base: str
) -> list[RenderJob]:
    """``.../instances/{sop}[/frames/{list}]/rendered|thumbnail``: each listed frame (a
    thumbnail: the first listed), else the first frame (a thumbnail: the middle one)."""
    suffix = "thumbnail" if thumbnail else "rendered"
    path = instance_path(ref)
    if frames is not None:
        numbers = parse_frame_numbers(frames, ref.number_of_frames, ref.sop_uid)
        if thumbnail:
            numbers = numbers[:1]
        return [RenderJob(ref, n - 1, path.url(base, "frames", str(n), suffix)) for n in numbers]
    if ref.number_of_frames is None:
        raise NotFound(f"instance {ref.sop_uid} has no pixel data to render")
    index = ref.number_of_frames // 2 if thumbnail else 0
    return [RenderJob(ref, index, path.url(base, suffix))]


def resource_render_jobs(
    refs: Sequence[InstanceRef], what: str, *, thumbnail: bool, base: str
) -> list[RenderJob]:
    """A study or series (``what`` names it for errors): the first frame of every
    instance with pixel data, or for a thumbnail the representative instance's middle
    frame; NotFound when there is no image."""
    if thumbnail:
        chosen = representative_instance(refs)
        if chosen is None:
            raise NotFound(f"{what} has no images")
        middle = (chosen.number_of_frames or 1) // 2
        return [RenderJob(chosen, middle, instance_path(chosen).url(base, "thumbnail"))]
    jobs = [
        RenderJob(ref, 0, instance_path(ref).url(base, "rendered"))
        for ref in refs
        if ref.has_pixel_data
    ]
    if not jobs:
        raise NotFound(f"{what} has no images")
    return jobs


def render_key(job: RenderJob, media_type: str, params: RenderParams) -> tuple[object, ...]:
    """What the image of ``job`` depends on (see services/render_cache.py)."""
    ref = job.ref
    return (ref.id, ref.blob_key, job.index, media_type, params)


def render_image(blobs: BlobStore, job: RenderJob, media_type: str, params: RenderParams) -> bytes:
    """The image of ``job``; NotAcceptable when it cannot be rendered as asked,
    CannotDecode when its pixel data cannot be decoded."""
    from openpacs.dicom.pixels import PixelDataError  # as in plan_frames
    from openpacs.dicom.render import render_frame

    ref = job.ref
    try:
        with stored_file(ref), blobs.open(ref.blob_key) as handle:
            return render_frame(
                handle,
                job.index,
                media_type=media_type,
                window=params.window,
                viewport=params.viewport,
                quality=params.quality,
            )
    except RenderError as exc:
        raise NotAcceptable(f"instance {ref.sop_uid} cannot be rendered: {exc}") from None
    except PixelDataError as exc:
        log.warning("cannot decode frame %d of instance %s: %s", job.index + 1, ref.sop_uid, exc)
        raise CannotDecode(
            f"cannot decode frame {job.index + 1} of instance {ref.sop_uid}: {exc}"
        ) from None
