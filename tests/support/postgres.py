"""A throw-away PostgreSQL database per test session (the server this machine kind runs).

On a developer machine without PostgreSQL the PostgreSQL variants skip with a message; in
CI (``CI`` set) an unreachable server is an error, so those tests can never silently
vanish there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from openpacs.index.db import Database

ADMIN_URL = os.environ.get(
    "OPENPACS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _reachable() -> str | None:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


@contextmanager
def temporary_database() -> Iterator[str]:
    """Create a fresh database, yield its URL, drop it afterwards."""
    problem = _reachable()
    if problem is not None:
        message = f"PostgreSQL not reachable at {ADMIN_URL}: {problem}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run the PostgreSQL tests)")
        pytest.skip(message + " (set OPENPACS_TEST_POSTGRES_URL to run these tests)")
    name = f"openpacs_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = ADMIN_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def index_database(backend: str, directory: Path) -> Iterator[Database]:
    """An empty index database (no schema yet): SQLite in ``directory`` or a throw-away
    PostgreSQL database, for the tests that run on both backends."""
    if backend == "sqlite":
        db = Database(f"sqlite:///{directory / 'index.db'}")
        try:
            yield db
        finally:
            db.dispose()
        return
    with temporary_database() as url:
        db = Database(url)
        try:
            yield db
        finally:
            db.dispose()
