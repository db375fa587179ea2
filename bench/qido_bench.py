"""QIDO-RS study search latency over HTTP against a real server.

Starts ``openpacs serve`` in a subprocess (SQLite by default, or ``--database-url``),
loads ``--studies`` one-instance studies (16x16 CT from ``bench.dataset``: two studies
per patient, dates spread over 2015-2024, surnames with shared prefixes) through STOW-RS,
many instances per request from a few concurrent clients, then times ``--requests``
searches per scenario. Every answer is checked against the data set (status, count, the
exact UIDs where the answer is complete, dates and order where it is a page), so a fast
wrong answer fails the scenario. Prints one JSON line per scenario on stdout and a table
on stderr; the exit status is 1 when a check fails or a target is missed.

Scenarios (targets: p95):

* ``patient_id``: ``/studies?PatientID=PAT001234`` (exact; 2 matches) - target 50 ms;
* ``patient_name_prefix``: ``/studies?PatientName=Smi*`` and the other surnames'
  three-letter prefixes in mixed case and with accents (``mül*``), about 1/8 of the studies
  match, first page (the server's default limit, 100);
* ``patient_name_prefix_narrow``: ``/studies?PatientName=Smith001*`` style (about 20
  matches, whole answer checked);
* ``study_date_year``: ``/studies?StudyDate=YYYY0101-YYYY1231&limit=50`` (about a tenth of
  the studies match) - target 150 ms.

    .venv/bin/python -m bench.qido_bench [--studies 10000] [--requests 200]
        [--database-url postgresql://...] [--data-dir DIR] [--profile SCENARIO]

``--data-dir`` keeps the server's data (and the account) between runs: the second run
skips the load, which is what you want while profiling. ``--profile`` records the server
with py-spy during one scenario (``.venv/bin/pip install py-spy``) and writes a
flame graph SVG (or, with ``--profile-format txt``, py-spy's raw collapsed stacks) next
to the data.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tests.support.server import ServerProcess, TestAccount

from bench.dataset import SURNAMES, InstanceSpec, make_instance, study_specs

BOUNDARY = "openpacs-qido-bench-boundary"
SEED = "qido-bench"
STUDY_UID, STUDY_DATE = "0020000D", "00080020"
DEFAULT_LIMIT = 100  # the server's default page (Settings.qido_default_limit)
TARGETS_MS = {"patient_id": 50.0, "study_date_year": 150.0}


# --------------------------------------------------------------------------- data


def fold(text: str) -> str:
    """Upper case without accents: how QIDO compares person names."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


