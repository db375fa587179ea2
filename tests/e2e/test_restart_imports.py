"""A restarted server answers without loading pydicom, NumPy or Pillow for a request.

They are up to a third of a start ("a restarted server must answer within 1 s") and load
in the background after the first answers (web/warm_up.py); with the DICOM node on,
pydicom loads as the node starts, on its thread, or with workers in the parent before
they are forked (cli/serve.py). Here a server is
restarted on an archive with the background loading switched off
(tests/support/import_probe.py records who imports them), and the requests a client
makes first after a restart are served: none of them may load those packages. A study
retrieve does, and the probe sees that, so a probe that recorded nothing would be caught.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess, TestAccount
from tests.support.stow import stow_files

PROBE = Path(__file__).resolve().parents[1] / "support" / "import_probe.py"
CT = "deid-data__ctbrain1.dcm"


@pytest.fixture
def archive(tmp_path: Path, corpus_dir: Path) -> tuple[Path, TestAccount, str]:
    """An archive with one study, written by a server that has then stopped."""
    server = ServerProcess(tmp_path / "data").start()
    try:
        account = server.create_account()
        stored = stow_files(server.dicomweb, account.auth, [corpus_dir / CT])
        assert stored.status_code == 200, stored.text
        study = stored.json()["00081190"]["Value"][0].split("/studies/")[-1]
    finally:
        server.stop()
    return tmp_path / "data", account, study


FIRST_REQUESTS = (
    "/healthz",
    "/dicomweb/studies",
    "/dicomweb/studies?StudyInstanceUID={study}&includefield=all",
    "/dicomweb/studies/{study}/series",
    "/dicomweb/studies/{study}/instances",
    "/dicomweb/studies/{study}/metadata",
    "/openapi.json",
    "/signin",
)


def _restarted(data_dir: Path, imports: Path, dicom: bool, workers: int = 1) -> ServerProcess:
    server = ServerProcess(
        data_dir,
        env={"OPENPACS_TEST_IMPORT_LOG": str(imports)},
        args=("--workers", str(workers)) if workers > 1 else (),
        launcher=(str(PROBE),),
    )
    if not dicom:
        server.env["OPENPACS_DICOM_PORT"] = "0"
    return server.start()


def _recorded(imports: Path) -> list[str]:
    return imports.read_text().splitlines() if imports.exists() else []


def _ask_first_requests(client: httpx.Client, study: str) -> None:
    for path in FIRST_REQUESTS:
        answer = client.get(path.format(study=study))
        assert answer.status_code == 200, (path, answer.text[:200])
    assert study in client.get("/dicomweb/studies").text


def test_the_first_answers_after_a_restart_load_no_pixel_code(
    archive: tuple[Path, TestAccount, str], tmp_path: Path
) -> None:
    data_dir, account, study = archive
    imports = tmp_path / "imports.log"
    server = _restarted(data_dir, imports, dicom=False)
    try:
        with httpx.Client(base_url=server.url, auth=account.auth, timeout=30) as client:
            _ask_first_requests(client, study)
            assert _recorded(imports) == [], "loaded by a first request"

            # A retrieve decides what it can transcode to: the first use of pydicom.
            retrieve = client.get(f"/dicomweb/studies/{study}", headers={"Accept": "*/*"})
            assert retrieve.status_code == 200
            assert any(line.startswith("pydicom on ") for line in _recorded(imports))
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("workers", "loader"),
    [
        (1, "pydicom on openpacs-attach from "),  # the node's thread, beside the app
        (2, "pydicom on MainThread from openpacs/cli/serve.py:"),  # the parent, once
    ],
)
def test_with_the_dicom_node_pydicom_loads_as_it_starts_and_requests_load_nothing(
    archive: tuple[Path, TestAccount, str], tmp_path: Path, workers: int, loader: str
) -> None:
    data_dir, account, study = archive
    imports = tmp_path / "imports.log"
    server = _restarted(data_dir, imports, dicom=True, workers=workers)
    try:
        with httpx.Client(base_url=server.url, auth=account.auth, timeout=30) as client:
            _ask_first_requests(client, study)
        recorded = _recorded(imports)
        assert any(line.startswith(loader) for line in recorded), recorded
        # Each line names its thread and our innermost frame first: the parent's load
        # before forking, or the node's thread starting; never a request's handler.
        elsewhere = [
            line
            for line in recorded
            if " on openpacs-attach from " not in line
            and " from openpacs/cli/serve.py:" not in line.split(" <- ")[0]
        ]
        assert elsewhere == [], "loaded by a first request"
    finally:
        server.stop()
