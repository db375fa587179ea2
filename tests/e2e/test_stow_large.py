"""A gigabyte upload streams through the server with bounded memory."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
from bench.dataset import study_specs

from tests.support.bigfile import big_instance_stream
from tests.support.server import ServerProcess
from tests.support.stow import BOUNDARY

# 2,048 frames of 512x512x16 bit = 1 GiB of pixel data (OPENPACS_TEST_BIG_FRAMES to change).
FRAMES = int(os.environ.get("OPENPACS_TEST_BIG_FRAMES", "2048"))


class PeakRss:
    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_1gb_request_raises_server_memory_by_less_than_100mb(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "big").start()
    try:
        account = server.create_account()
        # Warm up: the first request imports the DICOM stack and fills caches.
        [spec] = list(study_specs(1, seed="big", rows=512, columns=512))
        total, chunks = big_instance_stream(spec, 1)
        _post(server, account.auth, chunks)
        assert server.process is not None
        baseline = psutil.Process(server.process.pid).memory_info().rss
        [spec] = list(study_specs(1, seed="big-2", rows=512, columns=512))
        total, chunks = big_instance_stream(spec, FRAMES)
        with PeakRss(server.process.pid) as rss:
            started = time.perf_counter()
            response = _post(server, account.auth, chunks)
            elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text
        growth_mb = (rss.peak - baseline) / 2**20
        print(
            f"\n1 GB STOW: {total / 2**20:.0f} MiB in {elapsed:.1f} s "
            f"({total / 2**20 / elapsed:.0f} MiB/s), server RSS growth {growth_mb:.1f} MiB"
        )
        assert growth_mb < 100
        stored = list((server.data_dir / "blobs").glob("??/*.dcm"))
        assert max(p.stat().st_size for p in stored) == total
    finally:
        server.stop()


def _post(server: ServerProcess, auth: tuple[str, str], chunks: Iterator[bytes]) -> httpx.Response:
    def body() -> Iterator[bytes]:
        yield f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        yield from chunks
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    return httpx.post(
        server.dicomweb + "/studies",
        content=body(),
        headers={"Content-Type": f"multipart/related; type=application/dicom; boundary={BOUNDARY}"},
        auth=auth,
        timeout=300,
    )
