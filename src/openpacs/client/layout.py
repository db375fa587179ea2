"""Where retrieved files go: one of four layouts, and never over an existing file.

- ``flat``: a new folder, files numbered as they arrive (``part-0001.dcm``);
- ``human``: ``PatientID_StudyDate/SeriesNumber_SeriesDescription/InstanceNumber.dcm``;
- ``uid``: ``StudyInstanceUID/SeriesInstanceUID/SOPInstanceUID.dcm``;
- ``cd``: a patient-CD folder, ``DICOM/PAT00001/STU00001/SER00001/IMG00001`` and a
  ``DICOMDIR`` (built by :mod:`openpacs.dicom.dicomdir`), in a new folder.

``human`` and ``uid`` need each file's header, so a part is first written to a staging
folder and moved into place when complete. A name already taken by an identical file is
not written again (reported as already there); by a different file, the new one gets
``-2``, ``-3``... (reported as renamed). Every name comes from sanitised header values:
nothing the server sends can write outside the output folder.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

Layout = Literal["flat", "human", "uid", "cd"]
LAYOUTS: tuple[Layout, ...] = ("flat", "human", "uid", "cd")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_COMPONENT = 64


@dataclass(frozen=True)
class Header:
    """The header values that name a file."""

    patient_id: str = ""
    study_date: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    series_number: int | None = None
    series_description: str = ""
    sop_instance_uid: str = ""
    instance_number: int | None = None


def read_header(path: Path) -> Header:
    from pydicom import dcmread

    ds = dcmread(path, stop_before_pixels=True, force=True)

    def text(keyword: str) -> str:
        value = ds.get(keyword)
        return "" if value is None else str(value).strip()

    def number(keyword: str) -> int | None:
        try:
            return int(str(ds.get(keyword)).strip())
        except (TypeError, ValueError):
            return None

    return Header(
        patient_id=text("PatientID"),
        study_date=text("StudyDate"),
        study_instance_uid=text("StudyInstanceUID"),
        series_instance_uid=text("SeriesInstanceUID"),
        series_number=number("SeriesNumber"),
        series_description=text("SeriesDescription"),
        sop_instance_uid=text("SOPInstanceUID"),
        instance_number=number("InstanceNumber"),
    )


def safe_component(text: str, fallback: str) -> str:
    """One path component from a header value: ``A-Za-z0-9._-`` only, never ``.``/``..``."""
    cleaned = _UNSAFE.sub("_", text.strip()).strip("._")[:_MAX_COMPONENT].strip("._")
    return cleaned or fallback


def human_path(h: Header) -> PurePosixPath:
    study = (
        f"{safe_component(h.patient_id, 'no-patient-id')}_{safe_component(h.study_date, 'no-date')}"
    )
    number = f"{h.series_number:03d}" if h.series_number is not None else "000"
    series = number + (
        f"_{safe_component(h.series_description, '')}" if h.series_description else ""
    )
    if h.instance_number is not None:
        name = f"{h.instance_number:04d}"
    else:
        name = safe_component(h.sop_instance_uid, "instance")
    return PurePosixPath(study, series.rstrip("_"), f"{name}.dcm")


def uid_path(h: Header) -> PurePosixPath:
    return PurePosixPath(
        safe_component(h.study_instance_uid, "no-study-uid"),
        safe_component(h.series_instance_uid, "no-series-uid"),
        f"{safe_component(h.sop_instance_uid, 'instance')}.dcm",
    )


@dataclass
class Placement:
    """Where the files of one retrieve ended up."""

    files: list[Path] = field(default_factory=list)
    already_there: list[Path] = field(default_factory=list)
    renamed: list[Path] = field(default_factory=list)


def place_file(staged: Path, target: Path, placement: Placement) -> Path:
    """Move ``staged`` to ``target`` without ever replacing a file; returns where it is."""
    target.parent.mkdir(parents=True, exist_ok=True)
    candidate = target
    for n in range(2, 10_000):
        if candidate.exists():
            if candidate.is_file() and filecmp.cmp(staged, candidate, shallow=False):
                staged.unlink()
                placement.already_there.append(candidate)
                placement.files.append(candidate)
                return candidate
            candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
            continue
        if _move_no_replace(staged, candidate):
            if candidate != target:
                placement.renamed.append(candidate)
            placement.files.append(candidate)
            return candidate
    raise FileExistsError(f"cannot find a free name for {target}")


def _move_no_replace(source: Path, target: Path) -> bool:
    """Rename without replacing: a hard link fails on an existing name (atomically)."""
    try:
        os.link(source, target)
    except FileExistsError:
        return False
    except OSError:  # no hard links here (some network or FAT file systems)
        if target.exists():
            return False
        os.replace(source, target)
        return True
    source.unlink()
    return True


def remove_tree(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            shutil.rmtree(path)
