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

import base64
import os
import re
import struct
import unicodedata
from dataclasses import dataclass
from typing import IO, Any, Final

import orjson
from pydicom import dcmread
from pydicom._dicom_dict import DicomDictionary
from pydicom.charset import decode_bytes
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.hooks import hooks
from pydicom.uid import UID
from pydicom.valuerep import AMBIGUOUS_VR, TEXT_VR_DELIMS

from openpacs.protocol import status

BULK_BASE: Final = "@@OPENPACS_BASE@@"
#: Binary values longer than this many bytes become BulkDataURIs.
BULK_THRESHOLD: Final = 1024

_UNDEFINED: Final = 0xFFFFFFFF
_PIXEL_TAGS: Final = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel, Float, Double Float
# Spectroscopy Data, Pixel Data Provider URL: legitimately images without Pixel Data.
_NO_PIXEL_TAGS: Final = frozenset({0x56000020, 0x00287FE0})
_BINARY_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_SWAP_SIZE: Final = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_NUMBER_FORMATS: Final = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d",
                          "UV": "Q", "SV": "q"}  # fmt: skip
_CHARSET_MULTI_VRS: Final = frozenset({"SH", "LO", "UC"})
_CHARSET_SINGLE_VRS: Final = frozenset({"ST", "LT", "UT"})
_ASCII_MULTI_VRS: Final = frozenset({"AS", "CS", "DA", "DT", "TM", "UI"})
_UID_RE: Final = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_IS_RE: Final = re.compile(r"\+?[0-9]{1,12}")
_DICOMDIR_SOP_CLASS: Final = "1.2.840.10008.1.3.10"
_DEFLATED: Final = "1.2.840.10008.1.2.1.99"
_BIG_ENDIAN: Final = "1.2.840.10008.1.2.2"
_TS: Final = "1.2.840.10008.1.2.4."
_J2K_TS: Final = frozenset(_TS + s for s in ("90", "91", "92", "93", "201", "202", "203"))
_JPEGXL_TS: Final = frozenset(_TS + s for s in ("110", "111", "112"))
_VIDEO_TS: Final = frozenset(_TS + s for s in ("100", "100.1", "101", "101.1", "102", "102.1",
    "103", "103.1", "104", "104.1", "105", "105.1", "106", "106.1", "107", "108"))  # fmt: skip


def _tags(keywords: str) -> frozenset[int]:
    tags = {keyword: tag_for_keyword(keyword) for keyword in keywords.split()}
    if unknown := [keyword for keyword, tag in tags.items() if tag is None]:
        raise KeyError(f"unknown DICOM keywords: {unknown}")
    return frozenset(tag for tag in tags.values() if tag is not None)


