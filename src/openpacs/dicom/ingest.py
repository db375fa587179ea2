"""Header-only parsing of one uploaded DICOM Part-10 file (the STOW-RS hot path).

`parse_instance` validates the file and computes, once, everything the read side needs
later (index columns, QIDO JSON per level, the full DICOM JSON metadata with BulkDataURIs,
byte ranges of bulk data and of every frame), so QIDO, ``/metadata``, ``/bulkdata`` and
``/frames`` never re-parse files. Values longer than 1 KiB are not read (pydicom deferred
reading + our own item-header scan of encapsulated Pixel Data), so a 1 GB multi-frame
instance is ingested with small memory.

Decisions the caller must know:

* SOP Class/Instance UID are taken from the dataset only, never from the File Meta
  Information: they are Type 1 in the SOP Common Module, QIDO and ``/metadata`` return the
  dataset, and WADO returns the file as stored, so an instance without them is invalid
  (the priv_SQ and DICOMDIR corpus files are rejected for that reason). A Media Storage SOP
  Instance UID that differs from the dataset's is tolerated (real files do it).
* Raw datasets without preamble/``DICM``/File Meta Information are rejected.
* UIDs: at most 64 characters, digit components separated by single dots. Leading zeros
  in a component are tolerated (a common real-world defect, harmless for identification).
* ``bulk``/``frames`` are byte ranges in the file *as stored*. They are left empty/None
  for Explicit VR Big Endian (values must be byte-swapped) and Deflated Explicit VR Little
  Endian (offsets refer to the inflated stream): the server must decode the file instead.
  ``frames`` is also None for video transfer syntaxes, for bit-packed (BitsAllocated 1)
  multi-frame images whose frames do not start on a byte boundary, and for encapsulated
  Pixel Data whose fragments cannot be assigned to frames unambiguously. When ``frames``
  is set, frame i is exactly the bytes of its ranges concatenated (native: the frame's
  pixel bytes; encapsulated: the frame's fragments without item headers).
* Person names are canonicalised for the index columns: trailing empty components and
  groups are dropped (``OB^^^^`` -> ``OB``). Use `canonical_person_name` and
  `normalize_name` on QIDO query values so both sides match.
* Invalid numbers (IS/DS/binary numbers of a wrong length) in attributes we do not
  interpret keep their element in the JSON but lose its "Value"; in attributes we
  interpret (Number of Frames, Rows, Columns, Bits Allocated, Samples per Pixel) they
  reject the instance. Series Number / Instance Number junk -> None.
* Group length (gggg,0000) elements, group 0000/0002 elements found in the dataset and
  Data Set Trailing Padding (FFFC,FFFC) are left out of the JSON.
"""

from __future__ import annotations

import io
import logging
import os
import re
import struct
from typing import IO, Final

import orjson
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from openpacs.dicom import status
from openpacs.dicom.attributes import (
    INSTANCE_LEVEL_TAGS,
    SERIES_LEVEL_TAGS,
    STUDY_LEVEL_TAGS,
    Level,
)
from openpacs.dicom.frames import frame_ranges, read_image
from openpacs.dicom.invalid import InvalidInstance, MissingUid
from openpacs.dicom.json_model import BULK_THRESHOLD, PIXEL_TAGS, TOO_DEEP, Walker
from openpacs.dicom.json_values import JsonObject, element_text
from openpacs.dicom.parsed import (
    BULK_BASE,
    ParsedInstance,
    index_columns,
    request_attributes,
    study_columns,
)
from openpacs.dicom.rawfile import RawFile, check_complete

__all__ = ["parse_instance"]

log = logging.getLogger("openpacs.ingest")

_UID_RE: Final = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_DICOMDIR_SOP_CLASS: Final = "1.2.840.10008.1.3.10"
_DEFLATED: Final = "1.2.840.10008.1.2.1.99"
_BIG_ENDIAN: Final = "1.2.840.10008.1.2.2"


_STUDY_KEYS: Final = tuple(f"{t:08X}" for t in sorted(STUDY_LEVEL_TAGS))
_SERIES_KEYS: Final = tuple(f"{t:08X}" for t in sorted(SERIES_LEVEL_TAGS))
_INSTANCE_KEYS: Final = tuple(f"{t:08X}" for t in sorted(INSTANCE_LEVEL_TAGS))


def _subset(meta: JsonObject, keys: tuple[str, ...]) -> JsonObject:
    return {key: meta[key] for key in keys if key in meta}


