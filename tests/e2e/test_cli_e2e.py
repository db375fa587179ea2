"""The ``openpacs`` client commands against a real server.

The commands run in the test process (:func:`tests.support.cli.run_cli`: the same
``main()``, its own environment, folder and standard input); one test runs the installed
``python -m openpacs`` as a person would. Interactive parts (``retrieve`` without a UID,
``menu``, prompts) are driven through standard input.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from openpacs.index.db import Database
from openpacs.services import accounts
from tests.e2e.test_client_e2e import corrupt_files, dataset_of, synthetic_study
from tests.support.cli import CliResult, one_line_error, run_cli
from tests.support.server import ServerProcess, TestAccount, free_port


class Cli:
    def __init__(self, server: ServerProcess, account: TestAccount, cwd: Path) -> None:
        self.cwd = cwd
        self.server = server
        self.account = account
        self.env: dict[str, str | None] = {
            "OPENPACS_URL": server.dicomweb,
            "OPENPACS_USER": account.email,
            "OPENPACS_PASSWORD": account.password,
        }

    def run(
        self,
        *args: str,
        stdin: str = "",
        env: dict[str, str | None] | None = None,
        check: int | None = 0,
    ) -> CliResult:
        done = run_cli(*args, stdin=stdin, env={**self.env, **(env or {})}, cwd=self.cwd)
        if check is not None:
            assert done.returncode == check, (done.returncode, done.stdout, done.stderr)
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


def assert_served(done: CliResult) -> None:
    """Every endpoint of the guide is served: a 501 is a failure, never a skip."""
    assert "501 Not Implemented" not in done.stderr, done.stderr


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def cli(server: ServerProcess, account: TestAccount, tmp_path: Path) -> Cli:
    return Cli(server, account, tmp_path)


@pytest.fixture
def study(cli: Cli, tmp_path: Path) -> dict[str, bytes]:
    files = synthetic_study(tmp_path / "study", f"cli-{uuid.uuid4().hex}")
    done = cli.run("upload", str(tmp_path / "study"))
    assert done.stdout.startswith("Stored 6 files")
    return files


def add_to_folder(cli: Cli, order: str, folder: str) -> None:
    cli.run("folder", "add-order", "--order", order, "--folders", folder)


def add_group(server: ServerProcess, account: TestAccount, name: str) -> str:
    db = Database(server.database_url)
    try:
        with db.session() as session:
            owner = accounts.find_account(session, account.account_uuid)
            return accounts.add_group(session, owner, name).uuid
    finally:
        db.dispose()


# --------------------------------------------------------------------------- upload


def test_upload_corpus_summary(cli: Cli, corpus_dir: Path) -> None:
    done = cli.run("upload", str(corpus_dir), "--batch-size", "5", check=1)
    first, second = done.stdout.splitlines()[-2:]  # the summary comes last
    assert first.startswith("Stored ") and "failed" in first
    assert "skipped (not DICOM)" in first
    assert (second.startswith("Sent ") and " MB/s" in second) or " kB/s" in second
    for name in corrupt_files():
        assert name in done.stdout
    assert done.stderr.startswith("openpacs: ") and "files failed" in done.stderr

    report = json.loads(cli.run("upload", str(corpus_dir), "--json", check=1).stdout)
    counts = sum(report[k] for k in ("Stored", "AlreadyStored", "Failed", "Skipped"))
    assert counts == len(report["Files"]) == len(files_under(corpus_dir))
    statuses = {Path(f["Path"]).name: f for f in report["Files"]}
    for name in corrupt_files():
        assert statuses[name]["Status"] == "failed" and statuses[name]["Reason"]
    assert statuses["pydicom__CT_small.dcm"]["Status"] in ("stored", "already_stored")
    assert statuses["README.md"]["Status"] == "skipped"


def test_three_files_of_one_instance_are_one_stored_instance(cli: Cli, tmp_path: Path) -> None:
    files = synthetic_study(tmp_path / "one", f"dup-{uuid.uuid4().hex}", series=1, instances=1)
    data = next(iter(files.values()))
    for name in ("copy-a.dcm", "copy-b.dcm"):
        (tmp_path / "one" / name).write_bytes(data)
    (tmp_path / "one" / "IMAGES").mkdir()
    (tmp_path / "one" / "IMAGES" / "IM00001").write_bytes(data)  # a CD: no extension
    (tmp_path / "one" / "notes.txt").write_text("scanned on Monday")
    done = cli.run("upload", "one")
    assert done.stdout.splitlines()[-2] == (
        f"Stored 1 file ({len(data) / 1000:.1f} kB); 3 already stored; 1 skipped (not DICOM): "
        "5 files in all."
    )
    assert "Skipped 1 file: a text file, not DICOM (1). --json lists them." in done.stdout
    skipped = cli.json("upload", "one")["Files"]
    assert {Path(f["Path"]).name: f["Status"] for f in skipped}["notes.txt"] == "skipped"


def test_each_file_gets_its_own_answer(cli: Cli, corpus_dir: Path, tmp_path: Path) -> None:
    """Two files of one SOP Instance (one readable, one truncated) and a file without File
    Meta Information (refused before sending) and a PDF: each file gets its own outcome."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    names = (
        "pydicom__MR_small_implicit.dcm",
        "pydicom__MR_truncated.dcm",
        "pydicom__no_meta.dcm",
    )
    for name in names:
        (folder / name).write_bytes((corpus_dir / name).read_bytes())
    (folder / "report.pdf").write_bytes(b"%PDF-1.4 not an image" + bytes(200))
    report = json.loads(cli.run("upload", "mixed", "--json", check=1).stdout)
    files = {Path(f["Path"]).name: f for f in report["Files"]}
    assert files["pydicom__MR_small_implicit.dcm"]["Status"] == "stored"
    truncated = files["pydicom__MR_truncated.dcm"]
    assert truncated["Status"] == "failed" and "truncat" in truncated["Reason"].lower()
    no_meta = files["pydicom__no_meta.dcm"]
    assert no_meta["Status"] == "failed" and "DICM" in no_meta["Reason"]
    assert files["report.pdf"]["Status"] == "skipped"


