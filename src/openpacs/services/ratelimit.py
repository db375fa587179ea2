"""Failed-attempt limiter against password guessing (share passwords, Basic auth).

A sliding window per key (for a share: the share and the client address; for Basic auth:
the user name): once ``limit`` failures fall within the last ``window`` seconds the key is
*blocked* until the oldest of those failures leaves the window. While blocked, callers
answer 429 with ``Retry-After`` and do not check the password at all, so a guesser learns
nothing more, not even from a right guess. A success clears the key.

The state is in memory and thread-safe (one lock). With several server processes
(``--workers``, or several machines behind a load balancer) each process keeps its own
window, so a client spread over N processes may try up to N x ``limit`` times per window;
put a proxy-level limit in front of a large deployment if that matters. A restart forgets
every window.

Memory is bounded: keys whose failures have all left the window are dropped in passing,
and at most ``max_keys`` keys are kept (the oldest are dropped first).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable

#: Defaults for both uses: 10 wrong passwords within 15 minutes.
FAILURE_LIMIT = 10
WINDOW_SECONDS = 15 * 60.0


class FailureLimiter:
    """Counts failures per key in a sliding window; see the module docstring."""

    def __init__(
        self,
        limit: int = FAILURE_LIMIT,
        window: float = WINDOW_SECONDS,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be at least 1 and window positive")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[Hashable, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: Hashable, now: float) -> deque[float] | None:
        """The failures of ``key`` still in the window (caller holds the lock)."""
        stamps = self._failures.get(key)
        if stamps is None:
            return None
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if not stamps:
            del self._failures[key]
            return None
        return stamps

    def _retry_after(self, stamps: deque[float], now: float) -> float | None:
        if len(stamps) < self.limit:
            return None
        # Unblocked when the failure that made the count reach the limit leaves the window.
        pivot = stamps[len(stamps) - self.limit]
        return max(pivot + self.window - now, 1.0)

    def blocked(self, key: Hashable) -> float | None:
        """Seconds until ``key`` may try again, or None when it may try now."""
        now = self._clock()
        with self._lock:
            stamps = self._recent(key, now)
            return None if stamps is None else self._retry_after(stamps, now)

    def failure(self, key: Hashable) -> float | None:
        """Record a failure; returns the block's length if this one reached the limit."""
        now = self._clock()
        with self._lock:
            stamps = self._recent(key, now)
            if stamps is None:
                stamps = deque(maxlen=self.limit)
                self._failures[key] = stamps
                while len(self._failures) > self.max_keys:
                    self._failures.popitem(last=False)
            else:
                self._failures.move_to_end(key)
            stamps.append(now)
            return self._retry_after(stamps, now)

    def success(self, key: Hashable) -> None:
        """Forget the failures of ``key`` (the right password was given)."""
        with self._lock:
            self._failures.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()


def retry_after_header(seconds: float) -> dict[str, str]:
    """The ``Retry-After`` header (whole seconds, rounded up)."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
