"""``openpacs serve``, recording who first imports the packages a server loads only in the
background (see openpacs/web/warm_up.py): one line per package, the importing thread and
our frames on its stack, appended to ``$OPENPACS_TEST_IMPORT_LOG`` at once (the server is
stopped from outside). The background warm-up is switched off, so that every such import
a request needs is seen, and the DICOM node too (``OPENPACS_DICOM_PORT=0``).

    python tests/support/import_probe.py   (as ``python -m openpacs serve``)
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import threading
import traceback
from collections.abc import Sequence
from types import ModuleType

WATCHED = ("pydicom", "numpy", "PIL", "pynetdicom")
LOG = os.environ["OPENPACS_TEST_IMPORT_LOG"]


def _importing() -> bool:
    """An import statement, not a look-up (``importlib.util.find_spec``, as
    openpacs/dicom/dictionary.py does to find pydicom's files without importing it):
    the import machinery's frames between the caller and this finder say which."""
    machinery = []
    for frame in reversed(traceback.extract_stack()[:-2]):  # without _importing, find_spec
        if not frame.filename.startswith("<frozen importlib"):
            break
        machinery.append(frame.name)
    return "_find_and_load" in machinery


class _Recorder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name in WATCHED and name not in sys.modules and _importing():
            ours = [
                f"{frame.filename.rsplit('/src/', 1)[-1]}:{frame.lineno}"
                for frame in traceback.extract_stack()
                if "/openpacs/" in frame.filename
            ]
            with open(LOG, "a", encoding="utf-8") as log:
                thread = threading.current_thread().name
                log.write(f"{name} on {thread} from {' <- '.join(reversed(ours))}\n")
        return None  # the import goes on as usual


def main() -> int:
    sys.meta_path.insert(0, _Recorder())
    import openpacs.web.warm_up
    from openpacs.cli.main import main as openpacs_main

    openpacs.web.warm_up.DEFERRED_MODULES = ()  # type: ignore[misc]
    return openpacs_main(["serve", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
