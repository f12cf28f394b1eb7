"""Sans-IO slot booking: GCRA shaping under a hard sliding-window cap, with 429 feedback.

Nothing here sleeps, reads a clock or touches asyncio. Every method takes ``now`` (seconds on one
monotonic clock) and answers in times on that clock, so the arithmetic is table-tested on plain
floats and the async driver (:mod:`._local`) only decides *when* to call it.

The arithmetic
--------------

``R`` is the configured rate (requests per second) and ``limit = max(1, floor(R))`` the sends
allowed in any window of ``WINDOW = 1`` second. ``r <= R`` is the rate in force (lowered after a
429, see below). Then::

    span     = WINDOW + margin               a window plus slack for send-time jitter
    T        = max(1 / r, span / limit)      the emission interval at the rate in force
    tau      = (burst - 1) * T_R             the GCRA burst tolerance, T_R being T at r = R

A booking at ``now`` for a request that has been waiting since ``since <= now`` is given::

    earliest = max(TAT - tau,                GCRA: theoretical arrival time, less the tolerance
                   sent[-limit] + span,      window log: one span after the slot `limit` places back
                   last,                     slots never go backwards
                   paused_until)             nothing during a 429 pause
    slot     = max(now, earliest)
    TAT     := max(TAT, earliest, since) + T
    last    := slot
    sent    := (sent + [slot + cold])[-limit:]

``cold`` is ``cold_margin`` for the slots of the first window after a cold start (no slot booked
for at least ``WINDOW``, or none ever), else 0. Requests sent then open new connections (TCP, and
TLS against the real API), so they reach the server later than the requests that follow them on
warm connections; the log counts them as sent ``cold_margin`` later, which delays only the slots
that pair with them one window on. Its cost is at most ``cold_margin`` once per cold start.

Two mechanisms, two jobs:

* **GCRA shapes.** With ``burst = 1`` slots come exactly ``T`` apart; with ``burst = b`` up to
  ``b`` go back to back after idle, then ``T`` apart (while the rate is lowered the tolerance
  stays ``tau`` seconds, so fewer fit). TAT advances from the slot's theoretical
  time (``earliest``) or the request's arrival (``since``), not from the moment the booking is
  actually made: a driver that grants a queued waiter up to ``T`` late does not push the
  following slots back, so timer lateness does not compound from slot to slot. (A grant later
  still, after a blocked event loop, lets one more slot through at once, then the spacing resumes
  from there.) With ``since = now`` this is textbook GCRA; with the time the waiter queued it is
  the GCRA *shaper*. The window log, which must see real send times, does carry a late send
  forward, once: to the slot ``limit`` places later.
* **The window log guarantees.** It books no slot sooner than ``span`` after the one ``limit``
  places back, so any ``limit + 1`` consecutive slots span at least ``1 + margin`` seconds: no
  window of ``1 + margin`` seconds, let alone of one second, holds more than ``limit`` slots. This
  holds whatever the burst, the rate changes or the lateness. It matters because GCRA alone does
  not bound a window: a burst of ``b`` after idle followed by slots ``T`` apart would put
  ``b - 1 + limit`` slots into the first second, and a grant made late lets the next follow at
  once. The log defers the excess. ``margin`` is how much later a send may reach the server
  than the send ``limit`` places before it without the server counting ``limit + 1`` in a window.

Long-run throughput is ``limit / (span + d)`` where ``d`` is the driver's mean wake-up lateness:
49.75/s for ``R = 50``, the default 5 ms margin and a punctual driver, 49.7/s with ``d = 1 ms``.

429 feedback (AIMD)
-------------------

A 429 at ``now`` with a pause of ``p`` seconds::

    paused_until := max(paused_until, now + p)
    r_low        := max(min(R, MIN_RATE), r(now) * decrease)   multiplicative decrease
    r(t)         =  min(R, r_low + recovery * R * (t - paused_until))   for t >= paused_until
    TAT          := max(TAT, paused_until + tau)               no burst straight after a pause

so the rate climbs back additively, by ``recovery * R`` per second without a 429, from the end of
the pause. A 429 within ``WINDOW`` of the last decrease answers a request sent before it: it
extends the pause but does not lower the rate again (many in-flight requests failing together
count as one signal).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Final

__all__ = [
    "DEFAULT_COLD_MARGIN",
    "DEFAULT_DECREASE",
    "DEFAULT_MARGIN",
    "DEFAULT_RECOVERY",
    "GCRA",
    "MIN_RATE",
    "WINDOW",
    "max_in_window",
]

WINDOW: Final = 1.0
"""The server's window, in seconds: it allows ``limit`` requests in any window this long."""