@dataclass(frozen=True)
class DataSet:
    specs: list[InstanceSpec]

    def by_patient(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for spec in self.specs:
            out.setdefault(spec.patient_id, set()).add(spec.study_uid)
        return out

    def name_prefix(self, prefix: str) -> dict[str, str]:
        """study UID -> StudyDate of the studies whose PatientName starts with ``prefix``."""
        wanted = fold(prefix)
        return {
            s.study_uid: s.study_date for s in self.specs if fold(s.patient_name).startswith(wanted)
        }

    def date_range(self, start: str, end: str) -> dict[str, str]:
        return {s.study_uid: s.study_date for s in self.specs if start <= s.study_date <= end}


def multipart(parts: list[bytes]) -> Iterator[bytes]:
    for data in parts:
        yield f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        yield data
        yield b"\r\n"
    yield f"--{BOUNDARY}--\r\n".encode()


def load(
    server: ServerProcess, account: TestAccount, specs: list[InstanceSpec], clients: int, batch: int
) -> None:
    """STOW-RS ``specs`` in requests of ``batch`` instances from ``clients`` threads."""
    chunks = [specs[i : i + batch] for i in range(0, len(specs), batch)]
    done = 0
    started = time.perf_counter()

    def send(chunk: list[InstanceSpec]) -> int:
        parts = [make_instance(spec) for spec in chunk]
        with httpx.Client(auth=account.auth, timeout=600) as client:
            response = client.post(
                server.dicomweb + "/studies",
                content=multipart(parts),
                headers={
                    "Content-Type": (
                        f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
                    ),
                    "Accept": "application/dicom+json",
                },
            )
        if response.status_code != 200:
            raise RuntimeError(f"STOW failed: {response.status_code} {response.text[:300]}")
        return len(chunk)

    with ThreadPoolExecutor(clients) as pool:
        for count in pool.map(send, chunks):
            done += count
            elapsed = time.perf_counter() - started
            print(
                f"\rloaded {done}/{len(specs)} ({done / elapsed:.0f} instances/s)",
                end="",
                file=sys.stderr,
                flush=True,
            )
    print(file=sys.stderr)


def loaded_count(client: httpx.Client, url: str, expected: int) -> int:
    """How many studies the account holds, checked around ``expected`` with two searches."""
    last = client.get(url + "/studies", params={"limit": "1", "offset": str(expected - 1)})
    past = client.get(url + "/studies", params={"limit": "1", "offset": str(expected)})
    if last.status_code == 200 and past.status_code == 204:
        return expected
    return -1


# --------------------------------------------------------------------------- scenarios


class CheckFailed(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def answer(response: httpx.Response) -> list[dict[str, Any]]:
    check(response.status_code == 200, f"status {response.status_code}: {response.text[:200]}")
    check("X-Error-Reason" not in response.headers, "X-Error-Reason on success")
    body = response.json()
    check(isinstance(body, list), "the answer is not a JSON array")
    return body  # type: ignore[no-any-return]


def first(item: dict[str, Any], key: str) -> str:
    values = item.get(key, {}).get("Value", [])
    return str(values[0]) if values else ""


def check_page(response: httpx.Response, expected: dict[str, str], limit: int, label: str) -> None:
    """A page of a search ordered by StudyDate (newest first): the right size, only
    matches, the newest dates, and the Warning header exactly when more exist."""
    items = answer(response)
    uids = [first(item, STUDY_UID) for item in items]
    dates = [first(item, STUDY_DATE) for item in items]
    check(len(uids) == min(limit, len(expected)), f"{label}: {len(uids)} results")
    check(len(set(uids)) == len(uids), f"{label}: a study twice")
    check(set(uids) <= set(expected), f"{label}: a study that does not match")
    check(all(expected[u] == d for u, d in zip(uids, dates, strict=True)), f"{label}: dates")
    check(dates == sorted(dates, reverse=True), f"{label}: not newest first")
    newest = sorted(expected.values(), reverse=True)[: len(dates)]
    check(Counter(dates) == Counter(newest), f"{label}: not the newest matches")
    more = len(expected) > limit
    check(("Warning" in response.headers) == more, f"{label}: Warning header")


@dataclass
class Scenario:
    name: str
    # Each call: (path with query, verifier of the response).
    requests: list[tuple[str, dict[str, str], Callable[[httpx.Response], None]]]


def scenarios(data: DataSet, runs: int, rng: random.Random) -> list[Scenario]:
    by_patient = data.by_patient()
    patients = sorted(by_patient)

    def exact(expected: set[str], label: str) -> Callable[[httpx.Response], None]:
        def verify(response: httpx.Response) -> None:
            uids = [first(item, STUDY_UID) for item in answer(response)]
            check(sorted(uids) == sorted(expected), f"{label}: {len(uids)} studies")
            check("Warning" not in response.headers, f"{label}: Warning header")

        return verify

    def page(expected: dict[str, str], limit: int, label: str) -> Callable[[httpx.Response], None]:
        return lambda response: check_page(response, expected, limit, label)

    patient_id = []
    for pid in rng.choices(patients, k=runs):
        patient_id.append(
            ("/studies", {"PatientID": pid}, exact(by_patient[pid], f"PatientID={pid}"))
        )

    # Three-letter prefixes of every surname, in mixed case and with accents as stored.
    prefixes = [name[:3] for name in SURNAMES]
    prefixes = [p if i % 2 else p.lower() for i, p in enumerate(prefixes)]
    prefix_pages = {p: data.name_prefix(p.rstrip("*")) for p in prefixes}
    name_prefix = []
    for i in range(runs):
        p = prefixes[i % len(prefixes)]
        expected = prefix_pages[p]
        name_prefix.append(
            (
                "/studies",
                {"PatientName": p + "*"},
                page(expected, DEFAULT_LIMIT, f"PatientName={p}*"),
            )
        )

    narrow = []
    n_patients = len(patients)
    for _ in range(runs):
        patient = rng.randrange(n_patients)
        surname = SURNAMES[patient % len(SURNAMES)]
        prefix = f"{surname}{patient:05d}"[: len(surname) + 3]  # e.g. Smith001
        expected = data.name_prefix(prefix)
        if len(expected) > DEFAULT_LIMIT:  # not with two studies a patient
            continue
        narrow.append(
            (
                "/studies",
                {"PatientName": prefix + "*"},
                exact(set(expected), f"PatientName={prefix}*"),
            )
        )

    years = sorted({spec.study_date[:4] for spec in data.specs})
    date_year = []
    for i in range(runs):
        year = years[i % len(years)]
        expected = data.date_range(f"{year}0101", f"{year}1231")
        date_year.append(
            (
                "/studies",
                {"StudyDate": f"{year}0101-{year}1231", "limit": "50"},
                page(expected, 50, f"StudyDate={year}"),
            )
        )

    return [
        Scenario("patient_id", patient_id),
        Scenario("patient_name_prefix", name_prefix),
        Scenario("patient_name_prefix_narrow", narrow),
        Scenario("study_date_year", date_year),
    ]


def percentile(values: list[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
    return ordered[rank - 1]


def run(client: httpx.Client, url: str, scenario: Scenario) -> dict[str, Any]:
    path, params, _verify = scenario.requests[0]
    client.get(url + path, params=params)  # warm-up: connection, statement caches
    times: list[float] = []
    failures: list[str] = []
    for path, params, verify in scenario.requests:
        began = time.perf_counter()
        response = client.get(url + path, params=params)
        response.read()
        times.append((time.perf_counter() - began) * 1000)
        try:
            verify(response)
        except CheckFailed as exc:
            failures.append(str(exc))
    target = TARGETS_MS.get(scenario.name)
    p95 = percentile(times, 0.95)
    record: dict[str, Any] = {
        "scenario": scenario.name,
        "n": len(times),
        "p50_ms": round(percentile(times, 0.50), 2),
        "p95_ms": round(p95, 2),
        "min_ms": round(min(times), 2),
        "max_ms": round(max(times), 2),
        "checks_ok": not failures,
    }
    if target is not None:
        record["target_p95_ms"] = target
        record["target_met"] = p95 < target
    if failures:
        record["failures"] = failures[:5]
        record["failure_count"] = len(failures)
    return record


# --------------------------------------------------------------------------- profiling


class Profiler:
    """py-spy on the server process for the duration of a ``with`` block."""

    def __init__(self, pid: int, out: Path) -> None:
        self.pid, self.out = pid, out
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profiler:
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(exe).exists():
            raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
        self.process = subprocess.Popen(
            [exe, "record", "--pid", str(self.pid), "--rate", "500", "-o", str(self.out)]
            + (["--format", "raw"] if self.out.suffix == ".txt" else []),
            stdout=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # let it attach
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(2)  # SIGINT: py-spy writes the file and exits
        self.process.wait(60)
        print(f"profile written to {self.out}", file=sys.stderr)


# --------------------------------------------------------------------------- main


def account_for(server: ServerProcess, data_dir: Path) -> tuple[TestAccount, bool]:
    """The bench account of ``data_dir`` (created on first use); True if it is new."""
    saved = data_dir / "qido-bench-account.json"
    if saved.exists():
        return TestAccount(**json.loads(saved.read_text())), False
    account = server.create_account("qidobench")
    saved.write_text(json.dumps(account.__dict__))
    return account, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="per scenario")
    parser.add_argument("--database-url", default="", help="default: SQLite in the data dir")
    parser.add_argument("--data-dir", type=Path, help="keep (and reuse) the server's data here")
    parser.add_argument("--clients", type=int, default=4, help="concurrent STOW clients")
    parser.add_argument("--batch", type=int, default=100, help="instances per STOW request")
    parser.add_argument("--seed", type=int, default=1, help="random choice of queries")
    parser.add_argument("--profile", metavar="SCENARIO", help="py-spy the server in it")
    parser.add_argument(
        "--profile-format", choices=["svg", "txt"], default="svg", help="flame graph or raw"
    )
    args = parser.parse_args(argv)

    tmp = None
    if args.data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="openpacs-qido-bench-")
        data_dir = Path(tmp.name)
    else:
        data_dir = args.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
    data = DataSet(list(study_specs(args.studies, seed=SEED, rows=16, columns=16)))
    server = ServerProcess(data_dir, database_url=args.database_url).start()
    ok = True
    try:
        account, new = account_for(server, data_dir)
        with httpx.Client(
            auth=account.auth, timeout=120, headers={"Accept-Encoding": "identity"}
        ) as client:
            if new or loaded_count(client, server.dicomweb, args.studies) != args.studies:
                if not new:
                    raise SystemExit(f"{data_dir} holds another data set: use a fresh --data-dir")
                started = time.perf_counter()
                load(server, account, data.specs, args.clients, args.batch)
                print(f"loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
                if loaded_count(client, server.dicomweb, args.studies) != args.studies:
                    raise SystemExit("the server does not hold the studies that were sent")
            backend = "postgresql" if args.database_url else "sqlite"
            rows = []
            for scenario in scenarios(data, args.requests, random.Random(args.seed)):
                if args.profile == scenario.name:
                    assert server.process is not None
                    out = data_dir / f"profile-{scenario.name}.{args.profile_format}"
                    with Profiler(server.process.pid, out):
                        record = run(client, server.dicomweb, scenario)
                else:
                    record = run(client, server.dicomweb, scenario)
                record |= {"backend": backend, "studies": args.studies}
                print(json.dumps(record), flush=True)
                rows.append(record)
                ok = ok and record["checks_ok"] and record.get("target_met", True)
    finally:
        server.stop()
        if tmp is not None:
            tmp.cleanup()

    print(f"\n{'scenario':28} {'p50 ms':>8} {'p95 ms':>8} {'target':>8}  checks", file=sys.stderr)
    for r in rows:
        target = f"<{r['target_p95_ms']:.0f}" if "target_p95_ms" in r else "-"
        verdict = "ok" if r["checks_ok"] else f"FAILED ({r['failure_count']})"
        if "target_met" in r and not r["target_met"]:
            verdict += ", TARGET MISSED"
        print(
            f"{r['scenario']:28} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {target:>8}  {verdict}",
            file=sys.stderr,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
