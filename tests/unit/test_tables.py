"""Tables fit the terminal, never cut an identifier, and turn into ``key: value`` lines
when even that cannot fit."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from openpacs.cli.tables import Column, fit_widths, identifier, number, output_width, render

UID = "1.2.826.0.1.3680043.8.498.12406831542731051035295345080039845114"
UUID = "9ff735e0-8bb2-4e9d-b8cb-4a7876c4a68b"
COLUMNS = [
    identifier("PatientID"),
    Column("PatientName"),
    Column("StudyDate"),
    Column("Description"),
    number("Instances"),
    identifier("StudyInstanceUID"),
]
ROWS = [
    ["P-000123", "Doe^Jane", "2024-01-02", "CT chest abdomen pelvis with contrast", "120", UID],
    ["P-7", "Muller^Hans", "2023-11-30", "MR knee", "12", "1.2.3.4"],
]


def printed(width: int, columns: list[Column] = COLUMNS, rows: list[list[str]] = ROWS) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, highlight=False, soft_wrap=False)
    render(console, columns, rows)
    return out.getvalue()


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_identifiers_are_never_cut_and_lines_fit(width: int) -> None:
    text = printed(width)
    assert UID in text and "P-000123" in text  # whole, on one line
    assert all(len(line) <= width for line in text.splitlines() if UID not in line)


def test_a_wide_terminal_gets_a_table() -> None:
    text = printed(200)
    header = text.splitlines()[0]
    assert header.split() == [c.header for c in COLUMNS]
    assert len(text.splitlines()) == 4  # header, rule, two rows


def test_a_narrow_terminal_gets_key_value_lines() -> None:
    text = printed(80)
    assert f"StudyInstanceUID: {UID}" not in text  # would not fit in 80 columns
    assert f"StudyInstanceUID:\n  {UID}" in text
    assert "PatientName:      Doe^Jane" in text
    blocks = text.strip().split("\n\n")
    assert len(blocks) == 2


def test_text_wraps_between_words_only() -> None:
    columns = [identifier("InstitutionUuid"), Column("Name")]
    rows = [[UUID, "Radiology department of the university hospital north wing"]]
    text = printed(70, columns, rows)
    assert UUID in text
    words = set(rows[0][1].split())
    for line in text.splitlines()[2:]:
        assert set(line.replace(UUID, "").split()) <= words


def test_headers_are_never_broken_into_letters() -> None:
    widths = fit_widths(COLUMNS, ROWS, 150)
    assert widths is not None
    for column, width in zip(COLUMNS, widths, strict=True):
        assert width >= len(column.header)


def test_width_from_columns_then_terminal_then_unlimited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "93")
    assert output_width(stream_is_tty=False) == 93
    monkeypatch.delenv("COLUMNS")
    assert output_width(stream_is_tty=True) is None  # rich asks the terminal
    assert output_width(stream_is_tty=False) >= 10_000  # a pipe: one line per row


def test_a_column_empty_in_every_row_takes_no_room() -> None:
    columns = [identifier("ShareUuid"), Column("Title"), Column("ExpireDate")]
    text = printed(80, columns, [[UUID, "", "2030-12-31"]])
    assert text.splitlines()[0].split() == ["ShareUuid", "ExpireDate"]


@pytest.mark.parametrize("width", [80, 200, 100_000])
def test_no_line_ends_in_padding(width: int) -> None:
    # In a pipe the width is unlimited: padded cells would leave runs of spaces at the
    # end of every line in the file or the next command's input.
    text = printed(width)
    assert text.strip() and all(line == line.rstrip() for line in text.splitlines())
