"""Progress bars (rich) for upload and retrieve: files, bytes, rate and time left.

Shown on stderr, and only when stderr is a terminal; otherwise the callbacks do nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from openpacs.cli.client_output import stderr_console

#: A rate is shown once this much time has passed and this many bytes have gone: the
#: first chunks fill socket buffers at memory speed (``1.5 GB/s`` at 0 files otherwise).
RATE_AFTER_SECONDS = 1.0
RATE_AFTER_BYTES = 1_000_000


class SteadyRateColumn(ProgressColumn):
    """Bytes per second, averaged since the start, and only once it means something (or
    at the end)."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        early = elapsed < RATE_AFTER_SECONDS or task.completed < RATE_AFTER_BYTES
        if elapsed <= 0 or (early and not task.finished):
            return Text("-- B/s", style="progress.data.speed")
        return Text(f"{decimal(int(task.completed / elapsed))}/s", style="progress.data.speed")


class Bar:
    """A callback ``(files_done, files_total, bytes_done, bytes_total)`` drawing a bar."""

    def __init__(self, progress: Progress | None, task: TaskID | None, files_total: int) -> None:
        self._progress = progress
        self._task = task
        self._files_total = files_total

    def __call__(
        self, files_done: int, files_total: int, bytes_done: int, bytes_total: int
    ) -> None:
        if self._progress is None or self._task is None:
            return
        total_files = files_total or self._files_total
        label = f"{files_done}/{total_files} files" if total_files else f"{files_done} files"
        self._progress.update(
            self._task,
            completed=bytes_done,
            total=bytes_total or None,
            files=label,
        )


def wanted(enabled: bool = True) -> bool:
    return enabled and sys.stderr.isatty()


@contextmanager
def progress_bar(description: str, files_total: int, enabled: bool = True) -> Iterator[Bar]:
    if not wanted(enabled):
        yield Bar(None, None, files_total)
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[files]}"),
        DownloadColumn(),
        SteadyRateColumn(),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=False,
    )
    label = f"0/{files_total} files" if files_total else "0 files"
    with progress:
        task = progress.add_task(description, total=None, files=label)
        yield Bar(progress, task, files_total)
        done = progress.tasks[0]
        if done.total is None:  # size was unknown: show the bar full at the end
            progress.update(task, total=max(done.completed, 1), completed=max(done.completed, 1))


__all__ = ["Bar", "progress_bar", "wanted"]
