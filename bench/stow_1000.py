"""Store 1,000 synthetic 512x512 16-bit CT instances into a fresh openpacs (SQLite default):
once as one request of 1,000 parts (streamed), once as 1,000 requests of one instance.

    .venv/bin/python -m bench.stow_1000 [--count 1000]

Prints one JSON line per mode with instances/s and MB/s; every instance must be reported
stored, or the run fails.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import httpx

from bench.dataset import make_instance, study_specs
from bench.servers import OpenpacsServer

BOUNDARY = "openpacs-bench-1000"
HEADERS = {"Content-Type": f"multipart/related; type=application/dicom; boundary={BOUNDARY}"}


def _part(data: bytes) -> bytes:
    return f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data + b"\r\n"


def _stored(response: httpx.Response) -> int:
    response.raise_for_status()
    return len(response.json().get("00081199", {}).get("Value", []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="openpacs-stow1000-") as tmp:
        server = OpenpacsServer(Path(tmp) / "openpacs")
        target = server.start()
        try:
            with httpx.Client(auth=target.auth, timeout=600) as client:
                for mode in ("one request", "one per request"):
                    specs = list(
                        study_specs(
                            args.count // 100, instances_per_series=100, seed=f"stow1000-{mode}"
                        )
                    )
                    total = sum(len(make_instance(s)) for s in specs[:1]) * len(specs)
                    started = time.perf_counter()
                    if mode == "one request":
                        # Generating the files costs the client time too: measure it apart.
                        parts = [_part(make_instance(s)) for s in specs]
                        started = time.perf_counter()
                        stored = _stored(
                            client.post(
                                f"{target.root}/studies",
                                content=iter([*parts, f"--{BOUNDARY}--\r\n".encode()]),
                                headers=HEADERS,
                            )
                        )
                    else:
                        parts = [_part(make_instance(s)) for s in specs]
                        started = time.perf_counter()
                        stored = sum(
                            _stored(
                                client.post(
                                    f"{target.root}/studies",
                                    content=part + f"--{BOUNDARY}--\r\n".encode(),
                                    headers=HEADERS,
                                )
                            )
                            for part in parts
                        )
                    elapsed = time.perf_counter() - started
                    assert stored == len(specs), f"{mode}: {stored} of {len(specs)} stored"
                    print(
                        json.dumps(
                            {
                                "mode": mode,
                                "instances": stored,
                                "seconds": round(elapsed, 2),
                                "instances_per_s": round(stored / elapsed, 1),
                                "MB_per_s": round(total / elapsed / 1e6, 1),
                            }
                        )
                    )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
