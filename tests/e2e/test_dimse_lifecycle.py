"""The DICOM listener's life in `openpacs serve`: with --workers (the parent hands DICOM
connections to the workers), a busy port named at start, and a clean stop on SIGTERM."""

from __future__ import annotations

import concurrent.futures
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pynetdicom.presentation import build_context

from tests.support.dimse import add_equipment, association, make_image, new_ae_title, store_files
from tests.support.server import ServerProcess

VERIFICATION = "1.2.840.10008.1.1"


def stopped(server: ServerProcess) -> int:
    """SIGTERM, then the exit code (within 20 s)."""
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    return server.process.wait(20)


def test_workers_serve_dicom_associations_and_stop_cleanly(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", env={"OPENPACS_WORKERS": "2"}).start()
    try:
        account = server.create_account()
        title = new_ae_title("WRK")
        add_equipment(server, account, title)
        files = []
        for n in range(8):
            path = tmp_path / f"{n}.dcm"
            path.write_bytes(make_image(study="2.25.77", series="2.25.77.1", sop=f"2.25.77.1.{n}",
                                        patient=("Work^Ers", "W1"), instance_number=n))  # fmt: skip
            files.append(path)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda f: store_files(server, title, [f])[f], files))
        assert all(a is not None and a.Status == 0 for a in answers)
        with association(server, title, [build_context(VERIFICATION)]) as assoc:
            assert assoc.send_c_echo().Status == 0
        assert stopped(server) == 0
    finally:
        server.stop()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_peer_that_connects_while_the_server_starts_is_served(
    tmp_path: Path, workers: str
) -> None:
    """The DICOM node starts beside the app, after the port is bound: an association asked
    for the moment the port takes connections waits for the node, it is not dropped."""
    server = ServerProcess(tmp_path / "data", env={"OPENPACS_WORKERS": workers})
    server.data_dir.mkdir(parents=True)
    account = server.create_account()
    title = new_ae_title("EARLY")
    add_equipment(server, account, title)

    def echo_at_first_chance() -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", server.dicom_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.002)
        with association(server, title, [build_context(VERIFICATION)]) as assoc:
            return int(assoc.send_c_echo().Status)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(echo_at_first_chance)
        server.start()
        try:
            assert first.result(60) == 0
        finally:
            server.stop()


def test_one_process_stops_on_sigterm_with_an_association_open(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        account = server.create_account()
        title = new_ae_title("IDLE")
        add_equipment(server, account, title)
        with association(server, title, [build_context(VERIFICATION)]) as assoc:
            started = time.monotonic()
            # uvicorn re-raises the signal once it has shut down (as without DICOM).
            assert stopped(server) in (0, -signal.SIGTERM)
            assert time.monotonic() - started < 15
            assert "aborting the association" in server.log_path.read_text()
            assert not assoc.is_established  # aborted by the server on its way out
    finally:
        server.stop()


def test_a_busy_dicom_port_is_named_at_start(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = ServerProcess(tmp_path / "data", env={"OPENPACS_DICOM_PORT": str(port)})
        done = subprocess.run(
            [sys.executable, "-m", "openpacs", "serve"],
            env=server.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert f"port {port} is already in use" in done.stderr
    assert "--dicom-port or OPENPACS_DICOM_PORT" in done.stderr


@pytest.mark.parametrize("value", ["-1", "70000"])
def test_an_impossible_dicom_port_flag_is_refused(tmp_path: Path, value: str) -> None:
    server = ServerProcess(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "openpacs", "serve", "--dicom-port", value],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "--dicom-port" in done.stderr
