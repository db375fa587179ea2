"""The audit journal: an append-only file per server process, so that no audit event of
an answered request is lost when the process is killed, whatever the database is doing.

Why a journal: a read of a study has no database transaction to put its audit row in,
and inserting one per request would cost a commit each (and on SQLite wait behind the
uploads' write lock). Instead each event is appended to this process's journal with one
``write`` (about a microsecond) *before* the response starts; a killed process cannot
lose it, the kernel has it. :meth:`Journal.sync` then makes it durable against a power
cut too (``fdatasync``, grouped: one caller syncs for everyone who appended before it,
the way the index writer commits). The audit trail copies the events into the database
in batches, about once a second, and records in the same transaction how far it got
(``audit_journal_mark``).

Files: ``DATA_DIR/audit/<journal id>.jsonl``, one JSON array per line:
``[seq, account_id, user_id, share_id, token_id, action, outcome, study_uid,
patient_id, detail, client, time]``. The owning process holds an exclusive ``flock`` on
its file; the kernel drops it when the process dies, however it dies. At start every
process replays the journals nobody holds (:func:`orphans`): the events after the mark
go into the database, then the file and its mark are removed. A clean shutdown leaves
no journal behind; a journal is rotated when it grows past :data:`ROTATE_BYTES` and
everything in it is in the database.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from openpacs.storage.base import fsync_path

log = logging.getLogger("openpacs.audit")

ROTATE_BYTES = 8 * 1024 * 1024
SUFFIX = ".jsonl"


@dataclass(frozen=True)
class Entry:
    """One journal line: the event's columns and its sequence number in the journal."""

    seq: int
    values: dict[str, Any]


_FIELDS = (
    "account_id",
    "user_id",
    "share_id",
    "token_id",
    "action",
    "outcome",
    "study_instance_uid",
    "patient_id",
    "detail",
    "client",
    "created_at",
)


def encode(seq: int, values: dict[str, Any]) -> bytes:
    row = [seq, *(values[name] for name in _FIELDS)]
    row[-1] = values["created_at"].isoformat()
    return orjson.dumps(row) + b"\n"


def decode(line: bytes) -> Entry | None:
    """The entry of one line; None for a line cut short by a power cut (never by a kill:
    each line is one ``write``)."""
    try:
        row = orjson.loads(line)
        values = dict(zip(_FIELDS, row[1:], strict=True))
        values["created_at"] = datetime.fromisoformat(values["created_at"])
        return Entry(int(row[0]), values)
    except (orjson.JSONDecodeError, ValueError, TypeError, IndexError):
        return None


class Journal:
    """This process's journal file (created on construction, locked while it lives)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._seq = 0
        self._synced = 0
        self.name, self._fd = self._open_new()

    def _open_new(self) -> tuple[str, int]:
        # Created and locked under a name that `orphans` does not look at, then renamed:
        # another process replaying orphans must never find our journal before it is
        # locked (it would take it for an orphan, and our lock would fail).
        name = uuid.uuid4().hex
        staging = self.directory / f".{name}.new"
        fd = os.open(staging, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(staging, self.directory / f"{name}{SUFFIX}")
            fsync_path(self.directory)  # the journal's name must survive a crash
        except BaseException:
            os.close(fd)
            staging.unlink(missing_ok=True)
            raise
        return name, fd

    @property
    def last_seq(self) -> int:
        return self._seq

    def append(self, values: dict[str, Any]) -> tuple[str, int]:
        """Write one event; (journal name, sequence number). Never blocks on the disk."""
        with self._lock:
            self._seq += 1
            os.write(self._fd, encode(self._seq, values))
            return self.name, self._seq

    def sync(self, seq: int) -> None:
        """Return when entry ``seq`` (and all before it) is on disk: one ``fdatasync``
        serves every caller that appended before it started (group commit)."""
        if self._synced >= seq:
            return
        with self._sync_lock:
            if self._synced >= seq:
                return  # synced by the caller before us while we waited
            with self._lock:
                target, fd = self._seq, self._fd
            os.fdatasync(fd)
            self._synced = max(self._synced, target)

    def rotate(self, committed: int) -> str | None:
        """Start a new file when this one is large and all of it (up to ``committed``) is
        in the database; the old file is removed. The old journal's name, or None."""
        with self._sync_lock, self._lock:
            if committed != self._seq or os.fstat(self._fd).st_size < ROTATE_BYTES:
                return None
            old_name, old_fd = self.name, self._fd
            self.name, self._fd = self._open_new()
            self._seq = self._synced = 0
        self._remove(old_name, old_fd)
        return old_name

    def close(self, committed: int) -> bool:
        """Close the file, removing it when everything in it is in the database."""
        with self._sync_lock, self._lock:
            done = committed == self._seq
            if done:
                self._remove(self.name, self._fd)
            else:
                os.close(self._fd)
            self._fd = -1
            return done

    def _remove(self, name: str, fd: int) -> None:
        try:
            (self.directory / f"{name}{SUFFIX}").unlink()
        finally:
            os.close(fd)


@dataclass
class Orphan:
    """A journal no living process holds: replay it, then :meth:`remove` it."""

    name: str
    path: Path
    fd: int

    def entries(self) -> list[Entry]:
        with open(self.path, "rb") as handle:
            return [entry for line in handle if (entry := decode(line)) is not None]

    def remove(self) -> None:
        try:
            self.path.unlink()
        finally:
            os.close(self.fd)

    def release(self) -> None:
        os.close(self.fd)


def orphans(directory: Path, own: str) -> Iterator[Orphan]:
    """The journals in ``directory`` whose process is gone (their lock is free), each
    locked by us while it is replayed."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        name = path.name[: -len(SUFFIX)]
        if name == own:
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # replayed and removed by another process meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)  # alive (or being replayed by another process)
            continue
        if not path.exists():  # removed between our open and our lock
            os.close(fd)
            continue
        yield Orphan(name, path, fd)