def _json_default(value: object) -> object:
    """orjson fallback for types it does not serialise (e.g. float subclasses)."""
    if isinstance(value, float | int):
        return float(value) if isinstance(value, float) else int(value)
    return str(value)


def _dumps(value: object) -> bytes:
    return orjson.dumps(value, default=_json_default)


# --------------------------------------------------------------------------- entry point


def _valid_uid(value: str) -> bool:
    return len(value) <= 64 and _UID_RE.fullmatch(value) is not None


def _required_uid(meta: JsonObject, key: str, name: str) -> str:
    value = element_text(meta, key)
    if not value:
        raise MissingUid(
            f"missing {name} ({key[:4]},{key[4:]})", status.DATASET_DOES_NOT_MATCH_SOP_CLASS, key
        )
    if not _valid_uid(value):
        raise InvalidInstance(
            f"{name} ({key[:4]},{key[4:]}) is not a valid UID: {value[:80]!r}",
            status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
        )
    return value


class _Read:
    """What `_parse` got to: the dataset, once pydicom has read it."""

    dataset: Dataset | None = None


def _identify(exc: InvalidInstance, read: _Read) -> InvalidInstance:
    """Name the instance in ``exc`` from the dataset, if it was read (the failure path
    only: the file is rejected anyway, so reading two elements again costs nothing)."""
    if read.dataset is not None:
        exc.sop_class_uid = exc.sop_class_uid or _dataset_uid(read.dataset, 0x00080016)
        exc.sop_instance_uid = exc.sop_instance_uid or _dataset_uid(read.dataset, 0x00080018)
    return exc


def _dataset_uid(dataset: Dataset, tag: int) -> str:
    """The UID at ``tag`` if the dataset holds a valid one, else ""."""
    try:
        element = dataset.get(tag)
        value = "" if element is None else str(element.value).strip("\x00 ")
    except Exception:  # a damaged dataset may fail in any way here
        return ""
    return value if _valid_uid(value) else ""


def parse_instance(
    source: str | os.PathLike[str] | bytes, *, expected_study_uid: str | None = None
) -> ParsedInstance:
    """Validate one Part-10 file (a path, or its bytes) and compute what the index and
    the read side need.

    Raises `InvalidInstance` (reason, STOW failure code, and the SOP Class and Instance
    UIDs when the dataset could be read) for anything that cannot be stored; no other
    exception escapes for bad input. `MissingUid` says which required UID is absent.
    """
    fp: IO[bytes]
    if isinstance(source, bytes):
        fp, size = io.BytesIO(source), len(source)
    else:
        try:
            fp = open(source, "rb")  # noqa: SIM115 - closed below, errors mapped separately
            size = os.fstat(fp.fileno()).st_size
        except OSError as exc:
            raise InvalidInstance(
                f"cannot read the uploaded file: {exc}", status.PROCESSING_FAILURE
            ) from exc
    read = _Read()
    with fp:
        try:
            return _parse(fp, size, expected_study_uid, read)
        except InvalidInstance as exc:
            _identify(exc, read)
            raise
        except RecursionError as exc:  # pydicom reads nested sequences recursively
            raise _identify(InvalidInstance(TOO_DEEP, status.CANNOT_UNDERSTAND), read) from exc
        except MemoryError as exc:
            failure = InvalidInstance(
                "out of memory while parsing the file", status.OUT_OF_RESOURCES
            )
            raise _identify(failure, read) from exc
        except Exception as exc:  # pydicom raises many types for malformed input
            failure = InvalidInstance(_unreadable(exc), status.CANNOT_UNDERSTAND)
            raise _identify(failure, read) from exc


def _unreadable(exc: Exception) -> str:
    """The reason for a file pydicom could not read, in words for the uploader: the
    message of errors that describe the data (a bad value, a file that ends early), never
    the name of a Python exception or the message of one that describes our code."""
    detail = ""
    if isinstance(exc, ValueError | EOFError | InvalidDicomError | struct.error):
        detail = " ".join(str(exc).split())
    elif isinstance(exc, OSError):
        detail = "the file ends early or cannot be read"
    if not detail:
        log.info("unreadable upload: %s: %s", type(exc).__name__, exc)
        detail = "the file is damaged or is not DICOM"
    return f"cannot parse the DICOM file: {detail}"[:500]


