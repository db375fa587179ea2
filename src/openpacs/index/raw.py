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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, Connection, Table, bindparam, insert
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.expression import Executable

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Insert as PostgresqlInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert


def dialect_insert(dialect: str) -> Callable[[Any], PostgresqlInsert | SqliteInsert]:
    """The dialect's own ``insert`` (the one with ``on_conflict_do_nothing``). PostgreSQL's
    module is imported only for PostgreSQL: it cost every SQLite server's start 30 ms."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # parameter order (positional paramstyles), else ()
    processors: Mapping[str, Callable[[Any], Any]]
    constants: Mapping[str, Any]  # values written into the statement (``status == "x"``)
    # Columns whose Python-side default (insert) or onupdate (update) SQLAlchemy's
    # execution layer would compute, such as ``updated_at``: computed here instead.
    generated: Mapping[str, Callable[[], Any]]


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
            generated = {
                **{c.key: _generator(c.default) for c in sql.insert_prefetch},
                **{c.key: _generator(c.onupdate) for c in sql.update_prefetch},
            }
            compiled = _Compiled(
                sql.string,
                tuple(sql.positiontup or ()) if positional else (),
                {k: v for k, v in sql._bind_processors.items() if v is not None},
                {
                    name: bind.effective_value
                    for name, bind in sql.binds.items()
                    if not bind.required and name not in generated
                },
                generated,
            )
            self._compiled[dialect.name] = compiled
        return compiled

    def _params(self, compiled: _Compiled, params: Mapping[str, Any]) -> Any:
        processors = compiled.processors
        if compiled.constants or compiled.generated:
            made = {k: f() for k, f in compiled.generated.items() if k not in params}
            params = {**compiled.constants, **made, **params}
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


class InListStatement:
    """A statement with an ``IN`` list of bound values, as a `RawStatement` per length of
    the list (callers pass a few hundred values at the most); ``rows`` runs it on the
    connection's DBAPI cursor inside its transaction and returns every row."""

    def __init__(self, make: Callable[[list[BindParameter[Any]]], Executable]) -> None:
        self._make = make
        self._by_length: dict[int, RawStatement] = {}

    def rows(
        self, conn: Connection, values: Sequence[Any], params: Mapping[str, Any] | None = None
    ) -> list[Any]:
        raw = self._by_length.get(len(values))
        if raw is None:
            names: list[BindParameter[Any]] = [bindparam(f"in_{n}") for n in range(len(values))]
            raw = self._by_length[len(values)] = RawStatement(self._make(names))
        given = {f"in_{n}": value for n, value in enumerate(values)}
        if params:
            given.update(params)
        cursor = raw_cursor(conn)
        try:
            raw.execute(cursor, conn.dialect, given)
            return list(cursor.fetchall())
        finally:
            cursor.close()


def _generator(default: Any) -> Callable[[], Any]:
    if default is not None and default.is_callable:
        function = default.arg
        return lambda: function(None)
    if default is not None and default.is_scalar:
        value = default.arg
        return lambda: value
    raise ValueError(f"a column default RawStatement cannot compute: {default!r}")


def raw_cursor(conn: Connection) -> Any:
    """A DBAPI cursor on ``conn``'s connection, inside its current transaction."""
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


class RowInsert:
    """``INSERT`` of a whole row (every column but the primary key) as a `RawStatement`.

    Columns the caller leaves out get the model's Python-side defaults, as the ORM would
    give them (SQLAlchemy's execution layer, bypassed here, is what applies them), so a
    column added to the model later cannot be left NULL by mistake. With
    ``skip_duplicates_of`` (a unique key) an existing row is left alone and nothing is
    returned; ``execute(...).fetchone()`` is ``(id,)`` when a row was inserted.
    """

    def __init__(self, model: type[Any], *, skip_duplicates_of: Sequence[str] = ()) -> None:
        table: Table = model.__table__
        self.columns = tuple(c.name for c in table.columns if not c.primary_key)
        self._column_set = frozenset(self.columns)
        self._defaults = {
            c.name: _generator(c.default)
            for c in table.columns
            if not c.primary_key and c.default is not None
        }
        values: dict[str, Any] = {name: bindparam(name) for name in self.columns}
        (key,) = table.primary_key.columns

        def make(dialect: str) -> Executable:
            if not skip_duplicates_of:
                return insert(table).values(values).returning(key)
            upsert = dialect_insert(dialect)
            return (
                upsert(table)
                .values(values)
                .on_conflict_do_nothing(index_elements=list(skip_duplicates_of))
                .returning(key)
            )

        self._statement = RawStatement(make)

    def complete(self, given: Mapping[str, Any]) -> dict[str, Any]:
        if unknown := given.keys() - self._column_set:
            raise KeyError(f"not columns of the table: {sorted(unknown)}")
        row = dict.fromkeys(self.columns)  # nullable columns without a default: NULL
        row.update({name: make() for name, make in self._defaults.items() if name not in given})
        row.update(given)
        return row

    def execute(self, cursor: Any, dialect: Dialect, given: Mapping[str, Any]) -> Any:
        return self._statement.execute(cursor, dialect, self.complete(given))
