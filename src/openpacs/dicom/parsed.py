"""What ingest computes for one instance (`ParsedInstance`) and the index columns it reads
from the instance's DICOM JSON (also used by migrations that add an attribute).

Pure (no pydicom): the index, the services and the migrations load it without the parser
(``dicom/ingest.py``), which a server needs only at its first upload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from openpacs.dicom.attributes import Attribute, Kind, Level, header_attributes
from openpacs.dicom.json_values import JsonObject, element_first_int, element_text, element_values
from openpacs.dicom.names import name_words, normalize_name

#: Where the server's DICOMweb root goes in stored BulkDataURIs (replaced when served).
BULK_BASE: Final = "@@OPENPACS_BASE@@"
_REQUEST_ATTRIBUTES: Final = "RequestAttributesSequence"
_REQUEST_ATTRIBUTES_KEY: Final = "00400275"
#: Length of ``study.other_patient_ids`` (not a QIDO attribute: the orders' copy of it).
OTHER_PATIENT_IDS_LENGTH: Final = 400


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


# --------------------------------------------------------------------------- columns


def _clip_words(words: str, limit: int) -> str:
    return words if len(words) <= limit else words[: limit + 1].rsplit(" ", 1)[0]


def _date(value: str) -> str:
    return value.replace(".", "").strip()


def _time(value: str) -> str:
    return value.replace(":", "").strip()


def index_columns(meta: JsonObject, level: Level, sequence: str | None = None) -> dict[str, object]:
    """The index columns of the ``HEADER`` rows of the attribute table at ``level`` (or of
    the items of ``sequence``), read from the DICOM JSON of a file (or of one item)."""
    columns: dict[str, object] = {}
    for attr in header_attributes(level, sequence):
        columns.update(attribute_values(meta, attr))
    return columns


def attribute_values(meta: JsonObject, attr: Attribute) -> dict[str, object]:
    """The column(s) of one attribute: text clipped to its column (dates lose ``.`` and
    times ``:``, old ACR-NEMA forms); person names also fill their normalised (and word)
    columns; integers are the first value. Migrations that add an attribute fill existing
    rows with this too, so old and new rows agree."""
    assert attr.column is not None
    if attr.kind is Kind.INT:
        return {attr.column: element_first_int(meta, attr.key)}
    text = element_text(meta, attr.key)
    if attr.kind is Kind.DATE:
        text = _date(text)
    elif attr.kind is Kind.TIME:
        text = _time(text)
    limit = attr.length or len(text)
    columns: dict[str, object] = {attr.column: text[:limit]}
    if attr.kind is Kind.PERSON_NAME:
        columns[attr.norm_column] = normalize_name(text)[:limit]
        if attr.words:
            columns[attr.words_column] = _clip_words(name_words(text), limit)
    return columns


def study_columns(meta: JsonObject) -> dict[str, object]:
    other_ids = [element_text(item, "00100020") for item in element_values(meta, "00101002")]
    other_ids = [value for value in other_ids if value] or [
        str(v) for v in element_values(meta, "00101000") if v
    ]
    columns = index_columns(meta, Level.STUDY)
    columns["other_patient_ids"] = "\\".join(other_ids)[:OTHER_PATIENT_IDS_LENGTH]
    return columns


def request_attributes(meta: JsonObject) -> list[dict[str, str]]:
    return [
        {k: str(v) for k, v in index_columns(item, Level.SERIES, _REQUEST_ATTRIBUTES).items()}
        for item in element_values(meta, _REQUEST_ATTRIBUTES_KEY)
    ]
