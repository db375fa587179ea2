"""The openpacs server under test: a subprocess on a free loopback port, own data dir.

Like ``tests/support/server.py``: ``python -m openpacs serve`` configured through
``OPENPACS_*`` variables, and one account created directly in its database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.harness import Target

BENCH_EMAIL = "bench@example.org"
BENCH_PASSWORD = "bench-password-7c1d"  # loopback only, thrown away with the data dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            httpx.get(url, timeout=1)
            return  # any HTTP answer (even 401) means it listens
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start:\n{log.read_text(errors='replace')[-4000:]}")


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


# One server process per core (OPENPACS_BENCH_WORKERS overrides), as Orthanc uses every
# core with its threads.
WORKERS = int(os.environ.get("OPENPACS_BENCH_WORKERS") or os.cpu_count() or 1)


class OpenpacsServer:
    name = "openpacs"

    def __init__(
        self,
        data_dir: Path,
        workers: int = WORKERS,
        env: dict[str, str] | None = None,
        module: str = "openpacs",
    ) -> None:
        self.data_dir = data_dir
        self.module = module  # bench.yappi_serve: the same server under a profiler
        self.workers = workers
        self.extra_env = env or {}
        self.port = free_port()
        self.dicom_port = free_port()
        # OPENPACS_BENCH_DATABASE_URL measures another index (an empty PostgreSQL database).
        self.database_url = os.environ.get("OPENPACS_BENCH_DATABASE_URL") or (
            f"sqlite:///{data_dir / 'openpacs.db'}"
        )
        self.log_path = data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def _serve(self) -> list[str]:
        return ["serve"] if self.module == "openpacs" else []

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}/dicomweb"

    def start(self) -> Target:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._create_account()
        env = {
            **os.environ,
            "OPENPACS_DATA_DIR": str(self.data_dir),
            "OPENPACS_DATABASE_URL": self.database_url,
            "OPENPACS_HOST": "127.0.0.1",
            "OPENPACS_PORT": str(self.port),
            "OPENPACS_LOG_LEVEL": "warning",
            "OPENPACS_WORKERS": str(self.workers),
            "OPENPACS_DICOM_PORT": str(self.dicom_port),
            **self.extra_env,
        }
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, *self._serve],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until_up(self.process, f"http://127.0.0.1:{self.port}/healthz", self.log_path, 60)
        return Target(
            self.name,
            self.root,
            (BENCH_EMAIL, BENCH_PASSWORD),
            self.process.pid,
            dicom=(self.dicom_port, "OPENPACS"),
        )

    def _create_account(self) -> None:
        from openpacs.index.db import Database
        from openpacs.index.migrate import upgrade
        from openpacs.services.accounts import add_equipment, create_account

        db = Database(self.database_url)
        try:
            upgrade(db.engine)
            with db.session() as session:
                created = create_account(
                    session, name="bench", email=BENCH_EMAIL, password=BENCH_PASSWORD
                )
                # The DIMSE scenarios' calling AE title (bench/dimse.py).
                add_equipment(session, created.institution_uuid, name="bench", ae_title="BENCHSCU")
        finally:
            db.dispose()

    def stop(self) -> None:
        stop_process(self.process)
