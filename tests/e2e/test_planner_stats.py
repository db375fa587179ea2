"""The server keeps PostgreSQL's planner statistics fresh (autovacuum may be off or late):
tables changed beyond autovacuum's threshold are analyzed, once; SQLite is left alone."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import insert, text

from openpacs.index.db import Database
from openpacs.index.migrate import upgrade
from openpacs.index.models import Account
from openpacs.services.planner_stats import PlannerStatistics
from tests.support.postgres import index_database


def analyzed_at(db: Database, table: str) -> object:
    with db.engine.connect() as conn:
        return conn.execute(
            text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = :t"), {"t": table}
        ).scalar()


def test_a_table_changed_a_lot_is_analyzed_once_on_postgresql(tmp_path: Path) -> None:
    with index_database("postgresql", tmp_path) as db:
        upgrade(db.engine)
        keeper = PlannerStatistics(db)
        keeper.refresh()  # whatever the migrations left
        with db.engine.begin() as conn:
            conn.execute(insert(Account), [{"name": f"a{n}"} for n in range(500)])
        deadline = time.monotonic() + 10
        analyzed: list[str] = []
        while "account" not in analyzed and time.monotonic() < deadline:
            time.sleep(0.2)  # the server process reports its counts within a second
            analyzed = keeper.refresh()
        assert "account" in analyzed
        assert analyzed_at(db, "account") is not None
        assert "account" not in keeper.refresh()  # fresh now: not again


def test_sqlite_is_left_alone(tmp_path: Path) -> None:
    with index_database("sqlite", tmp_path) as db:
        upgrade(db.engine)
        keeper = PlannerStatistics(db)
        assert not keeper.applies
        assert keeper.refresh() == []
        with db.engine.connect() as conn:
            stat = conn.execute(text("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'"))
            assert stat.first() is None