def test_upload_errors(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    one_line_error(cli.run("upload", "empty", check=None), 1, "no DICOM files in empty")
    one_line_error(cli.run("upload", "missing", check=None), 2, "no such file or folder")
    (tmp_path / "bad.dcm").write_text("hello")
    done = cli.run("upload", "bad.dcm", check=1)
    assert "a text file, not DICOM" in done.stdout


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


def test_a_limited_search_says_how_to_see_more(cli: Cli, study: dict[str, bytes]) -> None:
    first = dataset_of(next(iter(study.values())))
    done = cli.run("search", "--series", first.SeriesInstanceUID, "--limit", "2")
    assert done.stdout.splitlines()[-1] == "2 instances; more with --offset 2"
    rest = cli.run("search", "--series", first.SeriesInstanceUID, "--limit", "2", "--offset", "2")
    assert rest.stdout.splitlines()[-1] == "1 instance"


def test_tables_fit_80_columns_and_keep_identifiers_whole(
    cli: Cli, study: dict[str, bytes]
) -> None:
    first = dataset_of(next(iter(study.values())))
    narrow = {"COLUMNS": "80"}
    for args in (
        ["search", "--patient-id", str(first.PatientID)],
        ["search", "--study", first.StudyInstanceUID],
        ["order", "search", "--patient-id", str(first.PatientID)],
        ["institutions"],
        ["users"],
    ):
        out = cli.run(*args, env=narrow).stdout
        for line in out.splitlines():
            assert len(line) <= 80 or line.strip() == first.StudyInstanceUID, (args, line)
    out = cli.run("search", "--patient-id", str(first.PatientID), env=narrow).stdout
    assert first.StudyInstanceUID in out.split()  # whole, never folded
    assert "StudyInstanceUID" in out and "S\nt\nu" not in out
    [order] = cli.json("order", "search", "--patient-id", str(first.PatientID))
    out = cli.run("order", "search", "--patient-id", str(first.PatientID), env=narrow).stdout
    assert order["PatientOrderUuid"] in out.split()
    assert order["PatientOrderInstitutionUuid"] in out.split()


# --------------------------------------------------------------------------- retrieve


def test_retrieve_each_level(cli: Cli, study: dict[str, bytes], tmp_path: Path) -> None:
    first = dataset_of(next(iter(study.values())))
    got = cli.json("retrieve", "--study", first.StudyInstanceUID, "-o", "whole")
    assert Path(got["Directory"]) == tmp_path / "whole" and got["Layout"] == "human"
    assert Counter(Path(p).read_bytes() for p in got["Files"]) == Counter(study.values())
    study_folder = f"{first.PatientID}_{first.StudyDate}"
    assert {Path(p).relative_to(tmp_path / "whole").parts[0] for p in got["Files"]} == {
        study_folder
    }

    cli.run("retrieve", "--series", first.SeriesInstanceUID, "-o", "series", "--layout", "flat")
    in_series = [
        d for d in study.values() if dataset_of(d).SeriesInstanceUID == first.SeriesInstanceUID
    ]
    assert Counter(p.read_bytes() for p in files_under(tmp_path / "series")) == Counter(in_series)

    done = cli.run("retrieve", "--instance", first.SOPInstanceUID)
    assert "Retrieved 1 file " in done.stdout and f"\n  {study_folder}/" in done.stdout
    [written] = files_under(tmp_path / study_folder)
    assert written.read_bytes() == study[first.SOPInstanceUID]
    again = cli.run("retrieve", "--instance", first.SOPInstanceUID)
    assert "already there with the same content" in again.stdout
    assert files_under(tmp_path / study_folder) == [written]  # not overwritten, not doubled


def test_retrieve_a_patient_cd(cli: Cli, study: dict[str, bytes], tmp_path: Path) -> None:
    from tests.support.fileset import read_file_set

    first = dataset_of(next(iter(study.values())))
    cli.run("retrieve", "--study", first.StudyInstanceUID, "-o", "cd", "--layout", "cd")
    with read_file_set(tmp_path / "cd" / "DICOMDIR") as fs:
        assert {i.SOPInstanceUID for i in fs} == set(study)


def test_retrieve_interactive(cli: Cli, study: dict[str, bytes], tmp_path: Path) -> None:
    first = dataset_of(next(iter(study.values())))
    done = cli.run("retrieve", "-o", "picked", stdin=f"2\n{first.SeriesInstanceUID}\n")
    assert "Study" in done.stderr and "Series" in done.stderr and "Instance" in done.stderr
    assert "SeriesInstanceUID" in done.stderr
    in_series = [
        d for d in study.values() if dataset_of(d).SeriesInstanceUID == first.SeriesInstanceUID
    ]
    assert Counter(p.read_bytes() for p in files_under(tmp_path / "picked")) == Counter(in_series)

    # Wrong choices are asked again; the level can be typed as a word.
    done = cli.run("retrieve", "-o", "again", stdin=f"7\ninstance\n\n{first.SOPInstanceUID}\n")
    assert [p.read_bytes() for p in files_under(tmp_path / "again")] == [
        study[first.SOPInstanceUID]
    ]

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
    wrong = cli.run("users", env={"OPENPACS_PASSWORD": "wrong"}, check=None)
    one_line_error(wrong, 1, "login refused (401): wrong e-mail or password")
    assert wrong.stderr.count("password") == 1
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


def test_password_from_a_pipe(cli: Cli, account: TestAccount) -> None:
    done = cli.run(
        "users", "--json", stdin=account.password + "\n", env={"OPENPACS_PASSWORD": None}
    )
    assert account.email in done.stdout
    assert account.password not in done.stdout + done.stderr


def test_the_installed_command_runs(cli: Cli, account: TestAccount) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "openpacs", "users", "--json"],
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            **{k: v for k, v in cli.env.items() if v is not None},
        },
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert account.email in done.stdout


