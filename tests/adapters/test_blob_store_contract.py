"""One contract, every blob store: the filesystem store and the S3 store (against moto)."""

from __future__ import annotations

import hashlib
import io
import os
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pydicom
import pytest

from openpacs.settings import Settings
from openpacs.storage.base import BlobNotFound, BlobStore, new_blob_key
from openpacs.storage.factory import open_blob_store
from openpacs.storage.filesystem import FilesystemBlobStore
from openpacs.storage.s3 import S3BlobStore

if TYPE_CHECKING:
    from tests.support.s3 import MotoS3

pytest_plugins = ("tests.support.s3",)

MIB = 1024 * 1024
INVALID_KEYS = [
    "",
    "../../etc/passwd",
    "ab/cd/../../../x.dcm",
    "/etc/passwd",
    "AB/CD/" + "A" * 32 + ".dcm",
    "ab/cd/" + "a" * 32 + ".dcm/../x",
    "ab/cd/" + "a" * 31 + ".dcm",
    "1.2.840.113619.2.55.3/instance.dcm",
]


@dataclass
class Case:
    kind: str
    store: BlobStore
    moto: MotoS3 | None = None
    bucket: str = ""


@pytest.fixture(params=["filesystem", "s3"])
def case(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Case:
    if request.param == "filesystem":
        return Case("filesystem", open_blob_store((tmp_path / "blobs").as_uri()))
    moto: MotoS3 = request.getfixturevalue("moto_s3")
    bucket: str = request.getfixturevalue("s3_bucket")
    for name, value in moto.env.items():  # the store is configured like in production
        monkeypatch.setenv(name, value)
    store = open_blob_store(f"s3://{bucket}/some/prefix", staging_dir=tmp_path / "staging")
    assert isinstance(store, S3BlobStore)
    return Case("s3", store, moto, bucket)


def stage(store: BlobStore, data: bytes) -> Path:
    path = store.staging_dir() / f"upload-{new_blob_key().replace('/', '-')}"
    path.write_bytes(data)
    return path


def put(store: BlobStore, data: bytes) -> str:
    key = new_blob_key()
    store.put_file(key, stage(store, data))
    return key


def sample(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def test_put_consumes_the_staged_file_and_the_blob_reads_back(case: Case) -> None:
    data = sample(300_000)
    key = new_blob_key()
    staged = stage(case.store, data)
    case.store.put_file(key, staged)
    assert not staged.exists()
    assert case.store.size(key) == len(data)
    with case.store.open(key) as handle:
        assert handle.read() == data
    assert b"".join(case.store.iter_chunks(key)) == data
    path = case.store.local_path(key)
    if case.kind == "filesystem":
        assert path is not None and path.read_bytes() == data
    else:
        assert path is None


@pytest.mark.parametrize("prepared", [False, True])
@pytest.mark.parametrize("defer_sync", [False, True])
def test_put_bytes_reads_back_and_replaces_a_torn_write(
    case: Case, defer_sync: bool, prepared: bool
) -> None:
    key = new_blob_key()
    if prepared:
        case.store.prepare_keys([key])
    case.store.put_bytes(key, sample(500_000, seed=2))  # as if a crashed first attempt
    data = sample(300_000)
    case.store.put_bytes(key, data, defer_sync=defer_sync)
    case.store.sync_puts([key])
    assert case.store.size(key) == len(data)
    assert case.store.read_range(key, 0, len(data)) == data
    assert list(case.store.iter_keys()) == [key]


def test_filesystem_syncs_a_directory_only_for_new_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openpacs.storage.filesystem as filesystem

    synced: list[Path] = []
    monkeypatch.setattr(filesystem, "fsync_path", lambda path, **_: synced.append(path))
    store = FilesystemBlobStore(tmp_path / "blobs")
    keys = [new_blob_key("ab") for _ in range(3)]
    store.prepare_keys(keys)
    directory = tmp_path / "blobs" / "ab"
    assert synced.count(directory) == 1  # one sync for the whole batch of keys
    synced.clear()
    for key in keys[:2]:
        store.put_bytes(key, b"small upload", defer_sync=True)
    store.sync_puts(keys[:2])
    assert synced == []  # written into prepared files: no directory changed
    store.delete(keys[2])  # a reused key whose file is gone: a new entry again
    store.put_bytes(keys[2], b"again", defer_sync=True)
    store.put_file(new_blob_key("ab"), stage(store, b"large upload"), defer_sync=True)
    store.sync_puts(keys)
    assert synced == [directory]


def test_an_empty_blob(case: Case) -> None:
    key = put(case.store, b"")
    assert case.store.size(key) == 0
    with case.store.open(key) as handle:
        assert handle.read() == b""
        assert handle.seek(0, io.SEEK_END) == 0
    assert b"".join(case.store.iter_chunks(key)) == b""
    assert case.store.read_range(key, 0, 0) == b""


def test_read_range(case: Case) -> None:
    data = sample(1_000_000)
    key = put(case.store, data)
    for offset, length in [(0, 1), (0, 132), (128, 4), (999_000, 1000), (500_000, 300_000)]:
        assert case.store.read_range(key, offset, length) == data[offset : offset + length]
    assert case.store.read_range(key, 10, 0) == b""
    with pytest.raises(BlobNotFound):
        case.store.read_range(key, 999_999, 2)  # runs past the end
    with pytest.raises(BlobNotFound):
        case.store.read_range(key, 2_000_000, 10)  # starts past the end


def test_iter_chunks_respects_the_chunk_size(case: Case) -> None:
    data = sample(2 * MIB + 123)
    key = put(case.store, data)
    chunks = list(case.store.iter_chunks(key, chunk_size=64 * 1024))
    assert b"".join(chunks) == data
    assert all(0 < len(chunk) <= 64 * 1024 for chunk in chunks)
    # Abandoning the stream early must not leak or break anything.
    stream = case.store.iter_chunks(key, chunk_size=1024)
    assert next(stream) == data[:1024]
    stream.close()  # type: ignore[attr-defined]
    assert case.store.size(key) == len(data)


def test_open_is_seekable_like_a_file(case: Case) -> None:
    data = sample(3 * MIB + 17, seed=2)
    key = put(case.store, data)
    with case.store.open(key) as handle:
        assert handle.seekable() and handle.readable()
        assert handle.read(132) == data[:132]
        assert handle.tell() == 132
        assert handle.seek(-10, io.SEEK_END) == len(data) - 10
        assert handle.read() == data[-10:]
        assert handle.read(5) == b""
        assert handle.seek(1000) == 1000
        assert handle.seek(24, io.SEEK_CUR) == 1024
        assert handle.read(10) == data[1024:1034]
        assert handle.seek(len(data) + 100) == len(data) + 100
        assert handle.read(10) == b""
        buffer = bytearray(4096)
        handle.seek(2 * MIB)
        assert handle.readinto(buffer) == 4096  # type: ignore[attr-defined]
        assert bytes(buffer) == data[2 * MIB : 2 * MIB + 4096]
        # Random access, as pydicom and the frame reader do it.
        rng = random.Random(7)
        for _ in range(200):
            offset = rng.randrange(len(data))
            length = rng.choice([1, 4, 8, 128, 4096, 70_000, 600_000])
            handle.seek(offset)
            assert handle.read(length) == data[offset : offset + length]
        # Sequential small reads (a ZIP writer, shutil.copyfileobj).
        handle.seek(0)
        assert b"".join(iter(lambda: handle.read(65_536), b"")) == data
    with pytest.raises(ValueError):
        handle.read(1)


def test_pydicom_reads_an_opened_blob(case: Case, corpus_dir: Path) -> None:
    source = corpus_dir / "pydicom__MR_small_RLE.dcm"
    key = put(case.store, source.read_bytes())
    expected = pydicom.dcmread(source)
    with case.store.open(key) as handle:
        header = pydicom.dcmread(handle, stop_before_pixels=True)
        handle.seek(0)
        full = pydicom.dcmread(handle)
        assert header.SOPInstanceUID == expected.SOPInstanceUID
        assert (full.pixel_array == expected.pixel_array).all()


def test_delete_and_missing_keys(case: Case) -> None:
    key = put(case.store, b"to be deleted")
    case.store.delete(key)
    case.store.delete(key)  # deleting a missing blob is not an error
    missing = new_blob_key()
    for absent in (key, missing):
        with pytest.raises(BlobNotFound):
            case.store.open(absent)
        with pytest.raises(BlobNotFound):
            case.store.size(absent)
        with pytest.raises(BlobNotFound):
            case.store.read_range(absent, 0, 4)
        with pytest.raises(BlobNotFound):
            b"".join(case.store.iter_chunks(absent))


@pytest.mark.parametrize("key", INVALID_KEYS)
def test_keys_that_new_blob_key_cannot_make_are_refused(case: Case, key: str) -> None:
    staged = stage(case.store, b"x")
    with pytest.raises(ValueError):
        case.store.put_file(key, staged)
    assert staged.exists(), "a refused put must not consume the file"
    with pytest.raises(ValueError):
        case.store.open(key)
    with pytest.raises(ValueError):
        case.store.read_range(key, 0, 1)
    with pytest.raises(ValueError):
        b"".join(case.store.iter_chunks(key))
    with pytest.raises(ValueError):
        case.store.size(key)
    with pytest.raises(ValueError):
        case.store.delete(key)
    with pytest.raises(ValueError):
        case.store.local_path(key)


def test_iter_keys_lists_blobs_only(case: Case) -> None:
    keys = {put(case.store, f"blob {i}".encode()) for i in range(5)}
    stage(case.store, b"a part still being uploaded")
    assert set(case.store.iter_keys()) == keys
    gone = sorted(keys)[0]
    case.store.delete(gone)
    assert set(case.store.iter_keys()) == keys - {gone}


def test_concurrent_readers(case: Case) -> None:
    data = sample(1 * MIB, seed=4)
    key = put(case.store, data)
    errors: list[BaseException] = []

    def reader(seed: int) -> None:
        try:
            rng = random.Random(seed)
            with case.store.open(key) as handle:
                for _ in range(20):
                    offset = rng.randrange(len(data))
                    handle.seek(offset)
                    assert handle.read(5000) == data[offset : offset + 5000]
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.fixture
def big_file(tmp_path: Path) -> Iterator[tuple[Path, str, int]]:
    """A 40 MiB file written in 1 MiB pieces, with its SHA-256."""
    path = tmp_path / "big.bin"
    digest = hashlib.sha256()
    size = 40 * MIB
    with open(path, "wb") as out:
        for i in range(size // MIB):
            piece = os.urandom(16) * (MIB // 16)
            piece = i.to_bytes(4, "big") + piece[4:]
            digest.update(piece)
            out.write(piece)
    yield path, digest.hexdigest(), size
    path.unlink(missing_ok=True)


def test_a_large_file_goes_up_in_parts_and_streams_back(
    case: Case, big_file: tuple[Path, str, int]
) -> None:
    path, sha256, size = big_file
    key = new_blob_key()
    case.store.put_file(key, path)
    assert not path.exists()
    assert case.store.size(key) == size
    digest = hashlib.sha256()
    for chunk in case.store.iter_chunks(key):
        digest.update(chunk)
    assert digest.hexdigest() == sha256
    boundary = 16 * MIB  # a multipart part boundary
    around = case.store.read_range(key, boundary - 10, 20)
    with case.store.open(key) as handle:
        handle.seek(boundary - 10)
        assert handle.read(20) == around
        handle.seek(-4, io.SEEK_END)
        assert len(handle.read()) == 4
    if case.moto is not None:
        assert isinstance(case.store, S3BlobStore)
        head = case.moto.client().head_object(Bucket=case.bucket, Key=f"{case.store.prefix}/{key}")
        assert head["ETag"].strip('"').endswith("-3"), "40 MiB in 16 MiB parts"


def test_s3_urls_and_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENPACS_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    store = open_blob_store(
        "s3://bucket/a/b/?endpoint_url=http://127.0.0.1:9&region=eu-west-3",
        Settings(s3_endpoint_url="http://ignored.invalid"),
        staging_dir=tmp_path / "staging",
    )
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == ("bucket", "a/b")
    client = store._client
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    assert client.meta.region_name == "eu-west-3"
    assert (tmp_path / "staging").is_dir()
    monkeypatch.setenv("OPENPACS_S3_ENDPOINT_URL", "http://127.0.0.1:10")
    store = open_blob_store("s3://bucket", staging_dir=tmp_path / "staging")
    assert isinstance(store, S3BlobStore)
    assert store.prefix == "" and store._client.meta.endpoint_url == "http://127.0.0.1:10"
    # Settings passed in are the only source: the environment's endpoint is not read.
    store = open_blob_store("s3://bucket", Settings(data_dir=tmp_path / "d", s3_region="eu-west-1"))
    assert isinstance(store, S3BlobStore)
    assert store._client.meta.endpoint_url == "https://s3.eu-west-1.amazonaws.com"
    assert store._staging == tmp_path / "d" / "staging"
    with pytest.raises(ValueError):
        open_blob_store("s3:///no-bucket", staging_dir=tmp_path)
    with pytest.raises(ValueError):
        open_blob_store("ftp://host/x")
    assert isinstance(open_blob_store(str(tmp_path / "fs")), FilesystemBlobStore)
