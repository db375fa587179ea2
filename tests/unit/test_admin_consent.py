"""``openpacs admin`` asks before it removes or switches something off, as the client's
deletes do: on a terminal (no: exit 1), and never without ``--yes`` from a pipe (exit 2);
nothing is opened before the answer."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.support.cli import one_line_error, run_cli

ADMIN_CHANGES = [
    (["remove-equipment", "--equipment", str(uuid.uuid4())], "not removed"),
    (["disable-user", "--email", "u@example.org"], "not disabled"),
    (["set-dicomweb", "--account", "A", "--disable"], "not switched off"),
    (
        ["migrate-storage", "--from", "file:///a", "--to", "file:///b", "--delete-source"],
        "not migrated",
    ),
]


@pytest.mark.parametrize(("args", "refusal"), ADMIN_CHANGES)
def test_admin_asks_before_it_removes_or_disables(
    tmp_path: Path, args: list[str], refusal: str
) -> None:
    database = tmp_path / "openpacs.db"
    database.write_bytes(b"")  # opening it would write the schema: it must stay empty
    admin = ("admin", args[0], "--data-dir", str(tmp_path), *args[1:])
    piped = run_cli(*admin, stdin="y\n")
    one_line_error(piped, 2, "standard input is not a terminal: add --yes")
    answered = run_cli(*admin, stdin="n\n", tty=True)
    assert answered.returncode == 1 and "[y/N]" in answered.stderr, answered
    assert f"openpacs: {refusal}" in answered.stderr
    assert database.stat().st_size == 0


def test_admin_asks_nothing_before_what_can_be_set_again(tmp_path: Path) -> None:
    (tmp_path / "openpacs.db").write_bytes(b"")
    done = run_cli(
        "admin", "set-dicomweb", "--data-dir", str(tmp_path), "--account", "A", "--enable"
    )
    assert "add --yes" not in done.stderr and "[y/N]" not in done.stderr