# --------------------------------------------------------------------------- custom API


def create_order(cli: Cli, patient_id: str, *extra: str) -> dict[str, Any]:
    created: dict[str, Any] = cli.json(
        "order",
        "create",
        "--institution",
        cli.account.institution_uuid,
        "--patient-name",
        "Nguyen^Hana",
        "--patient-id",
        patient_id,
        "--patient-birthdate",
        "1975-07-08",
        "--modality",
        "CT",
        *extra,
    )
    return created


def test_orders_and_tags(cli: Cli, account: TestAccount, study: dict[str, bytes]) -> None:
    institutions = cli.json("institutions")
    assert account.institution_uuid in {i["InstitutionUuid"] for i in institutions}
    assert account.email in cli.run("users").stdout
    cli.run("groups")
    cli.run("equipment")

    patient_id = f"CLI-{uuid.uuid4().hex[:8]}"
    created = create_order(cli, patient_id, "--order-scheduled-datetime", "2031-01-02 03:04")
    order_uuid = created["PatientOrderUuid"]
    shown = cli.run(
        "order", "get", "--institution", account.institution_uuid, "--order", order_uuid
    ).stdout
    assert "Nguyen^Hana" in shown and "2031-01-02 03:04" in shown
    found = cli.json("order", "search", "--patient-id", patient_id, "--modalities", "CT,MR")
    assert [o["PatientOrderUuid"] for o in found] == [order_uuid]
    keys = ["order", "delete", "--institution", account.institution_uuid, "--order", order_uuid]
    one_line_error(cli.run(*keys, check=None), 2, "add --yes")  # stdin is not a terminal
    cli.run(*keys, "--yes")
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


