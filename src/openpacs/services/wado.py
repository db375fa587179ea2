"""WADO-RS on the retrieve side: what instances can be sent as, and their bytes.

The web handlers (web/dicomweb/wado.py) negotiate among the offers made here and then
ask for the bytes. Decisions taken here:

* Part-10 retrieve: the file as stored for ``*`` or its own syntax (byte-identical);
  any other syntax is transcoded per instance (dicom/transcode.py) into a temporary file
  next to the blobs (``/tmp`` is often a small tmpfs). Whether every instance can be
  converted is known from the index (:func:`check_transcodable`), before any byte.
* Metadata: the DICOM JSON stored at ingest, its BulkDataURIs rebased on the DICOMweb
  root the caller came through (the account's or a share's).
* Bulk data: the element's byte range computed at ingest, read as stored (little
  endian); files without ranges (big endian, deflated) are read with pydicom and
  swapped to little endian.

Functions that read files block: run them in worker threads.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

import orjson

from openpacs.dicom.parsed import BULK_BASE
from openpacs.index.db import Database
from openpacs.protocol.accept import Offer
from openpacs.protocol.media_types import DICOM, OCTET_STREAM, ZIP
from openpacs.protocol.paths import ResourcePath
from openpacs.services.errors import BadRequest, NotAcceptable, NotFound, StoredFileError
from openpacs.services.retrieve import InstanceDetail, InstanceRef, Scope, fetch_metadata
from openpacs.services.stored_files import open_stored, read_stored_range, stored_file
from openpacs.storage.base import BlobStore

log = logging.getLogger("openpacs.wado")

#: Instances whose metadata is fetched (and rebased) per database round trip.
METADATA_BATCH = 256
_BULK_BASE = BULK_BASE.encode()
_BULK_PATH = re.compile(r"[0-9A-Fa-f]{8}(?:/[0-9]{1,6}/[0-9A-Fa-f]{8}){0,16}")
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_SWAP_WIDTH = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_PIXEL_DATA = "7FE00010"


def instance_path(ref: InstanceRef) -> ResourcePath:
    return ResourcePath(ref.study_uid, ref.series_uid, ref.sop_uid)


# --------------------------------------------------------------------------- Part-10 files


def retrieve_offers(scope: Scope, refs: Sequence[InstanceRef]) -> list[Offer]:
    """Multipart DICOM in ``*`` (as stored), any stored syntax or any we can produce;
    a single ``application/dicom`` for an instance, a ZIP for a study or series."""
    # pydicom, NumPy and the codecs load at the first retrieve or in the background once
    # the server answers (web/warm_up.py), not before a restarted server's first answer.
    from openpacs.dicom.transcode import TRANSCODABLE_TARGETS

    stored = {ref.transfer_syntax_uid for ref in refs}
    syntaxes = ("*", *sorted(TRANSCODABLE_TARGETS | stored))
    offers = [Offer("multipart/related", DICOM, syntaxes, "*")]
    if scope.level == "instance":
        offers.append(Offer(DICOM, None, syntaxes, "*"))
    else:
        offers.append(Offer(ZIP))
    return offers


def check_transcodable(refs: Sequence[InstanceRef], target: str) -> None:
    """NotAcceptable naming the first instance that cannot be sent in ``target``."""
    if target == "*":
        return
    from openpacs.dicom.transcode import transcode_problem  # as in retrieve_offers

    for ref in refs:
        problem = transcode_problem(
            ref.transfer_syntax_uid, target, has_pixel_data=ref.has_pixel_data
        )
        if problem:
            raise NotAcceptable(
                f"instance {ref.sop_uid} cannot be sent in transfer syntax {target}: {problem}"
            )


@dataclass(frozen=True)
class PartFile:
    """One instance's Part-10 file, open: the caller streams and closes ``handle``."""

    content_type: str
    handle: BinaryIO
    # The exact length when sent as stored (a shorter file is damaged); else unknown.
    size: int | None


def sent_as_stored(ref: InstanceRef, target: str) -> bool:
    """Whether ``ref`` in transfer syntax ``target`` is its stored file, byte for byte."""
    return target in ("*", ref.transfer_syntax_uid)


def stored_content_type(ref: InstanceRef) -> str:
    """The part Content-Type of an instance sent as stored."""
    return f"{DICOM}; transfer-syntax={ref.transfer_syntax_uid}"


