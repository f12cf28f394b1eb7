"""The seam the client calls: the :class:`RateGovernor` protocol and its statistics record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .._types import Priority

__all__ = ["GovernorStatistics", "RateGovernor"]


@dataclass(frozen=True, kw_only=True, slots=True)
class GovernorStatistics:
    """A snapshot of one governor.

    Attributes:
        rate: the configured rate (requests per second).
        current_rate: the rate in force now: lower than ``rate`` for a while after 429s that
            repeat (a single 429 pauses the key but leaves the rate as it was).
        granted_interactive: slots granted to the ``interactive`` lane since creation.
        granted_bulk: slots granted to the ``bulk`` lane since creation.
        waiting_interactive: ``interactive`` waiters queued now.
        waiting_bulk: ``bulk`` waiters queued now.
        timed_out: acquisitions that raised ``GovernorTimeoutError`` (at once or at ``max_wait``).
        rate_limited: 429s reported through ``on_rate_limited()``.
        paused_for: seconds left of the current 429 pause (0 when not paused): nothing is granted
            until it is over.
        mean_wait: mean seconds from ``acquire()`` to grant over the recent grants sampled.
        p99_wait: the 99th percentile (nearest rank) of the same sample.
        stale: grants left unused because their waiter woke after the latest time its send
            could begin (the event loop was held between the grant and the waiter's turn); each
            such waiter booked a new slot. 0 for a governor that does not track it.
    """

    rate: float
    current_rate: float
    granted_interactive: int
    granted_bulk: int
    waiting_interactive: int
    waiting_bulk: int
    timed_out: int
    rate_limited: int
    paused_for: float
    mean_wait: float
    p99_wait: float
    stale: int = 0

    @property
    def granted(self) -> int:
        """Slots granted in both lanes."""
        return self.granted_interactive + self.granted_bulk

    @property
    def waiting(self) -> int:
        """Waiters queued in both lanes."""
        return self.waiting_interactive + self.waiting_bulk


@runtime_checkable
class RateGovernor(Protocol):
    """Paces the requests of one API key. The client calls it for every attempt, retries included.

    Implementations: :class:`~tightknit_async.governor.Governor` (in-process); a Redis-backed one
    shares the same guarantee across processes.
    """

    async def acquire(
        self, priority: Priority = "interactive", *, max_wait: float | None = None
    ) -> None:
        """Return once one request may be sent.

        Raises:
            GovernorTimeoutError: no slot within ``max_wait`` seconds (raised at once when the
                wait is known to be longer).
        """
        ...

    def try_acquire_nowait(self, priority: Priority = "interactive") -> bool:
        """Take a slot if one is free right now and nobody is queued for it; never waits."""
        ...

    def on_reply(self, elapsed: float) -> None:
        """Report an answer: a request sent ``elapsed`` seconds ago (by the governor's own clock:
        ``now - elapsed``) has been answered, so it reached the server between then and now.

        The client calls it once per answer it reads, whatever the status, with the transport's
        seconds from the start of the send to the end of the body. It only ever lets the governor
        pace closer to the cap; a governor may ignore it.
        """
        ...

    def on_rate_limited(self, retry_after: float | None = None) -> None:
        """Report a 429: pause every sender of the key; slow down if 429s keep coming."""
        ...

    def statistics(self) -> GovernorStatistics:
        """A snapshot of counts, waits, the rate in force and the pause."""
        ...
