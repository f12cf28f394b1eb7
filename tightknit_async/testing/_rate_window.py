"""The per-key sliding-window rate limit: at most ``limit`` accepted arrivals in any window.

An arrival at time ``t`` is accepted when fewer than ``limit`` earlier accepted arrivals of the same
key lie in ``(t - window, t]``; a refused arrival does not count. So no half-open interval
``[s, s + window)`` ever holds more than ``limit`` accepted arrivals, which is exactly what
`tightknit_async.testing.FakeTightknit.max_in_window` measures.
"""

from __future__ import annotations

import math
from collections import deque

# Float sums such as 0.1 + 0.9 may land a hair above a whole second; do not round those up.
_EPSILON = 1e-9


class SlidingWindow:
    """Admits or refuses arrivals, per key, against one limit and window length.

    Memory is bounded: each key keeps at most ``limit`` arrival times.
    """

    __slots__ = ("_accepted", "limit", "window")

    def __init__(self, limit: int, window: float) -> None:
        """Raises `ValueError` unless ``limit >= 1`` and ``window > 0``."""
        if limit < 1:
            raise ValueError(f"rate_limit must be at least 1, got {limit!r}")
        if not window > 0:
            raise ValueError(f"rate_window must be positive, got {window!r}")
        self.limit = limit
        self.window = window
        self._accepted: dict[str, deque[float]] = {}

    def admit(self, key: str, now: float) -> int | None:
        """Record an arrival of ``key`` at ``now``; return None if accepted, else a Retry-After.

        The Retry-After is whole seconds until the oldest accepted arrival in the window leaves
        it: ``max(1, ceil(oldest + window - now))``.
        """
        times = self._accepted.setdefault(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) < self.limit:
            times.append(now)
            return None
        return max(1, math.ceil(times[0] + self.window - now - _EPSILON))
