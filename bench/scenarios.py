"""The named benchmark scenarios and the loop that runs them on one or more targets.

Every scenario runs in rounds; each round's data is made once and used for every target
in turn (openpacs, Orthanc, openpacs, ...), so both servers get identical requests. The
timed part of a request ends when the last byte of the answer has been read; the answer
is verified afterwards (outside the timing) against the data the harness generated.

Groups, in the order they run:

* small - the small reads a viewer makes, on a 5-study archive stored first
  (``bench/small_reads.py``): rendered JPEG, thumbnail, one frame, one instance, a
  5-instance series' metadata, QIDO /studies, a 5-instance study. Figure: p50.
* load  - the data the read scenarios need: 10,000 one-instance studies of 64x64 (4
  clients, 50 instances per request), one study of 2 series x 100 CT instances of
  512x512, and one instance of 100 frames of 512x512. Reported, not compared.
* stow  - 512x512 16-bit CT instances, fresh UIDs every round: 1 or 50 instances per
  request, 1 or 4 concurrent clients. Figure: instances stored per second.
* qido  - searches over the 10,000 studies: PatientID, PatientName prefix, a StudyDate
  year with limit=50, the series of a study, the instances of a series. Figure: p95.
* wado  - whole study (200 instances), one instance, study and series metadata, one
  frame, one frame of the 100-frame instance, a rendered JPEG. Figure: p50.
* cstore, cfind - the DICOM network node (``bench/dimse.py``): storescu of 1,000 CT
  files on 1 and 4 associations (instances/s); C-FIND STUDY by Patient ID and by Patient
  Name prefix over the 10,000 studies (p95).
"""

from __future__ import annotations

import io
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import orjson
from PIL import Image

from bench.dataset import (
    SURNAMES,
    InstanceSpec,
    frame_bytes,
    make_instance,
    study_specs,
)
from bench.dimse import cfind_scenarios, cstore_scenarios
from bench.harness import (
    DICOM,
    DICOM_JSON,
    OCTETS,
    CheckFailed,
    MemorySampler,
    Result,
    RoundResult,
    Target,
    check,
    expect_status,
    json_values,
    multipart_body,
    run_clients,
    server_cpu_seconds,
    sop_uid_of,
    split_multipart,
    timed,
)
from bench.small_reads import small_scenarios

STUDY_UID, SERIES_UID, SOP_UID = "0020000D", "0020000E", "00080018"
STUDY_DATE = "00080020"
#: Surnames without spaces or accents: PatientName prefixes that every server matches alike.
PLAIN_SURNAMES = [i for i, name in enumerate(SURNAMES) if name.isascii() and " " not in name]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Sizes:
    # Rounds long enough (about half a second and more) that a hiccup of the shared
    # machine does not decide a ratio.
    stow_rounds: int = 5
    single_requests: int = 80  # 1-instance requests per round (split over the clients)
    batch: int = 50  # instances per request in the batch scenarios
    batch_requests_1: int = 4  # 50-instance requests per round, 1 client
    batch_requests_4: int = 8  # 50-instance requests per round, 4 clients
    qido_studies: int = 10_000
    load_clients: int = 4
    qido_rounds: int = 3
    qido_queries: int = 20  # per round and scenario
    wado_series: int = 2
    wado_per_series: int = 100
    multiframe_frames: int = 100
    wado_rounds: int = 3
    study_retrieves: int = 4  # per round
    small_repeats: int = 20  # one instance, one frame (per round)
    metadata_repeats: int = 5
    other_repeats: int = 10  # multi-frame frame, rendered
    cstore_instances: int = 1000  # per round, on 1 or split over 4 associations
    cstore_rounds: int = 2
    small_rounds: int = 3
    small_reads: int = 40  # per round and small-read scenario


FULL = Sizes()
QUICK = Sizes(
    stow_rounds=2,
    single_requests=8,
    batch=20,
    batch_requests_1=1,
    batch_requests_4=4,
    qido_studies=600,
    qido_rounds=2,
    qido_queries=8,
    wado_series=2,
    wado_per_series=10,
    multiframe_frames=20,
    wado_rounds=2,
    study_retrieves=2,
    small_repeats=6,
    metadata_repeats=3,
    other_repeats=4,
    cstore_instances=80,
    cstore_rounds=1,
    small_rounds=2,
    small_reads=8,
)


