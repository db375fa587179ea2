"""Opening a study in OHIF: the server's part (OHIF's own requests, replayed) and the
whole thing in headless Chromium, cold and warm. Not part of CI.

A fresh server (SQLite and files, one process unless ``--workers``) gets one CT study of
``--instances`` 512x512 16-bit images (200) through STOW-RS. Then, printing one JSON
line per measurement:

* ``server_open_study``: the requests OHIF 3.13 sends before it can draw the first image,
  in its order, over one keep-alive connection with the web application's session
  cookie, as OHIF's browser sends them (``Accept-Encoding: gzip``): the study QIDO with
  its ``includefield`` list (encoded commas), the series QIDO, the series metadata (all
  instances), and the first frame; then the next five frames as OHIF fetches them (in
  parallel, five connections). ``--rounds`` times: p50 and p95 of each step and of the
  chain; the first round is reported apart (``cold``: the server's first answers).
* ``chromium_open_study``: a real OHIF session (the installed bundle, headless
  Chromium): from asking for ``/viewer/viewer?StudyInstanceUIDs=...`` to the first image
  in the viewport, and to every frame of the series fetched; ``cold`` with an empty
  browser profile, ``warm`` when the same browser opens it again (its HTTP cache holds
  the bundle; the frames are fetched again).

    .venv/bin/python -m bench.ohif_bench [--instances 200] [--rounds 30] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from tests.support.browser import chrome, wait_for
from tests.support.ohif import require_ohif, viewport_state
from tests.support.server import ServerProcess, TestAccount
from tests.support.stow import stow

from bench.dataset import InstanceSpec, det_uid, make_instance

STUDY_FIELDS = "00081030,00080060,00080090,00100030"  # what OHIF's study QIDO includes
SERIES_FIELDS = "00080021,00080031,0008103E,00200011"


def study(count: int) -> list[InstanceSpec]:
    return [
        InstanceSpec(
            patient_id="OHIF-BENCH",
            patient_name="Bench^Ohif",
            study_uid=det_uid("ohif-bench", "study"),
            series_uid=det_uid("ohif-bench", "series"),
            sop_uid=det_uid("ohif-bench", "sop", i),
            study_date="20240101",
            accession="OHIFBENCH",
            modality="CT",
            instance_number=i + 1,
            rows=512,
            columns=512,
        )
        for i in range(count)
    ]


def load(server: ServerProcess, account: TestAccount, specs: list[InstanceSpec]) -> None:
    for start in range(0, len(specs), 50):
        files = [make_instance(s, seed=i) for i, s in enumerate(specs[start : start + 50])]
        response = stow(server.dicomweb, account.auth, files)
        assert response.status_code == 200, response.text


def signed_in(server: ServerProcess, account: TestAccount) -> httpx.Client:
    client = httpx.Client(
        base_url=server.url, timeout=60, headers={"Accept-Encoding": "gzip, deflate, br"}
    )
    answer = client.post("/signin", data={"email": account.email, "password": account.password})
    assert answer.status_code == 303, answer.text
    return client


def timed(step: Callable[[], httpx.Response], expect: int = 200) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = step()
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == expect, (response.status_code, response.text[:200])
    return elapsed, response


def open_study_once(
    client: httpx.Client, pool: list[httpx.Client], specs: list[InstanceSpec]
) -> dict[str, float]:
    s = specs[0]
    series = f"/dicomweb/studies/{s.study_uid}/series/{s.series_uid}"
    times: dict[str, float] = {}
    times["qido_study"], found = timed(
        lambda: client.get(
            "/dicomweb/studies",
            params={
                "limit": "101",
                "offset": "0",
                "fuzzymatching": "true",
                "includefield": STUDY_FIELDS,
                "StudyInstanceUID": s.study_uid,
            },
        )
    )
    assert len(found.json()) == 1
    times["qido_series"], _ = timed(
        lambda: client.get(
            f"/dicomweb/studies/{s.study_uid}/series", params={"includefield": SERIES_FIELDS}
        )
    )
    times["series_metadata"], metadata = timed(lambda: client.get(f"{series}/metadata"))
    assert metadata.headers.get("content-encoding") == "gzip"
    assert len(metadata.json()) == len(specs)
    accept = {"Accept": "multipart/related; type=application/octet-stream; transfer-syntax=*"}

    def frame(index: int, via: httpx.Client) -> httpx.Response:
        url = f"{series}/instances/{specs[index].sop_uid}/frames/1"
        return via.get(url, headers=accept)

    times["first_frame"], first = timed(lambda: frame(0, client))
    assert len(first.content) > 512 * 512 * 2
    times["chain"] = sum(times.values())
    started = time.perf_counter()
    with ThreadPoolExecutor(len(pool)) as executor:
        answers = list(executor.map(frame, range(1, 1 + len(pool)), pool))
    times["next_5_frames_parallel"] = (time.perf_counter() - started) * 1000
    assert all(a.status_code == 200 for a in answers)
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def server_part(
    server: ServerProcess, account: TestAccount, specs: list[InstanceSpec], rounds: int
) -> dict[str, Any]:
    client = signed_in(server, account)
    pool = [signed_in(server, account) for _ in range(5)]
    try:
        cold = open_study_once(client, pool, specs)
        runs = [open_study_once(client, pool, specs) for _ in range(rounds)]
    finally:
        for c in [client, *pool]:
            c.close()
    steps = list(cold)
    return {
        "scenario": "server_open_study",
        "instances": len(specs),
        "rounds": rounds,
        "cold_ms": {k: round(v, 1) for k, v in cold.items()},
        "p50_ms": {k: round(statistics.median([r[k] for r in runs]), 1) for k in steps},
        "p95_ms": {k: round(percentile([r[k] for r in runs], 0.95), 1) for k in steps},
    }


def browser_part(
    server: ServerProcess, account: TestAccount, specs: list[InstanceSpec]
) -> dict[str, Any]:
    from selenium.webdriver.common.by import By

    url = f"{server.url}/viewer/viewer?StudyInstanceUIDs={specs[0].study_uid}"
    results: dict[str, Any] = {"scenario": "chromium_open_study", "instances": len(specs)}
    with chrome(width=1400, height=900) as driver:
        driver.get(f"{server.url}/signin")
        driver.find_element(By.ID, "email").send_keys(account.email)
        driver.find_element(By.ID, "password").send_keys(account.password)
        driver.find_element(By.ID, "signin-submit").click()
        wait_for(lambda: "/orders" in driver.current_url or "/signin" not in driver.current_url)
        for label in ("cold", "warm"):
            driver.get_log("performance")  # drain
            driver.get("about:blank")
            started = time.perf_counter()
            driver.get(url)
            wait_for(lambda: viewport_state(driver), timeout=120, what="the first image")
            first = (time.perf_counter() - started) * 1000
            fetched: set[str] = set()
            pending: dict[str, str] = {}

            def all_frames(fetched: set[str] = fetched, pending: dict[str, str] = pending) -> bool:
                for entry in driver.get_log("performance"):
                    message = json.loads(entry["message"])["message"]
                    params = message["params"]
                    method = message["method"]
                    if method == "Network.requestWillBeSent":
                        if "/frames/" in params["request"]["url"]:
                            pending[params["requestId"]] = params["request"]["url"]
                    elif method == "Network.loadingFinished" and params["requestId"] in pending:
                        fetched.add(pending[params["requestId"]])
                return len(fetched) >= len(specs)

            wait_for(all_frames, timeout=300, what="every frame of the series")
            whole = (time.perf_counter() - started) * 1000
            results[label] = {"first_image_ms": round(first), "whole_series_ms": round(whole)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    if not args.no_browser:
        require_ohif()
    with tempfile.TemporaryDirectory(prefix="openpacs-ohif-bench-") as data:
        env = {"OPENPACS_WORKERS": str(args.workers), "OPENPACS_ACCESS_LOG": "false"}
        server = ServerProcess(Path(data), env=env).start()
        try:
            account = server.create_account()
            specs = study(args.instances)
            started = time.perf_counter()
            load(server, account, specs)
            print(
                json.dumps({"loaded": len(specs), "s": round(time.perf_counter() - started, 1)}),
                flush=True,
            )
            print(json.dumps(server_part(server, account, specs, args.rounds)), flush=True)
            if not args.no_browser:
                print(json.dumps(browser_part(server, account, specs)), flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
