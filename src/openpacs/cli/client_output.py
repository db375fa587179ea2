"""How the client commands print results: tables for people (:mod:`.tables`), ``--json``
for scripts. Sizes and rates are decimal everywhere (``kB``, ``MB``, ``MB/s``), as the
progress bars print them."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.filesize import decimal
from rich.markup import escape

from openpacs.cli.tables import Column, identifier, number, render, stdout_console, vertical
from openpacs.client.results import (
    Acknowledgement,
    DicomRecord,
    DicomTagContent,
    Equipment,
    FileResult,
    Folder,
    Institution,
    OrderList,
    PatientOrder,
    RecordList,
    RetrieveResult,
    Share,
    UploadResult,
    User,
    UserGroup,
)
from openpacs.words import counted


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def human_bytes(n: float) -> str:
    """``1.2 MB``: the same units as the progress bar (decimal)."""
    return str(decimal(int(n)))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _show_pairs(console: Console, pairs: Sequence[tuple[Column, Any]]) -> None:
    """One record as ``key: value`` lines."""
    columns = [column for column, _ in pairs]
    text = vertical(columns, [[_text(value) for _, value in pairs]], console.width)
    console.print(text, end="", soft_wrap=True, markup=False, highlight=False)


def _is_identifier(key: str) -> bool:
    return key.endswith(("UID", "Uid", "Uuid", "URL", "Url", "UuidList")) or key in (
        "Path",
        "File",
    )


def _key_column(key: str) -> Column:
    return identifier(key) if _is_identifier(key) else Column(key)


def _scalars(raw: dict[str, Any]) -> list[tuple[Column, Any]]:
    """The fields of an answer, lists of plain values included (comma separated); nested
    objects are left to ``--json``."""
    return [
        (_key_column(k), v)
        for k, v in raw.items()
        if not isinstance(v, dict)
        and not (isinstance(v, list) and any(isinstance(i, dict | list) for i in v))
    ]


def more_hint(shown: int, offset: int, total: int | None = None) -> str:
    """``"; more with --offset 120"`` when results are left, else ``""``."""
    following = offset + shown
    if total is not None and total <= following:
        return ""
    return f"; more with --offset {following}"


def nothing_found(words: str, offset: int = 0) -> str:
    """An empty result: none at all, or none past ``--offset`` (a search and an order
    search say it alike)."""
    return f"No more {words} (offset {offset})." if offset else f"No {words} found."


# --------------------------------------------------------------------------- DICOMweb


def _dicom_date(value: str) -> str:
    return (
        f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value
    )


def _records_table(records: Sequence[DicomRecord]) -> tuple[list[Column], list[list[Any]]]:
    level = records[0].level
    if level == "study":
        columns = [
            identifier("PatientID"),
            Column("PatientName"),
            Column("StudyDate"),
            Column("Modalities"),
            Column("Description"),
            number("Series"),
            number("Instances"),
            identifier("StudyInstanceUID"),
        ]
        rows = [
            [
                r.patient_id,
                r.patient_name,
                _dicom_date(r.study_date),
                r.modalities,
                r.study_description,
                r.number_of_study_related_series,
                r.number_of_study_related_instances,
                r.study_instance_uid,
            ]
            for r in records
        ]
    elif level == "series":
        columns = [
            number("Number"),
            Column("Modality"),
            Column("Description"),
            number("Instances"),
            identifier("SeriesInstanceUID"),
        ]
        rows = [
            [
                r.series_number,
                r.modality,
                r.series_description,
                r.number_of_series_related_instances,
                r.series_instance_uid,
            ]
            for r in records
        ]
    else:
        columns = [number("Number"), number("Frames"), identifier("SOPInstanceUID")]
        rows = [[r.instance_number, r.number_of_frames, r.sop_instance_uid] for r in records]
    return columns, rows


_LEVEL_WORDS = {"study": "studies", "series": "series", "instance": "instances"}


def show_records(
    records: Sequence[DicomRecord], level: str, as_json: bool, offset: int = 0
) -> None:
    if as_json:
        print_json([r.raw for r in records])
        return
    console = stdout_console()
    words = _LEVEL_WORDS.get(level, level)
    if not records:
        console.print(nothing_found(words, offset))
        return
    columns, rows = _records_table(records)
    render(console, columns, [[_text(v) for v in row] for row in rows])
    count = len(records)
    word = level if count == 1 and level != "series" else words
    more = isinstance(records, RecordList) and records.more
    console.print(f"{count} {word}" + (more_hint(count, offset) if more else ""))


# --------------------------------------------------------------------------- upload


def upload_json(result: UploadResult) -> dict[str, Any]:
    return {
        "Stored": len(result.stored),
        "AlreadyStored": len(result.already_stored),
        "Failed": len(result.failed),
        "Skipped": len(result.skipped),
        "Bytes": result.bytes_total,
        "BytesSent": result.bytes_sent,
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


def _shown_path(path: Path) -> str:
    """A path relative to the current folder when it is inside it (shorter to read)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def upload_summary(result: UploadResult) -> list[str]:
    """Two lines whose numbers add up: what became of every file found (the total is the
    progress bar's), then what travelled (skipped files and files that failed before
    sending, e.g. unreadable ones, are not sent)."""
    parts = [f"Stored {counted(len(result.stored), 'files')} ({human_bytes(result.bytes_stored)})"]
    if result.already_stored:
        parts.append(f"{len(result.already_stored)} already stored")
    if result.failed:
        parts.append(f"{len(result.failed)} failed")
    if result.skipped:
        parts.append(f"{len(result.skipped)} skipped (not DICOM)")
    outcome = "; ".join(parts)
    if len(parts) > 1:
        outcome += f": {counted(len(result.files), 'files')} in all"
    sent = [f for f in result.files if f.sent]
    not_sent = [f for f in result.failed if not f.sent]
    transfer = (
        f"Sent {counted(len(sent), 'files')} ({human_bytes(result.bytes_sent)}) "
        f"in {result.elapsed:.1f} s"
        + (f", {human_bytes(result.rate)}/s" if sent and result.elapsed > 0 else "")
        + f", {counted(result.requests, 'requests')}"
        + (f"; {len(not_sent)} failed before sending" if not_sent else "")
        + "."
    )
    return [outcome + ".", transfer]