def open_part(blobs: BlobStore, ref: InstanceRef, target: str) -> PartFile:
    """The file of ``ref`` in transfer syntax ``target`` (``*``: as stored)."""
    if sent_as_stored(ref, target):
        return PartFile(stored_content_type(ref), open_stored(blobs, ref), ref.size)
    from openpacs.dicom.transcode import TranscodeError  # as in retrieve_offers

    try:
        with stored_file(ref):
            handle = _transcode_to_temp(blobs, ref, target)
    except TranscodeError as exc:
        raise NotAcceptable(f"instance {ref.sop_uid}: {exc}") from None
    return PartFile(f"{DICOM}; transfer-syntax={target}", handle, None)


def _transcode_to_temp(blobs: BlobStore, ref: InstanceRef, target: str) -> BinaryIO:
    from openpacs.dicom.transcode import transcode  # as in retrieve_offers

    out = tempfile.TemporaryFile(dir=blobs.staging_dir())  # noqa: SIM115 - the caller closes it
    try:
        with blobs.open(ref.blob_key) as src:
            transcode(src, out, target)
        out.seek(0)
        return out
    except BaseException:
        out.close()
        raise


# --------------------------------------------------------------------------- metadata


def metadata_rows(db: Database, account_id: int, ids: Sequence[int], base: str) -> list[bytes]:
    """The stored DICOM JSON of these instances (in the order of ``ids``), each with its
    BulkDataURIs under ``base``; one short connection per call (see fetch_metadata)."""
    with db.engine.connect() as conn:  # a read: no session, no commit
        rows = fetch_metadata(conn, account_id, ids)
    root = base.encode()
    return [row.replace(_BULK_BASE, root) for row in rows]


# --------------------------------------------------------------------------- bulk data


def bulk_offers() -> list[Offer]:
    return [Offer("multipart/related", OCTET_STREAM), Offer(OCTET_STREAM)]


def parse_bulk_path(text: str) -> str:
    """``00091010/0/7FE00010`` (tags and item numbers) in upper case; BadRequest else."""
    path = text.strip("/")
    if not _BULK_PATH.fullmatch(path):
        raise BadRequest(f"malformed bulk data path {path[:80]!r}")
    return path.upper()


@dataclass(frozen=True)
class BulkValue:
    data: bytes
    media_type: str  # with the transfer syntax for encapsulated Pixel Data


def read_bulk(blobs: BlobStore, detail: InstanceDetail, path: str) -> BulkValue:
    """The value at ``path`` (from :func:`parse_bulk_path`); NotFound when there is none."""
    ref = detail.ref
    ranges = orjson.loads(detail.bulk_json) if detail.bulk_json else None
    if ranges is not None and path in ranges:
        offset, length = ranges[path]
        data: bytes | None = read_stored_range(blobs, ref, int(offset), int(length))
    elif ranges is None:
        data = _bulk_from_file(blobs, ref, path)
    else:
        data = None
    if data is None:
        raise NotFound(f"instance {ref.sop_uid} has no bulk data at {path}")
    media_type = OCTET_STREAM
    if path == _PIXEL_DATA and _is_encapsulated(ref.transfer_syntax_uid):
        media_type = f"{OCTET_STREAM}; transfer-syntax={ref.transfer_syntax_uid}"
    return BulkValue(data, media_type)


def _is_encapsulated(transfer_syntax: str) -> bool:
    from pydicom.uid import UID  # as in retrieve_offers

    return bool(UID(transfer_syntax).is_encapsulated)


def _bulk_from_file(blobs: BlobStore, ref: InstanceRef, path: str) -> bytes | None:
    """Read a bulk element with pydicom (big endian / deflated files have no ranges)."""
    import numpy as np  # as in retrieve_offers
    from pydicom import dcmread

    try:
        with open_stored(blobs, ref) as handle:
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
    except (ValueError, KeyError, TypeError, AttributeError, EOFError) as exc:
        log.error("cannot read bulk data %s of instance %s: %r", path, ref.sop_uid, exc)
        raise StoredFileError(ref.sop_uid, "damaged (cannot be parsed)") from None
    if not isinstance(value, bytes):
        return None
    width = _SWAP_WIDTH.get(element.VR, 1)
    if not ds.is_little_endian and width > 1 and len(value) % width == 0:
        value = np.frombuffer(value, dtype=f">u{width}").astype(f"<u{width}").tobytes()
    return value
