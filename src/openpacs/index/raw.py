"""Core statements compiled once per dialect and run on the DBAPI cursor.

SQLAlchemy's execution layer costs a tenth of a millisecond or more of Python per
statement, more than SQLite needs to run an indexed look-up or a one-row insert. The
index writer runs a few statements per batch in the one thread every upload waits for,
so it runs those few through `RawStatement`: the SQL text, the parameter order and the
columns' own bind processors (dates on SQLite, say) come from SQLAlchemy's compiler,
once; each execution is then a plain ``cursor.execute``. The statements run inside the
caller's transaction (same DBAPI connection), so commit and rollback stay SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.expression import Executable


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # parameter order (positional paramstyles), else ()
    processors: Mapping[str, Callable[[Any], Any]]


class RawStatement:
    """One statement; ``execute`` returns the DBAPI cursor (fetch from it as needed)."""

    def __init__(self, statement: Executable | Callable[[str], Executable]) -> None:
        """``statement``, or a function of the dialect name that makes it (for
        dialect-specific constructs such as ``INSERT ... ON CONFLICT``)."""
        self._statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            statement = (
                self._statement(dialect.name) if callable(self._statement) else self._statement
            )
            sql = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            positional = dialect.paramstyle in ("qmark", "numeric", "format")
            compiled = _Compiled(
                sql.string,
                tuple(sql.positiontup or ()) if positional else (),
                {k: v for k, v in sql._bind_processors.items() if v is not None},
            )
            self._compiled[dialect.name] = compiled
        return compiled

    def _params(self, compiled: _Compiled, params: Mapping[str, Any]) -> Any:
        processors = compiled.processors
        if compiled.names:
            return tuple(
                processors[name](params[name]) if name in processors else params[name]
                for name in compiled.names
            )
        return {
            name: processors[name](value) if name in processors else value
            for name, value in params.items()
        }

    def execute(self, cursor: Any, dialect: Dialect, params: Mapping[str, Any]) -> Any:
        compiled = self._for(dialect)
        cursor.execute(compiled.sql, self._params(compiled, params))
        return cursor

    def executemany(
        self, cursor: Any, dialect: Dialect, params: Iterable[Mapping[str, Any]]
    ) -> None:
        compiled = self._for(dialect)
        cursor.executemany(compiled.sql, [self._params(compiled, p) for p in params])


def raw_cursor(conn: Connection) -> Any:
    """A DBAPI cursor on ``conn``'s connection, inside its current transaction."""
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
