"""The DIMSE scenarios: C-STORE with dcmtk's storescu, C-FIND with pynetdicom.

* cstore - ``storescu`` of N CT 512x512 files (fresh UIDs every round) on one
  association, and the same number split over 4 ``storescu`` processes (associations)
  at once. Timed: from the start of the processes to the end of the last one. Figure:
  instances/s. Afterwards every instance must be in the server (QIDO: the study's
  Number of Study Related Instances), or the scenario fails.
* cfind - C-FIND STUDY (Study Root) by Patient ID and by Patient Name prefix over the
  10,000 studies of the QIDO load, on one pynetdicom association per round. Timed: from
  the request to the final response. Figure: p95. Every answer's set of Study Instance
  UIDs must be the expected one.

Each server gets the bench's calling AE title as a known peer: an equipment of the bench
account on openpacs, a ``DicomModalities`` entry on Orthanc (see servers.py, orthanc.py).
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydicom.dataset import Dataset
from pynetdicom import AE, evt

from bench.dataset import SURNAMES, study_specs
from bench.harness import DICOM_JSON, RoundResult, Target, check, expect_status

if TYPE_CHECKING:
    from bench.scenarios import Bench, Scenario

#: The calling AE title of the bench's DICOM clients (registered on both servers).
BENCH_AE = "BENCHSCU"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
_STORESCU = "/usr/bin/storescu"  # dcmtk's, not the pynetdicom command of the venv


def storescu() -> str:
    """dcmtk's storescu (installed by ``make test``, like the DIMSE tests need it)."""
    if Path(_STORESCU).exists():
        return _STORESCU
    found = shutil.which("storescu")
    if found is None or ".venv" in found:
        raise SystemExit("dcmtk's storescu is not installed: apt-get install dcmtk")
    return found


