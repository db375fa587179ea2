"""The summary of ``openpacs retrieve`` at 80 columns: every folder and file it names is
printed whole, on a line of its own, and exists on disk exactly as printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from openpacs.cli.client_output import RENAMED_SHOWN, show_retrieve
from openpacs.client.results import RetrieveResult

STUDY_UID = "1.2.826.0.1.3680043.8.498.10293847561029384756102938475610293847561"
SERIES_UID = "1.2.826.0.1.3680043.8.498.56473829105647382910564738291056473829105"


def _retrieved(folder: Path, count: int) -> RetrieveResult:
    series = folder / STUDY_UID / SERIES_UID
    series.mkdir(parents=True)
    files = []
    for number in range(count):
        path = series / f"1.2.826.0.1.3680043.8.498.{number:040d}-2.dcm"
        path.write_bytes(b"x" * 10)
        files.append(path)
    return RetrieveResult(
        level="study",
        uid=STUDY_UID,
        directory=folder,
        files=files,
        bytes=10 * count,
        layout="uid",
        already_there=files[:1],
        renamed=files[1:],
    )


def test_every_printed_path_is_whole_and_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)
    result = _retrieved(tmp_path / "out", RENAMED_SHOWN + 3)
    show_retrieve(result, as_json=False)
    lines = capsys.readouterr().out.splitlines()
    assert all(line == line.rstrip() for line in lines), lines
    paths = [line.strip() for line in lines if line.startswith("  ") and "..." not in line]
    assert len(paths) == 1 + RENAMED_SHOWN  # the folder, then the renamed files shown
    assert all(Path(path).exists() for path in paths), paths
    assert paths[0] == f"out/{STUDY_UID}/{SERIES_UID}/"
    assert paths[1:] == [str(p.relative_to(tmp_path)) for p in result.renamed[:RENAMED_SHOWN]]
    assert "  ... and 2 more" in lines[-1]  # one of the 8 was already there
    sentences = [line for line in lines if not line.startswith("  ")]
    assert all(len(line) <= 80 for line in sentences), sentences
