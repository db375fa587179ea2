"""CPU time per request of one openpacs process, and where it goes, layer by layer.

    python -m bench.cpu [--requests N] [--case NAME ...] [--layers] [--workers 1]

Wall-clock figures on a shared machine are noisy; the CPU time the server process spends
per request is not (much): this starts openpacs (one process, defaults otherwise, its own
data folder), loads a small archive (a series of 5 CT 512x512 instances), then for each
case sends ``--requests`` requests one after the other (after a warm-up) and reads the
server's CPU time (user + system, all threads, ``/proc/PID/stat``) before and after.
With ``--layers`` the server runs under yappi (``bench.yappi_serve``: CPU clock, every
thread, builtins included) and each case runs again profiled; every function's own CPU
time goes to the layer its module belongs to (ASGI server, framework, middleware, auth,
multipart, pydicom, DICOM JSON model, database, blob store, rendering, ...), and the
shares are applied to the CPU time measured without the profiler. Time the profiler
cannot see (uvloop's C code between callbacks, the garbage collector) is spread over the
layers with the rest.

Cases: stow1 (one CT 512x512 per request), stow50 (50 per request; per instance),
stow_small (one 64x64 instance, a new study each), rendered, thumbnail, frame, instance,
series_metadata, qido5 (``/studies`` of the small archive), healthz (no auth, no
database: the floor of the HTTP stack).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.dataset import InstanceSpec, make_instance, study_specs
from bench.harness import DICOM, DICOM_JSON, OCTETS, Target, multipart_body
from bench.servers import OpenpacsServer

TICK = os.sysconf("SC_CLK_TCK")
#: System (kernel) CPU seconds per request of the last unprofiled measure of each case.
KERNEL: dict[str, float] = {}

#: (layer, substrings of a frame's file path), checked from the innermost frame outwards.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("auth", ("argon2", "services/auth.py", "basic_auth.py", "services/ratelimit")),
    ("audit", ("services/audit", "web/audit.py")),
    ("middleware", ("web/middleware.py", "starlette/middleware")),
    ("multipart", ("protocol/multipart.py", "services/upload.py")),
    ("pydicom", ("pydicom/",)),
    ("DICOM JSON model", ("dicom/json_model.py", "dicom/ingest.py", "dicom/attributes.py",
                          "dicom/rawfile.py", "dicom/frames.py", "dicom/names.py")),
    ("rendering", ("PIL/", "dicom/render.py", "dicom/pixels.py", "numpy/", "pylibjpeg")),
    ("database", ("sqlalchemy/", "sqlite3", "psycopg", "openpacs/index/")),
    ("blob store", ("openpacs/storage/", "key_pool.py", "stored_files.py")),
    ("store/stow service", ("services/store.py", "services/stow.py", "index_writer.py")),
    ("other services", ("openpacs/services/", "openpacs/protocol/")),
    ("handlers", ("openpacs/web/",)),
    ("routing", ("starlette/routing.py",)),
    ("framework (requests, responses)", ("starlette/",)),
    ("ASGI server (uvicorn, httptools)", ("uvicorn/", "httptools")),
    ("thread hand-off", ("anyio/", "concurrent/futures", "threading.py", "queue.py")),
    ("event loop", ("asyncio/", "uvloop")),
]  # fmt: skip


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process (all its threads, living and ended)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def cpu_seconds(pid: int) -> float:
    return sum(cpu_times(pid))


def layer_of(stack: list[str]) -> str:
    for frame in reversed(stack):
        for name, needles in LAYERS:
            if any(n in frame for n in needles):
                return name
    return "other (interpreter, stdlib)"


def layers(stats: Path) -> Counter[str]:
    """CPU seconds per layer, from bench.yappi_serve's statistics: a function of a known
    layer counts its own time there; the own time of any other (builtins, the standard
    library) goes to its callers in proportion to the time spent under each, up the
    call graph until a caller of a known layer takes it."""
    names: dict[str, str] = {}
    own: dict[str, float] = {}
    callers: dict[str, list[tuple[str, float]]] = {}
    for line in stats.read_text().splitlines():
        kind, a, b, seconds = line.split("\t")
        if kind == "F":
            names[a], own[a] = b, float(seconds)
        else:
            callers.setdefault(b, []).append((a, float(seconds)))
    out: Counter[str] = Counter()

    def give(index: str, amount: float, depth: int, seen: frozenset[str]) -> None:
        layer = layer_of([names.get(index, "")])
        up = [(c, s) for c, s in callers.get(index, []) if c not in seen and s > 0]
        if not layer.startswith("other") or not up or depth > 12:
            out[layer] += amount
            return
        total = sum(s for _, s in up)
        for caller, s in up:
            give(caller, amount * s / total, depth + 1, seen | {index})

    for index, seconds in own.items():
        if seconds > 0:
            give(index, seconds, 0, frozenset())
    return out


class Cases:
    """The requests of each case, made once, against one server."""

    def __init__(self, target: Target, requests: int) -> None:
        self.target = target
        self.n = requests
        self.series = list(study_specs(1, instances_per_series=5, seed="cpu-series"))
        self.data = [make_instance(s, seed=i) for i, s in enumerate(self.series)]
        self._stow_round = 0
        response = target.stow(multipart_body(self.data))
        assert response.status_code == 200, response.text

    def path(self, spec: InstanceSpec) -> str:
        return f"/studies/{spec.study_uid}/series/{spec.series_uid}/instances/{spec.sop_uid}"

    def get_case(self, suffix: str, accept: str) -> Callable[[int], None]:
        def one(i: int) -> None:
            response = self.target.get(self.path(self.series[i % 5]) + suffix, accept)
            assert response.status_code == 200, response.status_code

        return one

    def stow_case(self, per_request: int, rows: int, new_study: bool) -> Callable[[int], None]:
        self._stow_round += 1
        total = (self.n + 20) * per_request
        seed = f"cpu-stow-{per_request}-{rows}-{self._stow_round}-{time.time()}"
        if new_study:
            specs = list(study_specs(total, seed=seed, rows=rows, columns=rows))
        else:
            specs = list(study_specs(1, instances_per_series=total, seed=seed, rows=rows,
                                     columns=rows))  # fmt: skip
        n = per_request
        bodies = [
            multipart_body(make_instance(s, seed=k + i) for i, s in enumerate(specs[k : k + n]))
            for k in range(0, total, n)
        ]

        def one(i: int) -> None:
            response = self.target.stow(bodies[i])
            assert response.status_code == 200, response.text[:300]

        return one

    def make(self, name: str) -> tuple[Callable[[int], None], int]:
        """The request function of a case and how many instances each request counts."""
        if name == "stow1":
            return self.stow_case(1, 512, False), 1
        if name == "stow50":
            return self.stow_case(50, 512, False), 50
        if name == "stow_small":
            return self.stow_case(1, 64, True), 1
        if name == "qido5":
            return lambda i: self._ok(self.target.get("/studies", DICOM_JSON)), 1
        if name == "series_metadata":
            s = self.series[0]
            path = f"/studies/{s.study_uid}/series/{s.series_uid}/metadata"
            return lambda i: self._ok(self.target.get(path, DICOM_JSON)), 1
        if name == "healthz":
            url = self.target.root.rsplit("/", 1)[0] + "/healthz"
            return lambda i: self._ok(self.target.client.get(url)), 1
        suffix, accept = {
            "rendered": ("/rendered", "image/jpeg"),
            "thumbnail": ("/thumbnail", "image/jpeg"),
            "frame": ("/frames/1", OCTETS),
            "instance": ("", DICOM),
        }[name]
        return self.get_case(suffix, accept), 1

    @staticmethod
    def _ok(response: httpx.Response) -> None:
        assert response.status_code == 200, response.status_code


# The reads first: the stores add studies (qido5 answers all of them).
CASES = ["healthz", "rendered", "thumbnail", "frame", "instance", "series_metadata", "qido5",
         "stow1", "stow50", "stow_small"]  # fmt: skip


def measure(
    cases: Cases, name: str, pid: int, requests: int, profile: Path | None
) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, instances) of ``requests`` requests of a case; with
    ``profile``, under yappi (the server runs bench.yappi_serve), stats into that file."""
    one, per = cases.make(name)
    for i in range(min(20, requests)):  # warm-up (first requests, caches, code paths)
        one(requests + i if name.startswith("stow") else i)
    os.sync()
    if profile is not None:
        os.kill(pid, signal.SIGUSR1)
        time.sleep(0.2)
    (user, system), wall = cpu_times(pid), time.perf_counter()
    for i in range(requests):
        one(i)
    after = cpu_times(pid)
    wall = time.perf_counter() - wall
    cpu = after[0] - user + after[1] - system
    if profile is None:
        KERNEL[name] = (after[1] - system) / requests / per
    if profile is not None:
        os.kill(pid, signal.SIGUSR2)
        deadline = time.monotonic() + 30
        while not profile.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    return cpu, wall, requests * per


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--case", action="append", choices=CASES)
    parser.add_argument("--layers", action="store_true", help="yappi: CPU split by layer")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep yappi's statistics in this folder")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    work = Path(tempfile.mkdtemp(prefix="openpacs-cpu-"))
    stats = work / "yappi.tsv"
    if args.layers:
        env["OPENPACS_YAPPI_OUT"] = str(stats)
    module = "bench.yappi_serve" if args.layers else "openpacs"
    server = OpenpacsServer(work / "openpacs", workers=args.workers, env=env, module=module)
    target = server.start()
    pid = target.pid
    assert pid is not None
    if args.workers > 1:
        raise SystemExit("--workers > 1: measure the workers' CPU is not supported yet")
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}", file=sys.stderr)
    try:
        target.get("/studies", DICOM_JSON, {"limit": "1"})  # the first login (argon2)
        cases = Cases(target, args.requests)
        rows = []
        for name in args.case or CASES:
            cpu, wall, items = measure(cases, name, pid, args.requests, None)
            unit = "instance" if name == "stow50" else "request"
            line = f"{name}: {1000 * cpu / items:.2f} ms CPU per {unit}, "
            line += f"of which {1000 * KERNEL[name]:.2f} ms in the kernel; "
            line += f"{1000 * wall / args.requests:.2f} ms wall per request"
            print(line, flush=True)
            rows.append((name, cpu / items))
            if args.layers:
                stats.unlink(missing_ok=True)
                measure(cases, name, pid, args.requests, stats)
                counts = layers(stats) if stats.exists() else Counter()
                if args.keep and stats.exists():
                    args.keep.mkdir(parents=True, exist_ok=True)
                    shutil.copy(stats, args.keep / f"{name}.tsv")
                total = sum(counts.values()) or 1
                for layer, own in counts.most_common():
                    share = own / total
                    ms = 1000 * share * cpu / items
                    print(f"    {layer:34s} {100 * share:5.1f}%  {ms:.2f} ms", flush=True)
    finally:
        target.close()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