# The DICOM JSON of each QIDO level is the subset of the metadata with these tags (ints).
_COMMON_TAGS: Final = _tags("SpecificCharacterSet TimezoneOffsetFromUTC")
#: Patient (all public group 0010 attributes but AnatomicalOrientationType, a series one),
#: General Study and Patient Study modules (PS3.3 C.7.1.1, C.7.2.1, C.7.2.2), covering
#: PS3.18 Tables 10.6.1-5 and 10.6.3-3.
STUDY_LEVEL_TAGS: Final[frozenset[int]] = (
    _COMMON_TAGS
    | frozenset(t for t in DicomDictionary if t >> 16 == 0x0010 and t != 0x00102210)
    | _tags(
        "StudyDate StudyTime AccessionNumber IssuerOfAccessionNumberSequence "
        "ReferringPhysicianName ReferringPhysicianIdentificationSequence "
        "ConsultingPhysicianName ConsultingPhysicianIdentificationSequence StudyDescription "
        "ProcedureCodeSequence PhysiciansOfRecord PhysiciansOfRecordIdentificationSequence "
        "NameOfPhysiciansReadingStudy PhysiciansReadingStudyIdentificationSequence "
        "AdmittingDiagnosesDescription AdmittingDiagnosesCodeSequence ReferencedStudySequence "
        "PatientIdentityRemoved DeidentificationMethod DeidentificationMethodCodeSequence "
        "StudyInstanceUID StudyID RequestingServiceCodeSequence RequestedProcedureDescription "
        "ReasonForVisit ReasonForVisitCodeSequence AdmissionID IssuerOfAdmissionIDSequence "
        "ServiceEpisodeID ServiceEpisodeDescription PatientState "
        "ReasonForPerformedProcedureCodeSequence RequestingPhysician InstitutionName"
    )
)
#: General Series and General Equipment modules (PS3.3 C.7.3.1, C.7.5.1), covering
#: PS3.18 Table 10.6.1-6.
SERIES_LEVEL_TAGS: Final[frozenset[int]] = _COMMON_TAGS | _tags(
    "SeriesDate SeriesTime Modality Manufacturer InstitutionName InstitutionAddress "
    "SeriesDescription SeriesDescriptionCodeSequence StationName InstitutionalDepartmentName "
    "PerformingPhysicianName PerformingPhysicianIdentificationSequence OperatorsName "
    "OperatorIdentificationSequence ManufacturerModelName "
    "ReferencedPerformedProcedureStepSequence RelatedSeriesSequence BodyPartExamined "
    "DeviceSerialNumber SoftwareVersions ProtocolName PatientPosition SeriesInstanceUID "
    "SeriesNumber Laterality SmallestPixelValueInSeries LargestPixelValueInSeries "
    "AnatomicalOrientationType PerformedProcedureStepStartDate PerformedProcedureStepStartTime "
    "PerformedProcedureStepID PerformedProcedureStepDescription PerformedProtocolCodeSequence "
    "RequestAttributesSequence CommentsOnThePerformedProcedureStep FrameOfReferenceUID "
    "PositionReferenceIndicator"
)
#: PS3.18 Table 10.6.1-7 plus Available Transfer Syntax UID (added from the file meta) and
#: the image/document attributes viewers commonly ask QIDO for (the includefield set of
#: openpacs.protocol.qido).
INSTANCE_LEVEL_TAGS: Final[frozenset[int]] = _COMMON_TAGS | _tags(
    "SOPClassUID SOPInstanceUID InstanceNumber Rows Columns BitsAllocated NumberOfFrames "
    "AvailableTransferSyntaxUID BitsStored HighBit PixelRepresentation SamplesPerPixel "
    "PhotometricInterpretation ImageType AcquisitionDate AcquisitionTime AcquisitionDateTime "
    "AcquisitionNumber ContentDate ContentTime InstanceCreationDate InstanceCreationTime "
    "ImagePositionPatient ImageOrientationPatient SliceLocation SliceThickness PixelSpacing "
    "WindowCenter WindowWidth ConceptNameCodeSequence ContentLabel ContentDescription "
    "ContentCreatorName DocumentTitle CompletionFlag VerificationFlag ObservationDateTime "
    "LossyImageCompression BurnedInAnnotation"
)
_STUDY_KEYS: Final = tuple(f"{t:08X}" for t in sorted(STUDY_LEVEL_TAGS))
_SERIES_KEYS: Final = tuple(f"{t:08X}" for t in sorted(SERIES_LEVEL_TAGS))
_INSTANCE_KEYS: Final = tuple(f"{t:08X}" for t in sorted(INSTANCE_LEVEL_TAGS))


def _lengths(spec: str) -> dict[str, int]:
    return {name: int(n) for name, n in (item.split(":") for item in spec.split())}


#: Column lengths (String(n)) of openpacs.index.models; a unit test keeps them in sync.
STUDY_COLUMN_LENGTHS: Final = _lengths(
    "specific_character_set:200 patient_id:64 issuer_of_patient_id:64 other_patient_ids:400 "
    "patient_name:400 patient_name_norm:400 patient_name_words:400 patient_birth_date:8 "
    "patient_sex:16 study_date:8 study_time:16 accession_number:64 "
    "referring_physician_name:400 referring_physician_name_norm:400 study_id:16 "
    "study_description:400 institution_name:200"
)
SERIES_COLUMN_LENGTHS: Final = _lengths(
    "modality:16 series_description:400 body_part_examined:64 institution_name:200 "
    "series_date:8 series_time:16 performed_procedure_step_start_date:8 "
    "performed_procedure_step_start_time:16"
)
REQUEST_ATTRIBUTE_COLUMN_LENGTHS: Final = _lengths(
    "requested_procedure_id:64 scheduled_procedure_step_id:64 accession_number:64 "
    "study_instance_uid:64"
)

JsonObject = dict[str, dict[str, Any]]


