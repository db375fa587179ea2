"""Read a DICOMDIR with pydicom's FileSet, the way a viewer reading a patient CD would."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydicom import dcmread
from pydicom.fileset import FileSet


@contextmanager
def read_file_set(dicomdir: Path) -> Iterator[FileSet]:
    """The file set of ``dicomdir``.

    pydicom's FileSet makes a staging TemporaryDirectory (for changes to the set) and
    leaves it to the garbage collector, which warns (a ResourceWarning, an error in this
    suite, raised in whatever test runs then). Reading needs no staging: remove it here.
    """
    file_set = FileSet(dcmread(dicomdir))
    try:
        yield file_set
    finally:
        stage = getattr(file_set, "_stage", {}).get("t")  # pydicom 3.0 internals
        if isinstance(stage, tempfile.TemporaryDirectory):
            stage.cleanup()
