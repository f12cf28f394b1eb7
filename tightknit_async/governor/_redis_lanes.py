"""The Redis governor's local side: the waiters of one process and the slots it holds for them.

Waiters queue in two FIFO lanes, ``interactive`` served first and ``bulk`` one grant in
``bulk_every`` while both wait (:class:`._lanes.LaneQueue`). The slots the process booked in
Redis are held here, on the event loop's clock and in time order, and handed to the waiters in
lane order as they come due:

* a waiter cancelled (or timed out) before its slot leaves the slot to the next waiter; the
  latest slots no waiter needs any more are :meth:`Lanes.surplus`, for the governor to hand
  back to Redis;
* a slot that comes due more than ``tolerance`` (``margin / 2``) late (a blocked event loop) is
  not used: its sender would no longer be ``1 s + margin`` after the slot ``limit`` places
  before it, so the waiter is booked again. The other half of the margin covers the mapping of
  Redis's clock (one round trip) and the way to the server;
* nothing is granted before a 429 pause ends, and the held slots inside a pause are dropped.

No I/O and no timer of its own: the governor books the slots, aims its one timer at
:meth:`Lanes.next_event` and calls :meth:`Lanes.grant_due` and :meth:`Lanes.expire` when it
fires.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, NamedTuple, TypeAlias

from .._exceptions import GovernorTimeoutError
from .._types import Priority
from ._lanes import LaneQueue

__all__ = ["CLOCK_RESOLUTION", "Lanes", "Slot", "Waiter"]

CLOCK_RESOLUTION: Final = time.get_clock_info("monotonic").resolution
"""asyncio fires a timer up to this early; a slot due that soon counts as due."""

_WAIT_SAMPLE: Final = 1024
"""How many recent grants the waits and the lateness are sampled over."""

_RELEASE_LEAD: Final = 0.002
"""A surplus slot due sooner than this is left to pass rather than handed back."""


@dataclass(eq=False, slots=True)
class Waiter:
    """One ``acquire()`` queued in a lane."""

    future: asyncio.Future[None]
    priority: Priority
    since: float
    """Loop time it began waiting."""
    max_wait: float | None


class Slot(NamedTuple):
    """A send slot booked in Redis, as this process holds it."""

    local: float
    """Loop time to send at."""
    redis: float
    """Microseconds on Redis's clock."""
    text: str
    """The slot as the log holds it (later for a cold start), to hand it back."""


_Queue: TypeAlias = LaneQueue[asyncio.Future[None], Waiter]
_Deadline: TypeAlias = tuple[float, int, Waiter]


