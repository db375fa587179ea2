"""What an upload says: numbers that add up (bar, summary, exit line), a rate only once
it means something, singular and plural, and where a 404 points."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.progress import Progress

from openpacs.cli.client_common import describe
from openpacs.cli.client_output import upload_summary
from openpacs.cli.client_progress import SteadyRateColumn
from openpacs.client.errors import NoDicomFilesError, NotFoundError
from openpacs.client.local_files import Candidate
from openpacs.client.results import FileResult, UploadResult
from openpacs.client.upload import plan_upload


def test_the_summary_adds_up_to_every_file_found() -> None:
    files = [
        *(FileResult(Path(f"s{n}"), "stored", size=1000) for n in range(30)),
        FileResult(Path("a"), "already_stored", size=1000),
        *(FileResult(Path(f"f{n}"), "failed", reason="bad", size=1000) for n in range(6)),
        FileResult(Path("unreadable"), "failed", reason="cannot read", sent=False),
        FileResult(Path("notes.txt"), "skipped", reason="a text file", sent=False),
        FileResult(Path("DICOMDIR"), "skipped", reason="a DICOMDIR", sent=False),
    ]
    outcome, transfer = upload_summary(UploadResult(files, elapsed=2.0, requests=4))
    assert outcome == (
        "Stored 30 files (30.0 kB); 1 already stored; 7 failed; 2 skipped (not DICOM): "
        "40 files in all."
    )
    assert transfer.startswith("Sent 37 files (37.0 kB) in 2.0 s, ")
    assert transfer.endswith(", 4 requests; 1 failed before sending.")


def test_the_progress_counts_every_file_found(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "a.dcm").write_bytes(b"\0" * 128 + b"DICM")
    plan = plan_upload(
        [Candidate(tmp_path / "notes.txt", False), Candidate(tmp_path / "a.dcm", True)]
    )
    counter = plan.progress_counter(132, lambda f, t, _b, _bt: seen.append((f, t)))
    counter.add(files=1, nbytes=132)
    assert seen == [(2, 2)]  # the skipped file was done from the start


@pytest.mark.parametrize(
    ("others", "words"), [(1, "(1 other file skipped)"), (2, "(2 other files")]
)
def test_no_dicom_files_says_file_or_files(tmp_path: Path, others: int, words: str) -> None:
    found = []
    for n in range(others):
        (tmp_path / f"n{n}.txt").write_text("text")
        found.append(Candidate(tmp_path / f"n{n}.txt", False))
    with pytest.raises(NoDicomFilesError) as raised:
        plan_upload(found, "scans")
    assert words in str(raised.value)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_no_rate_before_a_second_and_a_megabyte() -> None:
    clock = Clock()
    progress = Progress(get_time=clock)
    task_id = progress.add_task("Uploading", total=10**10)
    column = SteadyRateColumn()
    clock.now = 0.001
    progress.update(task_id, completed=1_500_000)  # socket buffers filled at memory speed
    assert column.render(progress.tasks[0]).plain == "-- B/s"
    clock.now = 2.0
    progress.update(task_id, completed=20_000_000)
    assert column.render(progress.tasks[0]).plain == "10.0 MB/s"
    progress.update(task_id, total=400_000, completed=400_000)  # a small upload, done
    assert column.render(progress.tasks[0]).plain == "200.0 kB/s"


def test_a_404_at_the_server_root_points_at_the_dicomweb_root() -> None:
    message, code = describe(NotFoundError("nope", status=404), "http://pacs.example:8080/")
    assert code == 1 and "e.g. http://host:8080/dicomweb?" in message
