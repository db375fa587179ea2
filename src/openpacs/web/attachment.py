"""What runs beside the app on the same services (the DICOM node), started in the
background so that it never delays the first HTTP answer; then, on the same thread, the
modules the first answers do not need (``web/warm_up.py``).

The DICOM node's imports (pynetdicom, and in one process pydicom with NumPy: see
cli/serve.py ``_load_for_the_dicom_node``) and set-up take 60-250 ms, a good part of a
restart's budget ("a restarted server answers within 1 s"). Its port is bound before the
app starts (``cli/preflight.py``), so a peer that connects meanwhile waits in the
listen backlog (or, with workers, in the worker's queue) and is served once the node is
up. If the node cannot start, the error is logged and HTTP goes on serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from openpacs.web.warm_up import collector_paused

if TYPE_CHECKING:
    from openpacs.web.context import AppContext

log = logging.getLogger("openpacs.app")

#: Something that runs beside the app on the same services: entered once the app has
#: started, left before the services close.
Attachment = Callable[["AppContext"], AbstractContextManager[Any]]


@contextmanager
def attached_in_background(
    attach: Attachment | None,
    ctx: AppContext,
    then: Callable[[threading.Event], None] = lambda _leaving: None,
) -> Iterator[None]:
    """Enter ``attach(ctx)`` (if any), then run ``then`` (given an event set when the app
    stops), on a thread of its own; on leaving, set the event, wait for the thread, then
    leave what it entered."""
    stack = ExitStack()
    leaving = threading.Event()

    def start() -> None:
        if attach is not None:
            try:
                with collector_paused():
                    stack.enter_context(attach(ctx))
            except Exception:
                log.exception("the DICOM node did not start; HTTP goes on without it")
        then(leaving)

    thread = threading.Thread(target=start, name="openpacs-attach", daemon=True)
    thread.start()
    try:
        yield
    finally:
        leaving.set()
        thread.join()
        stack.close()
