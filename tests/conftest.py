"""Shared fixtures: the DICOM corpus and a real server on a free port.

The ``server`` fixture runs every end-to-end test twice: on the embedded default
(SQLite) and on PostgreSQL, the scale-out index.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import temporary_database
from tests.support.server import ServerProcess, TestAccount

CORPUS = Path(__file__).resolve().parent / "data" / "dicom"

# Servers that tests start on their own (not through ServerProcess, which gives each a
# free DICOM port) run without a DICOM listener: two of them at once would otherwise
# both want the default port 11112.
os.environ.setdefault("OPENPACS_DICOM_PORT", "0")


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One server per index backend for the whole run; tests isolate with fresh accounts."""
    data_dir = tmp_path_factory.mktemp(f"server-{request.param}")
    if request.param == "sqlite":
        process = ServerProcess(data_dir).start()
        yield process
        process.stop()
        return
    with temporary_database() as url:
        process = ServerProcess(data_dir, database_url=url).start()
        yield process
        process.stop()


@pytest.fixture
def account(server: ServerProcess) -> TestAccount:
    return server.create_account()
