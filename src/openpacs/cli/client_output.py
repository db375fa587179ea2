"""How the client commands print results: rich tables for people, ``--json`` for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from openpacs.client.results import (
    Acknowledgement,
    DicomRecord,
    DicomTagContent,
    Equipment,
    Folder,
    Institution,
    PatientOrder,
    RetrieveResult,
    Share,
    UploadResult,
    User,
    UserGroup,
)


def stdout_console() -> Console:
    """Tables on stdout; wide when not a terminal, so UIDs are never wrapped in pipes."""
    tty = sys.stdout.isatty()
    return Console(highlight=False, width=None if tty else 250, soft_wrap=not tty)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def plural(noun: str, count: int) -> str:
    """``"files"`` for many, ``"file"`` for one."""
    return noun[:-1] if count == 1 and noun.endswith("s") else noun


def _table(*columns: str, title: str | None = None) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False, show_edge=False
    )
    for name in columns:
        uid_like = name.endswith(("UID", "Uuid", "URL", "Url")) or name in ("Path", "File")
        table.add_column(name, no_wrap=uid_like, overflow="fold")
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return escape(str(value))


def _row(table: Table, *values: Any) -> None:
    table.add_row(*(_cell(v) for v in values))


def _key_values(raw: dict[str, Any], title: str | None = None) -> Table:
    table = _table("Key", "Value", title=title)
    for key, value in raw.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            _row(table, key, f"({len(value)} items)")
        else:
            _row(table, key, value)
    return table


# --------------------------------------------------------------------------- DICOMweb


def _dicom_date(value: str) -> str:
    return (
        f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value
    )


def records_table(records: Sequence[DicomRecord]) -> Table:
    level = records[0].level if records else "study"
    if level == "study":
        table = _table(
            "PatientID",
            "PatientName",
            "StudyDate",
            "Modalities",
            "Description",
            "Series",
            "Instances",
            "StudyInstanceUID",
        )
        for r in records:
            _row(
                table,
                r.patient_id,
                r.patient_name,
                _dicom_date(r.study_date),
                r.modalities,
                r.study_description,
                r.number_of_study_related_series,
                r.number_of_study_related_instances,
                r.study_instance_uid,
            )
    elif level == "series":
        table = _table(
            "PatientID",
            "Modality",
            "Number",
            "Description",
            "Instances",
            "SeriesInstanceUID",
            "StudyInstanceUID",
        )
        for r in records:
            _row(
                table,
                r.patient_id,
                r.modality,
                r.series_number,
                r.series_description,
                r.number_of_series_related_instances,
                r.series_instance_uid,
                r.study_instance_uid,
            )
    else:
        table = _table("Number", "Frames", "SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID")
        for r in records:
            _row(
                table,
                r.instance_number,
                r.number_of_frames,
                r.sop_class_uid,
                r.sop_instance_uid,
                r.series_instance_uid,
            )
    return table


_LEVEL_WORDS = {"study": "studies", "series": "series", "instance": "instances"}


def show_records(records: Sequence[DicomRecord], level: str, as_json: bool) -> None:
    if as_json:
        print_json([r.raw for r in records])
        return
    console = stdout_console()
    if not records:
        console.print(f"No {_LEVEL_WORDS.get(level, level)} found.")
        return
    console.print(records_table(records))
    count = len(records)
    word = level if count == 1 else _LEVEL_WORDS.get(level, level)
    console.print(f"{count} {word}")


def upload_json(result: UploadResult) -> dict[str, Any]:
    return {
        "Stored": len(result.stored),
        "Failed": len(result.failed),
        "Bytes": result.bytes_total,
        "Seconds": round(result.elapsed, 3),
        "Requests": result.requests,
        "Files": [
            {
                "Path": str(f.path),
                "Status": f.status,
                "SOPInstanceUID": f.sop_instance_uid,
                "Size": f.size,
                "Reason": f.reason,
                "FailureCode": f.failure_code,
                "WarningCode": f.warning_code,
                "Sent": f.sent,
            }
            for f in result.files
        ],
    }


def show_upload(result: UploadResult, as_json: bool) -> None:
    if as_json:
        print_json(upload_json(result))
        return
    console = stdout_console()
    total = len(result.files)
    rate = len(result.stored) / result.elapsed if result.elapsed > 0 else 0.0
    console.print(
        f"Stored {len(result.stored)} of {total} files "
        f"({human_bytes(result.bytes_stored)}) in {result.elapsed:.1f} s"
        + (f", {rate:.1f} files/s" if result.stored else "")
    )
    if result.failed:
        table = _table("File", "Reason", title=f"{len(result.failed)} failed:")
        for f in result.failed:
            _row(table, str(f.path), f.reason)
        console.print(table)


def retrieve_json(result: RetrieveResult) -> dict[str, Any]:
    return {
        "Level": result.level,
        "UID": result.uid,
        "Directory": str(result.directory),
        "Files": [str(p) for p in result.files],
        "Bytes": result.bytes,
    }


def show_retrieve(result: RetrieveResult, as_json: bool) -> None:
    if as_json:
        print_json(retrieve_json(result))
        return
    console = stdout_console()
    if not result.files:
        console.print(f"Nothing retrieved for {result.level} {escape(result.uid)}.")
        return
    console.print(
        f"Retrieved {len(result.files)} {plural('files', len(result.files))} "
        f"({human_bytes(result.bytes)}) "
        f"into {escape(str(result.directory))}"
    )


# --------------------------------------------------------------------------- custom API


def share_table(shares: Sequence[Share]) -> Table:
    # A listed share has no URL: the server keeps only a hash of the link's token.
    table = _table("ShareUuid", "Kind", "Title", "ExpireDate", "Downloadable", "Password")
    for s in shares:
        _row(
            table,
            s.share_uuid,
            s.kind,
            s.title,
            s.expire_date,
            s.downloadable,
            s.password_protected,
        )
    return table


def folder_table(folders: Sequence[Folder]) -> Table:
    table = _table("FolderUuid", "FolderName", "FolderDescription", "ParentFolderUuid", "Orders")
    for f in folders:
        orders = ", ".join(o.patient_order_uuid for o in f.orders)
        _row(
            table, f.folder_uuid, f.folder_name, f.folder_description, f.parent_folder_uuid, orders
        )
    return table


def order_table(orders: Sequence[PatientOrder]) -> Table:
    table = _table(
        "PatientOrderUuid",
        "PatientName",
        "PatientId",
        "Modality",
        "StudyDate",
        "Status",
        "Instances",
        "InstitutionUuid",
    )
    for o in orders:
        _row(
            table,
            o.patient_order_uuid,
            o.patient_name,
            o.patient_id,
            o.modality,
            o.study_date,
            o.status,
            o.number_of_instances,
            o.institution_uuid,
        )
    return table


def order_detail(order: PatientOrder) -> list[Table]:
    scalars = {k: v for k, v in order.raw.items() if not isinstance(v, list | dict)}
    tables = [_key_values(scalars or {"PatientOrderUuid": order.patient_order_uuid})]
    if order.series:
        series = _table(
            "PatientSeriesUuid", "SeriesInstanceUID", "Modality", "Description", "Instances"
        )
        for s in order.series:
            _row(
                series,
                s.patient_series_uuid,
                s.series_instance_uid,
                s.modality,
                s.series_description,
                s.number_of_instances,
            )
        tables.append(series)
    return tables


def tags_table(content: DicomTagContent) -> Table:
    table = _table("Tag", "Keyword", "VR", "Value", "PatientSeriesUuid", "SOPInstanceUID")
    for t in content.tags:
        _row(table, t.tag, t.keyword, t.vr, t.text, t.patient_series_uuid, t.sop_instance_uid)
    return table


def simple_table(items: Sequence[Any]) -> Table:
    if items and isinstance(items[0], Institution):
        table = _table("InstitutionUuid", "Name")
        for i in items:
            _row(table, i.institution_uuid, i.name)
    elif items and isinstance(items[0], User):
        table = _table("UserUuid", "Email", "Name", "Role")
        for u in items:
            _row(table, u.user_uuid, u.email, u.name, u.role)
    elif items and isinstance(items[0], UserGroup):
        table = _table("UserGroupUuid", "Name", "Members")
        for g in items:
            _row(table, g.user_group_uuid, g.name, len(g.user_uuids))
    elif items and isinstance(items[0], Equipment):
        table = _table("EquipmentUuid", "Name", "Modality", "AETitle", "InstitutionUuid")
        for e in items:
            _row(table, e.equipment_uuid, e.name, e.modality, e.ae_title, e.institution_uuid)
    else:
        table = _table("Value")
        for item in items:
            _row(table, getattr(item, "raw", item))
    return table


def _raw(value: Any) -> Any:
    if isinstance(value, list):
        return [_raw(v) for v in value]
    return getattr(value, "raw", value)


def show_api_result(value: Any, as_json: bool, *, noun: str = "items") -> None:
    """Print any custom-endpoint result (object or list of objects)."""
    if as_json:
        print_json(_raw(value))
        return
    console = stdout_console()
    if isinstance(value, list):
        if not value:
            console.print(f"No {noun} found.")
            return
        first = value[0]
        if isinstance(first, Share):
            console.print(share_table(value))
        elif isinstance(first, Folder):
            console.print(folder_table(value))
        elif isinstance(first, PatientOrder):
            console.print(order_table(value))
        else:
            console.print(simple_table(value))
        total = getattr(value, "total_count", None)
        more = f" (of {total})" if isinstance(total, int) and total > len(value) else ""
        console.print(f"{len(value)} {plural(noun, len(value))}{more}")
        return
    if isinstance(value, Share):
        console.print(_key_values(value.raw or {"ShareUrl": value.share_url}))
        if value.share_url:
            console.print(f"Share URL: {value.share_url}", soft_wrap=True)
    elif isinstance(value, Folder):
        console.print(folder_table([value]))
    elif isinstance(value, PatientOrder):
        for table in order_detail(value):
            console.print(table)
    elif isinstance(value, DicomTagContent):
        if value.tags:
            console.print(tags_table(value))
        else:
            print_json(value.raw)
    elif isinstance(value, Acknowledgement):
        if value.raw:
            console.print(_key_values(value.raw))
        console.print(value.message or "Done.")
    else:
        print_json(_raw(value))