class InvalidInstance(ValueError):
    """The file cannot be stored; `failure_code` is a STOW Failure Reason (0008,1197)."""

    def __init__(self, reason: str, failure_code: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.failure_code = failure_code


@dataclass(frozen=True)
class ParsedInstance:
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    study: dict[str, object]
    series: dict[str, object]
    instance: dict[str, object]
    request_attributes: list[dict[str, str]]
    study_json: bytes
    series_json: bytes
    instance_json: bytes
    metadata_json: bytes
    frames: list[list[tuple[int, int]]] | None
    bulk: dict[str, tuple[int, int]]
    size: int


# --------------------------------------------------------------------------- names


_ACCENT_RANGES: Final = (
    (0x0300, 0x036F),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
)


def _is_accent(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _ACCENT_RANGES)


def normalize_name(value: str) -> str:
    """Upper-case, accent-free form for case-insensitive and prefix search.

    NFKD, then the "Combining Diacritical Marks" blocks are dropped, then NFC (so marks
    that are not accents, such as the kana voicing marks, recompose), then upper case.
    ``^``, ``=`` and wildcards are kept, so QIDO can apply it to query values too.
    """
    decomposed = unicodedata.normalize("NFKD", value)
    if decomposed.isascii():
        return decomposed.upper()
    kept = "".join(ch for ch in decomposed if not _is_accent(ch))
    return unicodedata.normalize("NFC", kept).upper()


def canonical_person_name(value: str) -> str:
    """Drop trailing empty components of each group and trailing empty groups."""
    groups = [group.rstrip("^") for group in value.split("=")]
    while groups and not groups[-1]:
        groups.pop()
    return "=".join(groups)


def name_words(value: str) -> str:
    """Space-separated normalised words of every component of every group (deduplicated)."""
    words: dict[str, None] = {}
    for group in normalize_name(value).split("="):
        for component in group.split("^"):
            for word in component.split():
                words[word] = None
    return " ".join(words)


# --------------------------------------------------------------------------- values


def _decode_text(value: bytes, encodings: list[str]) -> str:
    # ISO 2022 escape sequences are ASCII bytes: only escape-free ASCII takes the fast path.
    if value.isascii() and 0x1B not in value:
        return value.decode("ascii")
    return decode_bytes(value, encodings, TEXT_VR_DELIMS)


def _parse_int(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        number = int(text)
    except ValueError:
        real = float(text)  # "12.0" is tolerated as pydicom does; "1A" raises
        if not real.is_integer():
            raise
        number = int(real)
    if abs(number) >= 2**63:
        raise ValueError(f"IS value out of range: {text}")
    return number


def _parse_float(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


def _text_values(vr: str, value: bytes, encodings: list[str]) -> list[str] | None:
    """Decode a string VR like pydicom's converters; None if not a string VR."""
    if vr in _ASCII_MULTI_VRS:
        return value.decode("latin-1").rstrip(" \x00").split("\\")
    if vr == "AE":
        return [part.strip() for part in value.decode("latin-1").split("\\")]
    if vr in _CHARSET_MULTI_VRS:
        return [part.rstrip("\x00 ") for part in _decode_text(value, encodings).split("\\")]
    if vr in _CHARSET_SINGLE_VRS:
        return [_decode_text(value, encodings).rstrip("\x00 ")]
    if vr == "UR":
        return [value.decode("latin-1").rstrip()]
    if vr == "PN":
        return _decode_text(value.rstrip(b"\x00 "), encodings).split("\\")
    return None


def _leaf_json(vr: str, value: bytes, little: bool, encodings: list[str]) -> dict[str, Any]:
    """DICOM JSON of a non-sequence element from its encoded value (inline binary)."""
    element: dict[str, Any] = {"vr": vr}
    if not value:
        return element
    if vr in _BINARY_VRS:
        size = _SWAP_SIZE.get(vr)
        if not little and size and len(value) % size == 0:
            value = _byteswap(value, size)
        element["InlineBinary"] = base64.b64encode(value).decode("ascii")
        return element
    texts = _text_values(vr, value, encodings)
    result: list[Any]
    try:
        if texts is not None:
            if len(texts) == 1 and not texts[0]:
                return element
            if vr == "PN":
                keys = ("Alphabetic", "Ideographic", "Phonetic")
                result = [dict(zip(keys, _pn_groups(name), strict=False)) for name in texts]
            else:
                result = list(texts)
        elif vr in ("IS", "DS"):
            parts = value.decode("latin-1").strip(" \x00").split("\\")
            parse = _parse_int if vr == "IS" else _parse_float
            result = [parse(part) for part in parts]
            if len(result) == 1 and result[0] is None:
                return element
        elif vr in _NUMBER_FORMATS:
            fmt = _NUMBER_FORMATS[vr]
            count = len(value) // struct.calcsize("<" + fmt)
            result = list(struct.unpack(f"{'<' if little else '>'}{count}{fmt}", value))
        elif vr == "AT":
            count = len(value) // 2
            halves = struct.unpack(f"{'<' if little else '>'}{count}H", value)
            result = [f"{halves[i]:04X}{halves[i + 1]:04X}" for i in range(0, count - 1, 2)]
        else:  # unknown VR: keep the bytes
            element["vr"] = "UN"
            element["InlineBinary"] = base64.b64encode(value).decode("ascii")
            return element
    except (ValueError, struct.error):
        return element  # junk value in an attribute we do not interpret: no "Value"
    element["Value"] = result
    return element


def _pn_groups(name: str) -> list[str]:
    groups = name.split("=")[:3]
    while len(groups) > 1 and not groups[-1]:
        groups.pop()  # trailing empty groups are absent, as pydicom does
    return groups


def _byteswap(value: bytes, size: int) -> bytes:
    out = bytearray(len(value))
    for i in range(size):
        out[i::size] = value[size - 1 - i :: size]
    return bytes(out)


def _converted_json(element: DataElement) -> dict[str, Any]:
    try:
        return element.to_json_dict(None, BULK_THRESHOLD)
    except (ValueError, TypeError):
        return {"vr": element.VR}


# --------------------------------------------------------------------------- file access


@dataclass
class _Encapsulated:
    offsets: list[int]  # Basic Offset Table
    fragments: list[tuple[int, int, int]]  # (item position, data offset, data length)
    value_length: int  # up to the Sequence Delimitation Item
    end: int  # first byte after the Sequence Delimitation Item


class _File:
    """Positional reads on the open file, independent of pydicom's position."""

    def __init__(self, fp: IO[bytes], size: int) -> None:
        self.fp = fp
        self.size = size
        self._fd = fp.fileno()
        self._scans: dict[int, _Encapsulated] = {}

    def read_at(self, offset: int, length: int) -> bytes:
        if hasattr(os, "pread"):
            return os.pread(self._fd, length, offset)
        self.fp.seek(offset)  # pragma: no cover - platforms without pread
        return self.fp.read(length)  # pragma: no cover

    def scan(self, start: int) -> _Encapsulated:
        """Item headers of an undefined-length non-SQ value (seeking past the data)."""
        if start not in self._scans:
            self._scans[start] = self._scan(start)
        return self._scans[start]

    def _scan(self, start: int) -> _Encapsulated:
        items: list[tuple[int, int, int]] = []
        pos = start
        while True:
            header = self.read_at(pos, 8)
            if len(header) < 8:
                raise InvalidInstance(
                    f"file is truncated: the encapsulated value at offset {start} has no "
                    "Sequence Delimitation Item before the end of file",
                    status.CANNOT_UNDERSTAND,
                )
            group, elem, length = struct.unpack("<HHL", header)
            if (group, elem) == (0xFFFE, 0xE0DD):
                break
            if (group, elem) != (0xFFFE, 0xE000) or length == _UNDEFINED:
                raise InvalidInstance(
                    f"invalid encapsulated value: unexpected ({group:04X},{elem:04X}) with "
                    f"length {length:#x} at offset {pos}",
                    status.CANNOT_UNDERSTAND,
                )
            if pos + 8 + length > self.size:
                raise InvalidInstance(
                    f"file is truncated: the fragment at offset {pos} declares {length} bytes "
                    f"but the file ends after {self.size} bytes",
                    status.CANNOT_UNDERSTAND,
                )
            items.append((pos, pos + 8, length))
            pos += 8 + length
        offsets: list[int] = []
        if items and items[0][2]:
            table = self.read_at(items[0][1], items[0][2] // 4 * 4)
            offsets = list(struct.unpack(f"<{len(table) // 4}L", table))
        return _Encapsulated(offsets, items[1:], pos - start, pos + 8)


# --------------------------------------------------------------------------- structure


def _tag_name(tag: int) -> str:
    entry = DicomDictionary.get(tag)
    label = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    return f"{entry[2]} {label}" if entry else label


def _tag_list(dataset: Dataset) -> list[int]:
    keys = dataset.keys()  # iterating a Dataset yields elements, not tags
    return [int(tag) for tag in keys]


def _position(element: RawDataElement | DataElement) -> int:
    if isinstance(element, RawDataElement):
        return element.value_tell
    return element.file_tell or 0


def _dataset_end(file: _File, dataset: Dataset, base: int, little: bool) -> tuple[int, int] | None:
    """(end offset, tag) of the last element of an in-stream dataset, None if unknown."""
    elements = [dataset.get_item(tag, keep_deferred=True) for tag in _tag_list(dataset)]
    present = [e for e in elements if e is not None and e.tag >> 16 != 0]
    if not present:
        return None
    last = max(present, key=_position)
    tag = int(last.tag)
    if isinstance(last, RawDataElement):
        if last.length != _UNDEFINED:
            return base + last.value_tell + last.length, tag
        return (file.scan(base + last.value_tell).end, tag) if little else None
    if last.VR != "SQ" or not last.is_undefined_length:
        return None
    if not last.value:
        return base + _position(last) + 8, tag
    item = last.value[-1]
    item_tell = base + int(item.seq_item_tell)
    if item.is_undefined_length_sequence_item:
        inner = _dataset_end(file, item, base, little)
        item_end = item_tell + 16 if inner is None else inner[0] + 8
    else:
        (length,) = struct.unpack("<L" if little else ">L", file.read_at(item_tell + 4, 4))
        item_end = item_tell + 8 + length
    return item_end + 8, tag


def _check_complete(file: _File, dataset: Dataset, little: bool) -> None:
    """Reject files whose last element runs past the end, or that end with unparsed bytes
    (pydicom silently drops an element whose undefined-length value hits the end)."""
    result = _dataset_end(file, dataset, 0, little)
    if result is None:
        if not any(tag >> 16 for tag in _tag_list(dataset)):  # pydicom drops all on EOF
            raise InvalidInstance(
                "the data set is empty or could not be parsed (truncated or corrupt file)",
                status.CANNOT_UNDERSTAND,
            )
        return
    end, tag = result
    if end > file.size:
        raise InvalidInstance(
            f"file is truncated: {_tag_name(tag)} ends at byte {end} but the file has "
            f"{file.size} bytes",
            status.CANNOT_UNDERSTAND,
        )
    # Trailing bytes that are not an element: a cut element header, or an element pydicom
    # dropped silently. Zero padding (some media writers add it) is tolerated.
    tail = file.read_at(end, min(file.size - end, 1 << 20)) if end < file.size else b""
    if end < file.size and (end + len(tail) < file.size or tail.count(0) != len(tail)):
        raise InvalidInstance(
            f"file is truncated or corrupt: {file.size - end} bytes after {_tag_name(tag)} "
            "could not be parsed",
            status.CANNOT_UNDERSTAND,
        )


# --------------------------------------------------------------------------- JSON walk


def _encodings(dataset: Dataset) -> list[str]:
    charset = dataset.original_character_set or dataset._character_set
    return [charset] if isinstance(charset, str) else list(charset)


def _raw_value(file: _File, dataset: Dataset, tag: int, base: int = 0) -> bytes | None:
    """The encoded value of a defined-length element, reading deferred values ourselves."""
    element = dataset.get_item(tag, keep_deferred=True)
    if isinstance(element, RawDataElement):
        if element.value is not None:
            return element.value
        if element.length == _UNDEFINED:
            return None
        return file.read_at(base + element.value_tell, element.length)
    if element is not None and isinstance(element.value, bytes):
        return element.value
    return None


def _us_value(file: _File, dataset: Dataset, tag: int, little: bool) -> int | None:
    value = _raw_value(file, dataset, tag)
    if value is None or len(value) < 2:
        return None
    return int(struct.unpack("<H" if little else ">H", value[:2])[0])


class _Walker:
    """Builds the DICOM JSON of a dataset from raw elements, recording bulk byte ranges."""

    def __init__(self, file: _File, servable: bool, encapsulated: bool, little: bool) -> None:
        self.file = file
        self.servable = servable
        self.encapsulated = encapsulated
        self.little = little
        self.bulk: dict[str, tuple[int, int]] = {}
        self.bulk_elements: list[tuple[dict[str, Any], str]] = []

    def walk(self, dataset: Dataset, base: int, prefix: str) -> JsonObject:
        out: JsonObject = {}
        encodings = _encodings(dataset)
        for tag in sorted(_tag_list(dataset)):
            if tag & 0xFFFF == 0 or tag >> 16 in (0x0000, 0x0002) or tag == 0xFFFCFFFC:
                continue
            key = f"{tag:08X}"
            element = dataset.get_item(tag, keep_deferred=True)
            if isinstance(element, RawDataElement):
                out[key] = self._raw(dataset, element, tag, base, prefix + key, encodings)
            elif element is not None:
                out[key] = self._converted(element, base, prefix + key)
        return out

    def _raw(
        self,
        dataset: Dataset,
        raw: RawDataElement,
        tag: int,
        base: int,
        path: str,
        encodings: list[str],
    ) -> dict[str, Any]:
        data: dict[str, Any] = {}
        hooks.raw_element_vr(raw, data, encoding=encodings, ds=dataset)
        vr = str(data["VR"])
        offset = base + raw.value_tell
        if tag in _PIXEL_TAGS:
            if vr in AMBIGUOUS_VR:  # implicit VR: OB if compressed or <= 8 bits, else OW
                bits = _us_value(self.file, dataset, 0x00280100, self.little) or 16
                vr = "OB" if self.encapsulated or bits <= 8 else "OW"
            if raw.value is not None:
                length = len(raw.value)
            elif raw.length == _UNDEFINED:
                length = self.file.scan(offset).value_length
            else:
                length = raw.length
            return self._bulk(vr, path, offset, length)
        if vr == "SQ":
            return self._converted(dataset[tag], base, path)  # pydicom parses the items
        if vr in AMBIGUOUS_VR:  # pydicom corrects US/SS, OB/OW from the context
            try:
                return self._converted(dataset[tag], base, path)
            except Exception:  # an inconsistent context: keep the bytes
                vr = "UN"
        if vr in _BINARY_VRS:
            length = len(raw.value) if raw.value is not None else raw.length
            if length > BULK_THRESHOLD:
                return self._bulk(vr, path, offset, length)
        value = raw.value
        if value is None:  # deferred top-level value that we need
            value = self.file.read_at(offset, raw.length)
        return _leaf_json(vr, value, raw.is_little_endian, encodings)

    def _converted(self, element: DataElement, base: int, path: str) -> dict[str, Any]:
        if element.VR == "SQ":
            # Items of an undefined-length sequence were parsed in-stream; those of a
            # defined-length one from a buffer that starts at the sequence's value.
            items_base = base if element.is_undefined_length else base + (element.file_tell or 0)
            values = [
                self.walk(item, items_base, f"{path}/{index}/")
                for index, item in enumerate(element.value)
            ]
            return {"vr": "SQ", "Value": values} if values else {"vr": "SQ"}
        value = element.value
        if element.VR in _BINARY_VRS and isinstance(value, bytes) and len(value) > BULK_THRESHOLD:
            offset = None if element.file_tell is None else base + element.file_tell
            return self._bulk(element.VR, path, offset, len(value))
        return _converted_json(element)

    def _bulk(self, vr: str, path: str, offset: int | None, length: int) -> dict[str, Any]:
        if self.servable and offset is not None:
            self.bulk[path] = (offset, length)
        element: dict[str, Any] = {"vr": vr, "BulkDataURI": ""}
        self.bulk_elements.append((element, path))
        return element


# --------------------------------------------------------------------------- JSON access


def _values(meta: JsonObject, key: str) -> list[Any]:
    element = meta.get(key)
    return list(element.get("Value", [])) if element else []


def _text(meta: JsonObject, key: str, joiner: str = "\\") -> str:
    """All values of a string/number element as one string; PN groups joined with '='."""
    parts: list[str] = []
    for value in _values(meta, key):
        if isinstance(value, dict):
            groups = [value.get(k, "") for k in ("Alphabetic", "Ideographic", "Phonetic")]
            parts.append(canonical_person_name("=".join(groups)))
        elif value is not None:
            parts.append(str(value))
    return joiner.join(parts)


def _first_int(meta: JsonObject, key: str) -> int | None:
    values = _values(meta, key)
    return values[0] if values and isinstance(values[0], int) else None


def _clip(columns: dict[str, object], lengths: dict[str, int]) -> dict[str, object]:
    return {
        k: v[: lengths[k]] if isinstance(v, str) and k in lengths else v for k, v in columns.items()
    }


def _clip_words(words: str, limit: int) -> str:
    return words if len(words) <= limit else words[: limit + 1].rsplit(" ", 1)[0]


def _date(value: str) -> str:
    return value.replace(".", "").strip()


def _time(value: str) -> str:
    return value.replace(":", "").strip()


def _study_columns(meta: JsonObject) -> dict[str, object]:
    patient_name = _text(meta, "00100010")
    referring = _text(meta, "00080090")
    other_ids = [_text(item, "00100020") for item in _values(meta, "00101002")]
    other_ids = [value for value in other_ids if value] or [
        str(v) for v in _values(meta, "00101000") if v
    ]
    columns: dict[str, object] = {
        "specific_character_set": _text(meta, "00080005"),
        "patient_id": _text(meta, "00100020"),
        "issuer_of_patient_id": _text(meta, "00100021"),
        "other_patient_ids": "\\".join(other_ids),
        "patient_name": patient_name,
        "patient_name_norm": normalize_name(patient_name),
        "patient_name_words": _clip_words(name_words(patient_name), 400),
        "patient_birth_date": _date(_text(meta, "00100030")),
        "patient_sex": _text(meta, "00100040"),
        "study_date": _date(_text(meta, "00080020")),
        "study_time": _time(_text(meta, "00080030")),
        "accession_number": _text(meta, "00080050"),
        "referring_physician_name": referring,
        "referring_physician_name_norm": normalize_name(referring),
        "study_id": _text(meta, "00200010"),
        "study_description": _text(meta, "00081030"),
        "institution_name": _text(meta, "00080080"),
    }
    return _clip(columns, STUDY_COLUMN_LENGTHS)


def _series_columns(meta: JsonObject) -> dict[str, object]:
    columns: dict[str, object] = {
        "modality": _text(meta, "00080060"),
        "series_number": _first_int(meta, "00200011"),
        "series_description": _text(meta, "0008103E"),
        "body_part_examined": _text(meta, "00180015"),
        "institution_name": _text(meta, "00080080"),
        "series_date": _date(_text(meta, "00080021")),
        "series_time": _time(_text(meta, "00080031")),
        "performed_procedure_step_start_date": _date(_text(meta, "00400244")),
        "performed_procedure_step_start_time": _time(_text(meta, "00400245")),
    }
    return _clip(columns, SERIES_COLUMN_LENGTHS)


def _request_attributes(meta: JsonObject) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for item in _values(meta, "00400275"):
        row: dict[str, object] = {
            "requested_procedure_id": _text(item, "00401001"),
            "scheduled_procedure_step_id": _text(item, "00400009"),
            "accession_number": _text(item, "00080050"),
            "study_instance_uid": _text(item, "0020000D"),
        }
        rows.append({k: str(v) for k, v in _clip(row, REQUEST_ATTRIBUTE_COLUMN_LENGTHS).items()})
    return rows


def _subset(meta: JsonObject, keys: tuple[str, ...]) -> JsonObject:
    return {key: meta[key] for key in keys if key in meta}


def _json_default(value: object) -> object:
    """orjson fallback for types it does not serialise (e.g. float subclasses)."""
    if isinstance(value, float | int):
        return float(value) if isinstance(value, float) else int(value)
    return str(value)


def _dumps(value: object) -> bytes:
    return orjson.dumps(value, default=_json_default)


# --------------------------------------------------------------------------- pixels


@dataclass(frozen=True)
class _Image:
    rows: int | None
    columns: int | None
    bits_allocated: int | None
    samples: int
    frames: int | None  # Number of Frames (0028,0008) if present


def _image(file: _File, dataset: Dataset, meta: JsonObject) -> _Image:
    raw = _raw_value(file, dataset, 0x00280008)
    frames: int | None = None
    if raw is not None and raw.strip(b" \x00"):
        text = raw.decode("latin-1").strip(" \x00")
        if not _IS_RE.fullmatch(text):
            raise InvalidInstance(
                f"Number of Frames (0028,0008) has an invalid value {text!r}: not an integer",
                status.CANNOT_UNDERSTAND,
            )
        frames = int(text)
    return _Image(
        _first_int(meta, "00280010"),
        _first_int(meta, "00280011"),
        _first_int(meta, "00280100"),
        _first_int(meta, "00280002") or 1,
        frames,
    )


def _native_frames(
    image: _Image, photometric: str, tag: int, offset: int, length: int, servable: bool
) -> list[list[tuple[int, int]]] | None:
    rows, columns, frames = image.rows or 0, image.columns or 0, image.frames or 1
    bits = image.bits_allocated or {0x7FE00008: 32, 0x7FE00009: 64}.get(tag, 0)
    if bits != 1 and (bits % 8 or not bits):
        raise InvalidInstance(
            f"Bits Allocated (0028,0100) is {bits or 'missing'}, not 1 or a multiple of 8",
            status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
        )
    frame_bits = rows * columns * image.samples * bits
    if photometric == "YBR_FULL_422" and image.samples == 3:
        frame_bits = frame_bits * 2 // 3  # two pixels share one Cb and one Cr sample
    needed = (frame_bits * frames + 7) // 8
    if length < needed:
        raise InvalidInstance(
            f"{_tag_name(tag)} has {length} bytes, fewer than the {needed} needed for "
            f"{frames} frame(s) of {rows}x{columns}x{image.samples} samples of {bits} bits",
            status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
        )
    if not servable or (frame_bits % 8 and frames > 1):
        return None  # big endian/deflated, or bit-packed frames not on byte boundaries
    size = (frame_bits + 7) // 8
    return [[(offset + index * size, size)] for index in range(frames)]


def _group_by_offsets(
    fragments: list[tuple[int, int, int]], offsets: list[int], frames: int
) -> list[list[tuple[int, int]]] | None:
    if len(offsets) != frames or not fragments:
        return None
    first = fragments[0][0]
    starts = {position - first: index for index, (position, _, _) in enumerate(fragments)}
    if any(o not in starts for o in offsets) or offsets != sorted(set(offsets)) or offsets[0]:
        return None
    bounds = [starts[o] for o in offsets] + [len(fragments)]
    return [[(off, n) for _, off, n in fragments[bounds[i] : bounds[i + 1]]] for i in range(frames)]


def _frame_marker(ts: str) -> tuple[bytes, ...] | None:
    if ts in _J2K_TS:
        return (b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0cjP  ")
    if ts in _JPEGXL_TS:
        return (b"\xff\x0a", b"\x00\x00\x00\x0cJXL ")
    if ts.startswith(_TS) and ts not in _VIDEO_TS:
        return (b"\xff\xd8",)
    return None


def _encapsulated_frames(
    file: _File, dataset: Dataset, ts: str, frames: int, scan: _Encapsulated
) -> list[list[tuple[int, int]]] | None:
    fragments = scan.fragments
    if len(fragments) < frames:
        raise InvalidInstance(
            f"encapsulated Pixel Data has {len(fragments)} fragment(s), fewer than the "
            f"{frames} frame(s) of Number of Frames",
            status.CANNOT_UNDERSTAND,
        )
    if ts in _VIDEO_TS:
        return None  # one video stream: frames cannot be cut out of it
    if frames == 1:
        return [[(offset, length) for _, offset, length in fragments]]
    eot = _raw_value(file, dataset, 0x7FE00001)
    if eot:
        grouped = _group_by_offsets(
            fragments, list(struct.unpack(f"<{len(eot) // 8}Q", eot[: len(eot) // 8 * 8])), frames
        )
        if grouped:
            return grouped
    if scan.offsets and (grouped := _group_by_offsets(fragments, scan.offsets, frames)):
        return grouped
    if len(fragments) == frames:
        return [[(offset, length)] for _, offset, length in fragments]
    markers = _frame_marker(ts)
    if markers is None:
        return None
    groups: list[list[tuple[int, int]]] = []
    for _, offset, length in fragments:
        if file.read_at(offset, 8).startswith(markers):
            groups.append([])
        if not groups:
            return None
        groups[-1].append((offset, length))
    return groups if len(groups) == frames else None


# --------------------------------------------------------------------------- entry point


def _valid_uid(value: str) -> bool:
    return len(value) <= 64 and _UID_RE.fullmatch(value) is not None


def _required_uid(meta: JsonObject, key: str, name: str) -> str:
    value = _text(meta, key)
    if not value:
        raise InvalidInstance(
            f"missing {name} ({key[:4]},{key[4:]})", status.DATASET_DOES_NOT_MATCH_SOP_CLASS
        )
    if not _valid_uid(value):
        raise InvalidInstance(
            f"{name} ({key[:4]},{key[4:]}) is not a valid UID: {value[:80]!r}",
            status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
        )
    return value


def parse_instance(
    path: str | os.PathLike[str], *, expected_study_uid: str | None = None
) -> ParsedInstance:
    """Validate one Part-10 file and compute what the index and the read side need.

    Raises `InvalidInstance` (reason, STOW failure code) for anything that cannot be
    stored; no other exception escapes for bad input.
    """
    try:
        fp = open(path, "rb")  # noqa: SIM115 - closed below, errors mapped separately
    except OSError as exc:
        raise InvalidInstance(
            f"cannot read the uploaded file: {exc}", status.PROCESSING_FAILURE
        ) from exc
    with fp:
        try:
            return _parse(fp, expected_study_uid)
        except InvalidInstance:
            raise
        except MemoryError as exc:
            raise InvalidInstance(
                "out of memory while parsing the file", status.OUT_OF_RESOURCES
            ) from exc
        except Exception as exc:  # pydicom raises many types for malformed input
            reason = " ".join(f"cannot parse the DICOM file: {type(exc).__name__}: {exc}".split())
            raise InvalidInstance(reason[:500], status.CANNOT_UNDERSTAND) from exc


def _parse(fp: IO[bytes], expected_study_uid: str | None) -> ParsedInstance:
    size = os.fstat(fp.fileno()).st_size
    file = _File(fp, size)
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
        _check_complete(file, dataset, ts != _BIG_ENDIAN)

    walker = _Walker(file, servable, uid.is_encapsulated, ts != _BIG_ENDIAN)
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

    image = _image(file, dataset, meta)
    frames = _frames(file, dataset, meta, image, ts, servable)

    prefix = (
        f"{BULK_BASE}/studies/{study_uid}/series/{series_uid}/instances/{sop_instance}/bulkdata/"
    )
    for element, bulk_path in walker.bulk_elements:
        element["BulkDataURI"] = prefix + bulk_path

    has_pixels = any(f"{tag:08X}" in meta for tag in _PIXEL_TAGS)
    instance: dict[str, object] = {
        "instance_number": _first_int(meta, "00200013"),
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
        study=_study_columns(meta),
        series=_series_columns(meta),
        instance=instance,
        request_attributes=_request_attributes(meta),
        study_json=_dumps(_subset(meta, _STUDY_KEYS)),
        series_json=_dumps(_subset(meta, _SERIES_KEYS)),
        instance_json=_dumps(dict(sorted(instance_meta.items()))),
        metadata_json=_dumps(meta),
        frames=frames,
        bulk=walker.bulk,
        size=size,
    )


def _frames(
    file: _File, dataset: Dataset, meta: JsonObject, image: _Image, ts: str, servable: bool
) -> list[list[tuple[int, int]]] | None:
    tag = next((t for t in _PIXEL_TAGS if t in dataset), None)
    if tag is None:
        # An image without pixels (spectroscopy and JPIP-referenced pixels aside) is most
        # likely a file cut at an element boundary before Pixel Data.
        sop_class = UID(_text(meta, "00080016"))
        is_image = image.rows or image.columns or "Image Storage" in sop_class.name
        if is_image and not (_NO_PIXEL_TAGS & set(_tag_list(dataset))):
            raise InvalidInstance(
                f"{sop_class.name} without Pixel Data (7FE0,0010) (truncated file?)",
                status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
            )
        return None
    element = dataset.get_item(tag, keep_deferred=True)
    if not isinstance(element, RawDataElement):
        return None
    encapsulated = tag == 0x7FE00010 and UID(ts).is_encapsulated
    if encapsulated != (element.length == _UNDEFINED):
        kind = "encapsulated (undefined length)" if encapsulated else "of defined length"
        raise InvalidInstance(
            f"Pixel Data must be {kind} with Transfer Syntax {ts}", status.CANNOT_UNDERSTAND
        )
    if not image.rows or not image.columns or image.frames == 0:
        raise InvalidInstance(
            f"{_tag_name(tag)} is present but Rows, Columns or Number of Frames is missing, "
            "invalid or zero",
            status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
        )
    if encapsulated:
        frames = image.frames or 1
        return _encapsulated_frames(file, dataset, ts, frames, file.scan(element.value_tell))
    length = len(element.value) if element.value is not None else element.length
    photometric = _text(meta, "00280004").strip()
    return _native_frames(image, photometric, tag, element.value_tell, length, servable)
