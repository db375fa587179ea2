"""Blob keys are reserved (and their files prepared) before any upload needs them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.index.models import PendingBlob
from openpacs.services import key_pool
from openpacs.services.key_pool import BlobKeyPool
from openpacs.storage.filesystem import FilesystemBlobStore


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'index.db'}")
    upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def blobs(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs")


def reserved(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(conn.execute(select(PendingBlob.blob_key)).scalars())


def test_every_key_handed_out_is_reserved_and_prepared(
    db: Database, blobs: FilesystemBlobStore
) -> None:
    pool = BlobKeyPool(db, blobs, batch=8)
    keys = [pool.take() for _ in range(5)]
    pool.close()
    assert len(set(keys)) == 5
    assert set(keys) <= reserved(db)
    assert all(blobs.size(key) == 0 for key in keys)  # prepared, empty until written


def test_the_next_batch_is_reserved_before_the_current_one_runs_out(
    db: Database, blobs: FilesystemBlobStore
) -> None:
    pool = BlobKeyPool(db, blobs, batch=8)
    taken = [pool.take() for _ in range(7)]  # one left: below a quarter of the batch
    pool.close()  # waits for the background reservation
    assert len(reserved(db)) == 16
    taken += [pool.take() for _ in range(9)]  # the rest of both batches, no reservation
    pool.close()
    assert len(set(taken)) == 16
    assert set(taken) <= reserved(db)


def test_a_key_given_back_is_handed_out_next(db: Database, blobs: FilesystemBlobStore) -> None:
    pool = BlobKeyPool(db, blobs, batch=8)
    key = pool.take()
    pool.give_back(key)
    assert pool.take() == key
    pool.close()


def test_keys_kept_too_long_are_not_used(
    db: Database, blobs: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = BlobKeyPool(db, blobs, batch=8)
    first = pool.take()
    pool.close()
    monkeypatch.setattr(key_pool, "MAX_KEY_AGE_SECONDS", -1.0)
    second = pool.take()  # everything left is "too old": a fresh batch is reserved
    pool.close()
    assert second != first
    assert len(reserved(db)) >= 16
