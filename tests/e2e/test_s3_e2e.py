"""A real server on S3-compatible storage (moto), and `admin migrate-storage` both ways."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import orjson
import pytest
from PIL import Image
from sqlalchemy import select

from openpacs.index.db import Database
from openpacs.index.models import Instance
from tests.e2e.wado_support import (
    EVLE,
    Stored,
    dicomweb_client,
    expected_frames,
    load_corpus,
    split_multipart,
)
from tests.support.server import ServerProcess, TestAccount
from tests.support.stow import referenced_uids, stow

if TYPE_CHECKING:
    from tests.support.s3 import MotoS3

pytest_plugins = ("tests.support.s3",)

PREFIX = "archive/v1"


@pytest.fixture(scope="module")
def s3_server(
    moto_s3: MotoS3, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, str]]:
    bucket = moto_s3.create_bucket()
    env = {**moto_s3.env, "OPENPACS_STORAGE_URL": f"s3://{bucket}/{PREFIX}"}
    server = ServerProcess(tmp_path_factory.mktemp("s3-server"), env=env).start()
    yield server, bucket
    server.stop()


@pytest.fixture(scope="module")
def corpus(s3_server: tuple[ServerProcess, str], corpus_dir: Path) -> list[Stored]:
    server, _ = s3_server
    stored = load_corpus(server, corpus_dir)  # files STOW rejects on purpose are skipped
    assert len(stored) >= 30
    return stored


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def blob_keys(server: ServerProcess) -> set[str]:
    db = Database(server.database_url)
    try:
        with db.session() as session:
            return set(session.scalars(select(Instance.blob_key)))
    finally:
        db.dispose()


def test_stow_writes_every_instance_to_the_bucket_and_nothing_locally(
    s3_server: tuple[ServerProcess, str], corpus: list[Stored], moto_s3: MotoS3
) -> None:
    server, bucket = s3_server
    keys = blob_keys(server)
    assert len(keys) == len(corpus)
    objects = moto_s3.object_keys(bucket)
    assert sorted(objects) == sorted(f"{PREFIX}/{key}" for key in keys)
    assert not list((server.data_dir / "blobs").glob("**/*.dcm"))
    staging = server.data_dir / "staging"
    assert staging.is_dir() and list(staging.iterdir()) == [], "staged uploads are removed"


def test_qido_finds_every_stored_instance(
    s3_server: tuple[ServerProcess, str], corpus: list[Stored], http: httpx.Client
) -> None:
    server, _ = s3_server
    by_account: dict[TestAccount, set[str]] = {}
    for item in corpus:
        by_account.setdefault(item.account, set()).add(item.sop)
    for account, sops in by_account.items():
        response = http.get(
            f"{server.dicomweb}/instances", params={"limit": "1000"}, auth=account.auth
        )
        assert response.status_code == 200
        found = {entry["00080018"]["Value"][0] for entry in response.json()}
        assert found == sops


def test_every_instance_retrieves_byte_identical(
    s3_server: tuple[ServerProcess, str], corpus: list[Stored], http: httpx.Client
) -> None:
    server, _ = s3_server
    for item in corpus:
        response = http.get(item.url(server), auth=item.account.auth)
        assert response.status_code == 200, (item.name, response.headers.get("x-error-reason"))
        [(_, body)] = split_multipart(response)
        assert body == item.data, item.name
    item = corpus[0]
    study = http.get(f"{server.dicomweb}/studies/{item.study}", auth=item.account.auth)
    assert study.status_code == 200
    expected = {i.data for i in corpus if i.account == item.account and i.study == item.study}
    assert {body for _, body in split_multipart(study)} == expected


def test_frames_rendered_zip_and_transcoding_read_from_s3(
    s3_server: tuple[ServerProcess, str], corpus: list[Stored], http: httpx.Client
) -> None:
    server, _ = s3_server
    decoded = 0
    for item in corpus:
        expected = expected_frames(item)
        if expected is None:
            continue
        client = dicomweb_client(server, item.account)
        numbers = list(range(1, len(expected) + 1))
        got = client.retrieve_instance_frames(item.study, item.series, item.sop, numbers)
        assert got == expected, item.name
        jpeg = client.retrieve_instance_rendered(item.study, item.series, item.sop)
        assert Image.open(io.BytesIO(jpeg)).format == "JPEG", item.name
        decoded += 1
    assert decoded >= 20

    item = next(i for i in corpus if i.name == "pydicom__MR_small_RLE.dcm")
    url = f"{server.dicomweb}/studies/{item.study}?accept=application/zip"
    archive = http.get(url, auth=item.account.auth)
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        assert item.data in [zipped.read(name) for name in zipped.namelist()]
    native = http.get(
        item.url(server),
        auth=item.account.auth,
        headers={"Accept": f'multipart/related; type="application/dicom"; transfer-syntax={EVLE}'},
    )
    assert native.status_code == 200, native.headers.get("x-error-reason")
    [(headers, _)] = split_multipart(native)
    assert headers["content-type"].endswith(f"transfer-syntax={EVLE}")


# --------------------------------------------------------------------------- migrate-storage

MIGRATION_FILES = [
    "pydicom__CT_small.dcm",
    "pydicom__MR_small.dcm",
    "pydicom__rtplan.dcm",
    "pydicom__waveform_ecg.dcm",
    "pydicom-data__eCT_Supplemental.dcm",
]


def migrate(server: ServerProcess, moto: MotoS3, *args: str, expect: int = 0) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "openpacs", "admin", "migrate-storage", "--json", *args],
        env={**server.env, **moto.env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == expect, result.stderr
    return dict(orjson.loads(result.stdout))


def test_migrate_storage_from_files_to_s3_and_back(
    tmp_path: Path, corpus_dir: Path, moto_s3: MotoS3, http: httpx.Client
) -> None:
    data_dir = tmp_path / "server"
    server = ServerProcess(data_dir).start()  # the default filesystem store
    try:
        account = server.create_account()
        files = [(corpus_dir / name).read_bytes() for name in MIGRATION_FILES]
        stored = stow(server.dicomweb, account.auth, files)
        assert stored.status_code == 200
        sops = referenced_uids(stored.json())
        assert len(sops) == len(files)
        keys = blob_keys(server)
        source_dir = data_dir / "blobs"
        originals = {key: (source_dir / key).read_bytes() for key in keys}
        bucket = moto_s3.create_bucket()
        s3_url = f"s3://{bucket}/moved?endpoint_url={moto_s3.endpoint_url}"

        # Copy while the server runs on the source.
        report = migrate(server, moto_s3, "--from", source_dir.as_uri(), "--to", s3_url)
        assert report["Total"] == report["Copied"] == len(keys)
        assert report["BytesCopied"] == sum(len(v) for v in originals.values())
        client = moto_s3.client()

        def s3_bytes(key: str) -> bytes:
            body = client.get_object(Bucket=bucket, Key=f"moved/{key}")["Body"]
            return bytes(body.read())

        assert {key: s3_bytes(key) for key in keys} == originals

        # Resumable: a lost and a truncated copy are redone, the rest is skipped.
        lost, truncated = sorted(keys)[:2]
        client.delete_object(Bucket=bucket, Key=f"moved/{lost}")
        client.put_object(Bucket=bucket, Key=f"moved/{truncated}", Body=b"partial")
        report = migrate(server, moto_s3, "--from", source_dir.as_uri(), "--to", s3_url)
        assert (report["Copied"], report["Skipped"]) == (2, len(keys) - 2)
        assert s3_bytes(lost) == originals[lost]
        assert s3_bytes(truncated) == originals[truncated]
        assert all(path.exists() for path in (source_dir / key for key in keys))
    finally:
        server.stop()

    # Switch the server over to S3: everything is still there.
    on_s3 = ServerProcess(data_dir, env={**moto_s3.env, "OPENPACS_STORAGE_URL": s3_url}).start()
    try:
        for sop, data in zip(sops, files, strict=True):
            url = f"{on_s3.dicomweb}/studies/series/instances/{sop}"
            response = http.get(url, auth=account.auth)
            assert response.status_code == 200, response.headers.get("x-error-reason")
            assert [body for _, body in split_multipart(response)] == [data]

        # And back to the filesystem, emptying the bucket on the way.
        back = tmp_path / "blobs-back"
        report = migrate(
            on_s3, moto_s3, "--from", s3_url, "--to", back.as_uri(), "--delete-source", "--yes"
        )
        assert report["Copied"] == report["Deleted"] == len(keys)
        assert {key: (back / key).read_bytes() for key in keys} == originals
        assert moto_s3.object_keys(bucket, "moved/") == []

        # Again: nothing left to copy. A blob lost from both stores is reported.
        (back / lost).unlink()
        report = migrate(on_s3, moto_s3, "--from", s3_url, "--to", back.as_uri(), expect=1)
        assert (report["Skipped"], report["Missing"], report["Copied"]) == (len(keys) - 1, 1, 0)
        assert lost in str(report["Errors"])
    finally:
        on_s3.stop()


def test_migrate_storage_refuses_the_same_store(tmp_path: Path, moto_s3: MotoS3) -> None:
    server = ServerProcess(tmp_path / "server")  # not started: the CLI needs the database only
    url = (tmp_path / "server" / "blobs").as_uri()
    result = subprocess.run(
        [sys.executable, "-m", "openpacs", "admin", "migrate-storage", "--from", url, "--to", url],
        env=server.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "same store" in result.stderr
