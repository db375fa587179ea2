"""Two server processes on one PostgreSQL database and one S3 bucket (the scale-out setup)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import psycopg
import pytest
from bench.dataset import make_instance, study_specs

from tests.support.postgres import temporary_database
from tests.support.server import ServerProcess, TestAccount
from tests.support.stow import referenced_uids, stow

if TYPE_CHECKING:
    # Imported by pytest as a plugin (below), so that its assertions are rewritten.
    from tests.support.s3 import MotoS3

pytest_plugins = ("tests.support.s3",)


@pytest.fixture(scope="module")
def cluster(
    moto_s3: MotoS3, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess, str, str]]:
    bucket = moto_s3.create_bucket()
    env = {**moto_s3.env, "OPENPACS_STORAGE_URL": f"s3://{bucket}/cluster"}
    with temporary_database() as url:
        a = ServerProcess(tmp_path_factory.mktemp("node-a"), database_url=url, env=env).start()
        b = ServerProcess(tmp_path_factory.mktemp("node-b"), database_url=url, env=env).start()
        yield a, b, url, bucket
        a.stop()
        b.stop()


def _count(url: str, sql: str, *params: object) -> int:
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def test_the_same_study_sent_to_both_nodes_at_once_is_stored_once(
    cluster: tuple[ServerProcess, ServerProcess, str, str], moto_s3: MotoS3
) -> None:
    a, b, url, bucket = cluster
    account: TestAccount = a.create_account()
    specs = list(study_specs(1, instances_per_series=12, seed="race", rows=32, columns=32))
    parts = [make_instance(s) for s in specs]
    before = len(moto_s3.object_keys(bucket))
    results: dict[str, httpx.Response] = {}

    def send(node: ServerProcess, name: str) -> None:
        results[name] = stow(node.dicomweb, account.auth, parts)

    threads = [threading.Thread(target=send, args=(n, k)) for n, k in ((a, "a"), (b, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for response in results.values():
        assert response.status_code == 200, response.text
        assert sorted(referenced_uids(response.json())) == sorted(s.sop_uid for s in specs)
    study_uid = specs[0].study_uid
    assert _count(url, "SELECT count(*) FROM study WHERE study_instance_uid = %s", study_uid) == 1
    assert (
        _count(url, "SELECT count(*) FROM patient_order WHERE study_instance_uid = %s", study_uid)
        == 1
    )
    assert _count(
        url,
        "SELECT count(*) FROM instance i JOIN study s ON s.id = i.study_id "
        "WHERE s.study_instance_uid = %s",
        study_uid,
    ) == len(specs)
    # The losing copies were removed from the bucket again: one object per instance.
    assert len(moto_s3.object_keys(bucket)) - before == len(specs)
    # Either node answers from the shared index at once.
    for node in (a, b):
        found = httpx.get(
            node.dicomweb + "/studies", params={"StudyInstanceUID": study_uid}, auth=account.auth
        )
        assert found.json()[0]["00201208"]["Value"] == [len(specs)]


def test_a_commit_on_one_node_is_visible_on_the_other_immediately(
    cluster: tuple[ServerProcess, ServerProcess, str, str],
) -> None:
    a, b, _, _ = cluster
    account = a.create_account()
    for i, spec in enumerate(study_specs(5, seed="visible", rows=16, columns=16)):
        writer, reader = (a, b) if i % 2 == 0 else (b, a)
        assert stow(writer.dicomweb, account.auth, [make_instance(spec)]).status_code == 200
        response = httpx.get(
            reader.dicomweb + "/instances",
            params={"SOPInstanceUID": spec.sop_uid},
            auth=account.auth,
        )
        assert response.status_code == 200


def test_store_and_delete_racing_leave_no_row_without_its_blob(
    cluster: tuple[ServerProcess, ServerProcess, str, str], moto_s3: MotoS3, tmp_path: Path
) -> None:
    a, b, url, bucket = cluster
    account = a.create_account()
    specs = list(study_specs(1, instances_per_series=20, seed="store-delete", rows=16, columns=16))
    study_uid = specs[0].study_uid
    stop = threading.Event()

    def keep_storing() -> None:
        for spec in specs:
            stow(a.dicomweb, account.auth, [make_instance(spec)])

    def keep_deleting() -> None:
        while not stop.is_set():
            httpx.delete(f"{b.dicomweb}/studies/{study_uid}", auth=account.auth)

    deleter = threading.Thread(target=keep_deleting)
    deleter.start()
    keep_storing()
    stop.set()
    deleter.join()
    # Whatever survived the race is whole: every instance row has its object, counters agree.
    keys = set(moto_s3.object_keys(bucket))
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        rows = conn.execute(
            "SELECT i.blob_key FROM instance i JOIN study s ON s.id = i.study_id "
            "WHERE s.study_instance_uid = %s",
            (study_uid,),
        ).fetchall()
        counters = conn.execute(
            "SELECT num_instances FROM study WHERE study_instance_uid = %s", (study_uid,)
        ).fetchall()
    for (blob_key,) in rows:
        assert any(key.endswith(blob_key) for key in keys), blob_key
    if rows:
        assert counters == [(len(rows),)]
    # A last upload after the race works normally.
    assert stow(a.dicomweb, account.auth, [make_instance(specs[0])]).status_code == 200
