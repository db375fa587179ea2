"""Writing a WADO-RS answer to disk, shared by the sync and async clients (no HTTP here).

The multipart/related answer is fed chunk by chunk into the streaming parser of
:mod:`openpacs.protocol.multipart`; each part goes straight into its own file, so a
study of any size needs no more memory than one chunk.

Parts are written under names made from a counter (``part-0001.dcm``, ...), opened with
``"xb"`` (never overwriting), either straight into a folder created for this retrieve
(the ``flat`` layout) or into a staging folder from which :class:`Destination` moves
each complete file to its place in the chosen layout (:mod:`.layout`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal

from openpacs.client.errors import IncompleteResponse, PacsError
from openpacs.client.layout import (
    Layout,
    Placement,
    human_path,
    place_file,
    read_header,
    remove_tree,
    uid_path,
)
from openpacs.client.results import RetrieveResult
from openpacs.protocol.multipart import (
    MultipartError,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    get_boundary,
    parse_content_type,
)

RetrieveProgress = Callable[[int, int, int, int], None]
"""``progress(files_done, files_total, bytes_done, bytes_total)``; totals are 0 when unknown."""

_DICOM_TYPES = {"application/dicom", "application/octet-stream"}


def default_folder_name(level: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"retrieved-{level}-{stamp}"


def make_output_dir(output_dir: Path | str | None, level: str, now: datetime | None = None) -> Path:
    """A new, empty folder for the files of one retrieve.

    - ``None``: ``./retrieved-<level>-<timestamp>``;
    - a path that does not exist yet: that folder (parents created);
    - an existing folder: a new ``retrieved-<level>-<timestamp>`` folder inside it.

    A name that is taken gets a ``-2``, ``-3``... suffix: an existing folder is never
    written into.
    """
    if output_dir is None:
        parent, name = Path.cwd(), default_folder_name(level, now)
    else:
        target = Path(output_dir).expanduser().absolute()
        if target.exists():
            if not target.is_dir():
                raise NotADirectoryError(f"not a folder: {target}")
            parent, name = target, default_folder_name(level, now)
        else:
            parent, name = target.parent, target.name
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        candidate = parent / (name if n == 1 else f"{name}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"cannot find a free folder name for {parent / name}")


def part_name(index: int) -> str:
    return f"part-{index:04d}.dcm"


class Destination:
    """The folder of one retrieve and the place of each file in its layout.

    ``flat`` and ``cd`` write into a new folder (see :func:`make_output_dir`); ``human``
    and ``uid`` into ``output_dir`` (default: the current folder), which may exist and
    hold earlier retrieves: files there are never replaced.
    """

    def __init__(self, output_dir: Path | str | None, level: str, layout: Layout = "flat") -> None:
        if layout not in ("flat", "human", "uid", "cd"):
            raise ValueError(f"unknown layout {layout!r}: flat, human, uid or cd")
        self.layout = layout
        self.placement = Placement()
        if layout in ("flat", "cd"):
            self.root = make_output_dir(output_dir, level)
            self._created = True
        else:
            self.root = Path(output_dir or Path.cwd()).expanduser().absolute()
            if self.root.exists() and not self.root.is_dir():
                raise NotADirectoryError(f"not a folder: {self.root}")
            self._created = not self.root.exists()
            self.root.mkdir(parents=True, exist_ok=True)
        self.staging = self.root
        if layout != "flat":
            self.staging = self.root / f".openpacs-retrieve-{secrets.token_hex(4)}"
            self.staging.mkdir()

    def part_path(self, number: int) -> Path:
        return self.staging / part_name(number)

    def complete(self, path: Path) -> None:
        """A part is complete: put it in its place (``cd`` waits for all of them)."""
        if self.layout == "flat":
            self.placement.files.append(path)
        elif self.layout in ("human", "uid"):
            header = read_header(path)
            relative = human_path(header) if self.layout == "human" else uid_path(header)
            place_file(path, self.root.joinpath(*relative.parts), self.placement)

    def finish(self) -> None:
        """Every part is in: the ``cd`` layout and its DICOMDIR; the staging folder goes."""
        if self.layout == "cd":
            self._write_cd()
        self._drop_staging()
        if not self.placement.files and self._created:
            remove_if_empty(self.root)

    def abort(self) -> None:
        """The answer broke off: complete files stay where they are, the rest goes."""
        if self.layout == "cd":  # a partial CD without a DICOMDIR: keep the files flat
            for path in sorted(self.staging.glob("part-*.dcm")):
                place_file(path, self.root / path.name, self.placement)
        self._drop_staging()

    def _drop_staging(self) -> None:
        if self.staging != self.root:
            remove_tree(self.staging)

    def _write_cd(self) -> None:
        from pydicom import dcmread

        from openpacs.dicom.dicomdir import DicomdirInstance, build_dicomdir, plan_file_set

        staged = sorted(self.staging.glob("part-*.dcm"))
        by_uid: dict[str, Path] = {}
        instances = []
        for path in staged:
            item = DicomdirInstance.from_dataset(dcmread(path, stop_before_pixels=True, force=True))
            by_uid.setdefault(item.sop_instance_uid, path)
            instances.append(item)
        plan = plan_file_set(instances)
        for uid, path in by_uid.items():
            place_file(path, self.root.joinpath(*plan.file_ids[uid]), self.placement)
        dicomdir = self.root / "DICOMDIR"
        with open(dicomdir, "xb") as fh:
            fh.write(build_dicomdir(plan))


class PartWriter:
    """Consumes a WADO-RS answer body and writes one ``.dcm`` file per part.

    A non-multipart DICOM answer (``application/dicom``) is written as one file.
    Call :meth:`feed` per chunk, then :meth:`close` (or :meth:`abort` on an error).
    """

    def __init__(
        self,
        destination: Destination,
        content_type: str,
        *,
        url: str = "",
        bytes_total: int = 0,
        progress: RetrieveProgress | None = None,
    ) -> None:
        self.destination = destination
        self.files: list[Path] = []
        self.bytes = 0
        self.url = url
        self._bytes_total = bytes_total
        self._progress = progress
        self._current: BinaryIO | None = None
        self._current_path: Path | None = None
        self._received = 0
        try:
            media_type, _ = parse_content_type(content_type or "application/octet-stream")
        except MultipartError as exc:
            raise PacsError(f"unreadable Content-Type of the answer: {exc}", url=url) from exc
        self._parser: MultipartParser | None = None
        if media_type.startswith("multipart/"):
            try:
                self._parser = MultipartParser(get_boundary(content_type))
            except MultipartError as exc:
                raise PacsError(f"unreadable multipart answer: {exc}", url=url) from exc
        elif media_type not in _DICOM_TYPES:
            raise PacsError(f"the server answered {media_type}, not DICOM files", url=url)
        else:
            self._open()

    # -- files ---------------------------------------------------------------------------

    def _open(self) -> None:
        path = self.destination.part_path(len(self.files) + 1)
        self._current = open(path, "xb")  # noqa: SIM115 - closed in _finish/abort
        self._current_path = path

    def _finish(self, complete: bool) -> None:
        fh, path = self._current, self._current_path
        self._current, self._current_path = None, None
        if fh is None or path is None:
            return
        fh.close()
        if complete:
            self.files.append(path)
            self.bytes += path.stat().st_size
            self.destination.complete(path)
            self._report()
        else:
            path.unlink(missing_ok=True)

    def _report(self) -> None:
        if self._progress is not None:
            self._progress(len(self.files), 0, self._received, self._bytes_total)

    # -- input ---------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._parser is None:
            assert self._current is not None
            self._current.write(chunk)
            self._report()
            return
        try:
            events = self._parser.feed(chunk)
        except MultipartError as exc:
            self.abort()
            raise IncompleteResponse(
                f"malformed multipart answer after {len(self.files)} files: {exc}",
                url=self.url,
                files=self.destination.placement.files,
            ) from exc
        self._handle(events)
        self._report()

    def _handle(self, events: list[PartStart | PartData | PartEnd]) -> None:
        for event in events:
            if isinstance(event, PartStart):
                self._finish(False)
                self._open()
            elif isinstance(event, PartData):
                if self._current is not None:
                    self._current.write(event.data)
            else:
                self._finish(event.complete)

    def close(self) -> list[Path]:
        """End of the answer: the files in their places; IncompleteResponse if it was cut
        off (the complete files are kept)."""
        if self._parser is None:
            self._finish(True)
            self.destination.finish()
            return self.destination.placement.files
        try:
            events = self._parser.close()
        except MultipartError as exc:
            self.abort()
            raise IncompleteResponse(
                f"the answer is not multipart: {exc}",
                url=self.url,
                files=self.destination.placement.files,
            ) from exc
        self._handle(events)
        if self._parser.truncated:
            self.abort()
            raise IncompleteResponse(
                f"the answer was cut off; kept the {len(self.files)} complete files",
                url=self.url,
                files=self.destination.placement.files,
            )
        self.destination.finish()
        return self.destination.placement.files

    def abort(self) -> None:
        """Drop a part being written (the complete ones stay)."""
        self._finish(False)
        self.destination.abort()


def open_writer(
    output_dir: Path | str | None,
    level: str,
    layout: Layout,
    content_type: str,
    *,
    url: str = "",
    bytes_total: int = 0,
    progress: RetrieveProgress | None = None,
) -> PartWriter:
    """The destination folder and the writer of an answer that has begun (2xx)."""
    destination = Destination(output_dir, level, layout)
    try:
        return PartWriter(
            destination, content_type, url=url, bytes_total=bytes_total, progress=progress
        )
    except BaseException:
        destination.finish()
        raise


def retrieve_result(
    level: Literal["study", "series", "instance"], uid: str, writer: PartWriter, files: list[Path]
) -> RetrieveResult:
    placement = writer.destination.placement
    return RetrieveResult(
        level,
        uid,
        writer.destination.root,
        files,
        writer.bytes,
        layout=writer.destination.layout,
        already_there=list(placement.already_there),
        renamed=list(placement.renamed),
    )


def remove_if_empty(directory: Path | None) -> None:
    """Remove a folder made for a retrieve that produced no file."""
    if directory is not None:
        with contextlib.suppress(OSError):
            os.rmdir(directory)
