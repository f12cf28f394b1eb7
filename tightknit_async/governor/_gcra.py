"""Sans-IO slot booking: GCRA shaping under a hard cap on the server's windows, with feedback.

Nothing here sleeps, reads a clock or touches asyncio. Every method takes ``now`` (seconds on one
monotonic clock) and answers in times on that clock, so the arithmetic is table-tested on plain
floats and the async driver (:mod:`._local`) only decides *when* to call it. The argument is set
out at more length in ``docs/governor.md``.

What the server counts, and the one assumption
----------------------------------------------

``R`` is the configured rate (requests per second) and ``limit = max(1, floor(R))`` the requests
the server accepts from a key in any window of ``WINDOW = 1`` second, counted as they *arrive*.
A request granted at ``s`` arrives at some ``a``: the delay in between (the event loop, the send,
the network, the server's own queue) is unknown and differs from request to request. Two facts
need no model: a request arrives after its grant, and before its answer is read. The assumption
(M), with ``J = jitter``: counted from its grant (plus the ``lag`` its driver reported, a late
event loop), and counted from the start of its send, a request reaches the server at most ``J``
later than the quickest request does; and its send begins within ``J`` of its grant plus that
lag. A request granted in the first window after a cold start (new connections: TCP, TLS) gets
``J + cold_margin``. ``GovernorSettings`` sets ``J = DEFAULT_JITTER`` (50 ms), which also covers
opening a connection on a short path; the core's own default is 0, a window on grant times.

Bounds
------

Each request ``k`` stands for one *bound* ``b_k``, a time such that ``a_j - a_k >= s_j - b_k``
for every request ``j`` granted after it (write ``base`` for the least delay of any request:
``a_j >= s_j + base``)::

    b_k = s_k + lag_k + J             while no answer is matched to it: M
    b   = min(r, x + J)               for an answer read at r to a request whose send began at x

(The first with ``cold_margin`` added in a cold window.) The second holds whichever request the
answer is for: that request arrived by ``r``, and by M, counted from its send, by ``x + base_x +
J``, ``base_x`` being the quickest request's delay from its send (and ``a_j >= x_j + base_x >= s_j
+ base_x``). Where the network is calm the answer comes back soon after the arrival and ``b =
r``: the slack left is the request's round trip, measured per request rather than a fixed margin.
Where it is not, ``b`` is ``J`` after the send at most: a slow answer (a long upload, a busy
server after it counted the request) costs nothing more.

Booking
-------

``r <= R`` is the rate in force (see "429 feedback") and ``B(n)`` the ``n``-th largest bound held::

    span     = WINDOW + margin            margin: slack for clocks and timers
    T        = max(1 / r, span / limit)   the emission interval at the rate in force
    tau      = (burst - 1) * T_R          the GCRA burst tolerance, T_R being T at r = R
    earliest = max(TAT - tau,             GCRA: theoretical arrival time, less the tolerance
                   B(limit) + span,       the cap: at most limit - 1 bounds above slot - span
                   last,                  slots never go backwards
                   paused_until)          nothing during a 429 pause
    slot     = max(now, earliest)
    TAT     := max(TAT, earliest, since) + T

**No window at the server ever holds more than limit arrivals.** Suppose ``limit + 1`` arrivals
lie in one window ``[t, t + WINDOW)``, and let ``j`` be the request of them granted last. For
each of the other ``limit``, ``a_j - a_k < WINDOW``, so ``b_k > s_j - WINDOW > s_j - span``:
``limit`` bounds above ``s_j - span``. But ``j`` was booked at ``s_j >= B(limit) + span``, when at
most ``limit - 1`` bounds lay above ``s_j - span``. (Bounds only ever fall, each to a value that
is still a bound, so those held when ``j`` was booked were bounds.) The argument needs the book's
bounds to be no fewer above any threshold than the true ones; the matching keeps that.

Matching answers to grants
--------------------------

An answer carries no request, only ``r`` and ``x``. A grant's *key* is ``s + lag`` (its bound
less ``J``); by M the answer's own grant has a key at or after ``x - J``. It is matched to the
unmatched grant with the **least key at or after** ``x - J``: that grant's bound leaves the book,
the answer's enters it. If the answer is really another grant's, that one has a smaller key or
was matched before, and an exchange argument shows that the matched grants stay *earlier* than
the truly answered ones: for every ``u``, no more matched grants than answered ones have keys
after ``u`` (docs/governor.md). So for every threshold the book holds at least as many bounds
above it as the truth. An answer is ignored (always safe: the book stays as if it had not come
yet) when its send began ``span`` or more before it was read, as its grant may be one the book
has already dropped, and when no grant is left to match. With a ``cold_margin``, the grants of a
cold window are never matched (their bounds hold until the horizon) and answers that may be
theirs (``x - J`` at or before the latest cold key) are ignored. A lost request (never
answered) keeps its bound and is passed over by the answers of requests more than ``J`` younger.

Throughput at full demand is about ``limit / (span + e)``, ``e`` being how long after its grant
the bound of the request ``limit`` places back lies: 99.6 % of the cap on a loopback server,
about 96.7 % when each request is held 0 to 50 ms on its way in, and ``limit / (span + J)``
(95 %) when no answer is ever reported.

429 feedback
------------

A 429 at ``now`` with a pause of ``p`` seconds (``Retry-After``, else about a second) is a
signal, not a collapse::

    paused_until := max(paused_until, now + p)       nobody is granted before
    TAT          := max(TAT, paused_until + tau)     no burst straight after a pause

and the rate is lowered only when the 429s *repeat*:

* a 429 before ``max(paused_until, signal + WINDOW)`` answers a request sent before the signal
  was seen: it extends the pause and nothing else (requests in flight failing together are one
  signal);
* a new signal within ``repeat_window`` seconds after the previous pause ended is a repeat:
  ``r_low := max(min(R, MIN_RATE), r(now) * decrease)``, and the rate climbs back from the end of
  the pause, ``r(t) = min(R, r_low + recovery * R * (t - paused_until))``;
* any other 429 is isolated: the key pauses and comes back at the rate it had (the full rate,
  unless it is still climbing back from a repeat).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from typing import Final

__all__ = [
    "DEFAULT_COLD_MARGIN",
    "DEFAULT_DECREASE",
    "DEFAULT_JITTER",
    "DEFAULT_MARGIN",
    "DEFAULT_RECOVERY",
    "DEFAULT_REPEAT_WINDOW",
    "GCRA",
    "MIN_RATE",
    "WINDOW",
    "max_in_window",
]

WINDOW: Final = 1.0
"""The server's window, in seconds: it allows ``limit`` requests in any window this long."""

