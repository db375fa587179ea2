"""The README's list of QIDO matching keys per level is the attribute table's.

Markdown cannot be generated from the table, so this test holds the two together: a row
that becomes (or stops being) a matching key fails here until the README says so.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openpacs.dicom.attributes import Level, matching_keys

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_keys(level: Level) -> set[str]:
    """The backquoted keywords of the README item ``  - <level>: ...`` (with its
    continuation lines) in the QIDO-RS section."""
    section = README.read_text().split("### QIDO-RS", 1)[1].split("\n### ", 1)[0]
    found = re.search(rf"^  - {level.value}: (.*?)(?=^  - |^- )", section, re.M | re.S)
    assert found is not None, f"the README lists no {level.value} matching keys"
    return set(re.findall(r"`([A-Za-z]+)`", found.group(1)))


@pytest.mark.parametrize("level", list(Level), ids=lambda level: level.value)
def test_the_readme_lists_the_matching_keys_of_the_table(level: Level) -> None:
    assert readme_keys(level) == {attr.keyword for attr in matching_keys(level).values()}
