"""The modules a server loads after its first answers: the DICOM parser and pixel code.

pydicom (with NumPy, its pixel handlers and the codecs' plugins), Pillow and the modules
built on them take 100-200 ms to import, a fifth to a third of a start; a restarted
server must answer within 1 s. Nothing a search, a sign-in, a page or a metadata read
needs imports them: the dictionary comes from ``dicom/dictionary.py``, and the services
import the parser, the transcoder, the renderer and the DICOMDIR writer where they use
them. (The DICOM node loads pydicom as it starts, beside the app; with workers the
parent loads it before forking them: see cli/serve.py ``_load_for_the_dicom_node``.)

The rest loads here, on the node's background thread (``web/attachment.py``), once the
first answers are given: modules loading on one thread slow every other thread of the
process (they share one interpreter lock), and the clients of a restarted server come
back in its first second. An upload or a retrieve before then loads what it needs itself.

``tests/unit/test_warm_up.py`` checks that every module of ours that needs these
packages is listed here (or is loaded by one that is) or belongs to the DICOM node, and
``tests/e2e/test_restart_imports.py`` that the first requests after a restart need none.
"""

from __future__ import annotations

import gc
import importlib
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

log = logging.getLogger("openpacs.app")

#: How long after the app starts the modules load (unless it stops first).
WARM_UP_AFTER_SECONDS: Final = 2.0

#: Loaded after the server answers, in this order.
DEFERRED_MODULES: Final = (
    "openpacs.dicom.ingest",
    "openpacs.dicom.coerce",
    "openpacs.dicom.transcode",
    "openpacs.dicom.render",
    "openpacs.dicom.dicomdir",
)


def warm_up(leaving: threading.Event) -> None:
    """After ``WARM_UP_AFTER_SECONDS`` (none if ``leaving`` is set meanwhile), import the
    deferred modules; one that fails is logged (its first use will fail the same way,
    with the request's error handling). If that loaded anything, what is loaded is
    frozen, as before serving (``web/app.py`` ``settle_memory``): else every full pass of
    the cyclic collector walks these modules' objects again. (The objects of requests in
    flight at that moment are frozen with them, once: a few kilobytes at most.)"""
    if leaving.wait(WARM_UP_AFTER_SECONDS):
        return
    loaded = len(sys.modules)
    with collector_paused():
        for name in DEFERRED_MODULES:
            try:
                importlib.import_module(name)
            except Exception:
                log.exception("could not load %s in the background", name)
        if len(sys.modules) > loaded:
            gc.freeze()


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off while modules load on a background thread (the DICOM
    node's, the deferred ones): a few hundred thousand objects that live as long as the
    process, which its passes would walk again and again (see cli/main.py ``resolve``
    for the server's own)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