DEFAULT_MARGIN: Final = 0.005
"""Seconds of slack added to every window: the send-time jitter tolerated (costs 0.5 % of rate)."""

DEFAULT_COLD_MARGIN: Final = 0.05
"""Extra slack for the slots of the first window after a cold start (new connections)."""

DEFAULT_DECREASE: Final = 0.5
"""After a 429 the rate in force drops to this fraction of itself."""

DEFAULT_RECOVERY: Final = 0.05
"""After a 429 pause the rate climbs back by this fraction of the configured rate per second."""

MIN_RATE: Final = 1.0
"""A 429 never lowers the rate below this many requests per second (or the configured rate)."""


class GCRA:
    """Books send slots for one API key: GCRA spacing, a hard window cap, pauses and AIMD.

    The formulas are in the module docstring. Times are floats on any one monotonic clock; an
    instance is not thread-safe (its driver serialises calls).

    Args:
        rate: the configured rate ``R`` in requests per second (> 0).
        burst: slots that may go back to back after idle, ``1 <= burst <= limit``.
        margin: seconds added to every window, ``0 <= margin < WINDOW``.
        cold_margin: more seconds for the slots of the first window after a cold start,
            ``0 <= cold_margin < WINDOW``.
        decrease: the factor a 429 multiplies the rate in force by, ``0 < decrease <= 1``.
        recovery: the fraction of ``rate`` regained per second after a pause, ``> 0``.

    Raises:
        ValueError: for a parameter out of range.
    """

    __slots__ = (
        "_climb_from",
        "_cold_until",
        "_decreased_at",
        "_last",
        "_low",
        "_paused_until",
        "_sent",
        "_span",
        "_tat",
        "_tau",
        "burst",
        "cold_margin",
        "decrease",
        "limit",
        "margin",
        "rate",
        "recovery",
    )

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        margin: float = DEFAULT_MARGIN,
        cold_margin: float = DEFAULT_COLD_MARGIN,
        decrease: float = DEFAULT_DECREASE,
        recovery: float = DEFAULT_RECOVERY,
    ) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(
                f"rate must be a finite number of requests per second > 0, got {rate!r}"
            )
        limit = max(1, math.floor(rate))
        if not 1 <= burst <= limit:
            raise ValueError(
                f"burst must be between 1 and {limit} (the sends one window allows at rate "
                f"{rate:g}), got {burst!r}"
            )
        if not 0 <= margin < WINDOW:
            raise ValueError(f"margin must be >= 0 and < {WINDOW:g} s, got {margin!r}")
        if not 0 <= cold_margin < WINDOW:
            raise ValueError(f"cold_margin must be >= 0 and < {WINDOW:g} s, got {cold_margin!r}")
        if not 0 < decrease <= 1:
            raise ValueError(f"decrease must be > 0 and <= 1, got {decrease!r}")
        if not (math.isfinite(recovery) and recovery > 0):
            raise ValueError(f"recovery must be a finite number > 0, got {recovery!r}")
        self.rate = float(rate)
        self.limit = limit
        self.burst = burst
        self.margin = margin
        self.cold_margin = cold_margin
        self._last = -math.inf  # the latest slot booked
        self._cold_until = -math.inf  # slots before this are logged cold_margin later
        self.decrease = decrease
        self.recovery = recovery
        self._span = WINDOW + margin
        self._tau = (burst - 1) * max(1.0 / self.rate, self._span / limit)
        self._sent: deque[float] = deque(maxlen=limit)
        self._tat = -math.inf
        self._paused_until = -math.inf
        self._low = self.rate  # the rate right after the last decrease
        self._climb_from = -math.inf  # when the climb back from _low starts
        self._decreased_at = -math.inf

    @property
    def paused_until(self) -> float:
        """Nothing is booked before this time (``-inf`` when never paused)."""
        return self._paused_until

    def rate_at(self, now: float) -> float:
        """The rate in force: ``min(R, r_low + recovery * R * max(0, now - paused_until))``."""
        if self._low >= self.rate:
            return self.rate
        climbed = self._low + self.recovery * self.rate * max(0.0, now - self._climb_from)
        return min(self.rate, climbed)

    def interval(self, now: float) -> float:
        """The emission interval at ``now``: ``T = max(1 / r, span / limit)``."""
        return max(1.0 / self.rate_at(now), self._span / self.limit)

    def earliest(self) -> float:
        """The earliest time the next slot may be booked for (``-inf`` for a fresh instance).

        ``max(TAT - tau, sent[-limit] + span, last, paused_until)``: a slot is free at any
        time from then on.
        """
        slot = max(self._tat - self._tau, self._paused_until, self._last)
        sent = self._sent
        if len(sent) == self.limit:
            slot = max(slot, sent[0] + self._span)
        return slot

    def book(self, now: float, since: float | None = None) -> float:
        """Book the next slot and return its time, ``max(now, earliest())`` (maybe in the future).

        Args:
            now: the current time.
            since: when the request began waiting (default ``now``; later than ``now`` counts as
                ``now``). A driver that grants queued waiters passes their enqueue time, so that
                TAT follows the schedule rather than its own wake-up lateness.
        """
        earliest = self.earliest()
        slot = max(now, earliest)
        arrival = now if since is None else min(since, now)
        self._tat = max(self._tat, earliest, arrival) + self.interval(now)
        if slot - self._last >= WINDOW:  # a cold start: nothing booked for a whole window
            self._cold_until = slot + WINDOW
        self._last = slot
        self._sent.append(slot + self.cold_margin if slot < self._cold_until else slot)
        return slot

    def projected(self, now: float, ahead: int) -> float:
        """A lower bound on the slot of the booking ``ahead`` places after the next one.

        For ``ahead = k >= 1``, assuming the bookings in between are made when their slots come,
        for requests made no earlier than ``now``, at the rate in force and with no new pause,
        and writing ``first = max(now, earliest())``::

            slot_k >= max(TAT, first) + k * T - tau                         (GCRA)
            slot_k >= max(first, sent[n + k mod limit - limit] + span)      (window log,
                      + (k div limit) * span                                 n = len(sent))

        ``ahead = 0`` gives ``first`` itself. Used to fail fast when even this bound is too late.
        """
        first = max(now, self.earliest())
        if ahead <= 0:
            return first
        gcra = max(self._tat, first) + ahead * self.interval(now) - self._tau
        laps, offset = divmod(ahead, self.limit)
        back = len(self._sent) + offset - self.limit
        lap_start = first if back < 0 else max(first, self._sent[back] + self._span)
        return max(first, gcra, lap_start + laps * self._span)

    def rate_limited(self, now: float, pause: float) -> None:
        """Record a 429 seen at ``now``: pause ``pause`` seconds (>= 0) and lower the rate.

        See "429 feedback" in the module docstring for the formulas and the one-decrease-per-window
        rule.
        """
        rate = self.rate_at(now)
        if now - self._decreased_at >= WINDOW:
            rate = max(min(self.rate, MIN_RATE), rate * self.decrease)
            self._decreased_at = now
        self._paused_until = max(self._paused_until, now + max(0.0, pause))
        self._low = rate
        self._climb_from = self._paused_until
        self._tat = max(self._tat, self._paused_until + self._tau)

    def __repr__(self) -> str:
        return (
            f"GCRA(rate={self.rate:g}, limit={self.limit}, burst={self.burst}, "
            f"margin={self.margin:g}, paused_until={self._paused_until:g})"
        )


def max_in_window(times: Iterable[float], window: float = WINDOW) -> int:
    """The largest number of ``times`` inside any half-open window ``[t, t + window)``.

    Exact, in ``O(n log n)``; the order of ``times`` does not matter. The busiest window can
    always be taken to start at one of the times, so only those starts are checked. Pass
    ``window = WINDOW + margin`` to check the governor's stronger guarantee.

    Raises:
        ValueError: if ``window`` is not positive.
    """
    if not window > 0:
        raise ValueError(f"window must be positive, got {window!r}")
    ordered = sorted(times)
    best = end = 0
    for start, first in enumerate(ordered):
        horizon = first + window
        while end < len(ordered) and ordered[end] < horizon:
            end += 1
        best = max(best, end - start)
    return best
