"""Time ``openpacs upload`` of synthetic CT files and print files/s and MB/s.

Against a running server::

    OPENPACS_URL=http://host:8042/dicomweb OPENPACS_USER=me@example.org \\
    OPENPACS_PASSWORD=... python bench/cli_upload_bench.py --files 1000

or start a throw-away local server (SQLite, temporary folder) with ``--local``.

The files (512x512 16-bit CT, about 0.5 MB each, from ``bench/dataset.py``) get a fresh
seed per run, so every run stores new instances instead of re-storing old ones. The time
is the wall time of the whole ``openpacs upload`` process (start-up included), as a user
sees it; the SDK's own time (without interpreter start-up) is printed next to it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.dataset import make_instance, study_specs  # noqa: E402


def write_files(folder: Path, count: int, rows: int, seed: str) -> int:
    """``count`` CT files in studies of 2 series x 50 instances; returns the total bytes."""
    per_study = 100
    studies = max(1, -(-count // per_study))
    total = 0
    specs = study_specs(
        studies,
        series_per_study=2,
        instances_per_series=per_study // 2,
        seed=seed,
        rows=rows,
        columns=rows,
    )
    for n, spec in enumerate(specs):
        if n >= count:
            break
        data = make_instance(spec, seed=n)
        study_dir = folder / f"study{n // per_study:03d}"
        study_dir.mkdir(exist_ok=True)
        (study_dir / f"{n:05d}.dcm").write_bytes(data)
        total += len(data)
    return total


def run_upload(
    folder: Path, env: dict[str, str], batch_size: int, concurrency: int
) -> tuple[float, dict[str, object]]:
    command = [
        sys.executable,
        "-m",
        "openpacs",
        "upload",
        str(folder),
        "--json",
        "--no-progress",
        "--batch-size",
        str(batch_size),
        "--concurrency",
        str(concurrency),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1) or not done.stdout.strip():
        sys.stderr.write(done.stderr)
        raise SystemExit(f"openpacs upload failed with exit code {done.returncode}")
    report: dict[str, object] = json.loads(done.stdout)
    return wall, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("OPENPACS_URL", ""))
    parser.add_argument("--user", default=os.environ.get("OPENPACS_USER", ""))
    parser.add_argument("--password", default=os.environ.get("OPENPACS_PASSWORD", ""))
    parser.add_argument("--local", action="store_true", help="start a temporary local server")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=512, help="image size (rows = columns)")
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", default="", help="dataset seed (default: a new one per run)")
    args = parser.parse_args(argv)

    server = None
    if args.local:
        from tests.support.server import ServerProcess

        server = ServerProcess(Path(tempfile.mkdtemp(prefix="openpacs-bench-server-"))).start()
        account = server.create_account()
        args.url, args.user, args.password = server.dicomweb, account.email, account.password
    if not (args.url and args.user and args.password):
        parser.error("give --url/--user/--password (or OPENPACS_* variables), or --local")
    env = {
        **os.environ,
        "OPENPACS_URL": args.url,
        "OPENPACS_USER": args.user,
        "OPENPACS_PASSWORD": args.password,
    }
    try:
        with tempfile.TemporaryDirectory(prefix="openpacs-bench-") as tmp:
            folder = Path(tmp)
            seed = args.seed or f"bench-{uuid.uuid4().hex}"
            t0 = time.perf_counter()
            total = write_files(folder, args.files, args.rows, seed)
            print(
                f"generated {args.files} files, {total / 1e6:.1f} MB "
                f"in {time.perf_counter() - t0:.1f} s"
            )
            wall, report = run_upload(folder, env, args.batch_size, args.concurrency)
    finally:
        if server is not None:
            server.stop()
    stored = int(str(report["Stored"])) + int(str(report.get("AlreadyStored", 0)))
    failed = int(str(report["Failed"]))
    sdk_seconds = float(str(report["Seconds"]))
    print(
        f"openpacs upload: {stored} stored, {failed} failed, {report['Requests']} requests "
        f"(batch {args.batch_size}, concurrency {args.concurrency})"
    )
    print(
        f"wall {wall:.2f} s: {stored / wall:.1f} files/s, {total / 1e6 / wall:.1f} MB/s "
        f"(SDK time {sdk_seconds:.2f} s: {stored / sdk_seconds:.1f} files/s, "
        f"{total / 1e6 / sdk_seconds:.1f} MB/s)"
    )
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
