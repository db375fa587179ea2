"""How soon a server killed with SIGKILL answers again when it is started on its data.

The issue's bar: "a restarted server must answer within 1 s and recover in the background
if it must". Each round starts ``openpacs serve`` on the same data directory (an archive
with studies, killed with ``kill -9`` while uploads were going on, so a restart has
reservations and an audit journal to recover) and times, from the ``Popen``:

* ``health``: the first ``/healthz`` answered 200;
* ``search``: the first authenticated QIDO answered 200 with the archive's studies;
* ``dicom``: the first C-ECHO accepted on the DICOM port (when ``--dicom``).

The three are polled at once from the start, each on its own thread, as the clients of a
restarted server come back at once (until 2026-12-06 they were polled one after the
other, so the C-ECHO figure included the search's).

Then it kills the server again (SIGKILL to the process group) mid-upload. One process and
``--workers 2`` take turns, round by round.

    .venv/bin/python -m bench.restart_bench [--rounds 7] [--studies 200] [--baseline SRC]

``--baseline`` compares with another tree's server (``git worktree add /tmp/old REV``,
then ``--baseline /tmp/old/src``), round by round in turns, as the machine's speed drifts
by more than the differences measured. The data is loaded by this tree's server, so the
baseline must know its database's newest migration.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from pynetdicom import AE
from tests.support.dimse import add_equipment
from tests.support.server import ServerProcess, TestAccount, free_port
from tests.support.stow import stow

from bench.dataset import make_instance, study_specs

VERIFICATION = "1.2.840.10008.1.1"
SEARCH = "/dicomweb/studies?limit=1"
CALLING = "BENCHSCU"


def _serve(data_dir: Path, env: dict[str, str], workers: int) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "openpacs", "serve"]
    if workers > 1:
        args += ["--workers", str(workers)]
    with open(data_dir / "restart-bench.log", "ab") as log:
        return subprocess.Popen(
            args,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: one SIGKILL ends the workers too
        )


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def _until(what: str, check: Callable[[], bool], started: float, timeout: float = 30.0) -> float:
    while time.perf_counter() - started < timeout:
        try:
            if check():
                return time.perf_counter() - started
        except (httpx.HTTPError, OSError, RuntimeError):
            pass
        time.sleep(0.005)
    raise SystemExit(f"{what}: no answer within {timeout:.0f} s")


def _all_until(probes: dict[str, Callable[[], bool]], started: float) -> dict[str, float]:
    """Each probe's first success, timed from ``started``; all polled at once, as the
    clients of a restarted server (a browser, a script, a modality) come back at once."""
    with ThreadPoolExecutor(len(probes)) as pool:
        futures = {
            what: pool.submit(_until, what, probe, started) for what, probe in probes.items()
        }
        return {what: future.result() for what, future in futures.items()}


def _get(port: int, path: str, authorization: str = "") -> int:
    """The status of one GET on a new connection. (http.client, not httpx: an httpx
    client per poll makes an SSL context each time, a core's worth of CPU at this rate,
    taken from the server starting on the same two cores.)"""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        headers = {"Authorization": authorization} if authorization else {}
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def _echo(port: int) -> bool:
    ae = AE(ae_title=CALLING)
    ae.add_requested_context(VERIFICATION)
    ae.acse_timeout = ae.network_timeout = 2
    assoc = ae.associate("127.0.0.1", port, ae_title="OPENPACS")
    try:
        return bool(assoc.is_established and assoc.send_c_echo().Status == 0)
    finally:
        if assoc.is_established:
            assoc.release()
        ae.shutdown()


def _upload_until_killed(url: str, auth: tuple[str, str], parts: list[bytes]) -> threading.Thread:
    def upload() -> None:
        for part in parts:
            try:
                stow(url, auth, [part])
            except httpx.HTTPError:
                return  # killed: what was acknowledged must be there after the restart

    thread = threading.Thread(target=upload, daemon=True)
    thread.start()
    return thread


def _instances(studies: int, seed: str) -> list[bytes]:
    specs = study_specs(studies, seed=seed, rows=64, columns=64)
    return [make_instance(spec, seed=n) for n, spec in enumerate(specs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--dicom", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--baseline",
        metavar="SRC",
        help="also start the server of another tree (its src/ folder, e.g. a `git worktree` "
        "of an older commit), taking turns with this one round by round",
    )
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="openpacs-restart-"))
    try:
        _measure(args, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _measure(args: argparse.Namespace, data_dir: Path) -> None:
    seed = ServerProcess(data_dir, env={"OPENPACS_DICOM_PORT": "0"}).start()
    account: TestAccount = seed.create_account()
    add_equipment(seed, account, CALLING)
    parts = _instances(args.studies, "restart")
    for start in range(0, len(parts), 50):
        response = stow(seed.dicomweb, account.auth, parts[start : start + 50])
        response.raise_for_status()
    seed.stop()
    spare = _instances(40 * args.rounds * 2 * (2 if args.baseline else 1), "spare")

    port, dicom_port = free_port(), free_port()
    env = {
        **seed.env,
        "OPENPACS_PORT": str(port),
        "OPENPACS_DICOM_PORT": str(dicom_port if args.dicom else 0),
    }
    url = f"http://127.0.0.1:{port}"
    basic = "Basic " + base64.b64encode(":".join(account.auth).encode()).decode()
    trees = {"": env}
    if args.baseline:  # its own modules first on the path: see --baseline
        baseline = str(Path(args.baseline).resolve())
        trees = {"this tree, ": env, "baseline, ": {**env, "PYTHONPATH": baseline}}
    results: dict[str, dict[str, list[float]]] = {}
    for rnd in range(args.rounds):
        for (tree, tree_env), workers in itertools.product(trees.items(), (1, 2)):
            started = time.perf_counter()
            process = _serve(data_dir, tree_env, workers)
            figures = results.setdefault(f"{tree}workers={workers}", {})
            probes = {
                "health": lambda: _get(port, "/healthz") == 200,
                "search": lambda: _get(port, SEARCH, basic) == 200,
            }
            if args.dicom:
                probes["dicom"] = lambda: _echo(dicom_port)
            try:
                answered = _all_until(probes, started)
            except SystemExit:
                _kill(process)  # no answer: leave no server behind
                raise
            for what, seconds in answered.items():
                figures.setdefault(what, []).append(seconds)
            health, search = answered["health"], answered["search"]
            uploader = _upload_until_killed(f"{url}/dicomweb", account.auth, spare[:40])
            spare = spare[40:]
            time.sleep(0.3)  # uploads in flight
            _kill(process)
            uploader.join(10)
            print(f"round {rnd + 1}/{args.rounds} {tree}workers={workers}:"
                  f" health {health * 1000:.0f} ms, search {search * 1000:.0f} ms",
                  flush=True)  # fmt: skip

    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")
    print("| server | first answer | median ms | min ms | max ms |")
    print("|---|---|---:|---:|---:|")
    for server, figures in results.items():
        for what, values in figures.items():
            print(f"| {server} | {what} | {statistics.median(values) * 1000:.0f} "
                  f"| {min(values) * 1000:.0f} | {max(values) * 1000:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