def _parse(fp: IO[bytes], size: int, expected_study_uid: str | None, read: _Read) -> ParsedInstance:
    file = RawFile(fp, size)
    if file.read_at(128, 4) != b"DICM":
        raise InvalidInstance(
            "not a DICOM Part-10 file: no 'DICM' prefix after the 128-byte preamble "
            "(datasets without File Meta Information are not accepted)",
            status.CANNOT_UNDERSTAND,
        )
    try:
        dataset = dcmread(fp, defer_size=BULK_THRESHOLD)
    except InvalidDicomError as exc:
        raise InvalidInstance(f"not a DICOM Part-10 file: {exc}", status.CANNOT_UNDERSTAND) from exc
    read.dataset = dataset
    meta_info = dataset.file_meta
    ts = str(meta_info.get("TransferSyntaxUID", "") or "").strip("\x00 ")
    if not ts:
        raise InvalidInstance(
            "the File Meta Information has no Transfer Syntax UID (0002,0010)",
            status.CANNOT_UNDERSTAND,
        )
    if not _valid_uid(ts) or not UID(ts).is_transfer_syntax:
        raise InvalidInstance(
            f"unsupported Transfer Syntax UID {ts[:80]!r}", status.TRANSFER_SYNTAX_NOT_SUPPORTED
        )
    if ts == _DEFLATED:  # offsets refer to the inflated stream: read it all, no deferral
        fp.seek(0)
        dataset = dcmread(fp)
    media_class = str(meta_info.get("MediaStorageSOPClassUID", "") or "")
    if media_class == _DICOMDIR_SOP_CLASS or 0x00041220 in dataset:
        raise InvalidInstance(
            "a DICOMDIR (Media Storage Directory) is a file-set index, not a storable instance",
            status.SOP_CLASS_NOT_SUPPORTED,
        )
    uid = UID(ts)
    servable = ts not in (_DEFLATED, _BIG_ENDIAN)
    if ts != _DEFLATED:
        check_complete(file, dataset, ts != _BIG_ENDIAN)

    walker = Walker(file, servable, uid.is_encapsulated, ts != _BIG_ENDIAN)
    meta = walker.walk(dataset, 0, "")

    sop_class = _required_uid(meta, "00080016", "SOP Class UID")
    sop_instance = _required_uid(meta, "00080018", "SOP Instance UID")
    study_uid = _required_uid(meta, "0020000D", "Study Instance UID")
    series_uid = _required_uid(meta, "0020000E", "Series Instance UID")
    if expected_study_uid is not None and study_uid != expected_study_uid.strip():
        raise InvalidInstance(
            f"Study Instance UID {study_uid} does not match the study of the request "
            f"({expected_study_uid[:64]})",
            status.STUDY_UID_MISMATCH,
        )

    image = read_image(file, dataset, meta)
    frames = frame_ranges(file, dataset, meta, image, ts, servable)

    # Stored as a URL under a placeholder root (rebased per request), so it is spelled
    # out here: dicom/ may not import protocol.paths (the layers only point downward).
    prefix = (
        f"{BULK_BASE}/studies/{study_uid}/series/{series_uid}/instances/{sop_instance}/bulkdata/"
    )
    for element, bulk_path in walker.bulk_elements:
        element["BulkDataURI"] = prefix + bulk_path

    has_pixels = any(f"{tag:08X}" in meta for tag in PIXEL_TAGS)
    instance: dict[str, object] = {
        **index_columns(meta, Level.INSTANCE),
        "rows": image.rows,
        "columns": image.columns,
        "bits_allocated": image.bits_allocated,
        "number_of_frames": image.frames
        if image.frames is not None
        else (1 if has_pixels else None),
    }
    instance_meta = _subset(meta, _INSTANCE_KEYS)
    instance_meta["00083002"] = {"vr": "UI", "Value": [ts]}
    return ParsedInstance(
        study_instance_uid=study_uid,
        series_instance_uid=series_uid,
        sop_instance_uid=sop_instance,
        sop_class_uid=sop_class,
        transfer_syntax_uid=ts,
        study=study_columns(meta),
        series=index_columns(meta, Level.SERIES),
        instance=instance,
        request_attributes=request_attributes(meta),
        study_json=_dumps(_subset(meta, _STUDY_KEYS)),
        series_json=_dumps(_subset(meta, _SERIES_KEYS)),
        instance_json=_dumps(dict(sorted(instance_meta.items()))),
        metadata_json=_dumps(meta),
        frames=frames,
        bulk=walker.bulk,
        size=size,
    )
