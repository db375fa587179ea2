"""Blob store on a local filesystem: files are synced, then renamed (or written) into place."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from openpacs.storage.base import BLOB_KEY_PATTERN, BlobNotFound, check_blob_key, fsync_path


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._staging = self.root / ".staging"
        self._staging.mkdir(exist_ok=True)
        # Fan-out directories known to exist: saves a mkdir system call per write.
        self._known_dirs: set[Path] = set()
        # Directories with renames or new entries not yet synced (see sync_puts).
        self._unsynced: set[Path] = set()
        self._unsynced_lock = threading.Lock()

    def _path(self, key: str) -> Path:
        return self.root / check_blob_key(key)

    def _ensure_dir(self, directory: Path) -> None:
        if directory in self._known_dirs:
            return
        if not directory.is_dir():
            self._ensure_dir(directory.parent)
            directory.mkdir(exist_ok=True)
            # A new directory entry is only durable once its parent is synced.
            fsync_path(directory.parent)
        self._known_dirs.add(directory)

    def put_file(self, key: str, path: Path, *, defer_sync: bool = False) -> None:
        target = self._path(key)
        self._ensure_dir(target.parent)
        with open(path, "rb+") as handle:
            os.fsync(handle.fileno())
        if _same_device(path, target):
            os.replace(path, target)
        else:
            tmp = target.with_suffix(".part")
            shutil.copyfile(path, tmp)
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, target)
            path.unlink(missing_ok=True)
        self._mark_unsynced(target.parent)
        if not defer_sync:
            self.sync_puts([key])

    def prepare_keys(self, keys: Iterable[str]) -> None:
        # Empty files made (and their directory synced) once per batch of reserved keys:
        # a small upload written into one later changes no directory, so it is durable
        # after one fdatasync, without a directory sync per commit.
        directories: set[Path] = set()
        for key in keys:
            target = self._path(key)
            self._ensure_dir(target.parent)
            with contextlib.suppress(FileExistsError):
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            directories.add(target.parent)
        for directory in directories:
            fsync_path(directory)

    def put_bytes(self, key: str, data: bytes, *, defer_sync: bool = False) -> None:
        # Written in place, no staging file and rename: the key is reserved and not yet
        # indexed, so a torn write is garbage, never a blob anyone reads.
        target = self._path(key)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_TRUNC)  # prepared: no new entry
        except FileNotFoundError:
            self._ensure_dir(target.parent)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            self._mark_unsynced(target.parent)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fdatasync(fd)
        finally:
            os.close(fd)
        if not defer_sync:
            self.sync_puts([key])

    def sync_puts(self, keys: Iterable[str]) -> None:
        # Renames and new entries are durable once their directory is synced: once per
        # directory that has any (the flag is cleared before the sync, so an entry added
        # meanwhile marks it again and is synced next time, never forgotten).
        wanted = {self._path(key).parent for key in keys}
        with self._unsynced_lock:
            due = wanted & self._unsynced
            self._unsynced -= due
        for directory in due:
            fsync_path(directory)

    def _mark_unsynced(self, directory: Path) -> None:
        with self._unsynced_lock:
            self._unsynced.add(directory)

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        with self.open(key) as handle:
            handle.seek(offset)
            data = handle.read(length)
        if len(data) != length:
            raise BlobNotFound(f"{key} is shorter than expected")
        return data

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        with self.open(key) as handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def staging_dir(self) -> Path:
        return self._staging

    def iter_keys(self) -> Iterator[str]:
        for path in self.root.glob("??/*.dcm"):
            key = path.relative_to(self.root).as_posix()
            if BLOB_KEY_PATTERN.match(key):
                yield key


def _same_device(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_dev == b.parent.stat().st_dev
    except OSError:
        return False
