"""The in-process rate governor: the sans-IO slot book driven by the event loop's clock.

Waiters are plain futures in two FIFO lanes (``interactive`` and ``bulk``, ordered by
:class:`._lanes.LaneQueue`). One ``loop.call_at`` timer, aimed at the next free slot or the nearest
``max_wait`` deadline, grants them: no task per waiter and no polling, so thousands of waiters cost
a future each. A slot is booked only when a waiter is released, never when it queues, so a
cancelled waiter frees its place for the next one and a newly arrived ``interactive`` waiter can
overtake queued ``bulk`` ones. An answer reported through ``on_reply`` can free a slot sooner than
the timer was aimed: the waiters due are granted then and there, and the timer re-aimed.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
import time
from collections import deque
from typing import Final, TypeAlias, Unpack

from .._exceptions import GovernorTimeoutError, WrongEventLoopError
from .._types import Priority
from ._lanes import LaneQueue
from ._protocol import GovernorStatistics
from ._settings import GovernorOptions, GovernorSettings

__all__ = ["Governor"]

_Grant: TypeAlias = tuple[float, float]
"""What a released waiter's future holds: its slot, and the latest time its send may begin (the
grant's bound, :attr:`GCRA.last_bound`)."""

_Waiter: TypeAlias = asyncio.Future[_Grant]

_Queue: TypeAlias = LaneQueue[_Waiter, float]
"""Waiter future -> the loop time it began waiting, in two lanes; a done future counts as gone."""

_Deadline: TypeAlias = tuple[float, int, _Waiter, Priority, float]
"""(deadline, tie-breaker, waiter, lane, max_wait): a heap entry, left in place once stale."""

_WAIT_SAMPLE: Final = 1024
"""How many recent grants the mean and p99 waits are computed over."""

_COMPACT_FLOOR: Final = 64
"""The deadline heap drops its stale entries once it outgrows this plus twice the waiters."""

_CLOCK_RESOLUTION: Final = time.get_clock_info("monotonic").resolution
"""asyncio fires a timer up to this early; a slot due that soon counts as due."""

_LATE_HALF_LIFE: Final = 1.0
"""Seconds over which the loop lateness remembered for the lag allowance halves."""

_REBOOKS: Final = 3
"""How many times one caller books anew after waking too late for its grant; after that it
sends on the grant it has (a loop that late breaks the jitter assumption whatever is booked)."""


