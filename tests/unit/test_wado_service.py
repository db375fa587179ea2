"""WADO decisions of services/wado.py and services/frames.py: offers, transcodability,
frame plans, frame lists, bulk data paths, render jobs, and ZIP member names; plus the
frame media-type table of protocol/media_types.py. Small hand-made references, no files
except where bytes are read."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from openpacs.protocol.accept import Choice
from openpacs.protocol.media_types import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    FRAME_MEDIA_TYPES,
    OCTET_STREAM,
    frame_media_type,
)
from openpacs.services.errors import BadRequest, NotAcceptable, NotFound, StoredFileError
from openpacs.services.frames import (
    instance_render_jobs,
    parse_frame_numbers,
    plan_frames,
    read_frame,
    resource_render_jobs,
)
from openpacs.services.retrieve import InstanceDetail, InstanceRef, Scope
from openpacs.services.wado import (
    check_transcodable,
    parse_bulk_path,
    read_bulk,
    retrieve_offers,
)
from openpacs.storage.base import new_blob_key
from openpacs.storage.filesystem import FilesystemBlobStore
from openpacs.web.dicomweb.wado_zip import member_names

EVLE = EXPLICIT_VR_LITTLE_ENDIAN
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_LS = "1.2.840.10008.1.2.4.80"
RLE = "1.2.840.10008.1.2.5"
BASE = "http://pacs.example/dicomweb"


def ref(
    sop: str = "1.4",
    ts: str = EVLE,
    frames: int | None = 1,
    series_id: int = 1,
    study: str = "1.2",
    key: str = "",
) -> InstanceRef:
    return InstanceRef(
        1, study, "1.3", sop, "1.2.840.10008.5.1.4.1.1.2", ts, key, 10, frames, series_id
    )


def stored(tmp: Path, data: bytes) -> tuple[FilesystemBlobStore, str]:
    blobs, key = FilesystemBlobStore(tmp / "blobs"), new_blob_key()
    blobs.put_bytes(key, data)
    return blobs, key


def detail(instance: InstanceRef, ranges: object = None, bulk: object = None) -> InstanceDetail:
    frames_json = orjson.dumps(ranges) if ranges is not None else None
    bulk_json = orjson.dumps(bulk) if bulk is not None else None
    return InstanceDetail(instance, 8, 8, 16, frames_json, bulk_json)


# --------------------------------------------------------------------------- media types


def test_every_compressed_frame_syntax_has_its_media_type() -> None:
    assert frame_media_type(JPEG_BASELINE) == "image/jpeg"
    assert frame_media_type(JPEG_LS) == "image/jls"
    assert FRAME_MEDIA_TYPES[JPEG_LS] == ("image/jls", "image/x-jls")
    assert frame_media_type(RLE) == "image/dicom-rle"
    assert frame_media_type(EVLE) == OCTET_STREAM
    assert all(
        names and all(n.startswith("image/") for n in names) for names in FRAME_MEDIA_TYPES.values()
    )


# --------------------------------------------------------------------------- retrieve


def test_retrieve_offers_multipart_first_then_single_or_zip() -> None:
    [multi, single] = retrieve_offers(Scope("1.2", "1.3", "1.4"), [ref()])
    assert (multi.media_type, multi.part_type, multi.default_transfer_syntax) == (
        "multipart/related",
        "application/dicom",
        "*",
    )
    assert "*" in multi.transfer_syntaxes and EVLE in multi.transfer_syntaxes
    assert single.media_type == "application/dicom"
    [_, zip_offer] = retrieve_offers(Scope("1.2"), [ref(ts=JPEG_BASELINE)])
    assert zip_offer.media_type == "application/zip"
    assert (
        JPEG_BASELINE in retrieve_offers(Scope("1.2"), [ref(ts=JPEG_BASELINE)])[0].transfer_syntaxes
    )


def test_a_lossy_instance_cannot_be_sent_losslessly_and_the_refusal_names_it() -> None:
    check_transcodable([ref(ts=JPEG_BASELINE)], "*")
    check_transcodable([ref(ts=JPEG_BASELINE)], EVLE)  # decoded: allowed
    with pytest.raises(NotAcceptable, match=r"instance 9\.9 cannot be sent in transfer syntax"):
        check_transcodable([ref(), ref(sop="9.9", ts=JPEG_BASELINE)], RLE)


# --------------------------------------------------------------------------- frames


def test_frame_number_lists() -> None:
    assert parse_frame_numbers("1", 1, "x") == [1]
    assert parse_frame_numbers(" 3, 1 ,2", 3, "x") == [3, 1, 2]
    for bad in ("", "0", "a", "1,", "1.0", "-2", "١", "9" * 12):
        with pytest.raises(BadRequest):
            parse_frame_numbers(bad, 5, "x")
    with pytest.raises(NotFound, match="has 5 frame"):
        parse_frame_numbers("6", 5, "x")
    with pytest.raises(NotFound, match="no pixel data"):
        parse_frame_numbers("1", None, "x")


def test_native_frames_are_cut_from_the_file_whatever_was_asked() -> None:
    native = detail(ref(), ranges=[[[100, 128]]])
    for ts in (EVLE, "*"):
        plan = plan_frames(native, Choice("multipart/related", OCTET_STREAM, ts))
        assert plan.ranges == [[[100, 128]]]
        assert plan.content_type == f"{OCTET_STREAM}; transfer-syntax={EVLE}"


def test_compressed_frames_as_stored_or_decoded() -> None:
    jpeg = detail(ref(ts=JPEG_BASELINE), ranges=[[[100, 50], [158, 20]]])
    stored = plan_frames(jpeg, Choice("multipart/related", OCTET_STREAM, "*"))
    assert stored.ranges is not None
    assert stored.content_type == f"image/jpeg; transfer-syntax={JPEG_BASELINE}"
    named = plan_frames(jpeg, Choice("multipart/related", "image/jpeg", JPEG_BASELINE))
    assert named.part_type == "image/jpeg" and named.ranges is not None
    decoded = plan_frames(jpeg, Choice("multipart/related", OCTET_STREAM, EVLE))
    assert decoded.ranges is None
    assert decoded.content_type == f"{OCTET_STREAM}; transfer-syntax={EVLE}"


def test_frames_that_cannot_be_cut_are_decoded_even_for_star() -> None:
    uncut = detail(ref(ts=JPEG_BASELINE), ranges=None)
    plan = plan_frames(uncut, Choice("multipart/related", OCTET_STREAM, "*"))
    assert plan.ranges is None and plan.transfer_syntax == EVLE


def test_reading_a_frame_joins_its_ranges_and_a_short_file_is_damaged(tmp_path: Path) -> None:
    blobs, key = stored(tmp_path, b"0123456789abcdefghij")
    jpeg = detail(ref(ts=JPEG_BASELINE, frames=2, key=key), ranges=[[[0, 2], [10, 3]], [[5, 5]]])
    plan = plan_frames(jpeg, Choice("multipart/related", OCTET_STREAM, "*"))
    assert read_frame(blobs, plan, 1) == b"01abc"
    assert read_frame(blobs, plan, 2) == b"56789"
    broken = replace(plan, ranges=[[[15, 10]]])
    with pytest.raises(StoredFileError, match="shorter than when it was stored"):
        read_frame(blobs, broken, 1)
    gone = replace(plan, ref=ref(key=new_blob_key()))
    with pytest.raises(StoredFileError, match="is missing"):
        read_frame(blobs, gone, 1)


# --------------------------------------------------------------------------- bulk data


def test_bulk_data_paths() -> None:
    assert parse_bulk_path("7fe00010") == "7FE00010"
    assert parse_bulk_path("/00091010/0/7fe00010/") == "00091010/0/7FE00010"
    for bad in ("", "7FE0001", "00091010/x/7FE00010", "../etc/passwd"):
        with pytest.raises(BadRequest, match="malformed bulk data path"):
            parse_bulk_path(bad)


def test_bulk_data_comes_from_its_range_and_encapsulated_pixels_name_their_syntax(
    tmp_path: Path,
) -> None:
    blobs, key = stored(tmp_path, b"0123456789")
    jpeg = detail(ref(ts=JPEG_BASELINE, key=key), bulk={"7FE00010": [2, 3], "00091010": [0, 1]})
    pixels = read_bulk(blobs, jpeg, "7FE00010")
    assert pixels.data == b"234"
    assert pixels.media_type == f"{OCTET_STREAM}; transfer-syntax={JPEG_BASELINE}"
    assert read_bulk(blobs, jpeg, "00091010").media_type == OCTET_STREAM
    with pytest.raises(NotFound, match="no bulk data at 00100010"):
        read_bulk(blobs, jpeg, "00100010")


# --------------------------------------------------------------------------- rendered


def test_instance_render_jobs() -> None:
    instance = ref(frames=5)
    url = f"{BASE}/studies/1.2/series/1.3/instances/1.4"
    [first] = instance_render_jobs(instance, None, thumbnail=False, base=BASE)
    assert (first.index, first.location) == (0, f"{url}/rendered")
    [middle] = instance_render_jobs(instance, None, thumbnail=True, base=BASE)
    assert (middle.index, middle.location) == (2, f"{url}/thumbnail")
    listed = instance_render_jobs(instance, "2,4", thumbnail=False, base=BASE)
    assert [(j.index, j.location) for j in listed] == [
        (1, f"{url}/frames/2/rendered"),
        (3, f"{url}/frames/4/rendered"),
    ]
    assert len(instance_render_jobs(instance, "2,4", thumbnail=True, base=BASE)) == 1
    with pytest.raises(NotFound, match="no pixel data"):
        instance_render_jobs(ref(frames=None), None, thumbnail=False, base=BASE)


def test_study_render_jobs_leave_out_instances_without_pixels() -> None:
    refs = [ref(sop="1", frames=None), ref(sop="2"), ref(sop="3"), ref(sop="4", series_id=2)]
    jobs = resource_render_jobs(refs, "study 1.2", thumbnail=False, base=BASE)
    assert [j.ref.sop_uid for j in jobs] == ["2", "3", "4"]
    [thumb] = resource_render_jobs(refs, "study 1.2", thumbnail=True, base=BASE)
    assert thumb.ref.sop_uid == "3" and thumb.location.endswith("/instances/3/thumbnail")
    with pytest.raises(NotFound, match=r"study 1\.2 has no images"):
        resource_render_jobs(refs[:1], "study 1.2", thumbnail=False, base=BASE)


# --------------------------------------------------------------------------- ZIP


def test_zip_member_names_come_from_positions() -> None:
    refs = [ref("1", series_id=10, study="1.2.3"), ref("2", series_id=10, study="1.2.3")]
    refs.append(ref("3", series_id=7, study="1.2.3"))
    assert member_names(refs) == [
        "1.2.3/001/00001.dcm",
        "1.2.3/001/00002.dcm",
        "1.2.3/002/00001.dcm",
    ]
    hostile = [
        ref("1", series_id=1, study="../../etc/passwd"),
        ref("2", series_id=2, study="1.2/../x"),
    ]
    assert member_names(hostile) == ["study1/001/00001.dcm", "study2/002/00001.dcm"]
