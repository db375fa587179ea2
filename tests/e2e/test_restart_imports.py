"""A restarted server answers without pydicom, NumPy or Pillow.

They are a third of a start ("a restarted server must answer within 1 s"), and load in
the background once it answers (web/warm_up.py). Here a server is restarted on an archive
with the background loading switched off (tests/support/import_probe.py records who
imports them), and the requests a client makes first after a restart are served: none of
them may need those packages. A study retrieve does, and the probe sees that, so a probe
that recorded nothing would be caught.
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


def test_the_first_answers_after_a_restart_need_no_pixel_code(
    archive: tuple[Path, TestAccount, str], tmp_path: Path
) -> None:
    data_dir, account, study = archive
    imports = tmp_path / "imports.log"
    server = ServerProcess(
        data_dir,
        env={"OPENPACS_TEST_IMPORT_LOG": str(imports), "OPENPACS_DICOM_PORT": "0"},
        launcher=(str(PROBE),),
    ).start()
    try:
        with httpx.Client(base_url=server.url, auth=account.auth, timeout=30) as client:
            first = [
                "/healthz",
                "/dicomweb/studies",
                f"/dicomweb/studies?StudyInstanceUID={study}&includefield=all",
                f"/dicomweb/studies/{study}/series",
                f"/dicomweb/studies/{study}/instances",
                f"/dicomweb/studies/{study}/metadata",
                "/openapi.json",
                "/signin",
            ]
            for path in first:
                answer = client.get(path)
                assert answer.status_code == 200, (path, answer.text[:200])
            assert study in client.get("/dicomweb/studies").text
            recorded = imports.read_text() if imports.exists() else ""
            assert recorded == "", f"loaded by a first request:\n{recorded}"

            # A retrieve decides what it can transcode to: the first use of pydicom.
            retrieve = client.get(f"/dicomweb/studies/{study}", headers={"Accept": "*/*"})
            assert retrieve.status_code == 200
            assert "pydicom on " in imports.read_text()
    finally:
        server.stop()