class Governor:
    """Paces the requests of one API key in this process: the in-process :class:`RateGovernor`.

    Of the requests it grants, no window of one second at the server ever holds more than
    ``limit = max(1, floor(rate))``, counted when they arrive there, from a cold start, after
    idle, under any number of waiters, as long as no request takes more than ``jitter`` longer to
    arrive than another (see :mod:`._gcra` and ``docs/governor.md``). Answers reported through
    :meth:`on_reply` tell it when requests have arrived, so that where round trips are short it
    paces close to the cap. ``interactive`` waiters are served before queued ``bulk`` ones,
    except that ``bulk`` gets one grant in every ``round(1 / bulk_share)`` while both lanes
    wait; each lane is FIFO. After a 429 (:meth:`on_rate_limited`) nobody is granted until the
    pause ends; the rate is lowered only when 429s repeat.

    The governor binds to the event loop it is first used on. It is not thread-safe; share it
    between the tasks of one loop, and use :func:`governor_for` to share it between clients.

    Args:
        rate: requests per second (> 0).
        **options: the other :class:`GovernorSettings` fields (``burst``, ``margin``, ``jitter``,
            ``cold_margin``, ``bulk_share``, ``decrease``, ``recovery``, ``repeat_window``,
            ``default_pause``, ``pause_jitter``).

    Raises:
        ValueError: for a setting out of range.
    """

    __slots__ = (
        "__weakref__",
        "_core",
        "_deadlines",
        "_late",
        "_late_at",
        "_loop",
        "_queue",
        "_rate_limited",
        "_sequence",
        "_stale",
        "_timed_out",
        "_timer",
        "_waits",
        "settings",
    )

    def __init__(self, rate: float, **options: Unpack[GovernorOptions]) -> None:
        self.settings = GovernorSettings(rate=rate, **options)
        self._core = self.settings.new_core()
        self._queue: _Queue = LaneQueue(self.settings.bulk_every, gone=_cancelled_early)
        self._deadlines: list[_Deadline] = []
        self._sequence = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._late = 0.0  # the latest peak of the timer's lateness, decaying
        self._late_at = 0.0
        self._timed_out = 0
        self._stale = 0  # grants left unused: their waiter woke too late to send on them
        self._rate_limited = 0
        self._waits: deque[float] = deque(maxlen=_WAIT_SAMPLE)

    # -- the RateGovernor protocol ---------------------------------------------------------------

    async def acquire(
        self, priority: Priority = "interactive", *, max_wait: float | None = None
    ) -> None:
        """Wait in the ``priority`` lane until one request may be sent.

        Args:
            priority: ``"interactive"`` (served first) or ``"bulk"``.
            max_wait: the longest the caller will wait, in seconds (``None``: no bound; negative
                counts as 0). When the earliest grant this waiter could possibly get (from the
                queue ahead of it, the rate in force and any pause) lies further off, raises at
                once without queueing; otherwise waits at most this long.

        Raises:
            GovernorTimeoutError: no slot within ``max_wait``; ``wait`` holds the wait that was
                needed (at least), ``deadline`` the ``max_wait``.
            WrongEventLoopError: the governor belongs to another event loop.
            ValueError: an unknown ``priority``.

        Cancelling the caller withdraws it: it never uses up a slot, and if it was granted a slot
        in the instant before the cancellation arrived, the slot goes to the next waiter.
        """
        loop = self._bind()
        self._queue.check(priority)
        now = loop.time()
        ends = None if max_wait is None else now + max(0.0, max_wait)
        for rebooked in range(_REBOOKS + 1):
            if self._grant_now(now, priority):
                return
            waiter = self._enqueue(loop, now, priority, None if ends is None else ends - now)
            try:
                slot, send_by = await waiter
            except BaseException:
                self._withdraw(loop, waiter, priority)
                raise
            now = loop.time()
            if now <= send_by + _CLOCK_RESOLUTION:
                return
            # Woken after the time its send had to begin by (the loop was held between the
            # grant and this task's turn): sent now, the request could arrive outside what its
            # bound allows. The loop's lateness is remembered for the grants to come; the grant
            # is left unused, as a request that never arrived (its bound stays: safe), and a new
            # slot is booked.
            self._note_lateness(now, now - slot)
            if rebooked == _REBOOKS:
                return
            self._stale += 1

    def _enqueue(
        self,
        loop: asyncio.AbstractEventLoop,
        now: float,
        priority: Priority,
        max_wait: float | None,
    ) -> _Waiter:
        """Queue a waiter in ``priority``'s lane, with its ``max_wait`` (refused at once when the
        earliest grant it could get lies further off)."""
        if max_wait is not None:
            max_wait = max(0.0, max_wait)
            ahead = self._queue.ahead(priority)
            wait = self._core.projected(now, ahead) - now
            if wait > max_wait:
                self._timed_out += 1
                raise GovernorTimeoutError(
                    f"rate governor: a {priority} request would wait at least {wait:.3f}s for a "
                    f"send slot ({ahead} queued ahead, {self._rate_note(now)}), longer than "
                    f"max_wait={max_wait:.3f}s",
                    wait=wait,
                    deadline=max_wait,
                )
        waiter: _Waiter = loop.create_future()
        self._queue.push(priority, waiter, now)
        if max_wait is not None:
            entry = (now + max_wait, next(self._sequence), waiter, priority, max_wait)
            heapq.heappush(self._deadlines, entry)
        self._arm(loop, now)
        return waiter

    def try_acquire_nowait(self, priority: Priority = "interactive") -> bool:
        """Take a slot if one is free now and no waiter is queued for it; never waits.

        Queued waiters (of either lane) come first, so ``priority`` only says which lane's
        count the grant goes to.

        Raises:
            WrongEventLoopError: the governor belongs to another event loop.
            RuntimeError: called outside a running event loop.
            ValueError: an unknown ``priority``.
        """
        loop = self._bind()
        self._queue.check(priority)
        return self._grant_now(loop.time(), priority)

    def on_reply(self, elapsed: float) -> None:
        """Report an answer: a request whose send began ``elapsed`` seconds ago (on this
        governor's clock, ``now - elapsed``) has been answered, so it reached the server between
        then and now.

        Call it once per answer read, whatever its status, for requests this governor granted.
        It narrows the time the request may have arrived at from ``jitter`` after its grant to
        the answer itself, which frees the next slot sooner; reporting nothing is safe, only
        slower. A negative or not finite ``elapsed`` is ignored.

        Raises:
            WrongEventLoopError: the governor belongs to another event loop.
            RuntimeError: called outside a running event loop.
        """
        loop = self._bind()
        if not (elapsed >= 0 and math.isfinite(elapsed)):
            return
        now = loop.time()
        if self._core.answered(now, now - elapsed) and self._queue:
            self._grant_due(now)
            self._arm(loop, now)

    def on_rate_limited(self, retry_after: float | None = None) -> None:
        """Report a 429: pause every waiter of this governor; lower the rate if 429s repeat.

        The pause is ``retry_after`` seconds (``default_pause`` when ``None``; negative counts as
        0) stretched by a random ``[0, pause_jitter)`` fraction. A single 429 only pauses: the
        key comes back at the rate it had. One that comes within ``repeat_window`` seconds after
        the previous pause ended lowers the rate in force to ``decrease`` times itself, and it
        climbs back by ``recovery * rate`` per second once the pause is over. 429s that arrive
        during a pause, or within a second of the 429 that started it (requests already on their
        way), only extend the pause.

        Raises:
            WrongEventLoopError: the governor belongs to another event loop.
            RuntimeError: called outside a running event loop.
        """
        loop = self._bind()
        now = loop.time()
        settings = self.settings
        pause = settings.default_pause if retry_after is None else max(0.0, retry_after)
        self._core.rate_limited(now, pause * (1.0 + settings.pause_jitter * random.random()))
        self._rate_limited += 1
        self._arm(loop, now)

    def statistics(self) -> GovernorStatistics:
        """A snapshot: grants and waiters per lane, timeouts, 429s, the rate in force, waits."""
        now = self._loop.time() if self._loop is not None else 0.0
        waits = sorted(self._waits)
        return GovernorStatistics(
            rate=self._core.rate,
            current_rate=self._core.rate_at(now),
            granted_interactive=self._queue.granted["interactive"],
            granted_bulk=self._queue.granted["bulk"],
            waiting_interactive=self._queue.count("interactive"),
            waiting_bulk=self._queue.count("bulk"),
            timed_out=self._timed_out,
            rate_limited=self._rate_limited,
            paused_for=max(0.0, self._core.paused_until - now),
            mean_wait=math.fsum(waits) / len(waits) if waits else 0.0,
            p99_wait=waits[math.ceil(0.99 * len(waits)) - 1] if waits else 0.0,
            stale=self._stale,
        )

    def __repr__(self) -> str:
        stats = self.statistics()
        return (
            f"<Governor rate={stats.rate:g}/s current_rate={stats.current_rate:.4g}/s "
            f"waiting={stats.waiting_interactive}+{stats.waiting_bulk} "
            f"granted={stats.granted} paused_for={stats.paused_for:.3f}s>"
        )

    # -- driving the core --------------------------------------------------------------------------

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise WrongEventLoopError(
                "this Governor belongs to another event loop: use one Governor per event loop "
                "(governor_for() hands out one per loop and key)"
            )
        return loop

    def _grant_now(self, now: float, priority: Priority) -> bool:
        """Serve the queue first; then grant the caller if a slot is still free."""
        if self._queue:
            self._grant_due(now)
            if self._queue:
                return False
        if self._core.earliest() > now + _CLOCK_RESOLUTION:
            return False
        self._core.book(now)
        self._record_grant(priority, 0.0)
        return True

    def _grant_due(self, now: float) -> None:
        """Release queued waiters, in lane order, for as many slots as are free at ``now``."""
        core = self._core
        lag = self._lateness(now)  # a released waiter sends once the loop gets to it
        while core.earliest() <= now + _CLOCK_RESOLUTION:
            popped = self._queue.pop()
            if popped is None:
                return
            waiter, since, priority = popped
            slot = core.book(now, since, lag)
            self._record_grant(priority, now - since)
            waiter.set_result((slot, core.last_bound))

    def _record_grant(self, priority: Priority, wait: float) -> None:
        self._queue.count_grant(priority)
        self._waits.append(wait)

    def _withdraw(
        self, loop: asyncio.AbstractEventLoop, waiter: _Waiter, priority: Priority
    ) -> None:
        """Clean up after a waiter that raised (cancelled, or failed by its deadline)."""
        if loop.is_closed():  # torn down with its loop: there is nobody left to serve
            return
        if self._queue.withdraw(priority, waiter):
            waiter.cancel()  # done for good, so that its deadline entry reads as stale
        elif not waiter.cancelled() and waiter.exception() is None:
            # Granted, then cancelled before it could run: its slot is booked and due, pass it on.
            # The next waiter sends at most a loop iteration later, well within the margin.
            popped = self._queue.pop()
            if popped is not None:
                heir, since, _ = popped
                self._waits.append(loop.time() - since)
                heir.set_result(waiter.result())  # the same grant: the same time to send by
        self._arm(loop, loop.time())

    def _arm(self, loop: asyncio.AbstractEventLoop, now: float) -> None:
        """Aim the one timer at the next event: a free slot or a deadline, if anyone waits."""
        when: float | None = None
        if self._queue:
            when = max(now, self._core.earliest())
            deadline = self._next_deadline()
            if deadline is not None:
                when = min(when, deadline)
        else:
            self._deadlines.clear()  # every entry belongs to a waiter that is gone
        timer = self._timer
        if timer is not None:
            if timer.when() == when:
                return
            timer.cancel()
            self._timer = None
        if when is not None:
            self._timer = loop.call_at(when, self._on_timer, loop, when)

    def _on_timer(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self._timer = None
        now = loop.time()
        self._note_lateness(now, now - when)
        self._grant_due(now)
        self._expire(now)
        self._arm(loop, now)

    def _note_lateness(self, now: float, late: float) -> None:
        """The loop was ``late`` behind (a timer that fired late, a waiter that woke late)."""
        if late > self._lateness(now):
            self._late, self._late_at = late, now

    def _lateness(self, now: float) -> float:
        """How late the loop has been running: the timer's latest peak lateness, halving every
        ``_LATE_HALF_LIFE`` seconds. The waiters the timer releases send about that late.
        """
        late = self._late
        if late <= 0.0:
            return 0.0
        return late * math.exp2((self._late_at - now) / _LATE_HALF_LIFE)

    def _next_deadline(self) -> float | None:
        """The nearest deadline of a queued waiter, dropping entries of waiters that are gone."""
        heap = self._deadlines
        while heap and heap[0][2].done():
            heapq.heappop(heap)
        if len(heap) > _COMPACT_FLOOR + 2 * len(self._queue):
            heap[:] = [entry for entry in heap if not entry[2].done()]
            heapq.heapify(heap)
        return heap[0][0] if heap else None

    def _expire(self, now: float) -> None:
        """Fail the queued waiters whose ``max_wait`` has run out."""
        heap = self._deadlines
        while heap and heap[0][0] <= now + _CLOCK_RESOLUTION:
            deadline, _, waiter, priority, max_wait = heapq.heappop(heap)
            if waiter.done():
                continue
            self._queue.withdraw(priority, waiter)
            self._timed_out += 1
            gap = max(0.0, self._core.earliest() - now)
            waited = now - (deadline - max_wait)
            waiter.set_exception(
                GovernorTimeoutError(
                    f"rate governor: no send slot within max_wait={max_wait:.3f}s for a "
                    f"{priority} request (the next slot is {gap:.3f}s away, "
                    f"{len(self._queue)} still queued, "
                    f"{self._rate_note(now)})",
                    wait=waited + gap,
                    deadline=max_wait,
                )
            )

    def _rate_note(self, now: float) -> str:
        note = f"current rate {self._core.rate_at(now):.4g}/s"
        paused_for = self._core.paused_until - now
        return f"{note}, paused for {paused_for:.3f}s after a 429" if paused_for > 0 else note


def _cancelled_early(waiter: _Waiter) -> bool:
    """A queued waiter whose future is done was cancelled; its task has not run yet to withdraw
    it."""
    return waiter.done()
