"""First start, `openpacs admin ...` and what the accounts they make can do."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support.server import ServerProcess


def admin(
    server: ServerProcess, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openpacs", "admin", *args],
        env=server.env,
        capture_output=True,
        text=True,
        input=stdin,
        check=False,
    )


def admin_json(server: ServerProcess, *args: str, stdin: str | None = None) -> dict[str, object]:
    result = admin(server, *args, "--json", stdin=stdin)
    assert result.returncode == 0, result.stderr
    return dict(orjson.loads(result.stdout))


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:
    server = ServerProcess(tmp_path_factory.mktemp("fresh")).start()
    yield server  # type: ignore[misc]
    server.stop()


def test_first_start_creates_an_admin_whose_credentials_only_the_owner_can_read(
    fresh_server: ServerProcess,
) -> None:
    log = fresh_server.log_path.read_text()
    assert "admin@openpacs.local" in log
    credentials = fresh_server.data_dir / "initial-admin.txt"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    lines = dict(line.split(": ", 1) for line in credentials.read_text().splitlines())
    assert lines["password"] in log
    assert f"AccountUuid  {lines['account']}" in log
    response = httpx.get(
        fresh_server.dicomweb + "/studies", auth=(lines["email"], lines["password"])
    )
    assert response.status_code == 204


def test_create_account_with_a_password_on_stdin_and_use_it(fresh_server: ServerProcess) -> None:
    created = admin_json(
        fresh_server,
        "create-account",
        "--name",
        "Clinic A",
        "--email",
        "IT@Clinic-A.example",
        stdin="s3cret-pw-clinic-a\n",
    )
    assert set(created) >= {"AccountUuid", "UserUuid", "InstitutionUuid"}
    ok = httpx.get(
        fresh_server.dicomweb + "/studies", auth=("it@clinic-a.example", "s3cret-pw-clinic-a")
    )
    assert ok.status_code == 204
    duplicate = admin(
        fresh_server,
        "create-account",
        "--name",
        "B",
        "--email",
        "it@clinic-a.example",
        "--password",
        "another-s3cret",
    )
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr
    assert "Traceback" not in duplicate.stderr


def test_users_groups_institutions_and_equipment(fresh_server: ServerProcess) -> None:
    account = admin_json(
        fresh_server,
        "create-account",
        "--name",
        "Clinic B",
        "--email",
        "b@b.example",
        "--password",
        "pw-clinic-b-2024",
    )
    user = admin_json(
        fresh_server,
        "add-user",
        "--account",
        str(account["AccountUuid"]),
        "--email",
        "dr@b.example",
        "--password",
        "pw-doctor-b-2024",
        "--name",
        "Dr B",
    )
    group = admin_json(
        fresh_server, "add-group", "--account", str(account["AccountUuid"]), "--name", "Radiology"
    )
    member = admin_json(
        fresh_server,
        "add-to-group",
        "--group",
        str(group["UserGroupUuid"]),
        "--email",
        "dr@b.example",
    )
    assert member["UserUuid"] == user["UserUuid"]
    institution = admin_json(
        fresh_server, "add-institution", "--account", str(account["AccountUuid"]), "--name", "North"
    )
    equipment = admin_json(
        fresh_server,
        "add-equipment",
        "--institution",
        str(institution["InstitutionUuid"]),
        "--name",
        "CT 1",
        "--modality",
        "ct",
        "--ae-title",
        "CT1",
    )
    assert equipment["Modality"] == "CT"
    north = str(institution["InstitutionUuid"])
    shown = admin(fresh_server, "add-equipment", "--institution", north, "--name", "CT 2")
    assert "Port: \n" in shown.stdout and "None" not in shown.stdout  # no port: blank
    changed = admin_json(
        fresh_server, "set-password", "--email", "dr@b.example", "--password", "new-pw-doctor-b"
    )
    assert changed["UserUuid"] == user["UserUuid"]
    assert (
        httpx.get(
            fresh_server.dicomweb + "/studies", auth=("dr@b.example", "new-pw-doctor-b")
        ).status_code
        == 204
    )


def test_account_by_name_or_uuid(fresh_server: ServerProcess) -> None:
    first = dict(
        line.split(": ", 1)
        for line in (fresh_server.data_dir / "initial-admin.txt").read_text().splitlines()
    )
    by_name = admin_json(fresh_server, "add-group", "--account", "openpacs", "--name", "Named")
    by_uuid = admin_json(
        fresh_server, "add-group", "--account", first["account"], "--name", "By UUID"
    )
    assert by_name["Name"] == "Named" and by_uuid["Name"] == "By UUID"
    for n in (1, 2):
        admin_json(
            fresh_server,
            "create-account",
            "--name",
            "Twin",
            "--email",
            f"twin{n}@t.example",
            "--password",
            "pw-twin-clinic",
        )
    twins = admin(fresh_server, "add-group", "--account", "twin", "--name", "G")
    assert twins.returncode == 1
    assert "2 accounts are named 'twin': give the AccountUuid" in twins.stderr
    nobody = admin(fresh_server, "add-group", "--account", "No Such Clinic", "--name", "G")
    assert nobody.returncode == 1
    assert "no account named or with the AccountUuid 'No Such Clinic'" in nobody.stderr


def test_dicomweb_can_be_switched_off_per_account(fresh_server: ServerProcess) -> None:
    account = admin_json(
        fresh_server,
        "create-account",
        "--name",
        "Off",
        "--email",
        "off@c.example",
        "--password",
        "pw-clinic-off-1",
    )
    admin_json(
        fresh_server, "set-dicomweb", "--account", str(account["AccountUuid"]), "--disable", "--yes"
    )
    response = httpx.get(
        fresh_server.dicomweb + "/studies", auth=("off@c.example", "pw-clinic-off-1")
    )
    assert response.status_code == 403
    assert "disabled" in response.headers["X-Error-Reason"]


def test_unknown_ids_are_one_readable_line(fresh_server: ServerProcess) -> None:
    result = admin(
        fresh_server,
        "add-group",
        "--account",
        "00000000-0000-0000-0000-000000000000",
        "--name",
        "x",
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("openpacs: no account")


def test_cors_preflight_allows_viewers(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path / "cors", env={"OPENPACS_CORS_ORIGINS": "https://viewer.example"}
    ).start()
    try:
        response = httpx.options(
            server.dicomweb + "/studies",
            headers={
                "Origin": "https://viewer.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization, accept",
            },
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://viewer.example"
        allowed = response.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed and "accept" in allowed
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pw", "the password must have at least 10 characters"),
        ("password123", "the password is one of the 10,000 most common passwords"),
        ("QWERTYUIOP", "the password is one of the 10,000 most common passwords"),
    ],
)
def test_a_weak_password_is_refused_in_one_line(
    fresh_server: ServerProcess, password: str, reason: str
) -> None:
    for command in (
        ["create-account", "--name", "Weak", "--email", "weak@w.example"],
        ["set-password", "--email", "admin@openpacs.local"],
    ):
        result = admin(fresh_server, *command, "--password", password)
        assert result.returncode == 1, command
        assert result.stderr.strip() == f"openpacs: {reason}" or reason in result.stderr
        assert "Traceback" not in result.stderr
