"""The README's command examples, run in order against a live server, as typed.

Each command of the "Command line" and "Accounts and users" blocks runs in ``bash`` with
the installed ``openpacs``; the shell variables the README names (``$STUDY``, ``$ORDER``,
...) hold what the commands before them created. A command the README gains without a
check here fails the test, so the README cannot drift from the CLI.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
import pytest

from openpacs.client import PacsClient
from tests.e2e.test_client_e2e import synthetic_study
from tests.support.server import ServerProcess, TestAccount

README = Path(__file__).resolve().parents[2] / "README.md"
BIN = str(Path(sys.executable).parent)


def readme_commands(section: str) -> list[str]:
    """The commands of the ``sh`` block of a README section (continuations joined)."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.index("\n## ", start + 1)
    found = re.search(r"```sh\n(.*?)```", text[start:end], re.S)
    assert found, f"no sh block in README section {section!r}"
    block = found.group(1).replace("\\\n", " ")
    return [line.strip() for line in block.splitlines() if line.strip()]


@dataclass
class Shell:
    cwd: Path
    env: dict[str, str]
    variables: dict[str, str] = field(default_factory=dict)

    def _env(self) -> dict[str, str]:
        return {**self.env, **self.variables, "PATH": f"{BIN}:/usr/bin:/bin", "TERM": "dumb"}

    def run(self, command: str, stdin: str = "") -> str:
        done = subprocess.run(
            ["bash", "-c", command],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=self.cwd,
            env=self._env(),
            timeout=120,
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done.stdout + done.stderr

    def run_in_terminal(self, command: str, answers: dict[str, str]) -> str:
        """Run with a terminal on stdin/stdout; answer each prompt seen in the output."""
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            ["bash", "-c", command],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=self.cwd,
            env={**self._env(), "COLUMNS": "100"},
            start_new_session=True,
        )
        os.close(slave)
        output, pending = b"", dict(answers)
        deadline = time.monotonic() + 120
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.2)
                if ready:
                    try:
                        chunk = os.read(master, 4096)
                    except OSError:  # the command ended and closed the terminal
                        break
                    if not chunk:
                        break
                    output += chunk
                    for prompt in list(pending):
                        if prompt.encode() in output:
                            os.write(master, pending.pop(prompt).encode())
                elif proc.poll() is not None:
                    break
        finally:
            os.close(master)
        assert proc.wait(30) == 0, (command, output.decode(errors="replace"))
        return output.decode(errors="replace").replace("\r\n", "\n")  # a terminal's line ends


Check = Callable[[Shell, str], str | None]


def scans(folder: Path) -> dict[str, str]:
    """A two-series study of patient 123456, as the README's ``scans/``."""
    files = synthetic_study(folder, f"readme-{uuid.uuid4().hex}")
    for path in folder.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.PatientID = "123456"
        ds.save_as(path)
    first = pydicom.dcmread(next(iter(sorted(folder.glob("*.dcm")))))
    assert len(files) == 6
    return {"STUDY": first.StudyInstanceUID, "SERIES": first.SeriesInstanceUID}