def test_impossible_orders_are_refused_by_the_server(cli: Cli) -> None:
    patient_id = f"BAD-{uuid.uuid4().hex[:8]}"
    base = [
        "order",
        "create",
        "--institution",
        cli.account.institution_uuid,
        "--patient-name",
        "X^Y",
        "--patient-id",
        patient_id,
    ]
    bad_modality = cli.run(
        *base, "--patient-birthdate", "1970-01-01", "--modality", "XYZ", check=None
    )
    one_line_error(bad_modality, 1, "400 Bad Request: Modality: 'XYZ' is not a DICOM modality")
    unborn = cli.run(*base, "--patient-birthdate", "2999-01-01", "--modality", "CT", check=None)
    one_line_error(unborn, 1, "PatientBirthdate: 2999-01-01 is in the future")


def test_order_search_pages_and_assignees(
    cli: Cli, server: ServerProcess, account: TestAccount
) -> None:
    patient_id = f"PAGE-{uuid.uuid4().hex[:8]}"
    orders = [create_order(cli, patient_id)["PatientOrderUuid"] for _ in range(3)]
    page = cli.run("order", "search", "--patient-id", patient_id, "--limit", "2")
    assert "2 of 3 orders; more with --offset 2" in page.stdout
    rest = cli.json("order", "search", "--patient-id", patient_id, "--limit", "2", "--offset", "2")
    assert len(rest) == 1

    group = add_group(server, account, f"Radiology {patient_id}")
    cli.run("order", "assign-user", "--order", orders[0], "--user-uuid", account.user_uuid)
    cli.run("order", "assign-group", "--order", orders[1], "--group-uuid", group)
    mine = cli.json("order", "search", "--patient-id", patient_id, "--assigned-to", account.email)
    assert [o["PatientOrderUuid"] for o in mine] == [orders[0]]
    theirs = cli.json(
        "order", "search", "--patient-id", patient_id, "--assigned-to", f"radiology {patient_id}"
    )
    assert [o["PatientOrderUuid"] for o in theirs] == [orders[1]]
    by_uuid = cli.json("order", "search", "--patient-id", patient_id, "--assigned-to", group)
    assert [o["PatientOrderUuid"] for o in by_uuid] == [orders[1]]
    one_line_error(
        cli.run("order", "search", "--assigned-to", "nobody@example.org", check=None),
        2,
        "--assigned-to: no user with the e-mail or group named 'nobody@example.org'",
    )