DEFAULT_MARGIN: Final = 0.002
"""Seconds of slack added to every window, for clocks and timers (costs 0.2 % of rate)."""

DEFAULT_JITTER: Final = 0.05
"""How much longer one request may take to reach the server than another, in seconds."""

DEFAULT_COLD_MARGIN: Final = 0.0
"""More allowance for the requests of the first window after a cold start (new connections):
none by default, ``jitter`` covering a connection's setup as it covers the network's."""

DEFAULT_DECREASE: Final = 0.5
"""After a repeated 429 the rate in force drops to this fraction of itself."""

DEFAULT_RECOVERY: Final = 0.05
"""After a lowering pause the rate climbs back by this fraction of the rate per second."""

DEFAULT_REPEAT_WINDOW: Final = 2.0
"""A 429 this many seconds or less after the previous pause is a repeat: it lowers the rate."""

MIN_RATE: Final = 1.0
"""A 429 never lowers the rate below this many requests per second (or the configured rate)."""


def _remove(values: list[float], value: float) -> None:
    """Remove one ``value`` from the sorted list ``values`` (it must be there)."""
    del values[bisect_left(values, value)]


class _Pool:
    """Grants no answer is matched to yet, whose bounds share one allowance over their keys.

    A grant's key ``e`` is its slot plus the driver's lag allowance for it; its bound is ``e``
    plus the pool's allowance, so keys and bounds sort alike. Three parallel lists, by key.
    """

    __slots__ = ("bounds", "keys", "slots")

    def __init__(self) -> None:
        self.keys: list[float] = []
        self.bounds: list[float] = []
        self.slots: list[float] = []

    def add(self, key: float, bound: float, slot: float) -> None:
        index = bisect_right(self.keys, key)
        self.keys.insert(index, key)
        self.bounds.insert(index, bound)
        self.slots.insert(index, slot)

    def take(self, at_least: float) -> float | None:
        """Remove the grant with the least key ``>= at_least``; return its bound (or None)."""
        index = bisect_left(self.keys, at_least)
        if index == len(self.keys):
            return None
        bound = self.bounds[index]
        del self.keys[index], self.bounds[index], self.slots[index]
        return bound

    def prune(self, horizon: float) -> None:
        """Forget the grants whose bounds are at or below ``horizon``."""
        gone = bisect_right(self.bounds, horizon)
        if gone:
            del self.keys[:gone], self.bounds[:gone], self.slots[:gone]


