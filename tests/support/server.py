"""A real openpacs server in a subprocess on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.services.accounts import create_account


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class TestAccount:
    __test__ = False  # a fixture value, not a test class
    email: str
    password: str
    account_uuid: str
    user_uuid: str
    institution_uuid: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.email, self.password)


class ServerProcess:
    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str = "",
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        launcher: tuple[str, ...] = ("-m", "openpacs", "serve"),
    ):
        self.data_dir = data_dir
        self.args = args  # flags of `openpacs serve`
        self.launcher = launcher  # what python runs: `openpacs serve`, or a script that does
        self.port = free_port()
        # Every test server is a DICOM node too, on a port of its own (AE title OPENPACS).
        self.dicom_port = free_port()
        self.database_url = database_url or f"sqlite:///{data_dir / 'openpacs.db'}"
        self.env = {
            **os.environ,
            "OPENPACS_DATA_DIR": str(data_dir),
            "OPENPACS_DATABASE_URL": self.database_url,
            "OPENPACS_PORT": str(self.port),
            "OPENPACS_DICOM_PORT": str(self.dicom_port),
            "OPENPACS_HOST": "127.0.0.1",
            "OPENPACS_LOG_LEVEL": "warning",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicomweb"

    def start(self) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the server keeps its own copy
            self.process = subprocess.Popen(
                [sys.executable, *self.launcher, *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def create_account(self, name: str = "") -> TestAccount:
        """A fresh account with its admin user, written to the server's own database."""
        name = name or f"acct-{uuid.uuid4().hex[:8]}"
        email = f"{name}@example.org"
        password = f"pw-{uuid.uuid4().hex}"
        db = Database(self.database_url)
        try:
            upgrade(db.engine)
            with db.session() as session:
                created = create_account(session, name=name, email=email, password=password)
        finally:
            db.dispose()
        return TestAccount(
            email, password, created.account_uuid, created.user_uuid, created.institution_uuid
        )
