"""The write path over a real SQLite index and filesystem blob store: what is left on disk
and in the index after good, bad, duplicate and concurrent uploads, in memory or staged."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bench.dataset import InstanceSpec, det_uid, make_instance
from sqlalchemy import func, select

from openpacs.dicom import status
from openpacs.dicom.ingest import parse_instance
from openpacs.index.instance_rows import index_instances
from openpacs.index.models import Instance, PendingBlob, Series, Study
from openpacs.services.gc import SWEEP_GRACE_SECONDS, Sweeper, collect_garbage
from openpacs.services.index_writer import IndexJob, IndexWriter
from openpacs.services.key_pool import BlobKeyPool
from openpacs.services.store import StoreOutcome, StoreService
from openpacs.services.upload import Upload
from openpacs.storage.base import new_blob_key
from openpacs.storage.filesystem import FilesystemBlobStore
from tests.support.index import account_index
from tests.support.specs import small_spec


def spec(study: str, series: int, number: int, modality: str = "CT") -> InstanceSpec:
    return small_spec(study, series, number, modality=modality)


class Harness:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.db, self.who = account_index(tmp)
        self.blobs = FilesystemBlobStore(tmp / "blobs")
        self.service = StoreService(self.db, self.blobs)

    def store(self, data: bytes, *, staged: bool = False) -> StoreOutcome:
        upload = Upload(data=data)
        if staged:
            path = self.blobs.staging_dir() / f"part-{len(list(self.tmp.rglob('*')))}"
            path.write_bytes(data)
            upload = Upload(path=path)
        return self.service.store(self.who, upload, base_url="http://x")

    def blob_files(self) -> list[Path]:
        """Blobs with content; the empty ones are keys reserved for uploads to come."""
        files = sorted(self.blobs.root.glob("??/*.dcm"))
        with self.db.session() as session:
            reserved = set(session.scalars(select(PendingBlob.blob_key)))
        for empty in (f for f in files if f.stat().st_size == 0):
            assert empty.relative_to(self.blobs.root).as_posix() in reserved
        return [f for f in files if f.stat().st_size > 0]

    def count(self, model: type) -> int:
        with self.db.session() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.service.close()
    harness.db.dispose()


@pytest.mark.parametrize("staged", [False, True], ids=["in-memory", "staged-file"])
def test_a_stored_instance_is_one_blob_with_the_same_bytes(h: Harness, staged: bool) -> None:
    data = make_instance(spec("one", 1, 1))
    outcome = h.store(data, staged=staged)
    assert outcome.stored is not None, outcome.failed
    files = h.blob_files()
    assert [f.read_bytes() for f in files] == [data]
    with h.db.session() as session:
        key = session.scalar(select(Instance.blob_key))
        reserved = set(session.scalars(select(PendingBlob.blob_key)))
    assert files[0] == h.blobs.root / str(key)
    assert key not in reserved
    assert list(h.blobs.staging_dir().iterdir()) == []


@pytest.mark.parametrize("staged", [False, True], ids=["in-memory", "staged-file"])
def test_a_bad_upload_leaves_no_blob(h: Harness, staged: bool) -> None:
    outcome = h.store(b"not dicom at all" * 100, staged=staged)
    assert outcome.failed is not None
    assert outcome.failed.failure_code == status.CANNOT_UNDERSTAND
    assert h.blob_files() == []
    assert list(h.blobs.staging_dir().iterdir()) == []


@pytest.mark.parametrize("staged", [False, True], ids=["in-memory", "staged-file"])
def test_a_duplicate_upload_gives_its_key_back(h: Harness, staged: bool) -> None:
    batch = BlobKeyPool(h.db, h.blobs).batch
    first = make_instance(spec("dup", 1, 0))
    assert h.store(first).stored is not None
    assert h.store(first, staged=staged).stored is not None  # written, then dropped
    for n in range(1, batch):
        assert h.store(make_instance(spec("dup", 1, n))).stored is not None
    # One batch of keys was enough for all: the duplicate's key went back to the pool.
    # (The next batch is reserved in the background once a quarter is left: one batch.)
    h.service.close()
    assert h.count(PendingBlob) == batch
    assert len(h.blob_files()) == batch


@pytest.mark.parametrize("staged", [False, True], ids=["in-memory", "staged-file"])
def test_sending_an_instance_again_keeps_the_first_copy(h: Harness, staged: bool) -> None:
    data = make_instance(spec("again", 1, 1))
    assert h.store(data).stored is not None
    first = h.blob_files()
    again = h.store(data, staged=staged)
    assert again.stored is not None and again.failed is None
    assert h.blob_files() == first
    assert h.count(Instance) == 1
    with h.db.session() as session:
        assert session.scalar(select(Study.num_instances)) == 1
        assert session.scalar(select(Series.num_instances)) == 1


def test_the_same_instance_claiming_another_study_is_refused_and_creates_nothing(
    h: Harness,
) -> None:
    original = spec("first", 1, 1)
    assert h.store(make_instance(original)).stored is not None
    moved = replace(original, study_uid=det_uid("other", "study"))
    outcome = h.store(make_instance(moved))
    assert outcome.failed is not None
    assert outcome.failed.failure_code == status.DUPLICATE_SOP_INSTANCE
    assert (h.count(Study), h.count(Series), h.count(Instance)) == (1, 1, 1)
    assert len(h.blob_files()) == 1


def test_concurrent_uploads_share_commits_and_count_right(h: Harness) -> None:
    specs = [
        spec("many", series, n, "CT" if series == 1 else "MR")
        for series in (1, 2)
        for n in range(1, 21)
    ]
    datas = [make_instance(s, i) for i, s in enumerate(specs)]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(h.store, datas + datas[:5]))  # five sent twice at once
    assert all(o.stored is not None for o in outcomes), [o.failed for o in outcomes]
    assert h.count(Instance) == 40
    assert len(h.blob_files()) == 40
    with h.db.session() as session:
        study = session.scalars(select(Study)).one()
        assert (study.num_instances, study.num_series) == (40, 2)
        assert study.modalities_in_study == "\\CT\\MR\\"
        assert sorted(session.scalars(select(Series.num_instances))) == [20, 20]


def test_two_copies_of_an_instance_in_one_commit_keep_the_first(h: Harness) -> None:
    parsed = parse_instance(make_instance(spec("twice", 1, 1)))
    first, second = new_blob_key(), new_blob_key()
    with h.db.session() as session:
        outcome = index_instances(session, h.who.account_id, [(parsed, first), (parsed, second)])
    assert outcome == [True, False]  # the second copy's blob is the caller's to drop
    with h.db.session() as session:
        assert list(session.scalars(select(Instance.blob_key))) == [first]
        assert session.scalar(select(Study.num_instances)) == 1


def test_a_commit_that_breaks_off_answers_its_uploads_instead_of_leaving_them_waiting(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = IndexWriter(h.db, h.blobs)

    def broken(batch: list[object], attempt: int = 1) -> None:
        raise MemoryError("as if the process ran out of memory mid-commit")

    monkeypatch.setattr(writer, "_commit", broken)
    waiting = IndexJob(h.who.account_id, parse_instance(make_instance(spec("broken", 1, 2))), "")
    writer._queued.append(waiting)  # another upload, queued just before this one
    parsed = parse_instance(make_instance(spec("broken", 1, 1)))
    with pytest.raises(MemoryError):
        writer.submit(h.who.account_id, parsed, new_blob_key())
    # The other upload of the batch gets an error too, instead of waiting forever.
    assert isinstance(waiting.done.exception(timeout=1), RuntimeError)
    assert h.count(Instance) == 0


# -- garbage collection at the worst moment: between writing the blob and committing ----


def gc_after_each_write(h: Harness, times: int) -> list[int]:
    """Make ``h``'s blob store run gc (grace 0) right after writing each blob, ``times``
    times: the moment a blob is on disk under a reserved key but not yet indexed."""
    released: list[int] = []
    put_bytes, put_file = h.blobs.put_bytes, h.blobs.put_file

    def then_gc() -> None:
        if len(released) < times:
            released.append(collect_garbage(h.db, h.blobs, grace_seconds=0).reservations_removed)

    def bytes_then_gc(key: str, data: bytes, *, defer_sync: bool = False) -> None:
        put_bytes(key, data, defer_sync=defer_sync)
        then_gc()

    def file_then_gc(key: str, path: Path, *, defer_sync: bool = False) -> None:
        put_file(key, path, defer_sync=defer_sync)
        then_gc()

    h.blobs.put_bytes = bytes_then_gc  # type: ignore[method-assign]
    h.blobs.put_file = file_then_gc  # type: ignore[method-assign]
    return released


def assert_every_instance_has_its_file(h: Harness) -> None:
    with h.db.session() as session:
        keys = list(session.scalars(select(Instance.blob_key)))
    for key in keys:
        assert (h.blobs.root / key).stat().st_size > 0, key


def test_gc_between_write_and_commit_never_costs_a_committed_file(h: Harness) -> None:
    released = gc_after_each_write(h, times=1)
    outcome = h.store(make_instance(spec("gc-race", 1, 1)))
    assert released[0] >= 1  # gc claimed the upload's key (and the pool's others)
    # The first key was not indexed; the upload was written again under a fresh one.
    assert outcome.stored is not None
    assert h.count(Instance) == 1
    assert_every_instance_has_its_file(h)


def test_a_staged_upload_whose_key_gc_took_fails_cleanly(h: Harness) -> None:
    gc_after_each_write(h, times=1)
    outcome = h.store(make_instance(spec("gc-staged", 1, 1)), staged=True)
    assert outcome.failed is not None and outcome.stored is None
    assert outcome.failed.failure_code == status.PROCESSING_FAILURE
    assert "send it again" in outcome.failed.reason
    assert h.count(Instance) == 0
    assert h.blob_files() == []  # nothing stored half


def test_gc_after_the_commit_leaves_the_instance_alone(h: Harness) -> None:
    assert h.store(make_instance(spec("gc-after", 1, 1))).stored is not None
    report = collect_garbage(h.db, h.blobs, grace_seconds=0, scan_store=True)
    assert report.orphan_blobs_removed == 0
    assert h.count(Instance) == 1
    assert_every_instance_has_its_file(h)
    # The pool's keys were released; the next upload reserves new ones and works.
    assert h.store(make_instance(spec("gc-after", 1, 2))).stored is not None
    assert_every_instance_has_its_file(h)


def test_gc_looping_during_concurrent_uploads_never_loses_a_committed_file(h: Harness) -> None:
    stop = threading.Event()

    def loop_gc() -> int:
        runs = 0
        while not stop.is_set():
            collect_garbage(h.db, h.blobs, grace_seconds=0, scan_store=True)
            runs += 1
            # A breath between runs: back to back on a loaded machine, every upload's
            # reserved key could be claimed at each of its attempts, and none commit.
            stop.wait(0.002)
        return runs

    with ThreadPoolExecutor(5) as pool:
        collector = pool.submit(loop_gc)
        outcomes = list(
            pool.map(h.store, [make_instance(spec("gc-loop", 1, n)) for n in range(80)])
        )
        stop.set()
        assert collector.result() > 1
    stored = [o.stored.sop_instance_uid for o in outcomes if o.stored is not None]
    assert stored, "some uploads must get through"
    for outcome in outcomes:
        assert outcome.stored is not None or outcome.failed is not None
    with h.db.session() as session:
        indexed = set(session.scalars(select(Instance.sop_instance_uid)))
    assert set(stored) == indexed  # every acknowledged instance is indexed, nothing else
    assert_every_instance_has_its_file(h)


def test_the_servers_sweep_releases_old_reservations_and_keeps_fresh_ones(h: Harness) -> None:
    old, fresh = new_blob_key(), new_blob_key()
    for key in (old, fresh):
        (h.blobs.root / key).parent.mkdir(parents=True, exist_ok=True)
        (h.blobs.root / key).write_bytes(b"left by a crash")
    an_hour_ago = datetime.now(UTC) - timedelta(seconds=SWEEP_GRACE_SECONDS + 60)
    with h.db.session() as session:
        session.add(PendingBlob(blob_key=old, created_at=an_hour_ago))
        session.add(PendingBlob(blob_key=fresh))
    assert Sweeper(h.db, h.blobs).sweep() == (1, 0)
    assert not (h.blobs.root / old).exists()
    assert (h.blobs.root / fresh).exists()
    with h.db.session() as session:
        assert set(session.scalars(select(PendingBlob.blob_key))) == {fresh}
