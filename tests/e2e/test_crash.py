"""``kill -9`` during a 4-client upload loses nothing acknowledged and leaves nothing that
gc does not clean, with one server process and with ``--workers 2``; and the restarted
server answers at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from bench.dataset import make_instance
from sqlalchemy import select

from openpacs.index.db import Database
from openpacs.index.models import Instance, PendingBlob
from openpacs.services.gc import collect_garbage
from openpacs.storage.filesystem import FilesystemBlobStore
from tests.support.server import ServerProcess, TestAccount
from tests.support.specs import small_spec
from tests.support.stow import stow

CLIENTS = 4


def upload_until_killed(
    server: ServerProcess, account: TestAccount, client: int, killed: threading.Event
) -> list[str]:
    """One instance per request until the server is gone; the SOP UIDs acknowledged."""
    acknowledged: list[str] = []
    for n in range(10_000):
        spec = small_spec(f"crash-{client}", 1, n)
        try:
            answer = stow(server.dicomweb, account.auth, [make_instance(spec)])
        except httpx.HTTPError:
            if killed.is_set():
                return acknowledged
            raise
        assert answer.status_code == 200, answer.text
        acknowledged.append(spec.sop_uid)
    return acknowledged


def kill_everything(server: ServerProcess) -> None:
    assert server.process is not None
    parent = psutil.Process(server.process.pid)
    for process in [parent, *parent.children(recursive=True)]:
        process.kill()
    server.process.wait(10)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_kill_9_during_uploads_loses_nothing_and_leaves_nothing(
    tmp_path: Path, workers: str
) -> None:
    server = ServerProcess(tmp_path / "data", args=("--workers", workers)).start()
    account = server.create_account()
    killed = threading.Event()
    with ThreadPoolExecutor(CLIENTS) as pool:
        clients = [
            pool.submit(upload_until_killed, server, account, client, killed)
            for client in range(CLIENTS)
        ]
        time.sleep(4)
        killed.set()
        kill_everything(server)
        acknowledged = [uid for done in clients for uid in done.result()]
    assert len(acknowledged) > 20

    started = time.monotonic()
    server.start()  # same data, same port
    restart_seconds = time.monotonic() - started
    try:
        with httpx.Client(auth=account.auth, timeout=30) as http:
            for uid in acknowledged:
                answer = http.get(f"{server.dicomweb}/studies/series/instances/{uid}")
                assert answer.status_code == 200, uid
        assert restart_seconds < 10, restart_seconds  # ~1.5 s on 2 busy cores
    finally:
        server.stop()

    # What the kill left (reservations, staging files, written but uncommitted blobs) is
    # gc's to remove; afterwards every blob belongs to an instance and every instance
    # has its blob.
    db = Database(server.database_url)
    blobs = FilesystemBlobStore(server.data_dir / "blobs")
    try:
        collect_garbage(db, blobs, grace_seconds=0, scan_store=True)
        with db.session() as session:
            keys = set(session.scalars(select(Instance.blob_key)))
            uids = set(session.scalars(select(Instance.sop_instance_uid)))
            assert session.scalars(select(PendingBlob.blob_key)).first() is None
    finally:
        db.dispose()
    assert set(acknowledged) <= uids
    on_disk = {p.relative_to(blobs.root).as_posix() for p in blobs.root.glob("??/*.dcm")}
    assert on_disk == keys
    assert all((blobs.root / key).stat().st_size > 0 for key in keys)
    assert list(blobs.staging_dir().iterdir()) == []
