"""Tables that fit the terminal and never cut an identifier.

Every column is either text (wrapped between words when space is short) or an
identifier (UUIDs, UIDs, paths: printed whole, never wrapped or shortened, so that a
copied value is always right). The widths are decided here, not left to rich: each
column gets at least its longest word (its whole value for identifiers), the rest of the
width goes to the columns that want more. When even the minimum does not fit, the rows
are printed one after another as ``key: value`` lines instead (like ``psql``'s ``\\x``).

The width is the terminal's, ``COLUMNS`` when set, and unlimited in a pipe (one line per
row, for ``grep``; scripts should use ``--json``).
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

GAP = 3  # what rich puts between two columns with this box: padding, rule, padding
READABLE = 16  # a text column narrower than this (when it has more to say) reads badly
PIPE_WIDTH = 100_000


@dataclass(frozen=True)
class Column:
    """A column: its header, and whether its values are identifiers (never cut)."""

    header: str
    identifier: bool = False
    justify: Literal["left", "right"] = "left"


def identifier(header: str) -> Column:
    return Column(header, identifier=True)


def number(header: str) -> Column:
    return Column(header, justify="right")


def output_width(stream_is_tty: bool | None = None) -> int | None:
    """``COLUMNS`` when set, else None for a terminal (its size), else unlimited."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    tty = sys.stdout.isatty() if stream_is_tty is None else stream_is_tty
    return None if tty else PIPE_WIDTH


def stdout_console() -> Console:
    return Console(highlight=False, width=output_width(), soft_wrap=False)


def _words(text: str) -> list[str]:
    return text.split() or [""]


def _minimum(column: Column, cells: Sequence[str]) -> int:
    """The narrowest the column can be without cutting a word (or an identifier), and
    not so narrow that a sentence turns into a word per line."""
    header = max(cell_len(word) for word in _words(column.header))
    if column.identifier:
        return max([header, *(cell_len(c) for c in cells)])
    words = max([header, *(cell_len(w) for c in cells for w in _words(c))])
    return max(words, min(READABLE, _maximum(column, cells)))


def _maximum(column: Column, cells: Sequence[str]) -> int:
    return max([cell_len(column.header), *(cell_len(c) for c in cells)])


def fit_widths(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int
) -> list[int] | None:
    """Column widths (without the gaps) that fit ``width``; None when nothing fits."""
    cells = [[row[i] for row in rows] for i in range(len(columns))]
    low = [_minimum(c, cells[i]) for i, c in enumerate(columns)]
    high = [
        max(lo, _maximum(c, cells[i])) for i, (c, lo) in enumerate(zip(columns, low, strict=True))
    ]
    room = width - GAP * (len(columns) - 1)
    if sum(low) > room:
        return None
    widths = list(low)
    spare = room - sum(widths)
    # Share the spare width out, a column at a time up to what it wants.
    while spare > 0:
        wanting = [i for i in range(len(widths)) if widths[i] < high[i]]
        if not wanting:
            break
        share = max(1, spare // len(wanting))
        for i in wanting:
            step = min(share, high[i] - widths[i], spare)
            widths[i] += step
            spare -= step
            if spare == 0:
                break
    return widths


def render(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    optional: Sequence[str] = (),
) -> None:
    """Print ``rows`` as a table that fits the console, else as ``key: value`` blocks.

    A column empty in every row is left out: it would only take room. The columns named
    in ``optional`` (headers, the least needed first) are left out one by one while the
    table does not fit, and a line says which; if it still does not fit, every column
    is printed as ``key: value`` blocks.
    """
    rows = [[str(cell) for cell in row] for row in rows]
    keep = [i for i in range(len(columns)) if any(row[i] for row in rows)] or [0]
    columns = [columns[i] for i in keep]
    rows = [[row[i] for i in keep] for row in rows]
    shown, widths, dropped = _fitting(columns, rows, console.width, optional)
    if widths is None:
        if title:
            console.print(escape(title))
        console.print(vertical(columns, rows, console.width), end="", soft_wrap=True, markup=False)
        return
    if dropped:
        columns = [columns[i] for i in shown]
        rows = [[row[i] for i in shown] for row in rows]
    table = Table(
        box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False, show_edge=False
    )
    for column, size in zip(columns, widths, strict=True):
        table.add_column(
            escape(column.header),
            width=size,
            no_wrap=column.identifier,
            overflow="fold",
            justify=column.justify,
        )
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    _print_unpadded(console, table)
    if dropped:
        console.print(escape(f"Not shown at this width: {', '.join(dropped)} (see --json)."))


def _print_unpadded(console: Console, table: Table) -> None:
    """Print ``table`` without the spaces rich pads each line's last cell with: in a
    pipe (unlimited width) they would end every line of a file with a run of blanks."""
    with console.capture() as captured:
        console.print(table)
    lines = captured.get().split("\n")
    console.file.write("\n".join(line.rstrip(" ") for line in lines))


def _fitting(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int, optional: Sequence[str]
) -> tuple[list[int], list[int] | None, list[str]]:
    """The indexes of the columns shown, their widths (None: no table fits) and the
    headers of the optional columns left out to make the table fit."""
    shown = list(range(len(columns)))
    dropped: list[str] = []
    widths = fit_widths(columns, rows, width)
    for header in optional:
        if widths is not None:
            break
        found = [i for i in shown if columns[i].header == header]
        if not found:
            continue
        shown.remove(found[0])
        dropped.append(header)
        widths = fit_widths(
            [columns[i] for i in shown], [[r[i] for i in shown] for r in rows], width
        )
    return shown, widths, dropped


def vertical(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> str:
    """Each row as ``key: value`` lines, rows separated by a blank line; empty values
    are left out.

    A text value wraps under itself; an identifier that does not fit after its key goes
    whole on the next line (and is never broken, even when longer than the width).
    """
    key_width = max(cell_len(c.header) for c in columns) + 1
    indent = " " * (key_width + 1)
    blocks = []
    for row in rows:
        lines = []
        for column, value in zip(columns, row, strict=True):
            key = f"{column.header}:".ljust(key_width)
            if not value:
                continue
            if column.identifier:
                if key_width + 1 + cell_len(value) <= width:
                    lines.append(f"{key} {value}")
                else:
                    lines += [key.rstrip(), f"  {value}"]
            else:
                wrapped = textwrap.wrap(
                    value,
                    width=max(10, width - len(indent)),
                    break_long_words=False,
                    break_on_hyphens=False,
                ) or [value]
                lines.append(f"{key} {wrapped[0]}")
                lines += [indent + part for part in wrapped[1:]]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
