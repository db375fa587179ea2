"""``openpacs serve --workers N``: one port, connections spread over the processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pydicom
import pytest

from openpacs.settings import Settings
from openpacs.web.workers import WorkerPool, WorkersFailing
from tests.support.server import ServerProcess, TestAccount, free_port
from tests.support.stow import stow
from tests.support.workers import exit_at_once


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "srv", env={"OPENPACS_WORKERS": "2"}).start()
    try:
        yield server
    finally:
        server.stop()


def worker_processes(server: ServerProcess) -> list[psutil.Process]:
    assert server.process is not None
    workers = []
    for child in psutil.Process(server.process.pid).children():
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):  # forked workers
                workers.append(child)
        except psutil.Error:  # ended (a zombie until the parent reaps it)
            continue
    return workers


def established_per_worker(server: ServerProcess) -> list[int]:
    return sorted(
        sum(1 for c in worker.net_connections("tcp") if c.status == psutil.CONN_ESTABLISHED)
        for worker in worker_processes(server)
    )


def wait_for(condition: object, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def test_keep_alive_connections_are_spread_evenly_and_share_one_index(
    two_workers: ServerProcess, corpus_dir: Path
) -> None:
    account: TestAccount = two_workers.create_account()
    clients = [httpx.Client(auth=account.auth, timeout=30) for _ in range(4)]
    try:
        for client in clients:  # one request each; every connection stays open
            answer = client.get(f"{two_workers.dicomweb}/studies")
            assert answer.status_code in (200, 204)
        assert established_per_worker(two_workers) == [2, 2]

        path = corpus_dir / "pydicom__CT_small.dcm"
        study = str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)
        assert stow(two_workers.dicomweb, account.auth, [path.read_bytes()]).status_code == 200
        # Whichever process each connection landed on, all see the same index.
        for client in clients:
            found = client.get(
                f"{two_workers.dicomweb}/studies", params={"StudyInstanceUID": study}
            )
            assert found.status_code == 200
            assert len(found.json()) == 1
    finally:
        for client in clients:
            client.close()


def test_workers_get_the_settings_of_flags_not_only_of_the_environment(
    tmp_path: Path, corpus_dir: Path
) -> None:
    """Flags are not in the environment: the workers get the parent's settings."""
    server = ServerProcess(
        tmp_path / "srv",
        env={"OPENPACS_WORKERS": "2"},
        args=("--public-url", "https://pacs.example/site"),
    ).start()
    try:
        account = server.create_account()
        data = (corpus_dir / "pydicom__CT_small.dcm").read_bytes()
        for _ in range(2):  # new connections: at least one lands on each worker
            stored = stow(server.dicomweb, account.auth, [data])
            assert stored.status_code == 200
            assert stored.json()["00081190"]["Value"][0].startswith(
                "https://pacs.example/site/dicomweb/studies/"
            )
    finally:
        server.stop()


def test_a_worker_that_dies_is_replaced(two_workers: ServerProcess) -> None:
    account = two_workers.create_account()
    victim = worker_processes(two_workers)[0]
    victim.kill()
    wait_for(
        lambda: (
            len(worker_processes(two_workers)) == 2
            and victim.pid not in [w.pid for w in worker_processes(two_workers)]
        )
    )
    for _ in range(4):  # new connections, some of them to the new process
        with httpx.Client(auth=account.auth, timeout=30) as client:
            assert client.get(f"{two_workers.dicomweb}/studies").status_code in (200, 204)


def test_sigterm_stops_the_parent_and_every_worker(two_workers: ServerProcess) -> None:
    assert two_workers.process is not None
    workers = worker_processes(two_workers)
    assert len(workers) == 2
    os.kill(two_workers.process.pid, signal.SIGTERM)
    assert two_workers.process.wait(30) == 0
    _gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive


def test_sigterm_to_the_whole_group_starts_no_new_worker(two_workers: ServerProcess) -> None:
    """systemd and Ctrl-C signal every process: the workers end first, and the parent
    used to replace them while shutting down."""
    assert two_workers.process is not None
    workers = worker_processes(two_workers)
    os.kill(two_workers.process.pid, signal.SIGTERM)
    for process in workers:
        process.send_signal(signal.SIGTERM)
    assert two_workers.process.wait(30) == 0
    _gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive
    log = two_workers.log_path.read_text()
    assert "starting another" not in log, log


