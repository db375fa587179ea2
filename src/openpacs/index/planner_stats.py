"""PostgreSQL's planner statistics of the index's tables, kept fresh by the server.

PostgreSQL plans from statistics that ``ANALYZE`` gathers; autovacuum runs it, when it is
on and when it gets round to it. Without them (autovacuum off, as on some managed or
test servers, or the first minutes of a bulk import) the planner takes a table of
100,000 instances for an empty one and picks plans that walk whole tables: a study's
metadata took 200 ms at 10,000 instances. These two statements find the tables changed
by more than autovacuum's own threshold since their last analysis (50 rows + 10%) and
analyze them. SQLite is left alone: its plans are shaped for no statistics (see
``tests/unit/test_access_plans.py``).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

__all__ = ["refresh_statistics"]

# pg_try_advisory_xact_lock key: openpacs's planner statistics (any constant of our own).
_LOCK_KEY = 0x6F70_7374
_LOCK = text("SELECT pg_try_advisory_xact_lock(:key)")

# Autovacuum's defaults: autovacuum_analyze_threshold and autovacuum_analyze_scale_factor.
_THRESHOLD_ROWS = 50
_THRESHOLD_FRACTION = 0.1

_STALE = text(
    "SELECT relname FROM pg_stat_user_tables"
    " WHERE schemaname = current_schema()"
    " AND n_mod_since_analyze > :rows + :fraction * n_live_tup"
    " ORDER BY relname"
)


def refresh_statistics(conn: Connection) -> list[str]:
    """Analyze the stale tables, in the caller's transaction; the tables analyzed ([] when
    another process holds the lock: one at a time is enough)."""
    if not conn.execute(_LOCK, {"key": _LOCK_KEY}).scalar():
        return []
    tables = _stale_tables(conn)
    quote = conn.dialect.identifier_preparer.quote
    for table in tables:
        conn.execute(text(f"ANALYZE {quote(table)}"))
    return tables


def _stale_tables(conn: Connection) -> list[str]:
    """This schema's tables whose statistics lag their changes (names from the catalog)."""
    params = {"rows": _THRESHOLD_ROWS, "fraction": _THRESHOLD_FRACTION}
    return [str(name) for name in conn.execute(_STALE, params).scalars()]