def test_command_line_examples(server: ServerProcess, account: TestAccount, tmp_path: Path) -> None:
    shell = Shell(
        tmp_path,
        {
            "OPENPACS_URL": server.dicomweb,
            "OPENPACS_USER": account.email,
            "OPENPACS_PASSWORD": account.password,
        },
    )
    shell.variables.update(scans(tmp_path / "scans"))
    shell.variables["INSTITUTION"] = account.institution_uuid
    shell.variables["USER_UUID"] = account.user_uuid
    sdk = PacsClient(server.dicomweb, account.email, account.password)

    def order_of_p1() -> str:
        [order] = sdk.search_patient_orders(patient_id="P1")
        return order.patient_order_uuid

    def folder_named(name: str) -> str:
        [folder] = [f for f in sdk.search_folders(folder_name=name) if f.folder_name == name]
        return folder.folder_uuid

    v = shell.variables
    steps: list[tuple[str, Callable[[str], None]]] = [
        ("export OPENPACS_URL=", lambda cmd: None),
        ("openpacs users ", lambda out: _has(out, account.email)),
        ("openpacs upload scans/", lambda out: _has(out, "Stored 6 files")),
        ("openpacs search --patient-id 123456", lambda out: _has(out, v["STUDY"])),
        ("openpacs search --study $STUDY --json", lambda out: _equal(len(json.loads(out)), 2)),
        ("openpacs retrieve  ", lambda out: _has(out, "Retrieved 3 files")),
        ("openpacs retrieve --series $SERIES -o out/", lambda out: _files(tmp_path / "out", 3)),
        ("openpacs retrieve --study $STUDY --layout cd", lambda out: _files(tmp_path / "cd", 7)),
        ("openpacs institutions  ", lambda out: _has(out, account.institution_uuid)),
        ("openpacs order create", lambda out: v.update(ORDER=order_of_p1())),
        ("openpacs order search --patient-name", lambda out: _has(out, v["ORDER"])),
        ("openpacs order get", lambda out: _has(out, "Doe^Jane")),
        ("openpacs order assign-user", lambda out: _has(out, account.user_uuid)),
        ("openpacs order search --assigned-to", lambda out: _has(out, v["ORDER"])),
        ("openpacs folder create", lambda out: v.update(FOLDER=folder_named("Tumour board"))),
        ("openpacs folder add-order", lambda out: _has(out, v["FOLDER"])),
        ("openpacs share orders", lambda out: _has(out, "/share/")),
        ("openpacs share folder", lambda out: _equal(_key_value(out, "PasswordProtected"), "True")),
        ("openpacs tags", lambda out: _has(out, "the order has no images")),  # scheduled
        ("openpacs institutions; openpacs groups;", lambda out: _has(out, "1 institution")),
        ("openpacs order delete", lambda out: _has(out, "DeletedInstances")),
        ("openpacs menu", lambda out: _has(out, "0. Exit")),
        ("openpacs token create", lambda out: _has(out, "opat_")),
        ("openpacs audit --patient-id 123456", lambda out: _has(out, "study.retrieve")),
    ]
    stdin = {
        "openpacs retrieve  ": f"2\n{v['SERIES']}\n",
        "openpacs share folder": "a secret phrase\n",
        "openpacs menu": "0\n",
    }
    commands = readme_commands("Command line")
    assert len(commands) == len(steps), "a README command without its check here"
    for command, (prefix, check) in zip(commands, steps, strict=True):
        assert (command + "  ").startswith(prefix), (command, prefix)
        if command.startswith("export"):
            assert "OPENPACS_URL=" in command and "OPENPACS_USER=" in command
            continue
        if "order delete" in command:
            out = shell.run_in_terminal(command, {"[y/N]": "y\n"})
        else:
            out = shell.run(command, stdin=stdin.get(prefix, ""))
        check(out)
    sdk.close()


def test_accounts_and_users_examples(server: ServerProcess, tmp_path: Path) -> None:
    shell = Shell(tmp_path, {k: v for k, v in server.env.items() if k.startswith("OPENPACS_")})
    v = shell.variables
    commands = readme_commands("Accounts and users")
    assert [c.split()[2] for c in commands] == [
        "create-account",
        "list-accounts",
        "add-user",
        "add-user",
        "list-users",
        "add-group",
        "add-to-group",
        "add-institution",
        "add-equipment",
        "set-role",
        "set-institutions",
        "disable-user",
        "set-password",
        "set-dicomweb",
    ]
    for command in commands:
        action = command.split()[2]
        if action in ("disable-user", "set-dicomweb"):  # they ask first
            out = shell.run_in_terminal(command, {"[y/N]": "y\n"})
        else:
            out = shell.run(command, stdin="pw-readme-1\n")
        if action == "create-account":
            v["INSTITUTION"] = json.loads(out)["InstitutionUuid"]
        elif action == "add-group":
            v["GROUP"] = _key_value(out, "UserGroupUuid")
        elif action == "set-dicomweb":
            _equal(_key_value(out, "DicomwebEnabled"), "False")
        elif action == "list-accounts":
            _has(out, "Clinic A")
        elif action == "list-users":
            _has(out, "rad@clinic-a.example")
            _has(out, "reader")
        elif action == "set-institutions":
            _equal(_key_value(out, "Institutions"), v["INSTITUTION"])
        elif action == "disable-user":
            _equal(_key_value(out, "Disabled"), "True")
        else:
            _has(out, "Uuid: ")


def _has(out: str, text: str) -> None:
    assert text in out, (text, out)


def _equal(got: object, expected: object) -> None:
    assert got == expected


def _files(folder: Path, count: int) -> None:
    assert len([p for p in folder.rglob("*") if p.is_file()]) == count


def _key_value(out: str, key: str) -> str:
    match = re.search(rf"^{key}:\s+(\S+)$", out, re.M)
    assert match, (key, out)
    return match.group(1)


pytestmark = pytest.mark.skipif(
    not Path(BIN, "openpacs").exists(), reason="the openpacs command is not installed"
)
