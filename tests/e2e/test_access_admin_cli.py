"""``openpacs admin`` for access control: roles, disabled users, institution limits and
the lists that spare reading UUIDs out of the database by hand."""

from __future__ import annotations

import json
from typing import Any

from tests.support.cli import CliResult, one_line_error, run_cli
from tests.support.server import ServerProcess, TestAccount


def admin(server: ServerProcess, *args: str, stdin: str = "") -> CliResult:
    env = {
        "OPENPACS_DATA_DIR": str(server.data_dir),
        "OPENPACS_DATABASE_URL": server.database_url,
    }
    return run_cli("admin", *args, stdin=stdin, env=env)


def admin_json(server: ServerProcess, *args: str, stdin: str = "") -> Any:
    done = admin(server, *args, "--json", stdin=stdin)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_users_get_roles_limits_and_can_be_disabled(
    server: ServerProcess, account: TestAccount
) -> None:
    email = f"r-{account.account_uuid[:8]}@example.org"
    made = admin_json(
        server,
        *("add-user", "--account", account.account_uuid, "--email", email, "--role", "reader"),
        *("--institution", account.institution_uuid),
        stdin="a long password\n",
    )
    assert made["Role"] == "reader" and made["Institutions"] == [account.institution_uuid]
    assert admin_json(server, "set-role", "--email", email, "--role", "member")["Role"] == "member"
    assert admin_json(server, "disable-user", "--email", email, "--yes")["Disabled"] is True
    users = admin_json(server, "list-users", "--account", account.account_uuid)
    mine = {user["Email"]: user for user in users}
    assert mine[email]["Disabled"] is True and mine[email]["Role"] == "member"
    assert mine[account.email]["Role"] == "admin" and mine[account.email]["Institutions"] == []
    assert admin_json(server, "enable-user", "--email", email)["Disabled"] is False
    unlimited = admin_json(server, "set-institutions", "--email", email, "--all")
    assert unlimited["Institutions"] == []
    accounts = admin_json(server, "list-accounts")
    [row] = [a for a in accounts if a["AccountUuid"] == account.account_uuid]
    assert row["Users"] == 2 and row["DicomwebEnabled"] is True


def test_mistakes_are_one_line(server: ServerProcess, account: TestAccount) -> None:
    other = server.create_account()
    one_line_error(
        admin(server, "set-role", "--email", "nobody@x.org", "--role", "admin"), 1, "no user"
    )
    done = admin(
        server,
        "set-institutions",
        "--email",
        account.email,
        "--institution",
        other.institution_uuid,
    )
    one_line_error(done, 1, "no institution")
    done = admin(server, "set-role", "--email", account.email, "--role", "owner")
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_the_lists_fit_80_columns(server: ServerProcess, account: TestAccount) -> None:
    env = {
        "OPENPACS_DATA_DIR": str(server.data_dir),
        "OPENPACS_DATABASE_URL": server.database_url,
        "COLUMNS": "80",
    }
    for args in (("list-accounts",), ("list-users", "--account", account.account_uuid)):
        done = run_cli("admin", *args, env=env)
        assert done.returncode == 0, done.stderr
        assert max(len(line) for line in done.stdout.splitlines()) <= 80
        assert account.account_uuid in done.stdout or account.email in done.stdout
