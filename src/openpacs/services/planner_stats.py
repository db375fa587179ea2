"""Fresh planner statistics on PostgreSQL (see ``index/planner_stats.py`` for why): a
daemon thread looks every :data:`CHECK_SECONDS` which tables changed a lot since their
last ``ANALYZE`` and analyzes them. With several server processes, one at a time does it
(an advisory lock); on SQLite the thread is not started."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import text

from openpacs.index.db import Database
from openpacs.index.planner_stats import analyze, stale_tables

log = logging.getLogger("openpacs.stats")

__all__ = ["CHECK_SECONDS", "PlannerStatistics"]

CHECK_SECONDS = 15.0
# pg_try_advisory_xact_lock key: "openpacs" planner statistics (any constant of our own).
_LOCK_KEY = 0x6F70_7374


class PlannerStatistics:
    def __init__(self, db: Database, *, interval: float = CHECK_SECONDS) -> None:
        self._db = db
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="openpacs-stats", daemon=True)

    @property
    def applies(self) -> bool:
        return self._db.engine.dialect.name == "postgresql"

    def start(self) -> None:
        if self.applies:
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def refresh(self) -> list[str]:
        """One pass: the tables analyzed ([] on SQLite, or when another process is at it)."""
        if not self.applies:
            return []
        with self._db.engine.begin() as conn:
            if not conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                {"key": _LOCK_KEY}).scalar():  # fmt: skip
                return []
            tables = stale_tables(conn)
            analyze(conn, tables)
        if tables:
            log.info("planner statistics refreshed: %s", ", ".join(tables))
        return tables

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.refresh()
            except Exception:
                log.warning("refreshing planner statistics failed; trying again later",
                            exc_info=True)  # fmt: skip
