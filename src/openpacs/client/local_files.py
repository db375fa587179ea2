"""Which local files an upload sends, skips or refuses, with the reason in words.

- Folders are walked (hidden files and folders skipped). A file found there is sent when
  it is DICOM: named ``*.dcm``, or starting like a Part-10 file (``DICM`` at byte 128,
  as a CD's ``IMAGES/IM00001`` does). Anything else there is *skipped*: counted, never
  a failure (a folder often holds a README, a viewer, thumbnails).
- A file named on purpose (a path given directly, or ``*.dcm``) that is not DICOM is a
  *failure*, with the reason in words: empty, a text file, a DICOMDIR, no ``DICM``.
- A DICOMDIR (the index of a CD) is skipped wherever it is: it is not an image.

Only the first bytes of a file are read here; the SOP Instance UID comes from the
header, never from reading the whole file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpacs.client.results import FileResult

DICM_OFFSET = 128
_SNIFF_BYTES = 512
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"


class NotDicom(ValueError):
    """The file cannot be read as DICOM (reported as failed, never sent)."""


@dataclass(frozen=True)
class Candidate:
    """A file to look at: ``explicit`` when the user named it (or its name says DICOM)."""

    path: Path
    explicit: bool


@dataclass(frozen=True)
class LocalFile:
    """A file to send: its place in the result list, size and SOP Instance UID."""

    index: int
    path: Path
    size: int
    sop_instance_uid: str


def walk(directory: Path | str, *, recursive: bool = True) -> list[Path]:
    """Every regular, non-hidden file of a folder, sorted."""
    root = Path(directory).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"no such file or folder: {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {root}")
    found: list[Path] = []
    if recursive:
        walker: Iterable[tuple[str, list[str], list[str]]] = os.walk(root)
    else:
        walker = [(str(root), [], [e.name for e in os.scandir(root) if e.is_file()])]
    for folder, dirs, names in walker:
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            path = Path(folder, name)
            if not name.startswith(".") and path.is_file():
                found.append(path)
    return sorted(found)


def candidates(paths: Sequence[Path | str], *, recursive: bool = True) -> list[Candidate]:
    """The files of an upload: folders walked, files taken as named (explicit)."""
    out: list[Candidate] = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            out += [Candidate(p, is_dicom_name(p)) for p in walk(path, recursive=recursive)]
        elif path.exists():
            out.append(Candidate(path, True))
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return out


def is_dicom_name(path: Path) -> bool:
    return path.suffix.lower() in (".dcm", ".dicom")


def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(_SNIFF_BYTES)


def looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * len(text)


def content_problem(path: Path) -> str | None:
    """Why a file cannot be a Part-10 DICOM file, in words; None when it may be one."""
    try:
        head = _head(path)
    except OSError as exc:
        return f"cannot read the file: {exc.strerror or exc}"
    if not head:
        return "the file is empty"
    if head[DICM_OFFSET : DICM_OFFSET + 4] == b"DICM":
        return None
    if looks_like_text(head):
        return "a text file, not DICOM"
    if len(head) < DICM_OFFSET + 4:
        return f"too short for a DICOM file ({len(head)} bytes)"
    return "not a DICOM file: no 'DICM' prefix after the 128-byte preamble"


def skip_reason(candidate: Candidate) -> str | None:
    """Why a file found in a folder is left out (None: it is sent or judged later)."""
    if candidate.path.name.upper() == "DICOMDIR":
        return "a DICOMDIR (the index of a CD), not an image"
    if candidate.explicit:
        return None
    return content_problem(candidate.path)


def read_header(path: Path) -> tuple[str, str]:
    """SOP Instance UID and SOP Class UID from the header; NotDicom when unreadable."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    try:
        ds = dcmread(
            path,
            stop_before_pixels=True,
            specific_tags=["SOPInstanceUID", "SOPClassUID"],
            force=True,
        )
    except InvalidDicomError as exc:
        raise NotDicom(f"not a DICOM file: {exc}") from exc
    except Exception as exc:  # pydicom raises many kinds of errors on garbage input
        raise NotDicom(f"not a readable DICOM file: {type(exc).__name__}: {exc}") from exc
    meta = getattr(ds, "file_meta", None)
    uid = _uid_text(ds.get("SOPInstanceUID"))
    if not uid and meta is not None:
        uid = _uid_text(meta.get("MediaStorageSOPInstanceUID"))
    sop_class = _uid_text(ds.get("SOPClassUID"))
    if not sop_class and meta is not None:
        sop_class = _uid_text(meta.get("MediaStorageSOPClassUID"))
    if not uid:
        raise NotDicom("not a DICOM instance: no SOP Instance UID in its header")
    return uid, sop_class


def _uid_text(element: Any) -> str:
    value = getattr(element, "value", element)
    if value is None or isinstance(value, bytes | list):
        return ""
    return str(value).strip("\x00 ")


def inspect_file(index: int, path: Path) -> LocalFile | FileResult:
    """A :class:`LocalFile` ready to send, or the :class:`FileResult` of a file that is
    not sent: failed (unreadable, not DICOM) or skipped (a DICOMDIR)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return FileResult(
            path, "failed", reason=f"cannot read the file: {exc.strerror}", sent=False
        )
    problem = content_problem(path)
    try:
        uid, sop_class = read_header(path)
    except NotDicom as exc:
        return FileResult(path, "failed", size=size, reason=problem or str(exc), sent=False)
    if sop_class == MEDIA_STORAGE_DIRECTORY:
        reason = "a DICOMDIR (the index of a CD), not an image"
        return FileResult(path, "skipped", uid, size, reason, sent=False)
    return LocalFile(index, path, size, uid)


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