def cstore_scenarios(bench: Bench) -> list[Scenario]:
    from bench.scenarios import Scenario

    z = bench.sizes

    def make(name: str, associations: int) -> Scenario:
        def prepare(rnd: int) -> tuple[Path, list[list[Path]], dict[str, int]]:
            count = z.cstore_instances
            specs = list(
                study_specs(
                    associations,
                    instances_per_series=count // associations,
                    seed=f"bench-{name}-{rnd}",
                    patient_offset=900_000 + 10 * rnd + associations * 1000,
                )
            )
            data = bench.generator.make(specs, seed=5000 * rnd)
            bench.universe.add(specs)  # the searches that follow may find these studies
            folder = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
            per_association: list[list[Path]] = [[] for _ in range(associations)]
            studies: dict[str, int] = {}
            for n, (spec, content) in enumerate(zip(specs, data, strict=True)):
                path = folder / f"{n:05d}.dcm"
                path.write_bytes(content)
                per_association[n // (count // associations)].append(path)
                studies[spec.study_uid] = studies.get(spec.study_uid, 0) + 1
            return folder, per_association, studies

        def run(target: Target, data: tuple[Path, list[list[Path]], dict[str, int]]) -> RoundResult:
            check(target.dicom is not None, f"{target.name} has no DICOM port")
            assert target.dicom is not None
            port, called = target.dicom
            _folder, per_association, studies = data
            start = time.perf_counter()
            processes = [
                subprocess.Popen(
                    [storescu(), "-aet", BENCH_AE, "-aec", called, "127.0.0.1", str(port),
                     *map(str, paths)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                for paths in per_association
            ]  # fmt: skip
            errors = [p.communicate()[1] for p in processes]
            wall = time.perf_counter() - start
            for process, error in zip(processes, errors, strict=True):
                check(process.returncode == 0, f"storescu failed: {error[-500:]!r}")
            for study_uid, due in studies.items():
                response = target.get(
                    "/studies",
                    DICOM_JSON,
                    {"StudyInstanceUID": study_uid, "includefield": "00201208"},
                )
                expect_status(response, 200)
                items = orjson.loads(response.content)
                got = items[0].get("00201208", {}).get("Value", [0])[0] if items else 0
                check(int(got) == due, f"C-STORE: {got} of {due} instances in study")
            sent = sum(len(paths) for paths in per_association)
            nbytes = sum(p.stat().st_size for paths in per_association for p in paths)
            return RoundResult([wall], sent, nbytes, wall)

        def cleanup(data: tuple[Path, list[list[Path]], dict[str, int]]) -> None:
            shutil.rmtree(data[0], ignore_errors=True)

        label = "association" if associations == 1 else "associations at once"
        return Scenario(
            name,
            "cstore",
            f"storescu of {z.cstore_instances} CT 512x512 files on {associations} {label}",
            z.cstore_rounds,
            prepare,
            run,
            item_unit="instances",
            figure="throughput",
            target=1.5,
            cleanup=cleanup,
        )

    return [make("cstore_1assoc", 1), make("cstore_4assoc", 4)]


def cfind_scenarios(bench: Bench) -> list[Scenario]:
    from bench.scenarios import PLAIN_SURNAMES, Scenario

    z = bench.sizes
    u = bench.universe

    def patients() -> int:
        return max(1, len(bench.index_specs) // 2)

    def by_id(rng: random.Random) -> tuple[dict[str, str], set[str]]:
        pid = f"PAT{rng.randrange(patients()):06d}"
        return {"PatientID": pid}, u.where(lambda i: i.patient_id == pid)

    def by_name(rng: random.Random) -> tuple[dict[str, str], set[str]]:
        while True:
            patient = rng.randrange(patients())
            if patient % len(SURNAMES) in PLAIN_SURNAMES:
                break
        surname = SURNAMES[patient % len(SURNAMES)]
        prefix = f"{surname}{patient:05d}"[: len(surname) + 3]
        due = u.where(lambda i: i.patient_name.startswith(prefix))
        return {"PatientName": prefix + "*"}, due

    def make(
        name: str, what: str, query: Callable[[random.Random], tuple[dict[str, str], set[str]]]
    ) -> Scenario:
        def prepare(rnd: int) -> list[tuple[dict[str, str], set[str]]]:
            rng = random.Random(f"{name}-{rnd}")
            return [query(rng) for _ in range(z.qido_queries)]

        def run(target: Target, queries: list[tuple[dict[str, str], set[str]]]) -> RoundResult:
            check(target.dicom is not None, f"{target.name} has no DICOM port")
            assert target.dicom is not None
            port, called = target.dicom
            ae = AE(ae_title=BENCH_AE)
            ae.add_requested_context(STUDY_ROOT_FIND)
            assoc = ae.associate(
                "127.0.0.1", port, ae_title=called, evt_handlers=[(evt.EVT_CONN_OPEN, _no_delay)]
            )
            check(assoc.is_established, f"{target.name}: C-FIND association not accepted")
            latencies: list[float] = []
            start = time.perf_counter()
            try:
                for keys, due in queries:
                    identifier = _identifier(keys)
                    began = time.perf_counter()
                    found, final = _find(assoc, identifier)
                    latencies.append(time.perf_counter() - began)
                    check(final == 0, f"C-FIND {keys}: final status 0x{final:04X}")
                    check(len(found) == len(set(found)), f"C-FIND {keys}: duplicate answers")
                    check(set(found) == due, f"C-FIND {keys}: {len(found)} answers, {len(due)} due")
            finally:
                assoc.release()
                ae.shutdown()
            return RoundResult(latencies, wall=time.perf_counter() - start)

        return Scenario(name, "cfind", what, z.qido_rounds, prepare, run, None, "", "p95", 5.0)

    n = f"{z.qido_studies} studies"
    return [
        make("cfind_patient_id", f"C-FIND STUDY PatientID= (exact), {n}", by_id),
        make("cfind_patient_name_prefix", f"C-FIND STUDY PatientName=Smith001*, {n}", by_name),
    ]


def _no_delay(event: evt.Event) -> None:
    """The client's TCP_NODELAY: otherwise Nagle's algorithm holds the C-FIND request's
    data set until the server acknowledges its command (up to 40 ms), for both servers."""
    event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _identifier(keys: dict[str, str]) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = ""
    ds.PatientName = ""
    ds.PatientID = ""
    ds.StudyDate = ""
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def _find(assoc: Any, identifier: Dataset) -> tuple[list[str], int]:
    found: list[str] = []
    final = -1
    for status, answer in assoc.send_c_find(identifier, STUDY_ROOT_FIND):
        code = int(status.Status) if "Status" in status else -1
        if code in (0xFF00, 0xFF01) and answer is not None:
            found.append(str(answer.StudyInstanceUID))
        else:
            final = code
    return found, final