class GCRA:
    """Books send slots for one API key: GCRA spacing, a cap on arrivals, pauses and AIMD.

    The formulas and the argument are in the module docstring. Times are floats on any one
    monotonic clock; an instance is not thread-safe (its driver serialises calls).

    Args:
        rate: the configured rate ``R`` in requests per second (> 0).
        burst: slots that may go back to back after idle, ``1 <= burst <= limit``.
        margin: seconds added to every window, ``0 <= margin < WINDOW``.
        jitter: ``J``, how much longer one request may take from its grant to the server than
            another, ``0 <= jitter < WINDOW``. 0 here (requests arrive as granted: a window on
            grant times, as the Redis governor keeps); :class:`GovernorSettings` defaults it to
            :data:`DEFAULT_JITTER`.
        cold_margin: more allowance for the slots of the first window after a cold start,
            ``0 <= cold_margin < WINDOW``; when set, those slots are never matched to answers.
        decrease: the factor a repeated 429 multiplies the rate in force by, ``0 < decrease <= 1``.
        recovery: the fraction of ``rate`` regained per second after a lowering pause, ``> 0``.
        repeat_window: seconds after a pause within which a new 429 lowers the rate, ``>= 0``.

    Raises:
        ValueError: for a parameter out of range.
    """

    __slots__ = (
        "_answered",
        "_bounds",
        "_climb_from",
        "_cold_keys",
        "_cold_until",
        "_echo_until",
        "_horizon",
        "_last",
        "_last_bound",
        "_low",
        "_now",
        "_paused_until",
        "_pending",
        "_repeat_until",
        "_span",
        "_tat",
        "_tau",
        "burst",
        "cold_margin",
        "decrease",
        "jitter",
        "limit",
        "margin",
        "rate",
        "recovery",
        "repeat_window",
    )

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        margin: float = DEFAULT_MARGIN,
        jitter: float = 0.0,
        cold_margin: float = DEFAULT_COLD_MARGIN,
        decrease: float = DEFAULT_DECREASE,
        recovery: float = DEFAULT_RECOVERY,
        repeat_window: float = DEFAULT_REPEAT_WINDOW,
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
        if not 0 <= jitter < WINDOW:
            raise ValueError(f"jitter must be >= 0 and < {WINDOW:g} s, got {jitter!r}")
        if not 0 <= cold_margin < WINDOW:
            raise ValueError(f"cold_margin must be >= 0 and < {WINDOW:g} s, got {cold_margin!r}")
        if not 0 < decrease <= 1:
            raise ValueError(f"decrease must be > 0 and <= 1, got {decrease!r}")
        if not (math.isfinite(recovery) and recovery > 0):
            raise ValueError(f"recovery must be a finite number > 0, got {recovery!r}")
        if not (math.isfinite(repeat_window) and repeat_window >= 0):
            raise ValueError(f"repeat_window must be a finite number >= 0, got {repeat_window!r}")
        self.rate = float(rate)
        self.limit = limit
        self.burst = burst
        self.margin = margin
        self.jitter = jitter
        self.cold_margin = cold_margin
        self.decrease = decrease
        self.recovery = recovery
        self.repeat_window = repeat_window
        self._span = WINDOW + margin
        self._tau = (burst - 1) * max(1.0 / self.rate, self._span / limit)
        self._tat = -math.inf
        self._last = -math.inf  # the latest slot booked
        self._last_bound = -math.inf  # the bound of the latest booking
        self._cold_until = -math.inf  # slots before this get cold_margin more
        self._cold_keys = -math.inf  # the latest key of a slot that got it
        # The window: every bound that can still matter, sorted. Of those, the answers' own, and
        # those of the grants an answer may still be matched to. Bounds at or below the horizon
        # can no longer matter and are dropped.
        self._bounds: list[float] = []
        self._answered: list[float] = []
        self._pending = _Pool()
        self._horizon = -math.inf
        self._now = -math.inf
        # 429 feedback
        self._paused_until = -math.inf
        self._echo_until = -math.inf
        self._repeat_until = -math.inf
        self._low = self.rate  # the rate right after the last decrease
        self._climb_from = -math.inf  # when the climb back from _low starts

    @property
    def paused_until(self) -> float:
        """Nothing is booked before this time (``-inf`` when never paused)."""
        return self._paused_until

    @property
    def last_bound(self) -> float:
        """The bound of the latest booking (``-inf`` before the first): by M, the latest time its
        request's send may begin. A driver whose waiter starts later than that (a stalled event
        loop) must not send on that grant: its bound would not be one. See :meth:`book`."""
        return self._last_bound

    @property
    def in_flight(self) -> int:
        """Grants no answer has been matched to, among those that can still matter."""
        return len(self._pending.keys)

    def rate_at(self, now: float) -> float:
        """The rate in force: ``min(R, r_low + recovery * R * max(0, now - climb start))``."""
        if self._low >= self.rate:
            return self.rate
        climbed = self._low + self.recovery * self.rate * max(0.0, now - self._climb_from)
        return min(self.rate, climbed)

    def interval(self, now: float) -> float:
        """The emission interval at ``now``: ``T = max(1 / r, span / limit)``."""
        return max(1.0 / self.rate_at(now), self._span / self.limit)

    def earliest(self) -> float:
        """The earliest time the next slot may be booked for (``-inf`` for a fresh instance).

        ``max(TAT - tau, B(limit) + span, last, paused_until)``: a slot is free at any time
        from then on (until a new booking or pause; an answer may bring it earlier).
        """
        slot = max(self._tat - self._tau, self._paused_until, self._last)
        bounds = self._bounds
        if len(bounds) >= self.limit:
            slot = max(slot, bounds[-self.limit] + self._span)
        return slot

    def book(self, now: float, since: float | None = None, lag: float = 0.0) -> float:
        """Book the next slot and return its time, ``max(now, earliest())`` (maybe in the future).

        Args:
            now: the current time.
            since: when the request began waiting (default ``now``; later than ``now`` counts as
                ``now``). A driver that grants queued waiters passes their enqueue time, so that
                TAT follows the schedule rather than its own wake-up lateness.
            lag: how much later than ``jitter`` allows the send may begin (``0 <= lag <=
                WINDOW``): a driver whose event loop runs late passes how late, and the grant's
                bound moves that much later (see "Bounds" in the module docstring).

        The grant's bound is then :attr:`last_bound`. A grant whose send cannot begin by then
        is best left unused, and a new slot booked: the unused grant counts as a request that
        never arrived (its bound stays until the horizon, or until answers of requests more
        than ``jitter`` younger pass it over), which errs on the safe side.
        """
        self._advance(now)
        earliest = self.earliest()
        slot = max(now, earliest)
        arrival = now if since is None else min(since, now)
        self._tat = max(self._tat, earliest, arrival) + self.interval(now)
        if slot - self._last >= WINDOW:  # a cold start: nothing booked for a whole window
            self._cold_until = slot + WINDOW
        self._last = slot
        key = slot + min(max(0.0, lag), WINDOW)
        bound = key + self.jitter
        if self.cold_margin and slot < self._cold_until:
            bound += self.cold_margin  # left unmatched: its bound holds until the horizon
            self._cold_keys = max(self._cold_keys, key)
        else:
            self._pending.add(key, bound, slot)
        insort(self._bounds, bound)
        self._last_bound = bound
        return slot

    def answered(self, now: float, sent: float) -> bool:
        """Record an answer read at ``now`` to a request whose send began at ``sent``.

        Matches it to the grant with the least key (slot plus its ``lag``) at or after
        ``sent - jitter`` that no answer is matched to yet (the module docstring says why that
        is safe), and returns whether it was used. An answer is ignored when its send began
        ``span`` or more before ``now``, when no grant is left to match, and, with a
        ``cold_margin``, when it may be a cold window's: its send began no more than ``jitter``
        after the latest key of a cold slot (those keep their bounds). ``sent`` later than
        ``now`` counts as ``now``.
        """
        self._advance(now)
        sent = min(sent, now)
        if sent <= now - self._span:
            return False
        if sent - self.jitter <= self._cold_keys:
            return False  # it may be a cold slot's, and those keep their bounds
        bound = self._pending.take(sent - self.jitter)
        if bound is None:
            return False
        if bound > self._horizon:
            _remove(self._bounds, bound)
        answer = min(now, sent + self.jitter)  # above the horizon, as sent is
        insort(self._bounds, answer)
        insort(self._answered, answer)
        return True

    def _advance(self, now: float) -> None:
        """Move the clock on to ``now`` and drop the bounds no later slot can meet."""
        if not now > self._now:
            return
        self._now = now
        horizon = now - self._span  # a slot at or after now only meets bounds above this
        self._horizon = horizon
        for values in (self._bounds, self._answered):
            gone = bisect_right(values, horizon)
            if gone:
                del values[:gone]
        self._pending.prune(horizon)

    def projected(self, now: float, ahead: int) -> float:
        """A lower bound on the slot of the booking ``ahead`` places after the next one.

        For ``ahead = k >= 1``, assuming the bookings in between are made when their slots come,
        for requests made no earlier than ``now``, at the rate in force and with no new pause,
        and assuming each grant's bound ends no earlier than its own slot (an answer may lower
        a bound to there). With ``first = max(now, earliest())``, ``L(n)`` the ``n``-th largest
        of the answers' bounds and the unanswered grants' slots, ``n = limit - (k mod limit)``::

            slot_k >= max(TAT, first) + k * T - tau                             (GCRA)
            slot_k >= max(first, min(L(n), first) + span) + (k div limit) * span   (window)

        ``ahead = 0`` gives ``first`` itself. Used to fail fast when even this bound is too late.
        """
        first = max(now, self.earliest())
        if ahead <= 0:
            return first
        gcra = max(self._tat, first) + ahead * self.interval(now) - self._tau
        laps, offset = divmod(ahead, self.limit)
        lap_start = first
        if offset:
            lows = sorted(self._answered + self._pending.slots)
            back = self.limit - offset
            if back <= len(lows):
                lap_start = max(first, min(lows[-back], first) + self._span)
        return max(first, gcra, lap_start + laps * self._span)

    def rate_limited(self, now: float, pause: float) -> None:
        """Record a 429 seen at ``now``: pause ``pause`` seconds (>= 0); lower the rate if the
        429s repeat.

        See "429 feedback" in the module docstring for the echo, repeat and isolated cases.
        """
        pause = max(0.0, pause)
        echo = now < self._echo_until
        repeat = not echo and now < self._repeat_until
        if repeat:
            self._low = max(min(self.rate, MIN_RATE), self.rate_at(now) * self.decrease)
        self._paused_until = max(self._paused_until, now + pause)
        if repeat:
            self._climb_from = self._paused_until
        elif echo and self._climb_from > now:  # the climb had not begun: it waits for the pause
            self._climb_from = max(self._climb_from, self._paused_until)
        if not echo:
            self._echo_until = now + WINDOW
        self._echo_until = max(self._echo_until, self._paused_until)
        self._repeat_until = self._paused_until + self.repeat_window
        self._tat = max(self._tat, self._paused_until + self._tau)

    def __repr__(self) -> str:
        return (
            f"GCRA(rate={self.rate:g}, limit={self.limit}, burst={self.burst}, "
            f"margin={self.margin:g}, jitter={self.jitter:g}, paused_until={self._paused_until:g})"
        )


def max_in_window(times: Iterable[float], window: float = WINDOW) -> int:
    """The largest number of ``times`` inside any half-open window ``[t, t + window)``.

    Exact, in ``O(n log n)``; the order of ``times`` does not matter. The busiest window can
    always be taken to start at one of the times, so only those starts are checked. Pass
    ``window = WINDOW + margin`` to check the governor's stronger guarantee on grant times.

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