def test_a_replaced_worker_answers_within_a_second(two_workers: ServerProcess) -> None:
    """Forked from the parent, a new worker does not import the server again."""
    account = two_workers.create_account()
    for victim in worker_processes(two_workers):
        victim.kill()
    started = time.monotonic()
    wait_for(lambda: len(worker_processes(two_workers)) == 2, seconds=10)
    with httpx.Client(auth=account.auth, timeout=30) as client:
        assert client.get(f"{two_workers.dicomweb}/studies").status_code in (200, 204)
    assert time.monotonic() - started < 3  # about 0.5 s idle; generous for a busy machine


@pytest.mark.parametrize(
    ("env", "flags", "message"),
    [
        ({"OPENPACS_WORKERS": "two"}, [], "OPENPACS_WORKERS must be a whole number, not 'two'"),
        ({"OPENPACS_WORKERS": "0"}, [], "OPENPACS_WORKERS must be at least 1, not 0"),
        ({}, ["--workers", "-1"], "--workers must be at least 1, not -1"),
        ({"OPENPACS_PORT": "80a"}, [], "OPENPACS_PORT must be a whole number, not '80a'"),
        ({"OPENPACS_PORT": "0"}, [], "OPENPACS_PORT must be at least 1, not 0"),
        (
            {"OPENPACS_ACCESS_LOG": "sure"},
            [],
            "OPENPACS_ACCESS_LOG must be true or false, not 'sure'",
        ),
    ],
)
def test_unusable_settings_stop_serve_with_one_line(
    tmp_path: Path, env: dict[str, str], flags: list[str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "openpacs", "serve", *flags],
        env={**os.environ, "OPENPACS_DATA_DIR": str(tmp_path / "data"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"openpacs: {message}"
    assert not (tmp_path / "data").exists()  # nothing was created


def test_workers_that_keep_ending_at_start_stop_the_server() -> None:
    pool = WorkerPool(Settings(workers=1, log_level="warning"), target=exit_at_once)
    try:
        with pytest.raises(WorkersFailing, match="keep ending right after they start"):
            for _ in range(10):
                pool.workers[0].process.join(30)
                pool.replace_dead()
    finally:
        pool.stop()


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        result = subprocess.run(
            [sys.executable, "-m", "openpacs", "serve", "--workers", "2", "--port", str(port)],
            env={**os.environ, "OPENPACS_DATA_DIR": str(tmp_path / "data")},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2  # a setting that cannot be used (issue 19)
    assert result.stderr.strip().splitlines() == [
        f"openpacs: port {port} is already in use by another program (--port or OPENPACS_PORT)"
    ]


def test_sign_out_ends_the_session_on_every_worker(two_workers: ServerProcess) -> None:
    """Copies of a session cookie on keep-alive connections spread over both workers are
    all refused right after the sign-out (made on yet another connection)."""
    import re

    account: TestAccount = two_workers.create_account()
    with httpx.Client(base_url=two_workers.url, timeout=30) as browser:
        form = {"email": account.email, "password": account.password}
        assert browser.post("/signin", data=form).status_code == 303
        value = browser.cookies["openpacs_session"]
        copies = [httpx.Client(base_url=two_workers.url, timeout=30) for _ in range(4)]
        try:
            for copy in copies:  # one request each; every connection stays open
                copy.cookies.set("openpacs_session", value)
                assert copy.get("/dicomweb/studies").status_code in (200, 204)
            # Each worker holds two connections or more: one copy at least (and the browser).
            wait_for(lambda: min(established_per_worker(two_workers), default=0) >= 2)
            page = browser.get("/orders").text
            token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
            assert token is not None
            assert browser.post("/signout", data={"csrf_token": token.group(1)}).status_code == 303
            for copy in copies:
                refused = copy.get("/dicomweb/studies")
                assert refused.status_code == 401 and "www-authenticate" not in refused.headers
                assert copy.get("/orders").status_code == 303
        finally:
            for copy in copies:
                copy.close()