class Lanes:
    """The waiters of one process, in two lanes, and the slots held for them.

    Args:
        bulk_every: bulk gets one grant in this many while both lanes wait.
        tolerance: a held slot more than this many seconds past due is not used.
        recent: how many of the latest grant times to keep (:attr:`recent`).
    """

    def __init__(self, *, bulk_every: int, tolerance: float, recent: int) -> None:
        # a done future was cancelled (or timed out) and not withdrawn yet
        self.queue: _Queue = LaneQueue(bulk_every, gone=lambda future: future.done())
        self._tolerance = tolerance
        self.held: list[Slot] = []
        self._deadlines: list[_Deadline] = []
        self._sequence = itertools.count()
        self.pause_local = -math.inf  # nothing is granted before this loop time
        self.pause_redis = -math.inf  # the pause known from Redis, on Redis's clock (µs)
        self.recent: deque[float] = deque(maxlen=recent)  # loop times of the latest grants

        self.timed_out = self.stale = self.unused = self.dropped = self.fallback_grants = 0
        self.waits: deque[float] = deque(maxlen=_WAIT_SAMPLE)
        self.lateness: deque[float] = deque(maxlen=_WAIT_SAMPLE)

    # -- waiters -------------------------------------------------------------------------------

    @property
    def waiting(self) -> int:
        """Waiters queued in both lanes."""
        return len(self.queue)

    def enqueue(
        self, future: asyncio.Future[None], priority: Priority, since: float, max_wait: float | None
    ) -> Waiter:
        """Queue a waiter at the end of its lane (its deadline too, if it has one)."""
        waiter = Waiter(future, priority, since, max_wait)
        self.queue.push(priority, future, waiter)
        if max_wait is not None:
            heapq.heappush(self._deadlines, (since + max_wait, next(self._sequence), waiter))
        return waiter

    def uncovered(self) -> tuple[list[Waiter], list[Waiter]]:
        """The waiters, per lane, that the held slots do not cover (in lane order: interactive
        waiters are covered first); the latest arrivals of each lane."""
        queue, held = self.queue, len(self.held)
        interactive = queue.count("interactive") - held
        bulk = queue.count("bulk") - max(0, held - queue.count("interactive"))
        return (
            list(queue.values("interactive"))[-interactive:] if interactive > 0 else [],
            list(queue.values("bulk"))[-bulk:] if bulk > 0 else [],
        )

    def fail(self, waiter: Waiter, error: BaseException, *, timed_out: bool = False) -> None:
        """Take ``waiter`` out of its lane and raise ``error`` in it."""
        self.queue.withdraw(waiter.priority, waiter.future)
        if not waiter.future.done():
            self.timed_out += timed_out
            waiter.future.set_exception(error)

    def withdraw(self, waiter: Waiter, now: float) -> None:
        """Clean up after a waiter that raised (cancelled, timed out, or failed)."""
        if self.queue.withdraw(waiter.priority, waiter.future):
            waiter.future.cancel()
        elif (
            not waiter.future.cancelled()
            and waiter.future.exception() is None
            and not self.grant_next(now)  # granted, then cancelled before it could run: pass it on
        ):
            self.unused += 1

    def expire(self, now: float, note: Callable[[], str]) -> None:
        """Fail the waiters whose ``max_wait`` has run out (``note()`` explains the rate)."""
        heap = self._deadlines
        while heap and heap[0][0] <= now + CLOCK_RESOLUTION:
            _, _, waiter = heapq.heappop(heap)
            if waiter.future.done():
                continue
            assert waiter.max_wait is not None
            self.fail(
                waiter,
                GovernorTimeoutError(
                    f"rate governor (Redis): no send slot within max_wait="
                    f"{waiter.max_wait:.3f}s for a {waiter.priority} request ({note()})",
                    wait=now - waiter.since,
                    deadline=waiter.max_wait,
                ),
                timed_out=True,
            )

    def close(self, error: Callable[[], BaseException]) -> None:
        """Fail every waiter with ``error()`` and forget the held slots."""
        for priority in ("interactive", "bulk"):
            for waiter in list(self.queue.values(priority)):
                self.fail(waiter, error())
        self.held.clear()
        self._deadlines.clear()

    # -- held slots ------------------------------------------------------------------------------

    def hold(self, slot: Slot) -> None:
        """Keep ``slot`` for the waiters (dropped if a known pause covers it)."""
        if self._paused(slot):
            self.dropped += 1
        elif not self.held or self.held[-1].local <= slot.local:
            self.held.append(slot)
        else:
            bisect.insort(self.held, slot)

    def pause(self, local: float, redis: float = -math.inf) -> None:
        """Grant nothing before loop time ``local`` (and drop the held slots before it, or before
        ``redis`` on Redis's clock)."""
        if local <= self.pause_local and redis <= self.pause_redis:
            return
        self.pause_local = max(self.pause_local, local)
        self.pause_redis = max(self.pause_redis, redis)
        kept = [slot for slot in self.held if not self._paused(slot)]
        self.dropped += len(self.held) - len(kept)
        self.held = kept

    def _paused(self, slot: Slot) -> bool:
        return slot.local < self.pause_local or slot.redis < self.pause_redis

    def surplus(self, now: float) -> list[Slot]:
        """Take the latest held slots that no waiter needs, if they are still ahead."""
        excess = len(self.held) - self.waiting
        spare: list[Slot] = []
        while excess > 0 and self.held and self.held[-1].local > now + _RELEASE_LEAD:
            spare.append(self.held.pop())
            excess -= 1
        return spare

    # -- grants ----------------------------------------------------------------------------------

    def grant_due(self, now: float, caller: Priority | None = None) -> bool:
        """Hand the held slots that are due to the waiters, in lane order; a slot left over
        goes to ``caller`` (not queued: it asks right now), if given. Returns whether it did."""
        if now < self.pause_local:
            return False
        held = self.held
        while held and held[0].local <= now + CLOCK_RESOLUTION:
            slot = held.pop(0)
            if now - slot.local > self._tolerance:
                self.stale += 1
                continue
            lateness = max(0.0, now - slot.local)
            if self.grant_next(now):
                self.lateness.append(lateness)
            elif caller is not None:
                self.lateness.append(lateness)
                self.record_grant(caller, 0.0, now)
                return True
            else:
                self.unused += 1
        return False

    def grant_next(self, now: float, *, fallback: bool = False) -> bool:
        """Grant the waiter next in lane order a slot due now; False if nobody waits."""
        popped = self.queue.pop()
        if popped is None:
            return False
        _, waiter, _ = popped
        self.record_grant(waiter.priority, now - waiter.since, now, fallback=fallback)
        waiter.future.set_result(None)
        return True

    def record_grant(
        self, priority: Priority, wait: float, now: float, *, fallback: bool = False
    ) -> None:
        """Count a grant made at loop time ``now`` after ``wait`` seconds."""
        self.queue.count_grant(priority)
        self.waits.append(wait)
        self.recent.append(now)
        self.fallback_grants += fallback

    # -- the timer -------------------------------------------------------------------------------

    def next_event(self) -> float | None:
        """The loop time of the next held slot (not before the pause) or waiter deadline."""
        when: float | None = None
        if self.held:
            when = max(self.held[0].local, self.pause_local)
        heap = self._deadlines
        while heap and heap[0][2].future.done():
            heapq.heappop(heap)
        if heap:
            when = heap[0][0] if when is None else min(when, heap[0][0])
        return when
