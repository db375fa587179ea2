"""The ``openpacs`` client commands against a real server, run as ``python -m openpacs``.

Interactive parts (``retrieve`` without a UID, ``menu``) are driven through stdin.
Commands whose endpoint the server does not serve yet (501) are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_client_e2e import corrupt_files, dataset_of, synthetic_study
from tests.support.server import ServerProcess, TestAccount, free_port


class Cli:
    def __init__(self, server: ServerProcess, account: TestAccount, cwd: Path) -> None:
        self.cwd = cwd
        self.env = {
            **os.environ,
            "OPENPACS_URL": server.dicomweb,
            "OPENPACS_USER": account.email,
            "OPENPACS_PASSWORD": account.password,
        }
        self.env.pop("COLUMNS", None)

    def run(
        self, *args: str, stdin: str = "", env: dict[str, str] | None = None, check: int | None = 0
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "openpacs", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=self.cwd,
            env={**self.env, **(env or {})},
            timeout=120,
        )
        if check is not None:
            assert done.returncode == check, (done.returncode, done.stdout, done.stderr)
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


def assert_served(done: subprocess.CompletedProcess[str]) -> None:
    """Every endpoint of the guide is served: a 501 is a failure, never a skip."""
    assert "501 Not Implemented" not in done.stderr, done.stderr


def one_line_error(done: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("openpacs: "), done.stderr
    assert text in lines[0], lines[0]
    assert "Traceback" not in done.stderr


@pytest.fixture
def cli(server: ServerProcess, account: TestAccount, tmp_path: Path) -> Cli:
    return Cli(server, account, tmp_path)


@pytest.fixture
def study(cli: Cli, tmp_path: Path) -> dict[str, bytes]:
    files = synthetic_study(tmp_path / "study", f"cli-{uuid.uuid4().hex}")
    done = cli.run("upload", str(tmp_path / "study"))
    assert "Stored 6 of 6 files" in done.stdout
    return files


# --------------------------------------------------------------------------- upload


def test_upload_corpus_summary(cli: Cli, corpus_dir: Path) -> None:
    done = cli.run("upload", str(corpus_dir), "--batch-size", "5", check=1)
    first = done.stdout.splitlines()[0]
    assert first.startswith("Stored ") and " of 40 files" in first
    for name in corrupt_files():
        assert name in done.stdout
    assert done.stderr.strip().startswith("openpacs: ") and "of 40 files failed" in done.stderr

    report = json.loads(cli.run("upload", str(corpus_dir), "--json", check=1).stdout)
    assert report["Stored"] + report["Failed"] == 40 == len(report["Files"])
    statuses = {Path(f["Path"]).name: f for f in report["Files"]}
    for name in corrupt_files():
        assert statuses[name]["Status"] == "failed" and statuses[name]["Reason"]
    assert statuses["pydicom__CT_small.dcm"]["Status"] == "stored"


def test_upload_errors(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    one_line_error(cli.run("upload", "empty", check=None), 1, "no .dcm files in empty")
    one_line_error(cli.run("upload", "missing", check=None), 2, "no such file or folder")


# --------------------------------------------------------------------------- search


def test_search_three_ways(cli: Cli, study: dict[str, bytes]) -> None:
    first = dataset_of(next(iter(study.values())))
    table = cli.run("search", "--patient-id", str(first.PatientID)).stdout
    assert first.StudyInstanceUID in table and str(first.PatientID) in table
    assert "1 study" in table

    studies = cli.json("search", "--patient-id", str(first.PatientID))
    assert [s["0020000D"]["Value"][0] for s in studies] == [first.StudyInstanceUID]
    series = cli.json("search", "--study", first.StudyInstanceUID)
    assert len(series) == 2
    instances = cli.json("search", "--series", first.SeriesInstanceUID)
    assert len(instances) == 3
    filtered = cli.json(
        "search", "--level", "series", "--study", first.StudyInstanceUID, "-f", "Modality=MR"
    )
    assert len(filtered) == 1
    nothing = cli.run("search", "--patient-id", "nobody-" + uuid.uuid4().hex)
    assert "No studies found." in nothing.stdout


# --------------------------------------------------------------------------- retrieve


def test_retrieve_each_level(cli: Cli, study: dict[str, bytes], tmp_path: Path) -> None:
    first = dataset_of(next(iter(study.values())))
    got = cli.json("retrieve", "--study", first.StudyInstanceUID, "-o", "whole")
    assert Path(got["Directory"]) == tmp_path / "whole"
    assert Counter(Path(p).read_bytes() for p in got["Files"]) == Counter(study.values())

    cli.run("retrieve", "--series", first.SeriesInstanceUID, "-o", "series")
    in_series = [
        d for d in study.values() if dataset_of(d).SeriesInstanceUID == first.SeriesInstanceUID
    ]
    written = sorted((tmp_path / "series").iterdir())
    assert Counter(p.read_bytes() for p in written) == Counter(in_series)

    done = cli.run("retrieve", "--instance", first.SOPInstanceUID)
    assert "Retrieved 1 file " in done.stdout
    folders = [p for p in tmp_path.iterdir() if p.name.startswith("retrieved-instance-")]
    assert len(folders) == 1
    assert [p.read_bytes() for p in folders[0].iterdir()] == [study[first.SOPInstanceUID]]


def test_retrieve_interactive(cli: Cli, study: dict[str, bytes], tmp_path: Path) -> None:
    first = dataset_of(next(iter(study.values())))
    done = cli.run("retrieve", "-o", "picked", stdin=f"2\n{first.SeriesInstanceUID}\n")
    assert "Study" in done.stderr and "Series" in done.stderr and "Instance" in done.stderr
    assert "SeriesInstanceUID" in done.stderr
    in_series = [
        d for d in study.values() if dataset_of(d).SeriesInstanceUID == first.SeriesInstanceUID
    ]
    assert Counter(p.read_bytes() for p in (tmp_path / "picked").iterdir()) == Counter(in_series)

    # Wrong choices are asked again; the level can be typed as a word.
    done = cli.run("retrieve", "-o", "again", stdin=f"7\ninstance\n\n{first.SOPInstanceUID}\n")
    assert [p.read_bytes() for p in (tmp_path / "again").iterdir()] == [study[first.SOPInstanceUID]]

    ended = cli.run("retrieve", stdin="", check=2)  # input ended before a UID
    assert ended.stderr.strip().splitlines()[-1].startswith("openpacs: no UID given")
    assert "Traceback" not in ended.stderr


def test_retrieve_errors(cli: Cli) -> None:
    one_line_error(cli.run("retrieve", "--study", "1.2.3.4.999", check=None), 1, "not found (404)")
    one_line_error(
        cli.run("retrieve", "--study", "1.2", "--series", "1.3", check=None), 2, "only one"
    )


# --------------------------------------------------------------------------- errors


def test_readable_errors(cli: Cli) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/dicomweb"
    one_line_error(
        cli.run("search", env={"OPENPACS_URL": nowhere}, check=None), 1, "server unreachable"
    )
    one_line_error(
        cli.run("users", env={"OPENPACS_PASSWORD": "wrong"}, check=None), 1, "login refused (401)"
    )
    one_line_error(
        cli.run(
            "share",
            "orders",
            "--orders",
            str(uuid.uuid4()),
            "--expire-date",
            "2031-13-01",
            check=None,
        ),
        2,
        "ExpireDate",
    )
    one_line_error(cli.run("users", env={"OPENPACS_URL": ""}, check=None), 2, "OPENPACS_URL")
    debug = cli.run("--debug", "search", env={"OPENPACS_URL": nowhere}, check=1)
    assert "Traceback" in debug.stderr
    usage = cli.run("search", "--limit", "many", check=2)
    assert "invalid int value" in usage.stderr


def test_password_from_a_pipe(cli: Cli, account: TestAccount) -> None:
    env = {k: v for k, v in cli.env.items() if k != "OPENPACS_PASSWORD"}
    done = subprocess.run(
        [sys.executable, "-m", "openpacs", "users", "--json"],
        input=account.password + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert account.email in done.stdout
    assert account.password not in done.stdout + done.stderr


# --------------------------------------------------------------------------- custom API


def test_orders_and_tags(cli: Cli, account: TestAccount, study: dict[str, bytes]) -> None:
    institutions = cli.json("institutions")
    assert account.institution_uuid in {i["InstitutionUuid"] for i in institutions}
    assert account.email in cli.run("users").stdout
    cli.run("groups")
    cli.run("equipment")

    patient_id = f"CLI-{uuid.uuid4().hex[:8]}"
    created = cli.json(
        "order",
        "create",
        "--institution",
        account.institution_uuid,
        "--patient-name",
        "Nguyen^Hana",
        "--patient-id",
        patient_id,
        "--patient-birthdate",
        "1975-07-08",
        "--modality",
        "CT",
        "--order-scheduled-datetime",
        "2031-01-02 03:04",
    )
    order_uuid = created["PatientOrderUuid"]
    shown = cli.run(
        "order", "get", "--institution", account.institution_uuid, "--order", order_uuid
    ).stdout
    assert "Nguyen^Hana" in shown and "2031-01-02 03:04" in shown
    found = cli.json("order", "search", "--patient-id", patient_id, "--modalities", "CT,MR")
    assert [o["PatientOrderUuid"] for o in found] == [order_uuid]
    cli.run("order", "delete", "--institution", account.institution_uuid, "--order", order_uuid)
    gone = cli.run(
        "order",
        "get",
        "--institution",
        account.institution_uuid,
        "--order",
        order_uuid,
        check=None,
    )
    one_line_error(gone, 1, "not found (404)")

    first = dataset_of(next(iter(study.values())))
    [order] = cli.json("order", "search", "--patient-id", str(first.PatientID))
    tags = cli.run(
        "tags",
        "--institution",
        order["PatientOrderInstitutionUuid"],
        "--order",
        order["PatientOrderUuid"],
        "--tag",
        "00100010",
        "(0020,0013)",
    ).stdout
    assert str(first.PatientName) in tags and "PatientName" in tags


def test_folders_and_shares(cli: Cli, account: TestAccount, study: dict[str, bytes]) -> None:
    first = dataset_of(next(iter(study.values())))
    [order] = cli.json("order", "search", "--patient-id", str(first.PatientID))
    name = f"CLI folder {uuid.uuid4().hex[:6]}"
    done = cli.run("folder", "create", "--name", name, "--json", check=None)
    assert_served(done)
    folder = json.loads(done.stdout)
    cli.run(
        "folder",
        "add-order",
        "--order",
        order["PatientOrderUuid"],
        "--folders",
        folder["FolderUuid"],
    )
    listed = cli.json("folder", "search", "--name", name, "--get-orders-in-folder")
    assert [f["FolderUuid"] for f in listed] == [folder["FolderUuid"]]

    done = cli.run("share", "folder", "--folder", folder["FolderUuid"], "--json", check=None)
    assert_served(done)
    assert json.loads(done.stdout)["ShareUrl"].startswith("http")
    link = cli.json(
        "share",
        "link",
        "--orders",
        order["PatientOrderUuid"],
        "--expire-date",
        "2099-01-01",
        "--downloadable",
    )
    by_url = cli.json(
        "share", "orders", "--orders", order["PatientOrderUuid"], "--expire-date", "2099-01-01"
    )
    shares = cli.json("shares")
    assert {link["ShareUuid"], by_url["ShareUuid"]} <= {s["ShareUuid"] for s in shares}
    cli.run("share", "delete", "--share", link["ShareUuid"])


def test_assign(cli: Cli, account: TestAccount, study: dict[str, bytes]) -> None:
    first = dataset_of(next(iter(study.values())))
    [order] = cli.json("order", "search", "--patient-id", str(first.PatientID))
    done = cli.run(
        "order",
        "assign-user",
        "--order",
        order["PatientOrderUuid"],
        "--user-uuid",
        account.user_uuid,
        check=None,
    )
    assert_served(done)
    assert done.returncode == 0, done.stderr
    props = cli.json(
        "order",
        "get",
        "--institution",
        order["PatientOrderInstitutionUuid"],
        "--order",
        order["PatientOrderUuid"],
    )
    assert props["AssignedUserUuid"] == account.user_uuid


# --------------------------------------------------------------------------- menu


def test_menu_through_stdin(cli: Cli, account: TestAccount, study: dict[str, bytes]) -> None:
    first = dataset_of(next(iter(study.values())))
    patient_id = f"MENU-{uuid.uuid4().hex[:8]}"
    missing = str(uuid.uuid4())
    answers = [
        "2",
        str(first.PatientID),
        "",
        "",  # search studies of a patient
        "3",
        "3",
        first.SOPInstanceUID,
        "menu-out",  # retrieve one instance
        "17",  # list institutions
        "12",
        account.institution_uuid,
        "Menu^Test",
        patient_id,
        "01-02-1990",
        "1990-02-01",  # a bad date is asked again
        "MR",
        "",
        "O",
        *[""] * 9,  # optional fields skipped
        "14",
        "",
        "",
        patient_id,
        *[""] * 7,  # search orders by PatientId
        "13",
        account.institution_uuid,
        missing,  # an order that does not exist
        "99",  # not an option
        "0",
    ]
    done = cli.run("menu", stdin="\n".join(answers) + "\n", check=None)
    out = done.stdout
    assert "Store DICOM instances (STOW-RS)" in out and "Get DICOM tag content" in out
    assert first.StudyInstanceUID in out and "1 study" in out
    assert account.institution_uuid in out
    assert "PatientBirthdate (YYYY-MM-DD)" in out and "is not a date" in out
    assert "optional, Enter to skip" in out
    assert "Unknown option '99'" in out
    assert "Scheduled" in out and "1 order" in out  # created, then found
    assert [p.read_bytes() for p in (cli.cwd / "menu-out").iterdir()] == [
        study[first.SOPInstanceUID]
    ]
    # The missing order is reported on stderr, and the menu went on to the end.
    assert done.returncode == 1, done.stderr
    assert "not found (404)" in done.stderr and "Traceback" not in done.stderr
