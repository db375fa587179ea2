"""The modules a server loads after it answers: the DICOM parser and the pixel code.

pydicom (with NumPy, its pixel handlers and the codecs' plugins), Pillow and the modules
built on them take about 200 ms to import, 30% of a start; a restarted server must answer
within 1 s. Nothing a search, a sign-in, a page or a metadata read needs imports them:
the dictionary comes from ``dicom/dictionary.py``, and the services import the parser,
the transcoder, the renderer and the DICOMDIR writer where they use them. This loads
them on the background thread that starts the DICOM node (``web/attachment.py``), after
the node, so the first upload or retrieve after a restart does not pay for them either.

``tests/unit/test_start_imports.py`` keeps the two sides honest: the server's modules
load without these packages, and every module of ours that needs them is listed here
(or is loaded by one that is) or belongs to the DICOM node.
"""

from __future__ import annotations

import gc
import importlib
import logging
import sys
from typing import Final

log = logging.getLogger("openpacs.app")

#: Loaded after the server answers, in this order.
DEFERRED_MODULES: Final = (
    "openpacs.dicom.ingest",
    "openpacs.dicom.coerce",
    "openpacs.dicom.transcode",
    "openpacs.dicom.render",
    "openpacs.dicom.dicomdir",
)


def warm_up() -> None:
    """Import the deferred modules; one that fails is logged (its first use will fail
    the same way, with the request's error handling). If it loaded anything, what is
    loaded is frozen, as before serving (``web/app.py`` ``settle_memory``): else every
    full pass of the cyclic collector walks these modules' objects again."""
    loaded = len(sys.modules)
    for name in DEFERRED_MODULES:
        try:
            importlib.import_module(name)
        except Exception:
            log.exception("could not load %s in the background", name)
    if len(sys.modules) > loaded:
        gc.freeze()
