"""openpacs and Orthanc side by side: same data, same requests, one table.

    python -m bench.run [--quick] [--only openpacs|orthanc] [--out bench/results]
                        [--scenario NAME_OR_GROUP ...] [--profile SCENARIO ...]

Starts openpacs (``python -m openpacs serve``, its own data dir and account) and Orthanc
with its DICOMweb plugin (installed from Debian's packages when missing) on loopback
ports in a temporary folder, loads the same data into both, runs every scenario in
rounds alternately (openpacs, Orthanc, openpacs, ...), prints one JSON line per scenario
and server, then writes ``latest.md`` (the table) and ``latest.jsonl`` into ``--out`` and
prints the table. Both servers are stopped and the temporary folder removed at the end.

``--profile NAME`` records the openpacs process with py-spy during that scenario's rounds
(``--profile-idle`` adds waiting threads) and writes ``profile-NAME.md`` with the top
functions; profiling slows openpacs, so its figures in that run are not comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import orthanc
from bench.harness import DICOM_JSON, Result, Target, check, run_clients
from bench.scenarios import FULL, QUICK, Bench, Scenario, log
from bench.servers import WORKERS, OpenpacsServer

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


# --------------------------------------------------------------------------- the table


def _figure(result: Result | None, figure: str) -> float | None:
    if result is None or not result.ok:
        return None
    if figure == "throughput":
        return result.throughput
    if figure == "rss":
        return result.peak_rss_mb
    return result.stats.get(f"{figure}_ms")


def _fmt(value: float | None, figure: str) -> str:
    if value is None:
        return "—"
    if figure == "throughput":
        return f"{value:.1f}/s"
    if figure == "rss":
        return f"{value:.0f} MB"
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def table(
    results: list[Result], scenarios: list[Scenario], header: list[str]
) -> tuple[str, list[dict[str, Any]]]:
    """The Markdown report, and one verdict per row that has a goal."""
    by_key = {(r.scenario, r.server): r for r in results}
    rows: list[tuple[str, str, str, float | None, bool]] = [
        (s.name, s.what, s.figure, s.target, False) for s in scenarios
    ]
    rows += [
        ("peak_rss_ingest", "server peak RSS during loads and STOW", "rss", 1.0, True),
        ("peak_rss_read", "server peak RSS during QIDO and WADO", "rss", None, False),
        ("peak_rss_overall", "server peak RSS over the whole run", "rss", None, False),
    ]
    present = {r.scenario for r in results}
    lines = [*header, ""]
    lines += [
        "| scenario | what | figure (better) | openpacs | Orthanc | ratio | goal | met |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    verdicts: list[dict[str, Any]] = []
    for name, what, figure, goal, strict in rows:
        if name not in present:
            continue
        higher = figure == "throughput"
        label = {
            "throughput": "instances/s (higher)",
            "p50": "p50 latency (lower)",
            "p95": "p95 latency (lower)",
            "rss": "peak RSS (lower)",
        }[figure]
        ours = by_key.get((name, "openpacs"))
        theirs = by_key.get((name, "orthanc"))
        a, b = _figure(ours, figure), _figure(theirs, figure)
        ratio = None
        if a and b:
            ratio = a / b if higher else b / a
        cells = []
        for result, value in ((ours, a), (theirs, b)):
            if result is not None and not result.ok:
                cells.append("FAIL")
            else:
                cells.append(_fmt(value, figure))
        goal_text = "—" if goal is None else (f">{goal:g}x" if strict else f"≥{goal:g}x")
        met = "—"
        if goal is not None:
            ok = ratio is not None and (ratio > goal if strict else ratio >= goal)
            met = "yes" if ok else "**no**"
            verdicts.append({"scenario": name, "ratio": ratio, "goal": goal_text, "met": ok})
        ratio_text = "—" if ratio is None else f"{ratio:.2f}x"
        lines.append(
            f"| {name} | {what} | {label} | {cells[0]} | {cells[1]} | {ratio_text} "
            f"| {goal_text} | {met} |"
        )
    lines += [
        "",
        "Ratio: openpacs relative to Orthanc, >1 means openpacs is better (for a "
        "'higher' figure openpacs/Orthanc, for a 'lower' one Orthanc/openpacs).",
        "",
        "### All figures",
        "",
        "| scenario | server | p50 ms | p95 ms | min ms | max ms | n | throughput | MB/s "
        "| server peak RSS MB | server CPU ms per instance or request |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        if result.peak_rss_mb is not None:
            continue
        if not result.ok:
            lines.append(f"| {result.scenario} | {result.server} | FAIL: {result.error} |||||||||")
            continue
        st = result.stats
        tp = result.throughput
        mbs = result.mb_per_s
        lines.append(
            f"| {result.scenario} | {result.server} | {st.get('p50_ms', 0):.1f} "
            f"| {st.get('p95_ms', 0):.1f} | {st.get('min_ms', 0):.1f} | {st.get('max_ms', 0):.1f} "
            f"| {len(result.latencies)} | {'' if tp is None else f'{tp:.1f} inst/s'} "
            f"| {'' if mbs is None else f'{mbs:.0f}'} "
            f"| {'' if result.scenario_rss_mb is None else f'{result.scenario_rss_mb:.0f}'} "
            f"| {'' if result.cpu_ms_per_item is None else f'{result.cpu_ms_per_item:.2f}'} |"
        )
    return "\n".join(lines) + "\n", verdicts


def header_lines(args: argparse.Namespace, started: float) -> list[str]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    mode = "quick (smoke sizes)" if args.quick else "full"
    return [
        f"# openpacs vs Orthanc — {mode}",
        "",
        f"- run: {when}, {time.monotonic() - started:.0f} s; machine: {os.cpu_count()} cores, "
        f"{cpu or platform.machine()}; Python {platform.python_version()}; load average "
        f"at the start {args.load_at_start}, at the end {load} (other work on the machine "
        "skews absolute figures; the alternation keeps the ratios fairer)",
        f"- Orthanc: {orthanc.version()} with Debian's DICOMweb plugin, built-in defaults",
        f"- openpacs: `python -m openpacs serve --workers {WORKERS}` (one process per core; "
        "otherwise the defaults: SQLite index + files)",
        "- client and servers share the machine; each figure is over all rounds, run "
        "alternately (openpacs, Orthanc, ...); every timed answer was verified.",
        f"- client: httpx, keep-alive pool, Accept-Encoding: "
        f"{'gzip, deflate' if args.gzip else 'identity'}",
    ]


# --------------------------------------------------------------------------- profiling


class Profiler:
    """py-spy on the openpacs process during chosen scenarios (raw collapsed stacks)."""

    def __init__(self, scenarios: set[str], out: Path, idle: bool) -> None:
        self.scenarios = scenarios
        self.out = out
        self.idle = idle
        found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(found).exists():
            raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
        self.exe = found
        self.process: subprocess.Popen[bytes] | None = None
        self.files: dict[str, list[Path]] = {}

    def before(self, scenario: Scenario, target: Target, rnd: int) -> None:
        if target.name != "openpacs" or scenario.name not in self.scenarios or not target.pid:
            return
        path = self.out / f"profile-{scenario.name}-r{rnd}.txt"
        self.files.setdefault(scenario.name, []).append(path)
        command = [self.exe, "record", "--pid", str(target.pid), "--format", "raw"]
        # --subprocesses: with --workers the requests are served by the parent's children.
        command += ["--rate", "200", "--subprocesses", "-o", str(path)]
        if self.idle:
            command.append("--idle")
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(1.0)  # let it attach

    def after(self, scenario: Scenario, target: Target, rnd: int) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def summaries(self) -> str:
        out = []
        for name, paths in self.files.items():
            text = summarize([p for p in paths if p.exists()], name)
            (self.out / f"profile-{name}.md").write_text(text)
            out.append(text)
        return "\n".join(out)


def _short(frame: str) -> str:
    """'func (path/to/module.py:12)' -> 'func (module.py)'; line numbers dropped."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file = where.rsplit(":", 1)[0]
    parts = Path(file).parts
    if "openpacs" in parts:
        file = "/".join(parts[parts.index("openpacs") :])
    else:
        file = "/".join(parts[-2:])
    return f"{name} ({file})"


