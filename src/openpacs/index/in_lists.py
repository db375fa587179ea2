"""Long lists of ids go to the database in chunks: each ``IN`` list stays well under every
backend's limit on bound parameters (SQLite 32,766, PostgreSQL 65,535) and its planner's
comfort."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

#: Values per ``IN`` list.
IN_LIST_SIZE = 500

T = TypeVar("T")


def in_chunks(values: Sequence[T]) -> Iterator[list[T]]:
    for start in range(0, len(values), IN_LIST_SIZE):
        yield list(values[start : start + IN_LIST_SIZE])
