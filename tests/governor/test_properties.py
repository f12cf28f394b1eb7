"""Property tests of the sans-IO slot book: the window guarantee for any arrival pattern.

Hypothesis draws a ``GCRA`` (rate, burst, margin, jitter, cold margin, decrease, recovery, all
within their bounds) and a timeline of events: bursts (many requests at one instant), streams
(requests spaced at some offered rate, which changes from one stream to the next), idle gaps and
429s with arbitrary pauses; no answers are reported (``test_arrivals.py`` reports them). Two
drivers serve it:

* **book on arrival**: every request books its slot the moment it arrives (slots may lie in the
  future), as a caller of ``book(now)`` that then sleeps until its slot would;
* **FIFO driver**: requests queue in arrival order and are granted one by one when a slot is
  free, by a timer that may fire late, passing the enqueue time as ``since``, as the async
  ``Governor`` does.

Whatever the pattern, the booked slots never put more than ``limit`` into any 1-second window
(nor into any ``1 + margin`` window), every slot is at or after its request's time, slots never
go backwards in FIFO order, and no slot booked after a 429 lies inside its pause.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from tightknit_async.governor import GCRA, max_in_window
from tightknit_async.governor._gcra import (
    DEFAULT_COLD_MARGIN,
    DEFAULT_JITTER,
    DEFAULT_MARGIN,
    WINDOW,
)

PROPERTY_SETTINGS = settings(deadline=None, max_examples=200)


@dataclass(frozen=True)
class Burst:
    """``count`` requests arriving together, ``gap`` seconds after the previous event."""

    gap: float
    count: int


@dataclass(frozen=True)
class Stream:
    """``count`` requests ``spacing`` seconds apart (an offered rate of ``1 / spacing``)."""

    gap: float
    count: int
    spacing: float


@dataclass(frozen=True)
class RateLimited:
    """A 429 seen ``gap`` seconds after the previous event, pausing for ``pause`` seconds."""

    gap: float
    pause: float


Event = Burst | Stream | RateLimited

# No gap, a sliver, less than a window, and idle gaps long enough to refill any burst.
gaps = st.one_of(
    st.just(0.0),
    st.floats(0.0, 0.01),
    st.floats(0.0, 1.5),
    st.floats(1.0, 10.0),
)
events: st.SearchStrategy[Event] = st.one_of(
    st.builds(Burst, gap=gaps, count=st.integers(1, 80)),
    st.builds(
        Stream,
        gap=gaps,
        count=st.integers(1, 80),
        spacing=st.one_of(st.floats(0.0, 0.05), st.floats(0.0, 1.2)),
    ),
    st.builds(RateLimited, gap=gaps, pause=st.one_of(st.just(0.0), st.floats(0.0, 3.0))),
)


@st.composite
def cores(draw: st.DrawFn) -> GCRA:
    """A ``GCRA`` with every parameter drawn within its documented bounds."""
    rate = draw(
        st.one_of(
            st.sampled_from([1.0, 2.0, 10.0, 50.0, 50.5]),
            st.floats(0.25, 120.0, allow_nan=False, allow_infinity=False),
        )
    )
    limit = max(1, math.floor(rate))
    return GCRA(
        rate,
        burst=draw(st.one_of(st.just(1), st.just(limit), st.integers(1, limit))),
        margin=draw(st.one_of(st.sampled_from([0.0, DEFAULT_MARGIN]), st.floats(0.0, 0.2))),
        jitter=draw(st.one_of(st.sampled_from([0.0, DEFAULT_JITTER]), st.floats(0.0, 0.3))),
        cold_margin=draw(
            st.one_of(st.sampled_from([0.0, DEFAULT_COLD_MARGIN]), st.floats(0.0, 0.9))
        ),
        decrease=draw(st.one_of(st.sampled_from([0.5, 1.0]), st.floats(0.01, 1.0))),
        recovery=draw(st.floats(0.01, 5.0)),
    )


Timeline = list[tuple[float, "float | None"]]
"""(time, None) for a request arriving, (time, pause) for a 429 seen; times non-decreasing."""


def timeline(pattern: list[Event]) -> Timeline:
    """Lay the events out on the clock, starting at 0."""
    out: Timeline = []
    now = 0.0
    for event in pattern:
        now += event.gap
        if isinstance(event, RateLimited):
            out.append((now, event.pause))
        elif isinstance(event, Burst):
            out.extend([(now, None)] * event.count)
        else:
            for i in range(event.count):
                out.append((now + i * event.spacing, None))
            now += (event.count - 1) * event.spacing
    return out


def assert_window_guarantee(core: GCRA, slots: list[float]) -> None:
    assert max_in_window(slots, WINDOW) <= core.limit
    assert max_in_window(slots, WINDOW + core.margin) <= core.limit


@PROPERTY_SETTINGS
@given(core=cores(), pattern=st.lists(events, max_size=14))
def test_booking_on_arrival_keeps_every_window_within_the_limit(
    core: GCRA, pattern: list[Event]
) -> None:
    slots: list[float] = []
    for now, pause in timeline(pattern):
        if pause is not None:
            core.rate_limited(now, pause)
            continue
        paused_until = core.paused_until
        slot = core.book(now)
        assert slot >= now  # never before the request
        assert slot >= paused_until  # never inside a pause reported before the booking
        assert not slots or slot >= slots[-1]  # FIFO: never before the previous booking
        slots.append(slot)
    assert_window_guarantee(core, slots)


@PROPERTY_SETTINGS
@given(
    core=cores(),
    pattern=st.lists(events, max_size=14),
    lateness=st.sampled_from([0.0, 0.001, 0.02, 0.3]),
    rng=st.randoms(use_true_random=False),
)
def test_a_fifo_driver_granting_late_keeps_every_window_within_the_limit(
    core: GCRA, pattern: list[Event], lateness: float, rng: random.Random
) -> None:
    """Requests queue on arrival; a timer aimed at the next free slot grants the head of the
    queue, firing up to ``lateness`` late (0 a third of the time), as the async driver does."""
    pending = deque(timeline(pattern))
    queue: deque[float] = deque()  # enqueue times, FIFO
    grants: list[tuple[float, float]] = []  # (since, slot) in grant order
    now = 0.0
    while pending or queue:
        grant_at = math.inf
        if queue:
            late = 0.0 if rng.random() < 1 / 3 else rng.uniform(0.0, lateness)
            grant_at = max(now, core.earliest()) + late
        if pending and pending[0][0] <= grant_at:
            at, pause = pending.popleft()
            now = max(now, at)
            if pause is None:
                queue.append(now)
            else:
                core.rate_limited(now, pause)
            continue
        now = grant_at
        since = queue.popleft()
        paused_until = core.paused_until
        slot = core.book(now, since)
        assert slot == now  # the driver only grants when a slot is free
        assert slot >= since
        assert slot >= paused_until
        assert not grants or slot >= grants[-1][1]
        grants.append((since, slot))
    assert_window_guarantee(core, [slot for _, slot in grants])


@PROPERTY_SETTINGS
@given(
    core=cores(),
    arrivals=st.lists(st.floats(0.0, 30.0), min_size=1, max_size=300).map(sorted),
    lags=st.lists(st.floats(0.0, 2.0), min_size=1, max_size=300),
)
def test_booking_with_any_since_keeps_every_window_within_the_limit(
    core: GCRA, arrivals: list[float], lags: list[float]
) -> None:
    """``since`` anywhere at or before ``now`` (a waiter that queued long ago) cannot break the
    window: the log, not GCRA, enforces it."""
    slots: list[float] = []
    for i, now in enumerate(arrivals):
        since = now - lags[i % len(lags)]
        slot = core.book(now, since)
        assert slot >= now
        assert not slots or slot >= slots[-1]
        slots.append(slot)
    assert_window_guarantee(core, slots)
