"""``openpacs serve`` and ``openpacs admin`` refuse a setting they cannot use with one line
naming it (exit 2) before anything starts: no traceback, no "startup complete"."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from openpacs.cli import preflight
from openpacs.cli.first_start import first_start_message, path_hint
from openpacs.services.bootstrap import InitialAdmin
from openpacs.settings import Settings
from tests.support.cli import CliResult, one_line_error, run_cli
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
        (
            ["--database-url", "postgresql://u@[bad/db"],
            {},
            "invalid database URL 'postgresql://u@[bad/db': Invalid IPv6 URL "
            "(--database-url or OPENPACS_DATABASE_URL)",
        ),
        (
            ["--storage-url", "s3://"],
            {},
            "needs a bucket: s3://BUCKET/PREFIX (--storage-url or OPENPACS_STORAGE_URL)",
        ),
        (
            [],
            {"OPENPACS_LOG_LEVEL": "bogus"},
            "OPENPACS_LOG_LEVEL must be one of critical, error, warning, info, debug, trace",
        ),
        (["--public-url", "notaurl"], {}, "(--public-url or OPENPACS_PUBLIC_URL)"),
        ([], {"OPENPACS_PUBLIC_URL": "ftp://host/x"}, "not an http:// or https:// URL"),
        (["--public-url", "https://"], {}, "not an http:// or https:// URL with a host"),
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


def test_a_data_directory_that_is_a_file(tmp_path: Path) -> None:
    a_file = tmp_path / "passwd"
    a_file.write_text("root:x:0:0")
    done = run_cli("serve", "--data-dir", str(a_file), "--port", str(free_port()))
    one_line_error(done, 2, f"the data directory {a_file} is not a directory")


def _serve(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> CliResult:
    """``openpacs serve`` on free ports, for a setting that is only found wrong late."""
    ports = ("--port", str(free_port()), "--dicom-port", "0")
    return run_cli("serve", "--data-dir", str(data_dir), *ports, *args, env=env)


def test_a_sqlite_folder_that_cannot_be_created(data_dir: Path) -> None:
    done = _serve(data_dir, "--database-url", "sqlite:////proc/nope/x.db")
    one_line_error(done, 2, "cannot open the database sqlite:////proc/nope/x.db: ")
    assert "/proc/nope" in done.stderr and "(--database-url or" in done.stderr


def test_an_unreachable_database_hides_its_password(data_dir: Path) -> None:
    url = f"postgresql://pacs:s3cret@127.0.0.1:{free_port()}/pacs"
    done = _serve(data_dir, env={"OPENPACS_DATABASE_URL": url})
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


def test_the_ports_take_connections_from_the_moment_they_are_bound() -> None:
    """A client that connects while the server starts (its modules still loading, the
    DICOM node not up yet) waits in the backlog and is served, instead of being refused."""
    for setting in (preflight.PORT, preflight.DICOM_PORT):
        with preflight.listen_socket("127.0.0.1", 0, setting) as listener:
            client = socket.create_connection(listener.getsockname()[:2], timeout=2)
            client.sendall(b"waiting")
            accepted, _ = listener.accept()  # as the server will, once it serves
            with client, accepted:
                assert accepted.recv(16) == b"waiting"


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


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (["--database-url", "postgresql://u@[bad/db"], "invalid database URL"),
        (["--storage-url", "s3://"], "an s3:// storage URL needs a bucket"),
    ],
)
def test_admin_with_an_unreadable_url(tmp_path: Path, setting: list[str], message: str) -> None:
    (tmp_path / "openpacs.db").write_bytes(b"")
    done = run_cli("admin", "gc", "--data-dir", str(tmp_path), *setting)
    one_line_error(done, 2, message)


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
