"""The benchmark harness: targets, timing, statistics, answer checks, memory sampling.

A *target* is any DICOMweb server: a root URL, HTTP Basic credentials and, optionally,
the PID of the server process (for its resident memory). Scenarios (``bench.scenarios``)
time requests against a target and verify every answer they time, so that a fast wrong
answer fails the scenario instead of winning it.

Run the scenarios against one server that is already running (it should be empty: the
checks compare answers with the data the harness itself loaded)::

    python -m bench.harness --url http://127.0.0.1:8042/dicom-web --user u --password p \\
        [--pid PID] [--quick] [--scenario NAME ...]

Each scenario prints one JSON line (see :class:`Result`).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import httpx
import psutil

DICOM = 'multipart/related; type="application/dicom"'
OCTETS = 'multipart/related; type="application/octet-stream"'
DICOM_JSON = "application/dicom+json"
STOW_BOUNDARY = "openpacs-bench-3f9c2a"
T = TypeVar("T")


class CheckFailed(Exception):
    """An answer that is wrong (status, count, UIDs or bytes): the scenario fails."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


# --------------------------------------------------------------------------- targets


@dataclass
class Target:
    """One DICOMweb server under test."""

    name: str
    root: str  # DICOMweb root, no trailing slash
    auth: tuple[str, str]
    pid: int | None = None
    max_connections: int = 8
    # The DICOM port and the server's AE title, for the DIMSE scenarios.
    dicom: tuple[int, str] | None = None
    # "identity": no compressed answers (both servers send raw bytes); "gzip, deflate" lets
    # each server compress as it sees fit (Orthanc's default then gzips whole instances).
    accept_encoding: str = "identity"
    # A server without /thumbnail (Orthanc's DICOMweb plugin 1.7) is asked for what it
    # stands for: the rendered image in a 128x128 viewport.
    thumbnail_as_rendered: bool = False
    _client: httpx.Client | None = field(default=None, repr=False)

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            limits = httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=self.max_connections,
            )
            self._client = httpx.Client(
                auth=self.auth,
                limits=limits,
                timeout=httpx.Timeout(600.0, connect=10.0),
                headers={"Accept-Encoding": self.accept_encoding},
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def get(self, path: str, accept: str, params: dict[str, str] | None = None) -> httpx.Response:
        if self.thumbnail_as_rendered and path.endswith("/thumbnail"):
            path, params = path.removesuffix("/thumbnail") + "/rendered", {"viewport": "128,128"}
        # Wildcards stay literal: Orthanc 1.10 does not decode %2A in query values.
        query = ("?" + urlencode(params, safe="*,", quote_via=quote)) if params else ""
        return self.client.get(self.root + path + query, headers={"Accept": accept})

    def stow(self, body: bytes) -> httpx.Response:
        return self.client.post(
            self.root + "/studies",
            content=body,
            headers={
                "Content-Type": f"{DICOM}; boundary={STOW_BOUNDARY}",
                "Accept": DICOM_JSON,
            },
        )


# --------------------------------------------------------------------------- results


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending sequence."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class RoundResult:
    """What one round of a scenario measured on one target."""

    latencies: list[float]  # seconds, one per timed request
    items: int = 0  # instances stored or returned (for throughput)
    nbytes: int = 0  # payload bytes moved
    wall: float = 0.0  # seconds the round took, end to end


@dataclass
class Result:
    """A scenario's figures on one target, over all its rounds."""

    scenario: str
    server: str
    ok: bool = True
    error: str = ""
    latencies: list[float] = field(default_factory=list)
    items: int = 0
    nbytes: int = 0
    wall: float = 0.0
    rounds: int = 0
    item_unit: str = ""  # "instances" when throughput applies
    peak_rss_mb: float | None = None  # set on the memory results (peak_rss_*) only
    scenario_rss_mb: float | None = None  # the server's peak RSS during this scenario
    server_cpu: float | None = None  # CPU seconds the server used in the timed rounds

    def add(self, rnd: RoundResult, server_cpu: float | None = None) -> None:
        self.latencies.extend(rnd.latencies)
        self.items += rnd.items
        self.nbytes += rnd.nbytes
        self.wall += rnd.wall
        self.rounds += 1
        if server_cpu is not None:
            self.server_cpu = (self.server_cpu or 0.0) + server_cpu

    @property
    def cpu_ms_per_item(self) -> float | None:
        """The server's CPU per instance (throughput scenarios) or per request."""
        count = self.items if self.item_unit else len(self.latencies)
        if self.server_cpu is None or not count:
            return None
        return self.server_cpu / count * 1000

    def fail(self, error: str) -> None:
        self.ok = False
        self.error = error

    @property
    def stats(self) -> dict[str, float]:
        values = sorted(self.latencies)
        if not values:
            return {}
        return {
            "p50_ms": percentile(values, 50) * 1000,
            "p95_ms": percentile(values, 95) * 1000,
            "min_ms": values[0] * 1000,
            "max_ms": values[-1] * 1000,
        }

    @property
    def throughput(self) -> float | None:
        if not self.item_unit or self.wall <= 0:
            return None
        return self.items / self.wall

    @property
    def mb_per_s(self) -> float | None:
        if self.wall <= 0 or not self.nbytes:
            return None
        return self.nbytes / 1e6 / self.wall

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scenario": self.scenario, "server": self.server, "ok": self.ok}
        if not self.ok:
            out["error"] = self.error
        out.update({k: round(v, 3) for k, v in self.stats.items()})
        if self.latencies:
            out["n"] = len(self.latencies)
            out["rounds"] = self.rounds
        if self.throughput is not None:
            out["throughput"] = round(self.throughput, 2)
            out["throughput_unit"] = f"{self.item_unit}/s"
        if self.mb_per_s is not None:
            out["mb_per_s"] = round(self.mb_per_s, 1)
        if self.peak_rss_mb is not None:
            out["peak_rss_mb"] = round(self.peak_rss_mb, 1)
        if self.scenario_rss_mb is not None:
            out["server_peak_rss_mb"] = round(self.scenario_rss_mb, 1)
        if self.cpu_ms_per_item is not None:
            out["server_cpu_ms_per_item"] = round(self.cpu_ms_per_item, 3)
        return out

    def line(self) -> str:
        return json.dumps(self.as_json(), ensure_ascii=False)


# --------------------------------------------------------------------------- timing


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    """The response (body fully read) and the seconds from request to last byte."""
    start = time.perf_counter()
    response = call()
    return response, time.perf_counter() - start


def run_clients(
    clients: int, work: Callable[[int], list[T]]
) -> tuple[list[T], float, list[BaseException]]:
    """Run ``work(client_index)`` in ``clients`` threads released together.

    Returns everything the threads returned, the wall time from the release to the last
    thread's end, and the exceptions the threads raised.
    """
    out: list[T] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def body(index: int) -> None:
        barrier.wait()
        try:
            mine = work(index)
        except BaseException as exc:  # reported by the caller
            with lock:
                errors.append(exc)
            return
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return out, time.perf_counter() - start, errors


# --------------------------------------------------------------------------- wire formats


def multipart_body(parts: Iterable[bytes], boundary: str = STOW_BOUNDARY) -> bytes:
    chunks: list[bytes] = []
    for part in parts:
        chunks.append(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
        chunks.append(part)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def split_multipart(response: httpx.Response) -> list[tuple[dict[str, str], bytes]]:
    """The parts (headers, body) of a multipart/related answer."""
    ctype = response.headers.get("content-type", "")
    check(ctype.lower().startswith("multipart/related"), f"not multipart/related: {ctype!r}")
    match = _BOUNDARY.search(ctype)
    check(match is not None, f"no boundary in {ctype!r}")
    assert match is not None
    delimiter = b"--" + match.group(1).strip().encode()
    body = response.content
    check(body.startswith(delimiter) or b"\r\n" + delimiter in body, "first boundary missing")
    start = 0 if body.startswith(delimiter) else body.index(b"\r\n" + delimiter) + 2
    pieces = body[start + len(delimiter) :].split(b"\r\n" + delimiter)
    check(len(pieces) >= 2 and pieces[-1].startswith(b"--"), "closing boundary missing")
    parts: list[tuple[dict[str, str], bytes]] = []
    for chunk in pieces[:-1]:
        check(chunk.startswith(b"\r\n"), "malformed multipart boundary line")
        if chunk.startswith(b"\r\n\r\n"):  # a part without headers
            head, content = b"", chunk[4:]
        else:
            head, sep, content = chunk[2:].partition(b"\r\n\r\n")
            check(bool(sep), "part without the blank line after its headers")
        headers: dict[str, str] = {}
        for raw in head.split(b"\r\n"):
            if b":" in raw:
                name, _, value = raw.partition(b":")
                headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
        parts.append((headers, content))
    return parts


_SOP_TAG = b"\x08\x00\x18\x00UI"


def sop_uid_of(part10: bytes) -> str:
    """SOP Instance UID of an Explicit VR Little Endian Part-10 file (0008,0018)."""
    at = part10.find(_SOP_TAG, 132)
    check(at >= 0, "part without SOP Instance UID")
    length = int.from_bytes(part10[at + 6 : at + 8], "little")
    return part10[at + 8 : at + 8 + length].rstrip(b"\0 ").decode("ascii")


def json_values(items: list[dict[str, Any]], tag: str) -> list[str]:
    out = []
    for item in items:
        value = item.get(tag, {}).get("Value", [])
        check(len(value) == 1, f"answer item without {tag}")
        out.append(str(value[0]))
    return out


def expect_status(response: httpx.Response, *codes: int) -> None:
    reason = response.headers.get("x-error-reason", "") or response.text[:200]
    check(
        response.status_code in codes,
        f"{response.request.method} {response.request.url.path}: HTTP "
        f"{response.status_code} {reason}",
    )


# --------------------------------------------------------------------------- CPU


def server_processes(root: psutil.Process) -> list[psutil.Process]:
    """A server process and its children (the workers); [] once it is gone."""
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def server_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a server process and its children."""
    try:
        processes = server_processes(psutil.Process(pid))
    except psutil.Error:
        return None
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


# --------------------------------------------------------------------------- memory


class MemorySampler:
    """Peak resident memory (RSS) of a server process and its children, sampled in a
    thread.

    Peaks are kept per named window (``start(name)`` ... ``peak_mb(name)``) and overall.
    """

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self._windows: dict[str, int] = {}
        self._overall = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> MemorySampler:
        self._overall = self.rss()
        self._thread.start()
        return self

    def rss(self) -> int:
        """The process's RSS plus its children's (server worker processes, if any)."""
        total = 0
        for process in server_processes(self.process):
            try:
                total += int(process.memory_info().rss)
            except psutil.Error:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._record(self.rss())

    def _record(self, value: int) -> None:
        with self._lock:
            self._overall = max(self._overall, value)
            for name, peak in self._windows.items():
                self._windows[name] = max(peak, value)

    def open(self, name: str) -> None:
        """Start (or restart) the window ``name``: its peak is counted from now."""
        value = self.rss()
        with self._lock:
            self._windows[name] = value

    def peak_mb(self, name: str) -> float:
        """Peak RSS in MB since ``open(name)``; the window stays open."""
        self._record(self.rss())
        with self._lock:
            return self._windows.get(name, 0) / 1e6

    def overall_mb(self) -> float:
        self._record(self.rss())
        with self._lock:
            return self._overall / 1e6

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    from bench.scenarios import FULL, QUICK, Bench  # the scenarios use this module

    parser = argparse.ArgumentParser(prog="python -m bench.harness", description=__doc__)
    parser.add_argument("--url", required=True, help="DICOMweb root of an empty server")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--name", default="server", help="label in the output")
    parser.add_argument("--pid", type=int, default=None, help="server PID (peak memory)")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--scenario", action="append", default=None, help="run only these")
    parser.add_argument("--gzip", action="store_true", help="Accept-Encoding: gzip, deflate")
    args = parser.parse_args(argv)
    target = Target(args.name, args.url.rstrip("/"), (args.user, args.password), args.pid)
    if args.gzip:
        target.accept_encoding = "gzip, deflate"
    bench = Bench([target], QUICK if args.quick else FULL, only=args.scenario)
    results = bench.run_all(emit=lambda result: print(result.line(), flush=True))
    target.close()
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