def summarize(paths: list[Path], name: str, top: int = 20) -> str:
    """Top functions by own samples and by inclusive samples, from py-spy raw files."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_short(f) for f in stack.split(";") if f]
            if not frames:
                continue
            total += count
            own[frames[-1]] += count
            for frame in set(frames):
                inclusive[frame] += count
    lines = [f"## Profile of openpacs in {name} ({total} samples)", ""]
    if not total:
        return "\n".join([*lines, "no samples", ""])
    lines += ["Own time (the function itself):", "", "| % | function |", "|---:|---|"]
    for frame, count in own.most_common(top):
        lines.append(f"| {100 * count / total:.1f} | `{frame}` |")
    lines += ["", "Inclusive time (the function and what it calls), openpacs code:", ""]
    lines += ["| % | function |", "|---:|---|"]
    ours = [(f, c) for f, c in inclusive.most_common() if "openpacs/" in f]
    for frame, count in ours[:top]:
        lines.append(f"| {100 * count / total:.1f} | `{frame}` |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def warm_up(target: Target) -> None:
    """Authenticated searches on several connections at once before anything is timed:
    the first login on each server process (openpacs checks an argon2 hash, then caches
    it) is not what any scenario measures."""

    def search(_client: int) -> list[int]:
        response = target.get("/studies", DICOM_JSON, {"limit": "1"})
        return [response.status_code]

    codes, _seconds, errors = run_clients(target.max_connections, search)
    check(not errors, f"warm-up search failed: {errors[:1]}")
    check(all(code in (200, 204) for code in codes), f"warm-up search: HTTP {codes}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--only", choices=["openpacs", "orthanc"], help="run one server only")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    parser.add_argument(
        "--scenario", action="append", help="run only these scenarios or groups (stow, ...)"
    )
    parser.add_argument("--profile", action="append", default=[], help="py-spy this scenario")
    parser.add_argument("--profile-idle", action="store_true", help="py-spy --idle")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--gzip",
        action="store_true",
        help="send Accept-Encoding: gzip, deflate (default identity: no compressed answers)",
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    args.load_at_start = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = QUICK if args.quick else FULL
    work = Path(tempfile.mkdtemp(prefix="openpacs-bench-"))
    servers: list[Any] = []
    if args.only in (None, "openpacs"):
        servers.append(OpenpacsServer(work / "openpacs"))
    if args.only in (None, "orthanc"):
        servers.append(orthanc.OrthancServer(work / "orthanc"))
    profiler = Profiler(set(args.profile), args.out, args.profile_idle) if args.profile else None
    targets: list[Target] = []
    results: list[Result] = []
    jsonl = open(args.out / "latest.jsonl", "w")  # noqa: SIM115 - closed below
    try:
        for server in servers:
            log(f"starting {server.name}")
            target = server.start()
            if args.gzip:
                target.accept_encoding = "gzip, deflate"
            warm_up(target)
            targets.append(target)
        bench = Bench(
            targets,
            sizes,
            only=args.scenario,
            before=profiler.before if profiler else None,
            after=profiler.after if profiler else None,
        )

        def emit(result: Result) -> None:
            print(result.line(), flush=True)
            jsonl.write(result.line() + "\n")
            jsonl.flush()

        results = bench.run_all(emit)
        scenarios = bench.selected()
    finally:
        jsonl.close()
        for target in targets:
            target.close()
        for server in servers:
            server.stop()
        if not results:  # failed before any result: clean up now, the error follows
            _remove(work, args.keep)
    report, verdicts = table(results, scenarios, header_lines(args, started))
    if profiler is not None:
        profiles = profiler.summaries()
        (args.out / "profiles.md").write_text(profiles)
        report += "\n" + profiles
    (args.out / "latest.md").write_text(report)
    (args.out / "verdicts.json").write_text(json.dumps(verdicts, indent=2))
    print()
    print(report, flush=True)
    log(f"wrote {args.out / 'latest.md'}")
    _remove(work, args.keep)
    return 0 if all(r.ok for r in results) else 1


def _remove(work: Path, keep: bool) -> None:
    if keep:
        log(f"kept {work}")
    elif work.exists():
        log(f"removing {work}")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