def test_order_get_shows_folders_modalities_and_assignee_names(
    cli: Cli, server: ServerProcess, account: TestAccount, study: dict[str, bytes]
) -> None:
    first = dataset_of(next(iter(study.values())))
    [order] = cli.json("order", "search", "--patient-id", str(first.PatientID))
    folder = cli.json("folder", "create", "--name", f"Board {uuid.uuid4().hex[:6]}")
    add_to_folder(cli, order["PatientOrderUuid"], folder["FolderUuid"])
    group = add_group(server, account, f"Neuro {uuid.uuid4().hex[:6]}")
    cli.run(
        "order",
        "assign-user",
        "--order",
        order["PatientOrderUuid"],
        "--user-uuid",
        account.user_uuid,
    )
    cli.run("order", "assign-group", "--order", order["PatientOrderUuid"], "--group-uuid", group)
    shown = cli.run(
        "order",
        "get",
        "--institution",
        order["PatientOrderInstitutionUuid"],
        "--order",
        order["PatientOrderUuid"],
    ).stdout
    assert "Modalities:" in shown and "CT, MR" in shown
    assert f"{account.email}" in shown and f"({account.user_uuid})" in shown
    assert "Neuro" in shown and f"({group})" in shown
    assert f"{folder['FolderName']} ({folder['FolderUuid']})" in shown
    assert "2 series:" in shown


def test_folders_and_shares(cli: Cli, account: TestAccount, study: dict[str, bytes]) -> None:
    first = dataset_of(next(iter(study.values())))
    [order] = cli.json("order", "search", "--patient-id", str(first.PatientID))
    name = f"CLI folder {uuid.uuid4().hex[:6]}"
    done = cli.run("folder", "create", "--name", name, "--json", check=None)
    assert_served(done)
    folder = json.loads(done.stdout)
    clash = cli.run("folder", "create", "--name", name.upper(), check=None)
    one_line_error(clash, 1, f"there is already a folder named {name!r} at the top level")
    assert folder["FolderUuid"] in clash.stderr
    add_to_folder(cli, order["PatientOrderUuid"], folder["FolderUuid"])
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
    one_line_error(cli.run("share", "delete", "--share", link["ShareUuid"], check=None), 2, "--yes")
    cli.run("share", "delete", "--share", link["ShareUuid"], "--yes")


def test_share_password_is_asked_not_typed_on_the_command_line(
    cli: Cli, study: dict[str, bytes]
) -> None:
    folder = cli.json("folder", "create", "--name", f"Pw {uuid.uuid4().hex[:6]}")
    done = cli.run(
        "share",
        "folder",
        "--folder",
        folder["FolderUuid"],
        "--share-title",
        "Review",
        "--share-password",
        "--json",
        stdin="a secret phrase\n",
    )
    assert json.loads(done.stdout)["PasswordProtected"] is True
    assert "a secret phrase" not in done.stdout + done.stderr
    empty = cli.run(
        "share", "folder", "--folder", folder["FolderUuid"], "--share-password", check=None
    )
    one_line_error(empty, 2, "no share password given")


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
        "12",  # create an order: the one institution is taken without asking
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
    assert [p.read_bytes() for p in files_under(cli.cwd / "menu-out")] == [
        study[first.SOPInstanceUID]
    ]
    # The missing order is reported on stderr, and the menu went on to the end.
    assert done.returncode == 1, done.stderr
    assert "not found (404)" in done.stderr and "Traceback" not in done.stderr
