"""`openpacs admin gc` removes what crashed writes left behind, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
from bench.dataset import make_instance

from openpacs.index.db import Database
from openpacs.index.models import PendingBlob
from openpacs.services.gc import collect_garbage
from openpacs.storage.base import new_blob_key
from openpacs.storage.filesystem import FilesystemBlobStore
from tests.support.server import ServerProcess, TestAccount
from tests.support.specs import small_spec
from tests.support.stow import stow


def _gc(server: ServerProcess, *extra: str) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, "-m", "openpacs", "admin", "gc", "--json", "--grace-seconds", "0", *extra],
        env=server.env,
        capture_output=True,
        check=True,
    )
    return dict(orjson.loads(result.stdout))


def test_gc_removes_stale_reservations_staging_files_and_orphans_only(
    server: ServerProcess, account: TestAccount, corpus_dir: Path
) -> None:
    assert (
        stow(
            server.dicomweb, account.auth, [(corpus_dir / "pydicom__CT_small.dcm").read_bytes()]
        ).status_code
        == 200
    )
    blobs = server.data_dir / "blobs"
    # Stored instances; the empty files are keys the server reserved for later uploads.
    kept = {path for path in blobs.glob("??/*.dcm") if path.stat().st_size}

    # A crash between reserving a key and committing the instance.
    reserved = new_blob_key()
    (blobs / reserved).parent.mkdir(parents=True, exist_ok=True)
    (blobs / reserved).write_bytes(b"half written")
    db = Database(server.database_url)
    with db.session() as session:
        session.add(PendingBlob(blob_key=reserved))
    db.dispose()
    # A request that died while its part was spooling.
    staging = blobs / ".staging" / "stow-dead.part"
    staging.write_bytes(b"partial")
    # A delete that crashed after its index commit.
    orphan = new_blob_key()
    (blobs / orphan).parent.mkdir(parents=True, exist_ok=True)
    (blobs / orphan).write_bytes(b"orphan")
    old = 1_000_000_000
    for path in (blobs / reserved, staging, blobs / orphan):
        os.utime(path, (old, old))

    report = _gc(server)
    assert report["ReservationsRemoved"] >= 1
    assert report["StagingFilesRemoved"] >= 1
    assert not (blobs / reserved).exists()
    assert not staging.exists()
    assert (blobs / orphan).exists(), "orphans are only looked for with --scan-store"

    report = _gc(server, "--scan-store")
    assert report["OrphanBlobsRemoved"] >= 1
    assert not (blobs / orphan).exists()
    assert kept <= set(blobs.glob("??/*.dcm")), "stored instances must survive gc"


def test_gc_looping_during_a_four_client_upload_never_removes_a_committed_file(
    server: ServerProcess, account: TestAccount
) -> None:
    """Before: 155 of 4,000 acknowledged instances lost their files to a gc run with
    ``--grace-seconds 0 --scan-store`` during the upload (rows left without a file)."""
    stop = threading.Event()

    def loop_gc() -> int:
        # In a tight loop in this process (the CLI's start-up would leave gaps), and once
        # through the command line, as an administrator runs it.
        _gc(server, "--scan-store")
        db = Database(server.database_url)
        blobs = FilesystemBlobStore(server.data_dir / "blobs")
        runs = 1
        try:
            while not stop.is_set():
                collect_garbage(db, blobs, grace_seconds=0, scan_store=True)
                runs += 1
        finally:
            db.dispose()
        return runs

    def client(number: int) -> list[str]:
        acknowledged = []
        for n in range(20):
            spec = small_spec(f"gc-loop-{number}", 1, n)
            answer = stow(server.dicomweb, account.auth, [make_instance(spec)])
            assert answer.status_code in (200, 202, 409), answer.text  # never a 5xx
            if answer.status_code == 200:
                acknowledged.append(spec.sop_uid)
        return acknowledged

    with ThreadPoolExecutor(5) as pool:
        collector = pool.submit(loop_gc)
        clients = [pool.submit(client, number) for number in range(4)]
        acknowledged = [uid for done in clients for uid in done.result()]
        stop.set()
        assert collector.result() >= 2
    assert len(acknowledged) > 40, "most uploads get through"
    with httpx.Client(auth=account.auth, timeout=30) as http:
        for uid in acknowledged:
            answer = http.get(f"{server.dicomweb}/studies/series/instances/{uid}")
            assert answer.status_code == 200, (uid, answer.headers.get("x-error-reason"))
