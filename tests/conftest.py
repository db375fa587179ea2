"""Shared fixtures: the DICOM corpus and a real server on a free port.

The ``server`` fixture runs every end-to-end test twice: on the embedded default
(SQLite) and on PostgreSQL, the scale-out index.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import temporary_database
from tests.support.server import ServerProcess, TestAccount

CORPUS = Path(__file__).resolve().parent / "data" / "dicom"


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