def _file_table(console: Console, title: str, files: Sequence[FileResult]) -> None:
    console.print(title)
    render(
        console,
        [identifier("File"), Column("Reason")],
        [[_shown_path(f.path), f.reason] for f in files],
    )


def skipped_summary(files: Sequence[FileResult]) -> str:
    """``Skipped 10 files: a text file, not DICOM (9); ...`` (by reason)."""
    reasons = Counter(f.reason for f in files)
    parts = "; ".join(f"{reason} ({count})" for reason, count in reasons.most_common())
    return f"Skipped {counted(len(files), 'files')}: {parts}. --json lists them."


def show_upload(result: UploadResult, as_json: bool) -> None:
    """Failures first, the summary last (where the prompt comes back)."""
    if as_json:
        print_json(upload_json(result))
        return
    console = stdout_console()
    if result.failed:
        _file_table(console, f"{counted(len(result.failed), 'files')} failed:", result.failed)
    if result.skipped:
        console.print(escape(skipped_summary(result.skipped)))
    for line in upload_summary(result):
        console.print(escape(line))


# --------------------------------------------------------------------------- retrieve


def retrieve_json(result: RetrieveResult) -> dict[str, Any]:
    return {
        "Level": result.level,
        "UID": result.uid,
        "Layout": result.layout,
        "Directory": str(result.directory),
        "Files": [str(p) for p in result.files],
        "AlreadyThere": [str(p) for p in result.already_there],
        "Renamed": [str(p) for p in result.renamed],
        "Bytes": result.bytes,
    }


def _where(result: RetrieveResult) -> str:
    """The folder that holds the files: the deepest one they share."""
    if not result.files:
        return _shown_path(result.directory)
    common = Path(os.path.commonpath([str(p.parent) for p in result.files]))
    return _shown_path(common)


#: Renamed files listed by name after a retrieve (the others are counted).
RENAMED_SHOWN = 5


def show_retrieve(result: RetrieveResult, as_json: bool) -> None:
    """Counts in sentences (wrapped to the terminal); each folder or file on a line of its
    own, never wrapped, so that it can be copied whole."""
    if as_json:
        print_json(retrieve_json(result))
        return
    console = stdout_console()
    if not result.files:
        console.print(f"Nothing retrieved for {result.level} {escape(result.uid)}.")
        return
    written = len(result.files) - len(result.already_there)
    console.print(
        f"Retrieved {counted(len(result.files), 'files')} ({human_bytes(result.bytes)}, "
        f"layout {escape(result.layout)}) into:"
    )
    _print_path(console, _where(result) + os.sep)
    if result.already_there:
        there = len(result.already_there)
        console.print(
            f"{counted(there, 'files')} {'was' if there == 1 else 'were'} already there "
            f"with the same content (left alone); {written} written."
        )
    if result.renamed:
        console.print(
            f"{counted(len(result.renamed), 'files')} got a new name because a different "
            f"file had theirs:"
        )
        for path in result.renamed[:RENAMED_SHOWN]:
            _print_path(console, _shown_path(path))
        if len(result.renamed) > RENAMED_SHOWN:
            console.print(f"  ... and {len(result.renamed) - RENAMED_SHOWN} more (see --json)")


