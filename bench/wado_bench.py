"""WADO-RS speed and memory over HTTP against a real server.

Starts a server on a fresh data directory, loads synthetic data through STOW-RS (the real
write path), then measures, printing one JSON line per scenario on stdout:

* ``study_retrieve``: a 400-instance CT study (512x512, 16-bit, ~0.5 MB per file) as
  multipart/related application/dicom, read as fast as the client can; throughput in
  MB/s, and the server's resident memory (psutil RSS of the server process, sampled
  every 10 ms during the retrieve) before and at peak.
* ``study_zip``: the same study as ``accept=application/zip``.
* ``series_metadata``: ``/metadata`` of a 1,000-instance series (64x64 instances),
  latency p50/p95, with and without gzip.
* ``frame``: one frame of a 100-frame 512x512 instance (uncompressed, read by byte
  range), latency p50/p95; ``frame_rendered``: the same frame as JPEG.

    .venv/bin/python -m bench.wado_bench [--study-instances 400] [--series-instances 1000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx
import psutil
from tests.support.server import ServerProcess

from bench.dataset import InstanceSpec, det_uid, make_instance

BOUNDARY = "openpacs-bench-boundary"
MB = 1_000_000


def specs(tag: str, count: int, *, rows: int, frames: int = 1) -> list[InstanceSpec]:
    return [
        InstanceSpec(
            patient_id=f"BENCH-{tag}",
            patient_name=f"Bench^{tag}",
            study_uid=det_uid("wado-bench", tag, "study"),
            series_uid=det_uid("wado-bench", tag, "series"),
            sop_uid=det_uid("wado-bench", tag, "sop", i),
            study_date="20240101",
            accession=f"WB{tag[:12]}",
            modality="CT",
            instance_number=i + 1,
            rows=rows,
            columns=rows,
            frames=frames,
        )
        for i in range(count)
    ]


def stow(client: httpx.Client, url: str, files: Iterable[bytes]) -> None:
    def body() -> Iterable[bytes]:
        for data in files:
            yield f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            yield data
            yield b"\r\n"
        yield f"--{BOUNDARY}--\r\n".encode()

    response = client.post(
        url + "/studies",
        content=body(),
        headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
        },
    )
    if response.status_code != 200:
        raise RuntimeError(f"STOW failed: {response.status_code} {response.text[:300]}")


def load(client: httpx.Client, url: str, items: list[InstanceSpec], batch: int = 50) -> None:
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        stow(client, url, (make_instance(s, seed=i) for i, s in enumerate(chunk, start)))


class RssSampler:
    """Peak resident memory of a process, sampled in a background thread."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def timed(runs: int, call: Callable[[], int]) -> tuple[list[float], int]:
    call()  # warm-up (connection, caches)
    times, size = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        size = call()
        times.append((time.perf_counter() - began) * 1000)
    return times, size


def emit(record: dict[str, object]) -> None:
    print(json.dumps(record), flush=True)


def drain(client: httpx.Client, url: str, **headers: str) -> int:
    total = 0
    with client.stream("GET", url, headers=headers) as response:
        response.raise_for_status()
        for chunk in response.iter_raw(1 << 20):
            total += len(chunk)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study-instances", type=int, default=400)
    parser.add_argument("--series-instances", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="study retrieves")
    parser.add_argument("--latency-runs", type=int, default=30)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="openpacs-wado-bench-") as tmp:
        server = ServerProcess(Path(tmp)).start()
        try:
            account = server.create_account("wadobench")
            assert server.process is not None
            pid = server.process.pid
            with httpx.Client(auth=account.auth, timeout=600) as client:
                started = time.perf_counter()
                study = specs("study", args.study_instances, rows=512)
                series = specs("series", args.series_instances, rows=64)
                multi = specs("multiframe", 1, rows=512, frames=args.frames)
                load(client, server.dicomweb, study)
                load(client, server.dicomweb, series, batch=250)
                load(client, server.dicomweb, multi)
                print(f"loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)

                study_url = f"{server.dicomweb}/studies/{study[0].study_uid}"
                baseline = psutil.Process(pid).memory_info().rss
                for scenario, headers in (
                    ("study_retrieve", {}),
                    ("study_zip", {"Accept": "application/zip"}),
                ):
                    rates, size = [], 0
                    with RssSampler(pid) as sampler:
                        for _ in range(args.runs):
                            began = time.perf_counter()
                            size = drain(client, study_url, **headers)
                            rates.append(size / MB / (time.perf_counter() - began))
                    emit(
                        {
                            "scenario": scenario,
                            "instances": len(study),
                            "bytes": size,
                            "runs": args.runs,
                            "mb_per_s_median": round(statistics.median(rates), 1),
                            "mb_per_s_best": round(max(rates), 1),
                            "server_rss_before_mb": round(baseline / MB, 1),
                            "server_rss_peak_mb": round(sampler.peak / MB, 1),
                        }
                    )

                s0 = series[0]
                meta_url = (
                    f"{server.dicomweb}/studies/{s0.study_uid}/series/{s0.series_uid}/metadata"
                )
                for encoding in ("identity", "gzip"):
                    times, size = timed(
                        args.latency_runs,
                        lambda enc=encoding: drain(client, meta_url, **{"Accept-Encoding": enc}),  # type: ignore[misc]
                    )
                    emit(
                        {
                            "scenario": "series_metadata",
                            "instances": len(series),
                            "encoding": encoding,
                            "bytes_on_wire": size,
                            "p50_ms": round(percentile(times, 0.5), 1),
                            "p95_ms": round(percentile(times, 0.95), 1),
                        }
                    )

                m0 = multi[0]
                inst = (
                    f"{server.dicomweb}/studies/{m0.study_uid}/series/{m0.series_uid}"
                    f"/instances/{m0.sop_uid}"
                )
                middle = args.frames // 2
                for scenario, url in (
                    ("frame", f"{inst}/frames/{middle}"),
                    ("frame_rendered", f"{inst}/frames/{middle}/rendered"),
                ):
                    times, size = timed(args.latency_runs, lambda u=url: drain(client, u))  # type: ignore[misc]
                    emit(
                        {
                            "scenario": scenario,
                            "frames_in_instance": args.frames,
                            "bytes": size,
                            "p50_ms": round(percentile(times, 0.5), 1),
                            "p95_ms": round(percentile(times, 0.95), 1),
                        }
                    )
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
