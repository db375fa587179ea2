"""Chromium's own timings of a page's requests, from the DevTools network events that the
performance log of ``tests/support/browser.chrome`` holds.

For each request: when it was sent, Chromium's ``ResourceTiming`` of its response
(``requestTime`` in seconds, then ``sendStart``, ``sendEnd`` and ``receiveHeadersEnd`` in
ms after it) and when its last byte arrived (``Network.loadingFinished``). From them:

* ``waiting_ms``: request sent to the first byte of the answer (the server's work, on
  loopback nearly all of it: DevTools' "Waiting for server response");
* ``request_ms``: request sent to the last byte received (the server's work and the
  transfer of the body), what the request costs the page once the browser sends it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fetch:
    url: str
    will_be_sent: float  # DevTools timestamp, s (the clock of requestTime and finished)
    timing: dict[str, float] = field(default_factory=dict)
    finished: float = 0.0  # the last byte, s (0: not yet)
    from_cache: bool = False  # answered by the browser's cache: no server involved

    @property
    def done(self) -> bool:
        return self.finished > 0 and bool(self.timing)

    @property
    def sent(self) -> float:
        """When the request went out, in ms on the DevTools clock."""
        return self.timing["requestTime"] * 1000 + self.timing["sendStart"]

    @property
    def waiting_ms(self) -> float:
        return self.timing["receiveHeadersEnd"] - self.timing["sendEnd"]

    @property
    def request_ms(self) -> float:
        return self.finished * 1000 - self.sent


@dataclass
class NetworkLog:
    """The page's requests by DevTools request id, filled by :meth:`read` (each read
    drains the browser's log, so the log object keeps what it has seen)."""

    driver: Any  # selenium's Chrome driver (its get_log is Chromium's own)
    fetches: dict[str, Fetch] = field(default_factory=dict)

    def read(self) -> NetworkLog:
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            self._take(message["method"], message["params"])
        return self

    def _take(self, method: str, params: dict[str, Any]) -> None:
        request_id = params.get("requestId", "")
        if method == "Network.requestWillBeSent":
            # A redirect sends the same id again: the last request is the one answered.
            self.fetches[request_id] = Fetch(params["request"]["url"], params["timestamp"])
            return
        fetch = self.fetches.get(request_id)
        if fetch is None:
            return
        if method == "Network.responseReceived":
            response = params["response"]
            fetch.timing = dict(response.get("timing") or {})
            fetch.from_cache = bool(
                response.get("fromDiskCache") or response.get("fromServiceWorker")
            )
        elif method == "Network.requestServedFromCache":
            fetch.from_cache = True
        elif method == "Network.loadingFinished":
            fetch.finished = params["timestamp"]

    def finished(self, contains: str) -> list[Fetch]:
        """Finished requests whose URL contains ``contains``, in the order they were sent."""
        found = [f for f in self.fetches.values() if contains in f.url and f.done]
        return sorted(found, key=lambda f: f.will_be_sent)
