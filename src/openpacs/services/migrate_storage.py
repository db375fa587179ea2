"""Copy every blob the index references from one blob store to another (e.g. to S3).

Safe to run while the server keeps serving from (and writing to) the source store:

- instances are walked in id order in batches, so instances stored meanwhile (higher ids)
  are picked up before the walk ends; a second run copies whatever arrived after that;
- resumable: a key the destination already has with the source's size is skipped, so an
  interrupted run just starts again;
- every copy is checked (size at the destination) before it counts, and, with
  ``delete_source``, before the source blob goes;
- a blob whose instance was deleted meanwhile is not an error. If it was copied just
  before the delete it stays behind in the destination, where ``admin gc --scan-store``
  finds it.

The usual switch-over: migrate while serving, stop the server, migrate again (only the
newest blobs are copied), restart with the new storage URL. Use ``delete_source`` only
once no server reads the source store any more.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from openpacs.index.db import Database
from openpacs.index.instance_lookups import indexed_keys, instance_keys_after, instance_totals
from openpacs.storage.base import BlobNotFound, BlobStore

# (instances done, instances in total, bytes done, bytes in total)
Progress = Callable[[int, int, int, int], None]

MAX_ERRORS_KEPT = 20


class Outcome(Enum):
    COPIED = "copied"
    SKIPPED = "skipped"
    MISSING = "missing"
    FAILED = "failed"


@dataclass
class MigrationReport:
    total: int = 0
    copied: int = 0
    skipped: int = 0  # already at the destination with the same size
    missing: int = 0  # referenced by the index but in neither store
    failed: int = 0
    deleted: int = 0  # source blobs removed (delete_source)
    bytes_copied: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.failed == 0

    def summary(self) -> str:
        text = (
            f"{self.total} blobs: {self.copied} copied ({_human(self.bytes_copied)}), "
            f"{self.skipped} already there, {self.missing} missing, {self.failed} failed"
        )
        if self.deleted:
            text += f", {self.deleted} removed from the source"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "Total": self.total,
            "Copied": self.copied,
            "Skipped": self.skipped,
            "Missing": self.missing,
            "Failed": self.failed,
            "Deleted": self.deleted,
            "BytesCopied": self.bytes_copied,
            "Errors": list(self.errors),
        }


@dataclass(frozen=True)
class _Result:
    key: str
    outcome: Outcome
    size: int = 0
    copied_bytes: int = 0
    deleted: bool = False
    error: str = ""


def migrate_storage(
    db: Database,
    source: BlobStore,
    destination: BlobStore,
    *,
    delete_source: bool = False,
    workers: int = 4,
    batch_size: int = 200,
    progress: Progress | None = None,
) -> MigrationReport:
    """Copy the blob of every instance row from ``source`` to ``destination``."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    report = MigrationReport()
    total, total_bytes = _totals(db)
    done_bytes = 0
    if progress is not None:
        progress(0, total, 0, total_bytes)

    def copy(item: tuple[str, int]) -> _Result:
        return _migrate_one(source, destination, item[0], item[1], delete_source)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="migrate") as pool:
        for batch in _batches(db, batch_size):
            results = list(pool.map(copy, batch))
            vanished = _unreferenced(db, [r.key for r in results if r.outcome is Outcome.MISSING])
            for result in results:
                outcome = result.outcome
                if outcome is Outcome.MISSING and result.key in vanished:
                    outcome = Outcome.SKIPPED  # its instance was deleted meanwhile
                report.total += 1
                report.deleted += int(result.deleted)
                report.bytes_copied += result.copied_bytes
                if outcome is Outcome.COPIED:
                    report.copied += 1
                elif outcome is Outcome.SKIPPED:
                    report.skipped += 1
                elif outcome is Outcome.MISSING:
                    report.missing += 1
                    _note(report, f"{result.key}: not in the source store")
                else:
                    report.failed += 1
                    _note(report, f"{result.key}: {result.error}")
                done_bytes += result.size
            if progress is not None:
                progress(report.total, max(total, report.total), done_bytes, total_bytes)
    return report


def _totals(db: Database) -> tuple[int, int]:
    with db.session() as session:
        return instance_totals(session)


def _batches(db: Database, batch_size: int) -> Iterator[list[tuple[str, int]]]:
    """(blob key, indexed size) of every instance in id order; sees rows added meanwhile."""
    last_id = 0
    while True:
        with db.session() as session:
            rows = instance_keys_after(session, last_id, batch_size)
        if not rows:
            return
        last_id = rows[-1][0]
        yield [(key, size) for _, key, size in rows]


def _unreferenced(db: Database, keys: Sequence[str]) -> set[str]:
    if not keys:
        return set()
    with db.session() as session:
        return set(keys) - indexed_keys(session, keys)


def _size_or_none(store: BlobStore, key: str) -> int | None:
    try:
        return store.size(key)
    except BlobNotFound:
        return None


def _migrate_one(
    source: BlobStore, destination: BlobStore, key: str, indexed_size: int, delete_source: bool
) -> _Result:
    try:
        source_size = _size_or_none(source, key)
        dest_size = _size_or_none(destination, key)
        if source_size is None:
            # Moved by an earlier run with delete_source, or lost.
            if dest_size is not None and dest_size == indexed_size:
                return _Result(key, Outcome.SKIPPED, dest_size)
            return _Result(key, Outcome.MISSING)
        outcome, copied = Outcome.SKIPPED, 0
        if dest_size != source_size:
            outcome, copied = Outcome.COPIED, _copy(source, destination, key, source_size)
        if delete_source:
            source.delete(key)
        return _Result(key, outcome, source_size, copied, delete_source)
    except BlobNotFound:
        return _Result(key, Outcome.MISSING)
    except Exception as exc:  # one bad blob must not stop the migration
        return _Result(key, Outcome.FAILED, error=f"{type(exc).__name__}: {exc}")


def _copy(source: BlobStore, destination: BlobStore, key: str, expected: int) -> int:
    """Stream the blob into the destination's staging area, store it, verify its size."""
    fd, name = tempfile.mkstemp(prefix="migrate-", suffix=".dcm", dir=destination.staging_dir())
    tmp = Path(name)
    try:
        written = 0
        with os.fdopen(fd, "wb") as out:
            for chunk in source.iter_chunks(key):
                out.write(chunk)
                written += len(chunk)
        if written != expected:
            raise OSError(f"read {written} bytes from the source, expected {expected}")
        destination.put_file(key, tmp)
    finally:
        tmp.unlink(missing_ok=True)
    stored = destination.size(key)
    if stored != expected:
        raise OSError(f"the destination holds {stored} bytes, expected {expected}")
    return written


def _note(report: MigrationReport, message: str) -> None:
    if len(report.errors) < MAX_ERRORS_KEPT:
        report.errors.append(message)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover
