"""``make bench-scale``: how openpacs behaves when the archive is big (issue 20).

    python -m bench.scale [--instances 1000000] [--per-study 10] [--clients 4]
                          [--per-request 50] [--database sqlite|postgresql|both]
                          [--postgres postgresql://postgres@127.0.0.1:5432/test] [--keep]

Starts ``openpacs serve`` (its defaults, one process per core as in ``make bench``) on an
empty index, stores ``--instances`` small instances (16x16 CT, ``--per-study`` per study,
one series each) through its own STOW-RS path (``--clients`` clients, ``--per-request``
instances per request), and reports:

* the ingest rate of every tenth of the run (at most 100,000 instances each), and of the
  first and the last of them (the target: the last within 10% of the first);
* QIDO p95 by PatientID (exact), PatientName prefix and a StudyDate year (limit=50), and
  the p95 of a study's metadata, at a tenth of the studies (10,000 of 100,000 by default)
  and at the end (the target: within 20%);
* index bytes per instance (the SQLite file with its WAL, or ``pg_database_size``) and
  the server's resident memory at the end (the process and its workers).

PostgreSQL runs in its own database, ``openpacs_bench_scale``, dropped and created again
on the server of ``--postgres`` (trust or password in the URL). Instances are made from one
template by replacing fixed-length fields (UIDs, patient, accession, date), so making a
million of them costs seconds, not the run. Every answer is checked (status, counts).
Results: printed, and ``bench/results/scale-DATABASE.md``.
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import shutil
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import orjson
import psutil

from bench.dataset import InstanceSpec, make_instance
from bench.harness import DICOM_JSON, Target, multipart_body, percentile
from bench.servers import OpenpacsServer

ROOT = "1.2.826.0.1.3680043.10.1415.77"
#: Surnames without spaces or accents, so that every prefix search is plain ASCII.
SURNAMES = ["Smith", "Jansen", "Garcia", "Nguyen", "Kowalski", "Ito", "Okafor", "Berg"]
NAME_WIDTH = 20  # PatientName padded with spaces to this many characters
RESULTS = Path(__file__).resolve().parent / "results"


# --------------------------------------------------------------------------- data


def study_uid(s: int) -> str:
    return f"{ROOT}.1.{s:08d}"


def series_uid(s: int) -> str:
    return f"{ROOT}.2.{s:08d}"


def sop_uid(s: int, i: int) -> str:
    return f"{ROOT}.3.{s:08d}.{i:04d}"


def patient_of(s: int) -> int:
    return s // 2  # two studies per patient


def patient_id(p: int) -> str:
    return f"SC{p:07d}"


def patient_name(p: int) -> str:
    return f"{SURNAMES[p % len(SURNAMES)]}{p:07d}^Pat".ljust(NAME_WIDTH)


def study_date(s: int) -> str:
    return (date(2015, 1, 1) + timedelta(days=(s * 37) % 3650)).strftime("%Y%m%d")


class Template:
    """One 16x16 CT file whose variable fields are placeholders of their final length."""

    def __init__(self) -> None:
        self.fields = {
            "study": study_uid(0).replace("00000000", "99999999"),
            "series": series_uid(0).replace("00000000", "99999999"),
            "sop": sop_uid(0, 0).replace("00000000.0000", "99999999.9999"),
            "pid": "ZZ9999999",
            "name": "Q" * NAME_WIDTH,
            "acc": "Y99999999",
            "date": "18991231",
        }
        spec = InstanceSpec(
            patient_id=self.fields["pid"],
            patient_name=self.fields["name"],
            study_uid=self.fields["study"],
            series_uid=self.fields["series"],
            sop_uid=self.fields["sop"],
            study_date=self.fields["date"],
            accession=self.fields["acc"],
            modality="CT",
            instance_number=1,
            rows=16,
            columns=16,
        )
        self.data = make_instance(spec, seed=1)
        for value in self.fields.values():
            assert self.data.count(value.encode()) >= 1, value

    def instance(self, s: int, i: int) -> bytes:
        p = patient_of(s)
        values = {
            "study": study_uid(s),
            "series": series_uid(s),
            "sop": sop_uid(s, i),
            "pid": patient_id(p),
            "name": patient_name(p),
            "acc": f"A{s:08d}",
            "date": study_date(s),
        }
        data = self.data
        for key, value in values.items():
            old = self.fields[key].encode()
            assert len(old) == len(value), key
            data = data.replace(old, value.encode())
        return data


# --------------------------------------------------------------------------- ingest


def ingest(
    target: Target,
    template: Template,
    first: int,
    last: int,
    per_study: int,
    clients: int,
    per_request: int,
) -> float:
    """Store studies [first, last) (``per_study`` instances each); returns instances/s."""
    jobs: queue.Queue[tuple[bytes, int] | None] = queue.Queue(maxsize=4 * clients)
    errors: list[str] = []

    def client() -> None:
        while (job := jobs.get()) is not None:
            body, count = job
            response = target.stow(body)
            if response.status_code != 200:
                errors.append(f"HTTP {response.status_code}: {response.text[:300]}")
                continue
            answer = orjson.loads(response.content)
            stored = answer.get("00081199", {}).get("Value", [])
            if len(stored) != count:
                errors.append(f"{len(stored)} of {count} stored")

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    batch: list[bytes] = []
    for s in range(first, last):
        for i in range(per_study):
            batch.append(template.instance(s, i))
            if len(batch) == per_request:
                jobs.put((multipart_body(batch), len(batch)))
                batch = []
    if batch:
        jobs.put((multipart_body(batch), len(batch)))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise SystemExit(f"ingest failed: {errors[:3]}")
    return (last - first) * per_study / seconds


# --------------------------------------------------------------------------- reads


def p95_ms(
    target: Target, requests: list[tuple[str, dict[str, str], int | None]]
) -> tuple[float, float]:
    """(p50, p95) latency of GETs (path, params, expected answer count or None: at least
    one)."""
    times = []
    for path, params, expected in requests:
        started = time.perf_counter()
        response = target.get(path, DICOM_JSON, params)
        times.append(time.perf_counter() - started)
        if response.status_code not in (200, 204):
            raise SystemExit(f"{path} {params}: HTTP {response.status_code}")
        got = len(orjson.loads(response.content)) if response.status_code == 200 else 0
        if (expected is None and got < 1) or (expected is not None and got != expected):
            raise SystemExit(f"{path} {params}: {got} answers, {expected} due")
    times.sort()
    return 1000 * percentile(times, 50), 1000 * percentile(times, 95)


def reads(
    target: Target, studies: int, per_study: int, n: int = 60
) -> dict[str, tuple[float, float]]:
    rng = random.Random(studies)
    patients = patient_of(studies - 1) + 1

    def by_id() -> tuple[str, dict[str, str], int | None]:
        p = rng.randrange(patients)
        due = sum(1 for s in (2 * p, 2 * p + 1) if s < studies)
        return "/studies", {"PatientID": patient_id(p)}, due

    def by_name() -> tuple[str, dict[str, str], int | None]:
        p = rng.randrange(patients)
        prefix = patient_name(p).strip()[: len(SURNAMES[p % len(SURNAMES)]) + 5]
        return "/studies", {"PatientName": prefix + "*"}, None

    per_year: dict[str, int] = {}
    for s in range(studies):
        per_year[study_date(s)[:4]] = per_year.get(study_date(s)[:4], 0) + 1

    def by_year() -> tuple[str, dict[str, str], int | None]:
        year = rng.randrange(2015, 2025)
        due = min(50, per_year.get(str(year), 0))
        return "/studies", {"StudyDate": f"{year}0101-{year}1231", "limit": "50"}, due

    def metadata() -> tuple[str, dict[str, str], int | None]:
        return f"/studies/{study_uid(rng.randrange(studies))}/metadata", {}, per_study

    out = {}
    cases = [("qido_patient_id", by_id), ("qido_patient_name_prefix", by_name),
             ("qido_study_date_year", by_year), ("study_metadata", metadata)]  # fmt: skip
    for name, make in cases:
        requests = [make() for _ in range(n)]
        target.get(*requests[0][:1], DICOM_JSON, requests[0][1])  # warm-up
        out[name] = p95_ms(target, requests)
    return out


# --------------------------------------------------------------------------- the run


def index_bytes(server: OpenpacsServer) -> int:
    url = server.database_url
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        assert row is not None
        return int(row[0])


def rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 1e6


def postgres_database(admin_url: str, name: str = "openpacs_bench_scale") -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + "/" + name


def run(database: str, args: argparse.Namespace) -> str:
    studies = args.instances // args.per_study
    tenth = max(1, studies // 10)
    chunk_studies = min(tenth, max(1, 100_000 // args.per_study))
    work = Path(tempfile.mkdtemp(prefix="openpacs-scale-", dir=args.tmp))
    env = {}
    if database == "postgresql":
        env["OPENPACS_BENCH_DATABASE_URL"] = postgres_database(args.postgres)
    os.environ.update(env)
    server = OpenpacsServer(work / "openpacs")
    os.environ.pop("OPENPACS_BENCH_DATABASE_URL", None)
    target = server.start()
    assert target.pid is not None
    template = Template()
    lines = [f"## bench-scale on {database}", ""]
    started = time.monotonic()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    try:
        target.get("/studies", DICOM_JSON, {"limit": "1"})  # the first login (argon2)
        rates: list[tuple[int, float]] = []
        read_at: dict[int, dict[str, tuple[float, float]]] = {}
        done = 0
        while done < studies:
            upto = min(studies, done + chunk_studies)
            rate = ingest(target, template, done, upto, args.per_study, args.clients,
                          args.per_request)  # fmt: skip
            rates.append((upto * args.per_study, rate))
            print(f"[scale {database}] {upto * args.per_study} instances, {upto} studies: "
                  f"{rate:.0f} instances/s", flush=True)  # fmt: skip
            if done < tenth <= upto or upto == studies:
                read_at[upto] = reads(target, upto, args.per_study)
                shown = {k: f"p50 {a:.1f} p95 {b:.1f} ms" for k, (a, b) in read_at[upto].items()}
                print(f"[scale {database}] reads at {upto} studies: {shown}", flush=True)
            done = upto
        size = index_bytes(server)
        memory = rss_mb(target.pid)
    finally:
        target.close()
        server.stop()
        if args.keep:
            print(f"[scale {database}] data kept in {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    minutes = (time.monotonic() - started) / 60
    end_load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    chunk = chunk_studies * args.per_study
    lines += [
        f"- {args.instances} instances (16x16 CT) in {studies} studies, {args.clients} clients,"
        f" {args.per_request} instances per request; {minutes:.1f} min; load average {load} at"
        f" the start, {end_load} at the end",
        f"- ingest, instances/s per {chunk} instances: "
        + ", ".join(f"{rate:.0f}" for _, rate in rates),
        f"- first {chunk}: {rates[0][1]:.0f}/s, last {chunk}: {rates[-1][1]:.0f}/s "
        f"(last/first {rates[-1][1] / rates[0][1]:.2f})",
        f"- index: {size / 1e6:.0f} MB, {size / args.instances:.0f} bytes per instance; "
        f"server RSS at the end {memory:.0f} MB",
        "",
        "| p95 (p50), ms | " + " | ".join(f"{n} studies" for n in read_at) + " | p95 ratio |",
        "|---|" + "---:|" * (len(read_at) + 1),
    ]
    first_reads, last_reads = read_at[min(read_at)], read_at[max(read_at)]
    for name in first_reads:
        cells = " | ".join(
            f"{read_at[n][name][1]:.1f} ({read_at[n][name][0]:.1f})" for n in read_at
        )
        ratio = last_reads[name][1] / first_reads[name][1]
        lines.append(f"| {name} | {cells} | {ratio:.2f} |")
    report = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"scale-{database}.md").write_text(report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--instances", type=int, default=1_000_000)
    parser.add_argument("--per-study", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--per-request", type=int, default=50)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--tmp", default=None, help="folder for the data (default: the system's)")
    parser.add_argument("--keep", action="store_true", help="keep the data folder (to profile)")
    args = parser.parse_args(argv)
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for database in databases:
        print(run(database, args), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
