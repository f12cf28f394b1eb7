"""Clocks for the fake server: a monotonic one that drives windows and TTLs, and a wall clock.

The fake reads two clocks. The *monotonic* clock (``Clock``, seconds as a float, ``time.monotonic``
by default) times arrivals, the rate window and the idempotency TTL; tests swap in a `FakeClock` so
they never sleep. The *wall* clock (``WallClock``, an aware `datetime`) only decides which calendar
events are upcoming or past and stamps new records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
"""A monotonic clock: seconds as a float, never decreasing."""

WallClock = Callable[[], datetime]
"""A wall clock returning timezone-aware datetimes."""


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime (the default wall clock)."""
    return datetime.now(UTC)


class FakeClock:
    """A manual monotonic clock: calling it returns the current reading; `advance` moves it on.

    Pass one as ``FakeTightknit(clock=...)`` to control the rate window and the idempotency TTL
    without sleeping::

        clock = FakeClock()
        async with FakeTightknit(clock=clock) as fake:
            ...  # 50 requests: the 51st is answered 429
            clock.advance(1.0)  # the window has moved on: requests are accepted again
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def __call__(self) -> float:
        """Return the current reading in seconds."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``.

        Raises:
            ValueError: if ``seconds`` is negative (a monotonic clock never goes back).
        """
        if seconds < 0:
            raise ValueError(f"a monotonic clock cannot go back (advance({seconds!r}))")
        self._now += seconds

    def __repr__(self) -> str:
        return f"FakeClock({self._now!r})"