# --------------------------------------------------------------------------- data


def _make(job: tuple[InstanceSpec, int]) -> bytes:
    return make_instance(job[0], seed=job[1])


class Generator:
    """Makes instances in a small process pool (the servers idle while data is made)."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def make(self, specs: Sequence[InstanceSpec], seed: int = 0) -> list[bytes]:
        jobs = [(spec, seed + i) for i, spec in enumerate(specs)]
        if len(jobs) < 64:
            return [_make(job) for job in jobs]
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(max_workers=2, mp_context=context)
        return list(self._pool.map(_make, jobs, chunksize=32))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


@dataclass
class StudyInfo:
    patient_id: str
    patient_name: str
    study_date: str
    series: dict[str, list[str]] = field(default_factory=dict)  # series UID -> SOP UIDs


class Universe:
    """Every study the harness stored (on every target): the oracle of the searches."""

    def __init__(self) -> None:
        self.studies: dict[str, StudyInfo] = {}

    def add(self, specs: Iterable[InstanceSpec]) -> None:
        for spec in specs:
            info = self.studies.setdefault(
                spec.study_uid, StudyInfo(spec.patient_id, spec.patient_name, spec.study_date)
            )
            info.series.setdefault(spec.series_uid, []).append(spec.sop_uid)

    def where(self, predicate: Callable[[StudyInfo], bool]) -> set[str]:
        return {uid for uid, info in self.studies.items() if predicate(info)}


# --------------------------------------------------------------------------- scenarios


@dataclass
class Scenario:
    name: str
    group: str  # load, stow, qido, wado
    what: str  # one line for the README and the table
    rounds: int
    prepare: Callable[[int], Any]  # round -> that round's data, shared by the targets
    run: Callable[[Target, Any], RoundResult]
    warmup: Callable[[Target, Any], None] | None = None
    item_unit: str = ""  # "instances" where throughput applies
    figure: str = "p50"  # the figure compared: "throughput", "p50" or "p95"
    target: float | None = None  # ratio openpacs/Orthanc (>1 better) that the goal asks for
    cleanup: Callable[[Any], None] | None = None  # round data -> None, after every target


@dataclass
class _StowRequest:
    body: bytes
    sops: list[str]


def _check_stow(response: httpx.Response, sops: list[str]) -> None:
    expect_status(response, 200)
    answer = orjson.loads(response.content)
    failed = answer.get("00081198", {}).get("Value", [])
    check(not failed, f"STOW: {len(failed)} failed instances")
    items = answer.get("00081199", {}).get("Value", [])
    stored = sorted(json_values(items, "00081155"))
    check(stored == sorted(sops), f"STOW: {len(stored)} referenced SOPs for {len(sops)} sent")


def stow_run(target: Target, per_client: list[list[_StowRequest]]) -> RoundResult:
    """Each client sends its requests in order; all clients start together."""

    def work(index: int) -> list[tuple[float, httpx.Response, _StowRequest]]:
        out = []
        for request in per_client[index]:
            response, seconds = timed(lambda r=request: target.stow(r.body))
            out.append((seconds, response, request))
        return out

    done, wall, errors = run_clients(len(per_client), work)
    if errors:
        raise errors[0]
    for _, response, request in done:
        _check_stow(response, request.sops)
    sent = sum(len(r.sops) for client in per_client for r in client)
    nbytes = sum(len(r.body) for client in per_client for r in client)
    return RoundResult([seconds for seconds, _, _ in done], sent, nbytes, wall)


#: One GET of a read scenario: (path below the root, Accept, verify); verify returns the
#: items the answer holds (instances, images) or fails the scenario.
GetRequest = tuple[str, str, Callable[[httpx.Response], int]]


def get_scenario(
    name: str,
    group: str,
    what: str,
    rounds: int,
    repeats: int,
    request: Callable[[random.Random], GetRequest],
    *,
    figure: str = "p50",
    target: float | None = None,
    unit: str = "",
) -> Scenario:
    """A read scenario: ``repeats`` GETs per round made by ``request(rng)``, one client,
    one after the other; every answer verified after the round."""

    def prepare(rnd: int) -> list[GetRequest]:
        rng = random.Random(f"{name}-{rnd}")
        return [request(rng) for _ in range(repeats)]

    def run(target_: Target, requests: list[GetRequest]) -> RoundResult:
        done = []
        start = time.perf_counter()
        for path, accept, _ in requests:
            response, seconds = timed(lambda p=path, a=accept: target_.get(p, a))
            done.append((seconds, response))
        wall = time.perf_counter() - start
        items = nbytes = 0
        for (_, response), (_, _, verify) in zip(done, requests, strict=True):
            items += verify(response)
            nbytes += len(response.content)
        return RoundResult([s for s, _ in done], items, nbytes, wall)

    def warmup(target_: Target, requests: list[GetRequest]) -> None:
        path, accept, _ = requests[0]
        target_.get(path, accept)

    return Scenario(name, group, what, rounds, prepare, run, warmup, unit, figure, target)


def dicom_parts(data: dict[str, bytes], expected: list[str]) -> Callable[[httpx.Response], int]:
    def verify(response: httpx.Response) -> int:
        expect_status(response, 200)
        parts = split_multipart(response)
        check(len(parts) == len(expected), f"{len(parts)} parts, {len(expected)} due")
        seen = set()
        for _, content in parts:
            sop = sop_uid_of(content)
            check(sop in data, f"unexpected instance {sop}")
            check(content == data[sop], f"instance {sop}: bytes differ")
            seen.add(sop)
        check(seen == set(expected), "the parts are not the instances due")
        return len(parts)

    return verify


def metadata_items(expected: list[str], study: str) -> Callable[[httpx.Response], int]:
    def verify(response: httpx.Response) -> int:
        expect_status(response, 200)
        items = orjson.loads(response.content)
        check(isinstance(items, list), "metadata is not a JSON list")
        sops = json_values(items, SOP_UID)
        check(sorted(sops) == sorted(expected), f"{len(sops)} items, {len(expected)} due")
        check(set(json_values(items, STUDY_UID)) == {study}, "wrong StudyInstanceUID")
        return len(items)

    return verify


def frame_part(expected: bytes) -> Callable[[httpx.Response], int]:
    def verify(response: httpx.Response) -> int:
        expect_status(response, 200)
        parts = split_multipart(response)
        check(len(parts) == 1, f"{len(parts)} parts for one frame")
        check(parts[0][1] == expected, f"frame: {len(parts[0][1])} bytes, not the frame")
        return 1

    return verify


def jpeg_image(
    width: int, height: int, *, at_most: bool = False
) -> Callable[[httpx.Response], int]:
    """A single JPEG image of this size (``at_most``: no side larger)."""

    def verify(response: httpx.Response) -> int:
        expect_status(response, 200)
        ctype = response.headers.get("content-type", "")
        check(ctype.startswith("image/jpeg"), f"image: Content-Type {ctype!r}")
        image = Image.open(io.BytesIO(response.content))
        check(image.format == "JPEG", f"image: {image.format}, not JPEG")
        fits = image.size[0] <= width and image.size[1] <= height
        check(fits if at_most else image.size == (width, height), f"image: size {image.size}")
        return 1

    return verify


def instance_path(spec: InstanceSpec) -> str:
    return f"/studies/{spec.study_uid}/series/{spec.series_uid}/instances/{spec.sop_uid}"


class Bench:
    """All scenarios over one or more targets, with memory sampling by phase."""

    def __init__(
        self,
        targets: list[Target],
        sizes: Sizes,
        *,
        only: Sequence[str] | None = None,
        before: Callable[[Scenario, Target, int], None] | None = None,
        after: Callable[[Scenario, Target, int], None] | None = None,
    ) -> None:
        self.targets = targets
        self.sizes = sizes
        self.only = set(only or ())
        self.before = before
        self.after = after
        self.universe = Universe()
        self.generator = Generator()
        # Filled by the loads.
        self.index_specs: list[InstanceSpec] = []
        self.wado_specs: list[InstanceSpec] = []
        self.wado_data: dict[str, bytes] = {}  # SOP UID -> Part-10 bytes
        self.multiframe: tuple[InstanceSpec, bytes] | None = None
        self.failed_loads: dict[str, set[str]] = {}  # target -> failed load names

    # ------------------------------------------------------------------ scenario list

    def scenarios(self) -> list[Scenario]:
        z = self.sizes
        stow = [
            self._stow("stow_1inst_1client", 1, 1, z.single_requests),
            self._stow("stow_1inst_2clients", 1, 2, z.single_requests // 2),
            self._stow("stow_1inst_4clients", 1, 4, z.single_requests // 4),
            self._stow("stow_50inst_1client", z.batch, 1, z.batch_requests_1),
            self._stow("stow_50inst_4clients", z.batch, 4, z.batch_requests_4 // 4),
        ]
        loads = [self._load_index(), self._load_wado()]
        dicom = [*cstore_scenarios(self), *cfind_scenarios(self)]
        small = small_scenarios(self)
        return [*small, *loads, *stow, *self._qido(), *self._wado(), *dicom]

    def selected(self) -> list[Scenario]:
        every = self.scenarios()
        if not self.only:
            return every
        unknown = self.only - {s.name for s in every} - {s.group for s in every}
        if unknown:
            raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
        chosen = [s for s in every if s.name in self.only or s.group in self.only]
        groups = {s.group for s in chosen}
        need = set()
        if groups & {"qido", "cfind"}:
            need.add("load_index_64x64")
        if "wado" in groups:
            need.add("load_wado_study")
        if "small" in groups:
            need.add("load_small_archive")
        return [s for s in every if s in chosen or s.name in need]

    # ------------------------------------------------------------------ loads

    def _load_index(self) -> Scenario:
        z = self.sizes

        def prepare(_: int) -> list[list[_StowRequest]]:
            log(f"making {z.qido_studies} studies of one 64x64 instance")
            specs = list(study_specs(z.qido_studies, seed="bench-index", rows=64, columns=64))
            data = self.generator.make(specs)
            self.index_specs = specs
            self.universe.add(specs)
            per_client: list[list[_StowRequest]] = [[] for _ in range(z.load_clients)]
            for n, start in enumerate(range(0, len(specs), 50)):
                chunk = range(start, min(start + 50, len(specs)))
                request = _StowRequest(
                    multipart_body(data[i] for i in chunk), [specs[i].sop_uid for i in chunk]
                )
                per_client[n % z.load_clients].append(request)
            return per_client

        return Scenario(
            "load_index_64x64",
            "load",
            f"load {z.qido_studies} studies of one 64x64 instance "
            f"({z.load_clients} clients, 50 per request)",
            1,
            prepare,
            stow_run,
            item_unit="instances",
            figure="throughput",
            target=1.2,  # issue 20: small instances, a new study each
        )

    def _load_wado(self) -> Scenario:
        z = self.sizes

        def prepare(_: int) -> list[list[_StowRequest]]:
            n = z.wado_series * z.wado_per_series
            log(f"making a study of {n} CT instances and one of {z.multiframe_frames} frames")
            specs = list(
                study_specs(
                    1,
                    series_per_study=z.wado_series,
                    instances_per_series=z.wado_per_series,
                    seed="bench-wado",
                    patient_offset=700_000,
                )
            )
            data = self.generator.make(specs)
            base = next(iter(study_specs(1, seed="bench-multiframe", patient_offset=700_001)))
            multi = replace(base, frames=z.multiframe_frames)
            multi_data = make_instance(multi, seed=7)
            self.wado_specs = specs
            self.wado_data = {spec.sop_uid: d for spec, d in zip(specs, data, strict=True)}
            self.multiframe = (multi, multi_data)
            self.universe.add([*specs, multi])
            requests = [
                _StowRequest(
                    multipart_body(data[i : i + 50]), [s.sop_uid for s in specs[i : i + 50]]
                )
                for i in range(0, len(specs), 50)
            ]
            requests.append(_StowRequest(multipart_body([multi_data]), [multi.sop_uid]))
            return [requests]

        return Scenario(
            "load_wado_study",
            "load",
            f"load a study of {z.wado_series}x{z.wado_per_series} CT 512x512 and one "
            f"{z.multiframe_frames}-frame instance (1 client, 50 per request)",
            1,
            prepare,
            stow_run,
            item_unit="instances",
            figure="throughput",
        )

    # ------------------------------------------------------------------ STOW

    def _stow(self, name: str, per_request: int, clients: int, requests: int) -> Scenario:
        z = self.sizes
        offset = {1: 800_000, 2: 805_000, 4: 810_000}[clients] + (0 if per_request == 1 else 20_000)

        def prepare(rnd: int) -> list[list[_StowRequest]]:
            # One study per client and round, sent in order: what a modality does.
            specs = list(
                study_specs(
                    clients,
                    instances_per_series=requests * per_request,
                    seed=f"bench-{name}-{rnd}",
                    patient_offset=offset + rnd * clients,
                )
            )
            data = self.generator.make(specs, seed=1000 * rnd)
            self.universe.add(specs)
            per_client: list[list[_StowRequest]] = []
            per_study = requests * per_request
            for c in range(clients):
                mine = range(c * per_study, (c + 1) * per_study)
                chunks = [mine[i : i + per_request] for i in range(0, per_study, per_request)]
                per_client.append(
                    [
                        _StowRequest(
                            multipart_body(data[i] for i in chunk),
                            [specs[i].sop_uid for i in chunk],
                        )
                        for chunk in chunks
                    ]
                )
            return per_client

        noun = "instance" if per_request == 1 else "instances"
        return Scenario(
            name,
            "stow",
            f"STOW {per_request} CT 512x512 {noun} per request, {clients} client(s), "
            f"{clients * requests} requests per round",
            z.stow_rounds,
            prepare,
            stow_run,
            item_unit="instances",
            figure="throughput",
            target=1.5,  # issue 20
        )

    # ------------------------------------------------------------------ QIDO

    def _qido(self) -> list[Scenario]:
        z = self.sizes
        u = self.universe

        def studies_answer(response: httpx.Response) -> list[dict[str, Any]]:
            expect_status(response, 200, 204)
            if response.status_code == 204 or not response.content.strip():
                return []
            answer = orjson.loads(response.content)
            check(isinstance(answer, list), "QIDO answer is not a JSON list")
            return list(answer)

        def make(
            name: str,
            what: str,
            query: Callable[[random.Random], tuple[str, dict[str, str], Callable[[Any], None]]],
        ) -> Scenario:
            def prepare(rnd: int) -> list[tuple[str, dict[str, str], Callable[[Any], None]]]:
                rng = random.Random(f"{name}-{rnd}")
                return [query(rng) for _ in range(z.qido_queries)]

            def run(target: Target, queries: list[Any]) -> RoundResult:
                done = []
                start = time.perf_counter()
                for path, params, _ in queries:
                    response, seconds = timed(lambda p=path, q=params: target.get(p, DICOM_JSON, q))
                    done.append((seconds, response))
                wall = time.perf_counter() - start
                for (_, response), (_, _, verify) in zip(done, queries, strict=True):
                    verify(studies_answer(response))
                return RoundResult([s for s, _ in done], wall=wall)

            def warmup(target: Target, queries: list[Any]) -> None:
                path, params, _ = queries[0]
                target.get(path, DICOM_JSON, params)

            return Scenario(name, "qido", what, z.qido_rounds, prepare, run, warmup, "", "p95", 1.0)

        def exact_set(tag: str, expected: set[str], label: str) -> Callable[[Any], None]:
            def verify(items: list[dict[str, Any]]) -> None:
                got = json_values(items, tag)
                check(len(got) == len(set(got)), f"{label}: duplicate answers")
                check(set(got) == expected, f"{label}: {len(got)} answers, {len(expected)} due")

            return verify

        def patients() -> int:
            return max(1, len(self.index_specs) // 2)

        def by_id(rng: random.Random) -> tuple[str, dict[str, str], Callable[[Any], None]]:
            pid = f"PAT{rng.randrange(patients()):06d}"
            due = u.where(lambda i: i.patient_id == pid)
            return "/studies", {"PatientID": pid}, exact_set(STUDY_UID, due, f"PatientID={pid}")

        def by_name(rng: random.Random) -> tuple[str, dict[str, str], Callable[[Any], None]]:
            while True:  # a patient whose surname every server matches alike
                patient = rng.randrange(patients())
                surname_index = patient % len(SURNAMES)
                if surname_index in PLAIN_SURNAMES:
                    break
            surname = SURNAMES[surname_index]
            prefix = f"{surname}{patient:05d}"[: len(surname) + 3]
            due = u.where(lambda i: i.patient_name.startswith(prefix))
            return (
                "/studies",
                {"PatientName": prefix + "*"},
                exact_set(STUDY_UID, due, f"PatientName={prefix}*"),
            )

        def by_year(rng: random.Random) -> tuple[str, dict[str, str], Callable[[Any], None]]:
            year = rng.randrange(2015, 2025)
            low, high = f"{year}0101", f"{year}1231"
            due = u.where(lambda i: low <= i.study_date <= high)

            def verify(items: list[dict[str, Any]]) -> None:
                got = json_values(items, STUDY_UID)
                label = f"StudyDate={low}-{high}&limit=50"
                check(len(got) == min(50, len(due)), f"{label}: {len(got)} answers")
                check(len(set(got)) == len(got), f"{label}: duplicate answers")
                check(set(got) <= due, f"{label}: studies outside the range")

            return "/studies", {"StudyDate": f"{low}-{high}", "limit": "50"}, verify

        def series_of(rng: random.Random) -> tuple[str, dict[str, str], Callable[[Any], None]]:
            spec = rng.choice(self.index_specs)
            due = set(u.studies[spec.study_uid].series)
            path = f"/studies/{spec.study_uid}/series"
            return path, {}, exact_set(SERIES_UID, due, path)

        def instances_of(rng: random.Random) -> tuple[str, dict[str, str], Callable[[Any], None]]:
            spec = rng.choice(self.index_specs)
            due = set(u.studies[spec.study_uid].series[spec.series_uid])
            path = f"/studies/{spec.study_uid}/series/{spec.series_uid}/instances"
            return path, {}, exact_set(SOP_UID, due, path)

        n = f"{z.qido_studies} studies"
        return [
            make("qido_patient_id", f"QIDO /studies?PatientID= (exact), {n}", by_id),
            make("qido_patient_name_prefix", f"QIDO /studies?PatientName=Smith001*, {n}", by_name),
            make("qido_study_date_year", f"QIDO StudyDate=YYYY range&limit=50, {n}", by_year),
            make("qido_series_of_study", f"QIDO /studies/{{uid}}/series, {n}", series_of),
            make(
                "qido_instances_of_series",
                f"QIDO /studies/{{uid}}/series/{{uid}}/instances, {n}",
                instances_of,
            ),
        ]  # fmt: skip

    # ------------------------------------------------------------------ WADO

    def _wado(self) -> list[Scenario]:
        z = self.sizes

        def make(name: str, what: str, repeats: int, request: Any, **options: Any) -> Scenario:
            return get_scenario(name, "wado", what, z.wado_rounds, repeats, request, **options)

        def study(_: random.Random) -> GetRequest:
            first = self.wado_specs[0]
            sops = [s.sop_uid for s in self.wado_specs]
            return f"/studies/{first.study_uid}", DICOM, dicom_parts(self.wado_data, sops)

        def one_instance(rng: random.Random) -> GetRequest:
            spec = rng.choice(self.wado_specs)
            return instance_path(spec), DICOM, dicom_parts(self.wado_data, [spec.sop_uid])

        def study_meta(_: random.Random) -> GetRequest:
            first = self.wado_specs[0]
            sops = [s.sop_uid for s in self.wado_specs]
            path = f"/studies/{first.study_uid}/metadata"
            return path, DICOM_JSON, metadata_items(sops, first.study_uid)

        def series_meta(rng: random.Random) -> GetRequest:
            spec = rng.choice(self.wado_specs)
            sops = [s.sop_uid for s in self.wado_specs if s.series_uid == spec.series_uid]
            path = f"/studies/{spec.study_uid}/series/{spec.series_uid}/metadata"
            return path, DICOM_JSON, metadata_items(sops, spec.study_uid)

        def one_frame(rng: random.Random) -> GetRequest:
            spec = rng.choice(self.wado_specs)
            expected = frame_bytes(spec, self.wado_data[spec.sop_uid], 1)
            return instance_path(spec) + "/frames/1", OCTETS, frame_part(expected)

        def multi_frame(rng: random.Random) -> GetRequest:
            assert self.multiframe is not None
            spec, data = self.multiframe
            number = rng.randrange(1, spec.frames + 1)
            path = f"{instance_path(spec)}/frames/{number}"
            return path, OCTETS, frame_part(frame_bytes(spec, data, number))

        def rendered(rng: random.Random) -> GetRequest:
            spec = rng.choice(self.wado_specs)
            path = instance_path(spec) + "/rendered"
            return path, "image/jpeg", jpeg_image(spec.columns, spec.rows)

        n = len(self.wado_specs) or z.wado_series * z.wado_per_series
        per = z.wado_per_series
        f = z.multiframe_frames
        return [
            make("wado_study", f"WADO whole study, {n} CT 512x512 (multipart DICOM)",
                 z.study_retrieves, study, target=1.0, unit="instances"),
            make("wado_instance", "WADO one instance (multipart DICOM)", z.small_repeats,
                 one_instance),
            make("wado_study_metadata", f"WADO study metadata ({n} instances)",
                 z.metadata_repeats, study_meta, target=3.0),
            make("wado_series_metadata", f"WADO series metadata ({per} instances)",
                 z.metadata_repeats, series_meta, target=3.0),
            make("wado_frame", "WADO frames/1 of a 512x512 instance", z.small_repeats, one_frame),
            make("wado_frame_multiframe", f"WADO one frame of a {f}-frame 512x512 instance",
                 z.other_repeats, multi_frame),
            make("wado_rendered", "WADO rendered JPEG of a 512x512 instance", z.other_repeats,
                 rendered),
        ]  # fmt: skip

    # ------------------------------------------------------------------ the loop

    def run_scenario(
        self, scenario: Scenario, samplers: dict[str, MemorySampler] | None = None
    ) -> list[Result]:
        samplers = samplers or {}
        results = {
            t.name: Result(scenario.name, t.name, item_unit=scenario.item_unit)
            for t in self.targets
        }
        for sampler in samplers.values():
            sampler.open("scenario")
        for rnd in range(scenario.rounds):
            data = scenario.prepare(rnd)
            for target in self.targets:
                result = results[target.name]
                if not result.ok:
                    continue
                started = time.perf_counter()
                try:
                    if rnd == 0 and scenario.warmup is not None:
                        scenario.warmup(target, data)
                    # Write back what earlier rounds left in the page cache, so that no
                    # server pays in its round for another's deferred writes.
                    os.sync()
                    if self.before is not None:
                        self.before(scenario, target, rnd)
                    cpu_before = server_cpu_seconds(target.pid) if target.pid else None
                    try:
                        measured = scenario.run(target, data)
                        cpu_after = server_cpu_seconds(target.pid) if target.pid else None
                        cpu = None
                        if cpu_before is not None and cpu_after is not None:
                            cpu = cpu_after - cpu_before
                        result.add(measured, cpu)
                    finally:
                        if self.after is not None:
                            self.after(scenario, target, rnd)
                except CheckFailed as exc:
                    result.fail(str(exc))
                except httpx.HTTPError as exc:
                    result.fail(f"{type(exc).__name__}: {exc}")
                status = "ok" if result.ok else f"FAILED: {result.error}"
                log(
                    f"{scenario.name} round {rnd + 1}/{scenario.rounds} {target.name}: "
                    f"{time.perf_counter() - started:.1f}s {status}"
                )
            if scenario.cleanup is not None:
                scenario.cleanup(data)
            del data
        for name, sampler in samplers.items():
            results[name].scenario_rss_mb = sampler.peak_mb("scenario")
        return list(results.values())

    def run_all(self, emit: Callable[[Result], None]) -> list[Result]:
        samplers = {t.name: MemorySampler(t.pid).start() for t in self.targets if t.pid}
        out: list[Result] = []

        def memory(name: str, window: str | None) -> None:
            for target in self.targets:
                if target.name in samplers:
                    result = Result(name, target.name)
                    sampler = samplers[target.name]
                    result.peak_rss_mb = sampler.peak_mb(window) if window else sampler.overall_mb()
                    out.append(result)
                    emit(result)

        def run(scenarios: list[Scenario], window: str) -> None:
            for sampler in samplers.values():
                sampler.open(window)
            for scenario in scenarios:
                for result in self.run_scenario(scenario, samplers):
                    out.append(result)
                    emit(result)

        try:
            chosen = self.selected()
            # The small reads first: their archive must hold only their own 5 studies.
            small = [s for s in chosen if s.group == "small"]
            ingest = [s for s in chosen if s.group in ("load", "stow", "cstore")]
            reads = [s for s in chosen if s.group not in ("small", "load", "stow", "cstore")]
            if small:
                run(small, "small")
            if ingest:
                run(ingest, "ingest")
                memory("peak_rss_ingest", "ingest")
            if reads:
                run(reads, "read")
                memory("peak_rss_read", "read")
            memory("peak_rss_overall", None)
        finally:
            for sampler in samplers.values():
                sampler.stop()
            self.generator.close()
        return out