def _print_path(console: Console, path: str) -> None:
    """A path indented on its own line, whole (the terminal may fold it, nothing cuts it)."""
    console.print(f"  {escape(path)}", soft_wrap=True, overflow="ignore", crop=False)


# --------------------------------------------------------------------------- custom API


def _list_view(items: Sequence[Any]) -> tuple[list[Column], list[list[Any]]]:
    first = items[0]
    if isinstance(first, Share):
        # A listed share has no URL: the server keeps only a hash of the link's token.
        return (
            [
                identifier("ShareUuid"),
                Column("Kind"),
                Column("Title"),
                Column("ExpireDate"),
                Column("Download"),
                Column("Password"),
            ],
            [
                [s.share_uuid, s.kind, s.title, s.expire_date, s.downloadable, s.password_protected]
                for s in items
            ],
        )
    if isinstance(first, Folder):
        return (
            [
                identifier("FolderUuid"),
                Column("FolderName"),
                Column("Description"),
                identifier("ParentFolderUuid"),
                number("Orders"),
            ],
            [
                [
                    f.folder_uuid,
                    f.folder_name,
                    f.folder_description,
                    f.parent_folder_uuid,
                    _orders_of(f),
                ]
                for f in items
            ],
        )
    if isinstance(first, PatientOrder):
        return _orders_view(items)
    if isinstance(first, Institution):
        return [identifier("InstitutionUuid"), Column("Name")], [
            [i.institution_uuid, i.name] for i in items
        ]
    if isinstance(first, User):
        return [identifier("UserUuid"), identifier("Email"), Column("Name"), Column("Role")], [
            [u.user_uuid, u.email, u.name, u.role] for u in items
        ]
    if isinstance(first, UserGroup):
        return [identifier("UserGroupUuid"), Column("Name"), number("Members")], [
            [g.user_group_uuid, g.name, len(g.user_uuids)] for g in items
        ]
    if isinstance(first, Equipment):
        return (
            [
                identifier("EquipmentUuid"),
                Column("Name"),
                Column("Modality"),
                Column("AETitle"),
                Column("Host"),
                number("Port"),
                identifier("InstitutionUuid"),
            ],
            [
                [
                    e.equipment_uuid,
                    e.name,
                    e.modality,
                    e.ae_title,
                    e.host,
                    e.port,
                    e.institution_uuid,
                ]
                for e in items
            ],
        )
    return [Column("Value")], [[getattr(item, "raw", item)] for item in items]


def _show_folder_orders(console: Console, items: Sequence[Any]) -> None:
    """The orders of each folder that came with them (``--get-orders-in-folder``)."""
    for folder in items:
        if not isinstance(folder, Folder) or not folder.orders:
            continue
        console.print()
        title = f"{folder.folder_name} ({folder.folder_uuid})" if folder.folder_name else ""
        heading = f"{title or folder.folder_uuid}: {counted(len(folder.orders), 'orders')}"
        console.print(escape(heading), soft_wrap=True)  # the UUID is never broken
        columns, rows = _orders_view(folder.orders)
        render(console, columns, [[_text(v) for v in row] for row in rows], optional=ORDER_OPTIONAL)


def _orders_of(folder: Folder) -> Any:
    count = folder.raw.get("NumberOfOrders")
    return count if isinstance(count, int) else len(folder.orders)


#: Columns of an order table left out, in this order, when it would not fit (80 columns
#: and a 36-character UUID): the order's UUID, patient name and ID always stay, and so does
#: the InstitutionUuid of orders from several institutions (needed to act on an order).
ORDER_OPTIONAL = ("Images", "Status", "StudyDate", "Modality")


def _optional(items: Sequence[Any]) -> Sequence[str]:
    return ORDER_OPTIONAL if isinstance(items[0], PatientOrder) else ()


def _orders_view(orders: Sequence[PatientOrder]) -> tuple[list[Column], list[list[Any]]]:
    columns = [
        identifier("PatientOrderUuid"),
        Column("PatientName"),
        identifier("PatientId"),
        Column("Modality"),
        Column("StudyDate"),
        Column("Status"),
        number("Images"),
    ]
    rows = [
        [
            o.patient_order_uuid,
            o.patient_name,
            o.patient_id,
            ", ".join(o.modalities) or o.modality,
            _dicom_date(o.study_date),
            o.status,
            o.number_of_instances,
        ]
        for o in orders
    ]
    institutions = {o.institution_uuid for o in orders}
    if len(institutions) > 1:
        columns.append(identifier("InstitutionUuid"))
        for row, order in zip(rows, orders, strict=True):
            row.append(order.institution_uuid)
    return columns, rows


