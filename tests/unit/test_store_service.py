"""The write path over a real SQLite index and filesystem blob store: what is left on disk
and in the index after good, bad, duplicate and concurrent uploads, in memory or staged."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from bench.dataset import InstanceSpec, det_uid, make_instance
from sqlalchemy import func, select

from openpacs.dicom import status
from openpacs.dicom.ingest import parse_instance
from openpacs.index.instance_rows import index_instances
from openpacs.index.models import Instance, PendingBlob, Series, Study
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
