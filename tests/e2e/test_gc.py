"""`openpacs admin gc` removes what crashed writes left behind, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from openpacs.index.db import Database
from openpacs.index.models import PendingBlob
from openpacs.storage.base import new_blob_key
from tests.support.server import ServerProcess, TestAccount
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
