"""CPU time of the write path's steps in-process, without HTTP: what ``bench.cpu`` measures
at the server, minus the web stack (``python -m bench.store_cpu [--instances N]``).

Stores N CT instances (512x512, and 64x64 in a new study each) through ``StoreService``
on a fresh SQLite index and filesystem blob store in a temporary folder, one after the
other as one client's uploads, and prints the process CPU time (user, system) per
instance of: parsing alone (``parse_instance``), the whole store (parse, blob write and
``fdatasync``, index commit with its WAL sync), and the difference (blob + index).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
from pathlib import Path

from bench.dataset import make_instance, study_specs
from openpacs.dicom.ingest import parse_instance
from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.index.models import Account, Institution
from openpacs.services.principal import Principal
from openpacs.services.store import StoreService
from openpacs.services.upload import Upload
from openpacs.storage.filesystem import FilesystemBlobStore


def cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def per(before: tuple[float, float], n: int) -> str:
    user, system = cpu()
    return f"{1000 * (user - before[0]) / n:.2f} user + {1000 * (system - before[1]) / n:.2f} sys"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store_cpu", description=__doc__)
    parser.add_argument("--instances", type=int, default=300)
    args = parser.parse_args(argv)
    n = args.instances
    work = Path(tempfile.mkdtemp(prefix="openpacs-store-cpu-"))
    try:
        db = Database(f"sqlite:///{work / 'index.db'}")
        upgrade(db.engine)
        with db.session() as session:
            account = Account(name="cpu")
            session.add(account)
            session.flush()
            session.add(Institution(account_id=account.id, name="cpu", is_default=True))
            who = Principal(account_id=account.id, user_id=1)
        service = StoreService(db, FilesystemBlobStore(work / "blobs"))
        for label, specs in (
            ("CT 512x512, one series", list(study_specs(1, instances_per_series=n + 20))),
            ("64x64, a study each", list(study_specs(n + 20, seed="s", rows=64, columns=64))),
        ):
            data = [make_instance(spec, seed=i) for i, spec in enumerate(specs)]
            for d in data[:20]:  # warm-up
                parse_instance(d)
                service.store(who, Upload(data=d), base_url="http://x")
            before = cpu()
            for d in data[20:]:
                parse_instance(d)
            parse = per(before, n)
            before = cpu()
            for d in data[20:]:
                outcome = service.store(who, Upload(data=d), base_url="http://x")
                assert outcome.stored is not None and not outcome.stored.already_stored
            print(f"{label}: parse {parse} ms; whole store {per(before, n)} ms per instance")
        service.close()
        db.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
