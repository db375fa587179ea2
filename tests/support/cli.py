"""Run ``openpacs`` in the test process: the same ``main()``, with its own environment,
working folder, standard input (a pipe, or a terminal when ``tty``) and captured output.

In-process runs skip an interpreter start per command, which keeps the CLI tests fast.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from openpacs.cli.main import main


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


class FakeInput(io.StringIO):
    """Standard input that says whether it is a terminal."""

    def __init__(self, text: str, tty: bool) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@contextlib.contextmanager
def _environment(env: Mapping[str, str | None]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in env}
    try:
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_cli(
    *args: str,
    stdin: str = "",
    tty: bool = False,
    env: Mapping[str, str | None] | None = None,
    cwd: Path | None = None,
) -> CliResult:
    """``openpacs ARGS`` in this process; ``env`` values of None remove a variable."""
    out, err = io.StringIO(), io.StringIO()
    fake_in = FakeInput(stdin, tty)
    monkey = pytest.MonkeyPatch()
    try:
        monkey.setattr(sys, "stdin", fake_in)
        # getpass reads the real terminal when there is one: read the fake input instead.
        monkey.setattr("getpass.getpass", lambda prompt="": _read_line(fake_in, prompt, err))
        if cwd is not None:
            monkey.chdir(cwd)
        with (
            _environment({"COLUMNS": None, **(env or {})}),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: --help, --version, usage errors
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        monkey.undo()
    return CliResult(code, out.getvalue(), err.getvalue())


def _read_line(stream: io.StringIO, prompt: str, err: io.StringIO) -> str:
    err.write(prompt)
    return stream.readline().rstrip("\n")


def one_line_error(done: CliResult, code: int, text: str) -> None:
    """The command failed with ``code`` and exactly one ``openpacs: ...`` line on stderr."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("openpacs: "), done.stderr
    assert text in lines[0], lines[0]
    assert "Traceback" not in done.stderr
