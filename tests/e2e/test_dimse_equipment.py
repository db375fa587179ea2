"""Equipment as DICOM peers: `openpacs admin add/update/remove-equipment`, the equipment
list, and AE titles that decide the account, changed while the server runs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import orjson
import pytest

from openpacs.client import PacsClient
from tests.e2e.api_client import ok, post
from tests.support.cli import run_cli
from tests.support.dcmtk import run
from tests.support.dimse import new_ae_title
from tests.support.server import ServerProcess, TestAccount


def admin(
    server: ServerProcess, *args: str, env: dict[str, str] | None = None
) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "openpacs", "admin", *args, "--json"],
        env={**server.env, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip(), "code": done.returncode}
    return dict(orjson.loads(done.stdout))


def echo(server: ServerProcess, calling: str) -> bool:
    done = run("echoscu", "-aet", calling, "-aec", "OPENPACS", "127.0.0.1", server.dicom_port)
    return done.returncode == 0


def test_add_update_and_remove_take_effect_without_a_restart(
    server: ServerProcess, account: TestAccount
) -> None:
    first, second = new_ae_title("MOD"), new_ae_title("MOD")
    added = admin(
        server,
        "add-equipment",
        "--institution",
        account.institution_uuid,
        "--name",
        "US cart",
        "--modality",
        "us",
        "--ae-title",
        first,
        "--host",
        "127.0.0.1",
        "--port",
        "11113",
    )
    assert (added["AETitle"], added["Host"], added["Port"], added["Modality"]) == (
        first,
        "127.0.0.1",
        11113,
        "US",
    )
    assert echo(server, first)
    listed = ok(post(server, account, "/getequipmentlist", {}))["EquipmentList"]
    assert [(e["AETitle"], e["Host"], e["Port"]) for e in listed] == [(first, "127.0.0.1", 11113)]
    with PacsClient(server.dicomweb, account.email, account.password) as pacs:
        device = pacs.list_equipment()[0]
    assert (device.ae_title, device.host, device.port) == (first, "127.0.0.1", 11113)
    table = run_cli(
        "equipment",
        env={
            "OPENPACS_URL": server.dicomweb,
            "OPENPACS_USER": account.email,
            "OPENPACS_PASSWORD": account.password,
            "COLUMNS": "200",
        },
    )
    assert table.returncode == 0, table.stderr
    header, _, row = table.stdout.splitlines()[:3]
    assert header.split()[3:6] == ["AETitle", "Host", "Port"]
    assert row.split()[-4:-1] == [first, "127.0.0.1", "11113"]

    changed = admin(server, "update-equipment", "--equipment", str(added["EquipmentUuid"]),
                    "--ae-title", second, "--no-port")  # fmt: skip
    assert (changed["AETitle"], changed["Host"], changed["Port"]) == (second, "127.0.0.1", None)
    assert not echo(server, first)
    assert echo(server, second)

    removed = admin(server, "remove-equipment", "--equipment", str(added["EquipmentUuid"]), "--yes")
    assert removed["Removed"] is True
    assert not echo(server, second)
    assert ok(post(server, account, "/getequipmentlist", {}))["EquipmentList"] == []


def test_an_ae_title_names_one_equipment(server: ServerProcess, account: TestAccount) -> None:
    title = new_ae_title("DUP")
    institution = account.institution_uuid
    admin(server, "add-equipment", "--institution", institution, "--name", "A", "--ae-title", title)
    again = admin(
        server, "add-equipment", "--institution", institution, "--name", "B", "--ae-title", title
    )
    assert again["code"] == 1 and "already the title of equipment" in str(again["error"])

    other = server.create_account()
    elsewhere = admin(
        server, "add-equipment", "--institution", other.institution_uuid, "--name", "C",
        "--ae-title", title, "--host", "10.1.2.3",
    )  # fmt: skip
    assert elsewhere["code"] == 1
    assert "OPENPACS_DICOM_CHECK_HOST=true" in str(elsewhere["error"])


def test_an_invalid_ae_title_or_port_is_refused(
    server: ServerProcess, account: TestAccount
) -> None:
    institution = account.institution_uuid
    for extra in (["--ae-title", "X" * 17], ["--ae-title", "A\\B"], ["--port", "70000"]):
        refused = admin(server, "add-equipment", "--institution", institution, "--name", "Bad",
                        *extra)  # fmt: skip
        assert refused["code"] == 1, extra


# -- OPENPACS_DICOM_CHECK_HOST ------------------------------------------------------------


@pytest.fixture(scope="module")
def checking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("check-host")
    process = ServerProcess(data_dir, env={"OPENPACS_DICOM_CHECK_HOST": "true"}).start()
    yield process
    process.stop()


def test_with_host_checking_the_peer_address_must_match(checking_server: ServerProcess) -> None:
    server = checking_server
    a, b = server.create_account(), server.create_account()
    title = new_ae_title("SHARED")
    env = {"OPENPACS_DICOM_CHECK_HOST": "true"}
    here = admin(server, "add-equipment", "--institution", a.institution_uuid, "--name", "here",
                 "--ae-title", title, "--host", "127.0.0.1", env=env)  # fmt: skip
    assert here["Host"] == "127.0.0.1"
    # The same title in another account is allowed on another host, with checking on.
    there = admin(server, "add-equipment", "--institution", b.institution_uuid, "--name", "there",
                  "--ae-title", title, "--host", "192.0.2.7", env=env)  # fmt: skip
    assert there["Host"] == "192.0.2.7"
    assert echo(server, title)  # from 127.0.0.1: account a's equipment

    elsewhere = new_ae_title("AWAY")
    admin(server, "add-equipment", "--institution", a.institution_uuid, "--name", "away",
          "--ae-title", elsewhere, "--host", "192.0.2.8", env=env)  # fmt: skip
    answer = run("echoscu", "-aet", elsewhere, "-aec", "OPENPACS", "127.0.0.1", server.dicom_port)
    assert "Calling AE Title Not Recognized" in answer.stdout