def _list_footer(value: Sequence[Any], noun: str) -> str:
    count = len(value)
    if isinstance(value, OrderList):
        total = value.total_count
        text = f"{count} of {total} {noun}" if total > count else counted(count, noun)
        if value and total > value.offset + count:
            text += more_hint(count, value.offset, total)
        institutions = {o.institution_uuid for o in value}
        if len(institutions) == 1:
            text += f"\nAll in institution {institutions.pop()}"
        return text
    return counted(count, noun)


def _raw(value: Any) -> Any:
    if isinstance(value, list):
        return [_raw(v) for v in value]
    return getattr(value, "raw", value)


def show_api_result(value: Any, as_json: bool, *, noun: str = "items", offset: int = 0) -> None:
    """Print any custom-endpoint result (object or list of objects); ``offset``: the
    ``--offset`` of the search that found the list."""
    if as_json:
        print_json(_raw(value))
        return
    console = stdout_console()
    if isinstance(value, list):
        if not value:
            console.print(nothing_found(noun, offset or getattr(value, "offset", 0)))
            return
        columns, rows = _list_view(value)
        render(
            console, columns, [[_text(v) for v in row] for row in rows], optional=_optional(value)
        )
        console.print(escape(_list_footer(value, noun)))
        _show_folder_orders(console, value)
        return
    if isinstance(value, Share):
        _show_pairs(console, _scalars(value.raw or {"ShareUrl": value.share_url}))
    elif isinstance(value, Folder):
        _show_pairs(console, _scalars(value.raw))
    elif isinstance(value, PatientOrder):
        show_order(value, False)
    elif isinstance(value, DicomTagContent):
        show_tags(console, value)
    elif isinstance(value, Acknowledgement):
        if value.raw:
            _show_pairs(console, _scalars(value.raw))
        console.print(value.message or "Done.")
    else:
        print_json(_raw(value))


# --------------------------------------------------------------------------- one order


def show_order(
    order: PatientOrder,
    as_json: bool,
    *,
    user_names: dict[str, str] | None = None,
    group_names: dict[str, str] | None = None,
) -> None:
    """Every field of an order, with its folders, modalities and the names of the user
    and group it is assigned to (when known), then its series."""
    if as_json:
        print_json(order.raw)
        return
    console = stdout_console()
    pairs = _scalars(order.raw or {"PatientOrderUuid": order.patient_order_uuid})
    pairs = [
        (c, v) for c, v in pairs if c.header not in ("AssignedUserUuid", "AssignedUserGroupUuid")
    ]
    pairs.append((Column("Modalities"), ", ".join(order.modalities)))
    pairs.append((Column("AssignedUser"), _named(order.assigned_user_uuid, user_names)))
    pairs.append((Column("AssignedGroup"), _named(order.assigned_user_group_uuid, group_names)))
    folders = ", ".join(
        f"{f.folder_name} ({f.folder_uuid})" if f.folder_name else f.folder_uuid
        for f in order.folders
    )
    pairs.append((Column("Folders"), folders or "none"))
    _show_pairs(console, pairs)
    if order.series:
        console.print()
        console.print(f"{counted(len(order.series), 'series')}:")
        render(
            console,
            [
                number("Number"),
                Column("Modality"),
                Column("Description"),
                number("Images"),
                identifier("PatientSeriesUuid"),
                identifier("SeriesInstanceUID"),
            ],
            [
                [
                    _text(s.series_number),
                    s.modality,
                    s.series_description,
                    _text(s.number_of_instances),
                    s.patient_series_uuid,
                    s.series_instance_uid,
                ]
                for s in order.series
            ],
        )


def _named(uuid: str, names: dict[str, str] | None) -> str:
    if not uuid:
        return "nobody"
    name = (names or {}).get(uuid)
    return f"{name} ({uuid})" if name else uuid


# --------------------------------------------------------------------------- tags


def show_tags(console: Console, content: DicomTagContent) -> None:
    """The values per image: a heading with the image's UIDs, then its tags."""
    if not content.tags:
        series = content.raw.get("SeriesList")
        if isinstance(series, list) and not series:
            console.print("No tag values: the order has no images (yet).")
        else:
            print_json(content.raw)
        return
    by_image: dict[tuple[str, str], list[Any]] = {}
    for tag in content.tags:
        by_image.setdefault((tag.patient_series_uuid, tag.sop_instance_uid), []).append(tag)
    for n, ((series, sop), tags) in enumerate(by_image.items()):
        if n:
            console.print()
        _show_pairs(
            console,
            [(identifier("SOPInstanceUID"), sop), (identifier("PatientSeriesUuid"), series)],
        )
        render(
            console,
            [Column("Tag"), Column("Keyword"), Column("VR"), Column("Value")],
            [[t.tag, t.keyword, t.vr, t.text] for t in tags],
        )
