"""``openpacs serve`` and ``openpacs admin`` refuse a setting they cannot use with one line
naming it (exit 2) before anything starts: no traceback, no "startup complete"."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from openpacs.cli.first_start import first_start_message, path_hint
from openpacs.services.bootstrap import InitialAdmin
from openpacs.settings import Settings
from tests.support.cli import one_line_error, run_cli
from tests.support.server import free_port


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--port", "99999"], {}, "port 99999 is outside 1-65535 (--port or OPENPACS_PORT)"),
        (["--port", "0"], {}, "port 0 is outside 1-65535"),
        ([], {"OPENPACS_PORT": "70000"}, "OPENPACS_PORT must be at most 65535, not 70000"),
        ([], {"OPENPACS_PORT": "eighty"}, "OPENPACS_PORT"),
        (["--database-url", "mysql://u@db/pacs"], {}, "unsupported database 'mysql'"),
        ([], {"OPENPACS_STORAGE_URL": "ftp://host/x"}, "unsupported storage 'ftp'"),
        (["--storage-url", "gs://bucket"], {}, "(--storage-url or OPENPACS_STORAGE_URL)"),
        ([], {"OPENPACS_TIMEZONE": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_an_unusable_setting_is_one_line_and_exit_2(
    data_dir: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    done = run_cli("serve", "--data-dir", str(data_dir), *args, env=env)
    one_line_error(done, 2, message)


def test_an_unwritable_data_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = run_cli("serve", "--data-dir", str(blocker / "data"), "--port", str(free_port()))
    one_line_error(done, 2, "cannot write to the data directory")
    assert "(--data-dir or OPENPACS_DATA_DIR)" in done.stderr


def test_an_unreachable_database_hides_its_password(data_dir: Path) -> None:
    url = f"postgresql://pacs:s3cret@127.0.0.1:{free_port()}/pacs"
    done = run_cli(
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(free_port()),
        env={"OPENPACS_DATABASE_URL": url},
    )
    one_line_error(done, 2, "cannot open the database postgresql://pacs:***@127.0.0.1")
    assert "s3cret" not in done.stderr and "OPENPACS_DATABASE_URL" in done.stderr


def test_a_busy_port_is_reported_before_starting(data_dir: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        done = run_cli("serve", "--data-dir", str(data_dir), "--port", str(port))
    one_line_error(done, 2, f"port {port} is already in use")
    assert not (data_dir / "openpacs.db").exists()  # nothing was started


def test_admin_never_creates_a_data_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    done = run_cli(
        "admin", "add-group", "--data-dir", str(missing), "--account", "A", "--name", "G"
    )
    one_line_error(done, 2, f"the data directory {missing} does not exist")
    assert not missing.exists()


def test_admin_needs_the_servers_database(tmp_path: Path) -> None:
    done = run_cli(
        "admin", "set-dicomweb", "--data-dir", str(tmp_path), "--account", "A", "--disable"
    )
    one_line_error(done, 2, "no openpacs database at")
    assert not (tmp_path / "openpacs.db").exists()


def test_admin_with_an_unknown_database_scheme(tmp_path: Path) -> None:
    done = run_cli("admin", "gc", "--data-dir", str(tmp_path), "--database-url", "oracle://x/y")
    one_line_error(done, 2, "unsupported database 'oracle'")


# --------------------------------------------------------------------------- first start


def test_first_start_message_names_the_account_and_where_to_sign_in(tmp_path: Path) -> None:
    admin = InitialAdmin(
        "0f6f3c9e-1111-4d2b-9b4e-6f1d2c3b4a59",
        "openpacs",
        "admin@openpacs.local",
        "pw-123",
        tmp_path / "initial-admin.txt",
    )
    text = first_start_message(admin, Settings(port=8080, data_dir=tmp_path))
    assert "AccountUuid  0f6f3c9e-1111-4d2b-9b4e-6f1d2c3b4a59" in text
    assert "admin@openpacs.local" in text and "pw-123" in text
    assert "export OPENPACS_URL=http://127.0.0.1:8080/dicomweb" in text
    assert "in a browser at http://127.0.0.1:8080/" in text
    assert all(len(line) <= 80 for line in text.splitlines() if str(tmp_path) not in line)
    assert "AccountUuid" not in first_start_message(None, Settings())
    assert "DICOM node: AE title OPENPACS on port 11112" in first_start_message(None, Settings())
    assert "DICOM node" not in first_start_message(None, Settings(dicom_port=0))


def test_path_hint_names_the_activate_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = tmp_path / "venv" / "bin"
    scripts.mkdir(parents=True)
    (scripts / "openpacs").write_text("")
    (scripts / "activate").write_text("")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert f"{scripts / 'activate'}" in path_hint(str(scripts / "python"))
    monkeypatch.setenv("PATH", str(scripts))
    (scripts / "openpacs").chmod(0o755)
    assert path_hint(str(scripts / "python")) == ""
