"""A task the server runs by itself on a daemon thread: first a while after the start,
then at a fixed interval, until closed. A failed run is logged and tried again next time
(the gc of stale reservations, the planner statistics)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("openpacs.periodic")

__all__ = ["Periodic"]


class Periodic:
    def __init__(
        self, name: str, task: Callable[[], object], *, first_after: float, interval: float
    ) -> None:
        self._task = task
        self._first_after = first_after
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"openpacs-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        wait = self._first_after
        while not self._stop.wait(wait):
            try:
                self._task()
            except Exception:
                log.warning("%s failed; trying again later", self._thread.name, exc_info=True)
            wait = self._interval
