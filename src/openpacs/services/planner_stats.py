"""Fresh planner statistics on PostgreSQL (see ``index/planner_stats.py`` for why): every
:data:`CHECK_SECONDS` the tables changed a lot since their last ``ANALYZE`` are analyzed,
by one server process at a time. On SQLite nothing runs."""

from __future__ import annotations

import logging

from openpacs.index.db import Database
from openpacs.index.planner_stats import refresh_statistics
from openpacs.services.periodic import Periodic

log = logging.getLogger("openpacs.stats")

__all__ = ["CHECK_SECONDS", "PlannerStatistics"]

CHECK_SECONDS = 15.0


class PlannerStatistics:
    def __init__(self, db: Database, *, interval: float = CHECK_SECONDS) -> None:
        self._db = db
        self._periodic = Periodic("stats", self.refresh, first_after=interval, interval=interval)

    @property
    def applies(self) -> bool:
        return self._db.engine.dialect.name == "postgresql"

    def start(self) -> None:
        if self.applies:
            self._periodic.start()

    def close(self) -> None:
        self._periodic.close()

    def refresh(self) -> list[str]:
        """One pass: the tables analyzed ([] on SQLite, or when another process is at it)."""
        if not self.applies:
            return []
        with self._db.engine.begin() as conn:
            tables = refresh_statistics(conn)
        if tables:
            log.info("planner statistics refreshed: %s", ", ".join(tables))
        return tables
