"""Blob store on a local filesystem: write to a temporary file, fsync, rename."""

from __future__ import annotations

import os
import shutil
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
        if not defer_sync:
            fsync_path(target.parent)

    def sync_puts(self, keys: Iterable[str]) -> None:
        # The renames are durable once their directories are synced: once per directory.
        for directory in {self._path(key).parent for key in keys}:
            fsync_path(directory)

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
