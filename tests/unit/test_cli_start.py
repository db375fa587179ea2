"""The command line starts at once, refuses bad arguments before any network call, and
asks before it deletes anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.support.cli import one_line_error, run_cli
from tests.support.server import free_port

HEAVY = ("sqlalchemy", "alembic", "starlette", "uvicorn", "openpacs.web", "openpacs.index")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _loaded(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in prefixes or m.startswith(prefixes))


def test_help_loads_neither_the_server_nor_the_client_libraries() -> None:
    modules = _modules_after(
        "from openpacs.cli.main import build_parser\n"
        "parser = build_parser()\n"
        "parser.format_help()\n"
        "parser.parse_args(['search', '--patient-id', 'P1'])"
    )
    assert not _loaded(modules, (*HEAVY, "httpx", "rich", "pydicom", "anyio"))


def test_a_client_command_loads_no_server_code() -> None:
    modules = _modules_after(
        "from openpacs.cli.main import resolve\nresolve('openpacs.cli.client_commands:search')"
    )
    assert "httpx" in modules
    assert not _loaded(modules, (*HEAVY, "pydicom"))


def test_version() -> None:
    done = run_cli("--version")
    assert done.returncode == 0 and done.stdout.startswith("openpacs ")


NOWHERE = {
    "OPENPACS_URL": f"http://127.0.0.1:{free_port()}/dicomweb",
    "OPENPACS_USER": "u@example.org",
    "OPENPACS_PASSWORD": "pw",
}
ORDER = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "--timeout", "0"], "argument --timeout: must be more than 0"),
        (["order", "get", "--institution", "x1", "--order", ORDER], "not a UUID: 'x1'"),
        (["folder", "add-order", "--order", ORDER, "--folders", f"{ORDER},nope"], "'nope'"),
        (["share", "delete", "--share", "12345"], "argument --share-uuid/--share"),
        (["search", "--limit", "0"], "argument --limit: must be at least 1"),
        (["search", "--limit", "many"], "not a whole number: 'many'"),
        (["order", "search", "--offset", "-1"], "must be 0 or more"),
    ],
)
def test_bad_arguments_are_usage_errors_before_any_network_call(
    args: list[str], message: str
) -> None:
    done = run_cli(*args, env=NOWHERE)
    assert done.returncode == 2, done
    assert message in done.stderr
    assert "unreachable" not in done.stderr  # nothing was sent


def test_url_help_shows_the_default_port() -> None:
    assert "http://127.0.0.1:8080/dicomweb" in run_cli("users", "--help").stdout


# --------------------------------------------------------------------------- consent

DELETES = [
    ["order", "delete", "--institution", str(uuid.uuid4()), "--order", ORDER],
    ["share", "delete", "--share", str(uuid.uuid4())],
    ["token", "revoke", str(uuid.uuid4())],
]
REFUSED = {"delete": "not deleted", "revoke": "not revoked"}  # by the command's action


@pytest.mark.parametrize("args", DELETES)
@pytest.mark.parametrize("stdin", ["n\n", "y\n", ""])
def test_a_delete_refuses_without_yes_when_nobody_can_answer(args: list[str], stdin: str) -> None:
    done = run_cli(*args, stdin=stdin, env=NOWHERE)
    one_line_error(done, 2, "add --yes")


@pytest.mark.parametrize("args", DELETES)
def test_no_on_a_terminal_is_exit_1_and_nothing_is_sent(args: list[str]) -> None:
    done = run_cli(*args, stdin="n\n", tty=True, env=NOWHERE)
    assert done.returncode == 1
    assert "[y/N]" in done.stderr and f"openpacs: {REFUSED[args[1]]}" in done.stderr
    assert "unreachable" not in done.stderr


@pytest.mark.parametrize("args", DELETES)
def test_yes_on_a_terminal_or_the_flag_goes_ahead(args: list[str]) -> None:
    answered = run_cli(*args, stdin="y\n", tty=True, env=NOWHERE)
    flagged = run_cli(*args, "--yes", env=NOWHERE)
    for done in (answered, flagged):  # it went on to call the (absent) server
        assert done.returncode == 1 and "server unreachable" in done.stderr, done


def _blas_threads_when_loading(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> str | None:
    """OPENBLAS_NUM_THREADS as the command's module would see it when it loads."""
    from openpacs.cli import main as cli_main

    seen: list[str | None] = []

    def loading(_handler: object) -> object:
        seen.append(os.environ.get("OPENBLAS_NUM_THREADS"))
        return lambda _args: 0

    monkeypatch.setattr(cli_main, "resolve", loading)
    assert cli_main.main(argv) == 0
    return seen[0]


def test_serve_limits_numpys_blas_to_one_thread_before_the_server_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "")  # restored to what it was afterwards
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    assert _blas_threads_when_loading(monkeypatch, ["serve"]) == "1"


def test_a_blas_thread_count_of_the_users_own_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    assert _blas_threads_when_loading(monkeypatch, ["serve"]) == "4"


def test_client_commands_leave_the_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    assert _blas_threads_when_loading(monkeypatch, ["search", "--patient-id", "P1"]) is None
