"""The sans-IO slot book: tables of cases, then randomised patterns with fixed seeds.

Arrival times at the server (network delays, answers) are simulated in ``test_arrivals.py``.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable

import pytest

from tightknit_async.governor import GCRA, max_in_window
from tightknit_async.governor._gcra import DEFAULT_MARGIN, WINDOW

# -- construction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "options", "match"),
    [
        (0, {}, "rate must be"),
        (-5, {}, "rate must be"),
        (math.inf, {}, "rate must be"),
        (math.nan, {}, "rate must be"),
        (50, {"burst": 0}, r"burst must be between 1 and 50"),
        (50, {"burst": 51}, r"burst must be between 1 and 50"),
        (0.5, {"burst": 2}, r"burst must be between 1 and 1"),
        (50, {"margin": -0.001}, "margin must be"),
        (50, {"margin": 1.0}, "margin must be"),
        (50, {"jitter": -0.001}, "jitter must be"),
        (50, {"jitter": 1.0}, "jitter must be"),
        (50, {"repeat_window": -1.0}, "repeat_window must be"),
        (50, {"repeat_window": math.inf}, "repeat_window must be"),
        (50, {"decrease": 0}, "decrease must be"),
        (50, {"decrease": 1.5}, "decrease must be"),
        (50, {"recovery": 0}, "recovery must be"),
        (50, {"recovery": math.inf}, "recovery must be"),
    ],
)
def test_rejects_parameters_out_of_range(
    rate: float, options: dict[str, float], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        GCRA(rate, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rate", "limit"), [(50, 50), (50.9, 50), (1, 1), (0.5, 1), (0.01, 1), (1000, 1000)]
)
def test_window_limit_is_the_whole_requests_one_second_allows(rate: float, limit: int) -> None:
    assert GCRA(rate).limit == limit


# -- booking tables -----------------------------------------------------------------------------

Step = tuple[float, "float | None"]  # (now, since)


@pytest.mark.parametrize(
    ("name", "core", "steps", "expected"),
    [
        (
            "no burst: slots exactly T apart",
            lambda: GCRA(10, margin=0, cold_margin=0),
            [(0.0, None)] * 4,
            [0.0, 0.1, 0.2, 0.3],
        ),
        (
            "the margin widens T to (1 + margin) / limit",
            lambda: GCRA(50),
            [(0.0, None)] * 3,
            [0.0, 0.02004, 0.04008],
        ),
        (
            "a rate below one per second",
            lambda: GCRA(0.5, margin=0, cold_margin=0),
            [(0.0, None)] * 3,
            [0.0, 2.0, 4.0],
        ),
        (
            "burst 3 back to back, then T apart, then the window log holds the second",
            lambda: GCRA(10, burst=3, margin=0, cold_margin=0),
            [(0.0, None)] * 14,
            [0.0, 0.0, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 1.0, 1.0, 1.0, 1.1],
        ),
        (
            "requests that come slower than T go at once",
            lambda: GCRA(10, margin=0, cold_margin=0),
            [(0.0, None), (0.5, None), (0.55, None), (2.0, None)],
            [0.0, 0.5, 0.6, 2.0],
        ),
        (
            "after idle the schedule restarts from now: no credit banked beyond the burst",
            lambda: GCRA(10, burst=2, margin=0, cold_margin=0),
            [(0.0, None), (5.0, None), (5.0, None), (5.0, None)],
            [0.0, 5.0, 5.0, 5.1],
        ),
        (
            "a queued waiter granted 50 ms late does not push the next slot back",
            lambda: GCRA(10, margin=0, cold_margin=0),
            [(0.0, None), (0.15, 0.0), (0.15, 0.0)],
            [0.0, 0.15, 0.2],
        ),
        (
            "without `since` the same lateness pushes the next slot back",
            lambda: GCRA(10, margin=0, cold_margin=0),
            [(0.0, None), (0.15, None), (0.15, None)],
            [0.0, 0.15, 0.25],
        ),
        (
            "a stall longer than T lets one more through at once, then spacing resumes",
            lambda: GCRA(10, margin=0, cold_margin=0),
            [(0.0, 0.0), (0.35, 0.0), (0.35, 0.0), (0.35, 0.0)],
            [0.0, 0.35, 0.35, 0.45],
        ),
        (
            "the margin keeps limit + 1 slots at least 1 + margin apart",
            lambda: GCRA(2, burst=2, margin=0.25, cold_margin=0),
            [(0.0, None)] * 5,
            [0.0, 0.0, 1.25, 1.25, 2.5],
        ),
        (
            "unanswered, a slot counts as arriving up to jitter after it: each window waits",
            lambda: GCRA(10, jitter=0.05, margin=0, cold_margin=0),
            [(0.0, None)] * 21,
            [i / 10 for i in range(10)] + [1.05 + i / 10 for i in range(10)] + [2.1],
        ),
    ],
)
def test_booking(
    name: str, core: Callable[[], GCRA], steps: list[Step], expected: list[float]
) -> None:
    book = core()
    slots = [book.book(now, since) for now, since in steps]
    assert slots == pytest.approx(expected), name


def test_earliest_is_minus_infinity_when_fresh_and_book_never_goes_backwards() -> None:
    core = GCRA(10)
    assert core.earliest() == -math.inf
    assert core.book(5.0) == 5.0
    assert core.book(1.0) >= 5.0  # a clock that went back cannot move a slot before the last one


def test_repr_shows_the_parameters_and_the_pause() -> None:
    core = GCRA(50.5, burst=2, jitter=0.05)
    core.rate_limited(3.0, 1.5)
    assert repr(core) == (
        "GCRA(rate=50.5, limit=50, burst=2, margin=0.002, jitter=0.05, paused_until=4.5)"
    )


# -- answers --------------------------------------------------------------------------------------


def test_an_answer_brings_the_next_window_forward_to_when_it_was_read() -> None:
    core = GCRA(2, jitter=0.05, margin=0, cold_margin=0)
    assert [core.book(0.0), core.book(0.0)] == [0.0, 0.5]
    assert core.earliest() == pytest.approx(1.05)  # unanswered: slot 0.0 arrives by 0.05
    assert core.answered(0.02, 0.0)  # read at 0.02: it arrived by then
    assert core.earliest() == pytest.approx(1.02)
    assert core.in_flight == 1


def test_answers_are_matched_to_the_oldest_grant_at_or_after_their_send_less_jitter() -> None:
    core = GCRA(10, jitter=0.05, margin=0, cold_margin=0)
    assert [core.book(t) for t in (0.0, 0.1, 0.2)] == pytest.approx([0.0, 0.1, 0.2])
    assert core.answered(0.25, 0.2)  # grants 0.0 and 0.1 are older than 0.15: passed over
    assert core._pending.slots == pytest.approx([0.0, 0.1])
    assert core.answered(0.26, 0.1)
    assert core._pending.slots == pytest.approx([0.0])  # 0.0: lost, or still on its way
    assert core.answered(0.3, 0.0)
    assert core.in_flight == 0


def test_answers_out_of_order_swap_grants_and_keep_both() -> None:
    core = GCRA(50, jitter=0.05, margin=0, cold_margin=0)
    first, second = core.book(0.0), core.book(0.0)
    assert core.answered(0.03, second)  # the later one answers first: matched to the oldest
    assert core._pending.slots == [second]
    assert core.answered(0.04, first)  # and the earlier one to what is left
    assert core.in_flight == 0
    assert core._answered == pytest.approx([0.03, 0.04])


@pytest.mark.parametrize(
    ("round_trip", "bound"),
    [
        (0.04, 0.04),  # answered within jitter: it arrived by the time the answer was read
        (0.3, 0.05),  # a slow answer: it arrived within jitter of its send all the same
    ],
)
def test_an_answers_bound_is_its_read_time_or_jitter_after_its_send_if_sooner(
    round_trip: float, bound: float
) -> None:
    core = GCRA(10, jitter=0.05, margin=0, cold_margin=0)
    slot = core.book(0.0)
    assert core.answered(slot + round_trip, slot)
    assert core._answered == pytest.approx([bound])
    assert core.earliest() == pytest.approx(0.1)  # GCRA: one bound is not yet a full window


@pytest.mark.parametrize(
    ("now", "sent", "why"),
    [
        (1.0, 0.0, "its send began a span or more before it was read"),
        (0.5, 0.2, "no grant at or after its send less jitter"),
    ],
)
def test_answers_that_cannot_be_matched_are_ignored(now: float, sent: float, why: str) -> None:
    core = GCRA(10, jitter=0.05, margin=0, cold_margin=0)
    core.book(0.0)
    assert not core.answered(now, sent), why
    assert core.in_flight == 1


def test_a_send_later_than_now_counts_as_now() -> None:
    core = GCRA(10, jitter=0.05, margin=0, cold_margin=0)
    core.book(0.0)
    assert core.answered(0.03, 0.5)
    assert core._answered == [0.03]


def test_with_a_cold_margin_the_cold_windows_grants_keep_their_bounds() -> None:
    """The first window's grants count as arriving up to jitter + cold_margin late, and no answer
    is matched to them (answers whose send began no more than jitter after its last grant are
    ignored): the second window starts that much after the first; later ones as answered."""
    core = GCRA(10, jitter=0.05, margin=0, cold_margin=0.05)
    slots = [core.book(i / 10) for i in range(10)]
    assert slots == pytest.approx([i / 10 for i in range(10)])
    assert core.in_flight == 0  # none of them can be matched
    assert not core.answered(0.01, 0.0)
    assert not core.answered(1.04, 0.99)  # no grant is left to match
    assert core.book(1.0) == pytest.approx(1.1)  # 0.0 + 0.05 + 0.05 + 1
    assert core.in_flight == 1
    assert core.answered(1.11, 1.1)  # warm: matched
    assert core.in_flight == 0


def test_an_answer_sent_up_to_jitter_after_the_last_cold_grant_is_never_matched() -> None:
    """It may be that cold grant's answer, and the cold grants keep their bounds: it is ignored
    even with a warm grant waiting to be matched. The warm grant's own answer is matched."""
    core = GCRA(4, jitter=0.125, margin=0, cold_margin=0.125)
    assert [core.book(i / 4) for i in range(4)] == [0.0, 0.25, 0.5, 0.75]  # the cold window
    assert core.book(1.0) == 1.25  # warm: 0.0 + jitter + cold_margin + 1
    assert core.in_flight == 1
    assert not core.answered(1.3, 0.875)  # sent exactly jitter after the cold grant at 0.75
    assert core.in_flight == 1
    assert core.answered(1.3, 1.25)
    assert core.in_flight == 0


def test_a_grant_sent_late_by_a_busy_loop_gets_that_much_more() -> None:
    """``lag``: the driver's loop runs late, so the grant's bound and its key move later."""
    core = GCRA(2, jitter=0.05, margin=0, cold_margin=0)
    assert core.book(0.0, lag=0.2) == 0.0
    assert core._pending.keys == [0.2]
    assert core.earliest() == pytest.approx(0.5)  # GCRA spacing as ever
    core.book(0.5)
    assert core.earliest() == pytest.approx(1.25)  # 0.0 + 0.2 + 0.05 + 1
    assert core.answered(0.4, 0.25)  # its send began 0.25 s after its grant: its key is 0.2
    assert core._pending.keys == [0.5]


def test_bounds_no_later_slot_can_meet_are_dropped() -> None:
    core = GCRA(10, jitter=0.05, margin=0, cold_margin=0)
    core.book(0.0)
    assert core.answered(0.5, 0.4) is False  # nothing at or after 0.35
    core.book(2.0)  # the horizon is now 1.0: the bound 0.05 is gone, and its grant
    assert core.in_flight == 1
    assert core._bounds == pytest.approx([2.05])


# -- pauses and AIMD ----------------------------------------------------------------------------


def test_a_single_429_pauses_without_lowering_the_rate() -> None:
    core = GCRA(50)
    core.book(0.0)
    core.rate_limited(1.0, 2.0)
    assert core.paused_until == 3.0
    assert core.earliest() == 3.0
    assert core.rate_at(1.0) == core.rate_at(3.0) == 50.0
    assert core.book(1.5) == 3.0
    assert core.book(3.0) == pytest.approx(3.02004)  # T at the full rate


def test_429s_during_the_pause_or_its_first_second_only_extend_it() -> None:
    core = GCRA(50)
    core.rate_limited(0.0, 1.0)
    core.rate_limited(0.4, 1.0)  # an echo: a request sent before the first 429 was seen
    assert core.paused_until == 1.4
    core.rate_limited(1.3, 0.0)  # still inside the pause
    assert core.rate_at(1.4) == 50.0
    short = GCRA(50)
    short.rate_limited(0.0, 0.0)  # no pause at all: the signal's first second is still its own
    short.rate_limited(0.9, 0.0)
    assert short.rate_at(0.9) == 50.0


def test_a_429_soon_after_a_pause_is_a_repeat_and_lowers_the_rate() -> None:
    core = GCRA(50)  # decrease 0.5, recovery 0.05 * 50 = 2.5/s per second
    core.rate_limited(0.0, 1.0)
    assert core.rate_at(1.0) == 50.0
    core.rate_limited(2.5, 1.5)  # 1.5 s after the pause ended: within repeat_window (2 s)
    assert core.paused_until == 4.0
    assert core.rate_at(3.0) == core.rate_at(4.0) == 25.0
    assert core.rate_at(5.0) == pytest.approx(27.5)  # climbing back from the end of the pause
    assert core.rate_at(13.0) == pytest.approx(47.5)
    assert core.rate_at(14.0) == core.rate_at(100.0) == 50.0
    assert core.book(4.0) == 4.0
    assert core.book(4.0) == pytest.approx(4.04)  # T = 1/25 while the rate is lowered
    core.rate_limited(20.0, 1.0)  # 16 s after that pause: isolated again
    assert core.rate_at(20.0) == 50.0


def test_the_repeat_window_ends_exactly_repeat_window_after_the_pause() -> None:
    core = GCRA(50, repeat_window=2.0)
    core.rate_limited(0.0, 1.0)
    core.rate_limited(3.0, 0.0)  # exactly 2 s after the pause ended: no longer a repeat
    assert core.rate_at(3.0) == 50.0
    core.rate_limited(4.999, 0.0)  # 1.999 s after the last 429's (empty) pause, a second later
    assert core.rate_at(4.999) == 25.0


@pytest.mark.parametrize(
    ("pause", "closes"), [(1.0, "the pause ends"), (0.2, "the signal's first second ends")]
)
def test_a_429_exactly_when_the_echo_window_closes_is_a_repeat(pause: float, closes: str) -> None:
    """The echo window closes at the later of the pause's end and the signal's first second: a
    429 at that very moment is a new signal, here a repeat that lowers the rate."""
    core = GCRA(50)
    core.rate_limited(0.0, pause)
    core.rate_limited(1.0, 0.0)  # exactly when the echo window closes: 1.0, as `closes`
    assert core.rate_at(1.0) == 25.0, closes


def test_a_repeat_window_of_0_never_lowers_the_rate() -> None:
    """``repeat_window=0``: no 429 is a repeat (those during the echo window are echoes), so
    every one pauses the key and none slows it down."""
    core = GCRA(50, repeat_window=0)
    core.rate_limited(0.0, 1.0)
    core.rate_limited(1.0, 1.0)  # the moment the pause ends: not an echo, and not a repeat
    core.rate_limited(2.0, 0.0)
    assert core.paused_until == 2.0
    assert core.rate_at(2.0) == 50.0


@pytest.mark.parametrize(("at", "lowered"), [(1.4, True), (1.5, False)])
def test_a_repeat_window_under_a_second_counts_only_429s_within_it(
    at: float, lowered: bool
) -> None:
    core = GCRA(50, repeat_window=0.5)
    core.rate_limited(0.0, 1.0)
    core.rate_limited(at, 0.0)  # 0.4 s after the pause ended: a repeat; 0.5 s: isolated
    assert core.rate_at(at) == (25.0 if lowered else 50.0)


def test_an_echo_during_a_lowering_pause_delays_the_climb() -> None:
    core = GCRA(50)
    core.rate_limited(0.0, 1.0)
    core.rate_limited(2.0, 1.0)  # a repeat: 25/s, climbing from 3.0
    core.rate_limited(2.5, 1.0)  # an echo: the pause now ends at 3.5, and the climb with it
    assert core.paused_until == 3.5
    assert core.rate_at(3.5) == 25.0
    assert core.rate_at(4.5) == pytest.approx(27.5)


@pytest.mark.parametrize("echo_at", [2.5, 2.7])
def test_an_echo_once_the_climb_has_begun_extends_the_pause_but_not_the_climb(
    echo_at: float,
) -> None:
    """The climb starts when the lowering pause ends (2.5 here); an echo at or after that
    pauses the key again, and the rate climbs on as it would have."""
    core = GCRA(50)
    core.rate_limited(0.0, 1.0)
    core.rate_limited(2.0, 0.5)  # a repeat: 25/s, climbing by 2.5/s per second from 2.5
    core.rate_limited(echo_at, 0.5)  # within a second of the repeat: an echo
    assert core.paused_until == pytest.approx(echo_at + 0.5)
    assert core.rate_at(3.5) == pytest.approx(27.5)


@pytest.mark.parametrize(
    ("rate", "floor"), [(50, 1.0), (0.5, 0.5)], ids=["floor-1/s", "floor-the-configured-rate"]
)
def test_the_rate_never_drops_below_the_floor(rate: float, floor: float) -> None:
    core = GCRA(rate, recovery=0.001)
    for i in range(20):
        core.rate_limited(1.5 * i, 0.0)  # 1.5 s apart: each one after the first repeats
    assert core.rate_at(28.5) == floor


def test_decrease_1_pauses_without_slowing_down() -> None:
    core = GCRA(50, decrease=1.0)
    core.rate_limited(0.0, 1.0)
    core.rate_limited(2.0, 1.0)
    assert core.rate_at(2.5) == 50.0
    assert core.earliest() == 3.0


def test_no_burst_straight_after_a_pause() -> None:
    core = GCRA(10, burst=5, margin=0, cold_margin=0)
    core.rate_limited(0.0, 1.0)
    assert [core.book(0.0) for _ in range(3)] == pytest.approx([1.0, 1.1, 1.2])


def test_a_negative_pause_counts_as_none() -> None:
    core = GCRA(10)
    core.rate_limited(7.0, -3.0)
    assert core.paused_until == 7.0


# -- projected: the fail-fast lower bound -------------------------------------------------------


@pytest.mark.parametrize(("ahead", "slot"), [(0, 0.0), (1, 0.1), (9, 0.9), (10, 1.0), (25, 2.5)])
def test_projected_is_exact_on_a_fresh_book(ahead: int, slot: float) -> None:
    assert GCRA(10, margin=0, cold_margin=0).projected(0.0, ahead) == pytest.approx(slot)


@pytest.mark.parametrize("seed", range(300))
def test_projected_never_overestimates(seed: int) -> None:
    rng = random.Random(seed)
    rate = rng.choice([0.7, 3, 10, 50, 50.5, 200])
    core = GCRA(
        rate,
        burst=rng.randint(1, max(1, math.floor(rate))),
        margin=rng.choice([0.0, DEFAULT_MARGIN, 0.05]),
        jitter=rng.choice([0.0, 0.05]),
    )
    now = 0.0
    slots: list[float] = []
    for _ in range(rng.randrange(0, 3 * math.floor(rate) + 3)):
        now += rng.expovariate(rate * rng.uniform(0.5, 3))
        if rng.random() < 0.02:
            core.rate_limited(now, rng.uniform(0, 2))
        if slots and rng.random() < 0.5:  # an answer to one of the recent grants
            sent = rng.choice(slots[-5:])
            core.answered(max(now, sent), sent)
        slots.append(core.book(now, now - rng.uniform(0, 0.05)))
    now += rng.uniform(0, 0.5)
    ahead = rng.randrange(0, 4 * math.floor(rate) + 2)
    bound = core.projected(now, ahead)
    future = copy.deepcopy(core)
    slots = [future.book(now) for _ in range(ahead + 1)]
    assert bound <= slots[-1] + 1e-9


def test_projected_is_exact_while_the_window_log_paces_a_burst() -> None:
    """Six slots already booked back to back at t=0 (burst 10, rate 10): the next four fit in the
    same window, every later one is paced by the window, a span after the slot ten places
    back. The projection of each is the slot it actually gets."""
    core = GCRA(10, burst=10, cold_margin=0)  # span = 1.002
    assert [core.book(0.0) for _ in range(6)] == [0.0] * 6
    expected = [0.0] * 4 + [1.002] * 10 + [2.004] * 10 + [3.006]
    future = copy.deepcopy(core)
    assert [future.book(0.0) for _ in range(25)] == pytest.approx(expected)
    assert [core.projected(0.0, ahead) for ahead in range(25)] == pytest.approx(expected)


def test_projected_after_a_full_window_counts_whole_spans_per_lap() -> None:
    core = GCRA(10, burst=10, cold_margin=0)
    for _ in range(10):
        core.book(0.0)
    assert core.projected(0.0, 0) == pytest.approx(1.002)
    assert core.projected(0.0, 9) == pytest.approx(1.002)
    assert core.projected(0.0, 10) == pytest.approx(2.004)
    assert core.projected(0.5, 30) == pytest.approx(4.008)


# -- the exact one-window boundaries ------------------------------------------------------------


def test_a_slot_exactly_one_window_after_the_last_starts_a_cold_window() -> None:
    """The slot at 1.0 follows the one at 0.0 by exactly a window: its connections count as cold,
    so the slot that pairs with it one window on (two places later at rate 2) moves by
    ``cold_margin``."""
    core = GCRA(2, margin=0, cold_margin=0.05)
    slots = [core.book(0.0), core.book(1.0), core.book(1.5), core.book(1.5), core.book(1.5)]
    assert slots == pytest.approx([0.0, 1.0, 1.5, 2.05, 2.55])


def test_the_cold_window_ends_exactly_one_window_after_the_cold_start() -> None:
    """After a cold start at 0.0, the slot at exactly 1.0 is warm: the slot pairing with it one
    window on (three places later at rate 3) is not delayed."""
    core = GCRA(3, margin=0, cold_margin=0.05)
    slots = [core.book(0.0), core.book(0.5), core.book(1.0)] + [core.book(1.0) for _ in range(4)]
    assert slots == pytest.approx([0.0, 0.5, 1.0, 4 / 3, 5 / 3, 2.0, 7 / 3])


# -- max_in_window ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("times", "window", "expected"),
    [
        ([], 1.0, 0),
        ([3.0], 1.0, 1),
        ([0.0, 1.0], 1.0, 1),  # half-open: [0, 1) does not hold 1.0
        ([0.0, 0.999], 1.0, 2),
        ([0.5, 0.0, 0.2, 5.0, 5.1], 1.0, 3),  # any order
        ([0.0, 0.0, 0.0], 1.0, 3),
        ([0.0, 1.0, 1.0, 2.0], 1.01, 3),
        ([0.0, 0.5, 1.0, 1.5], 1.0, 2),
    ],
)
def test_max_in_window(times: list[float], window: float, expected: int) -> None:
    assert max_in_window(times, window) == expected


@pytest.mark.parametrize("window", [0.0, -1.0, math.nan])
def test_max_in_window_rejects_a_window_that_is_not_positive(window: float) -> None:
    with pytest.raises(ValueError, match="window must be positive"):
        max_in_window([1.0], window)


# -- randomised patterns: the window guarantee and throughput -----------------------------------


def _arrivals(rng: random.Random, pattern: str, rate: float, count: int) -> list[float]:
    if pattern == "cold burst":
        return [0.0] * count
    if pattern == "steady stream":
        times, now = [], 0.0
        for _ in range(count):
            now += rng.expovariate(rate * 1.5)
            times.append(now)
        return times
    if pattern == "burst after idle":
        half = count // 2
        return [rng.uniform(0, 0.5) for _ in range(half)] + [30.0] * (count - half)
    # "trickle and bursts": idle gaps, trickles, clumps
    times, now = [], 0.0
    while len(times) < count:
        now += rng.choice([0.0, 0.001, 0.3, 2.5])
        times.extend([now] * rng.choice([1, 1, 5, 40]))
    return sorted(times[:count])


def _drive(
    core: GCRA, arrivals: list[float], rng: random.Random, *, lateness: float, pauses: float
) -> tuple[list[float], list[tuple[float, float]]]:
    """Serve ``arrivals`` in order as the async driver does: a waiter that cannot go at once is
    granted by a timer aimed at the next slot, firing up to ``lateness`` late; now and then a
    429 pauses the book. Returns the grant times and the pauses as (start, end)."""
    grants: list[float] = []
    paused: list[tuple[float, float]] = []
    now = 0.0
    for arrival in arrivals:
        now = max(now, arrival)
        if rng.random() < pauses:
            start = now
            core.rate_limited(start, rng.uniform(0.0, 1.5))
            paused.append((start, core.paused_until))
        earliest = core.earliest()
        if earliest > now:
            now = earliest + rng.uniform(0.0, lateness)
        slot = core.book(now, arrival)
        assert slot == now
        grants.append(slot)
    return grants, paused


PATTERNS = ["cold burst", "steady stream", "burst after idle", "trickle and bursts"]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("seed", range(12))
def test_never_more_than_limit_in_any_window(pattern: str, seed: int) -> None:
    rng = random.Random(f"{pattern}/{seed}")
    rate = rng.choice([1.0, 7.0, 10.0, 50.0, 50.0, 75.5])
    limit = math.floor(rate)
    margin = rng.choice([0.0, DEFAULT_MARGIN, 0.02])
    core = GCRA(
        rate,
        burst=rng.choice([1, 1, min(2, limit), max(1, limit // 2), limit]),
        margin=margin,
        decrease=rng.choice([0.5, 0.7, 1.0]),
        recovery=rng.choice([0.05, 0.5]),
    )
    arrivals = _arrivals(rng, pattern, rate, count=rng.randrange(limit + 1, 6 * limit + 50))
    grants, pauses = _drive(
        core, arrivals, rng, lateness=rng.choice([0.0, 0.002, 0.05]), pauses=0.01
    )

    assert grants == sorted(grants)
    assert max_in_window(grants, WINDOW) <= limit
    assert max_in_window(grants, WINDOW + margin) <= limit
    for start, end in pauses:
        assert not [t for t in grants if start < t < end]


@pytest.mark.parametrize(("lateness", "floor"), [(0.0, 0.994), (0.002, 0.99)])
def test_throughput_of_a_saturated_minute_is_at_least_99_percent(
    lateness: float, floor: float
) -> None:
    rng = random.Random(7)
    rate = 50.0
    grants, _ = _drive(GCRA(rate), [0.0] * 3000, rng, lateness=lateness, pauses=0.0)
    achieved = (len(grants) - 1) / (grants[-1] - grants[0])  # one cold start included
    assert achieved >= floor * rate
    assert max_in_window(grants) == 50


def test_cold_start_defers_only_the_slots_pairing_with_the_first_window() -> None:
    """After a cold start the first window's slots are logged cold_margin later (they open new
    connections and reach the server late): the second window starts that much later, once."""
    core = GCRA(10, margin=0, cold_margin=0.05)
    slots = [core.book(0.0) for _ in range(30)]
    assert slots[:10] == pytest.approx([i * 0.1 for i in range(10)])
    assert slots[10:20] == pytest.approx([1.05 + i * 0.1 for i in range(10)])
    assert slots[20:30] == pytest.approx([2.05 + i * 0.1 for i in range(10)])  # warm: no more
    # a whole window without a booking is a cold start again
    later = [core.book(10.0) for _ in range(11)]
    assert later[10] == pytest.approx(11.05)


def test_cold_margin_is_validated() -> None:
    with pytest.raises(ValueError, match="cold_margin"):
        GCRA(10, cold_margin=1.0)
    with pytest.raises(ValueError, match="cold_margin"):
        GCRA(10, cold_margin=-0.1)


def test_the_last_bound_is_the_latest_time_the_booked_send_may_begin() -> None:
    """``last_bound``: the slot, plus the lag (up to a window), plus ``jitter``; in a cold window
    ``cold_margin`` more. A driver whose waiter wakes after it books anew."""
    core = GCRA(10, jitter=0.05, margin=0, cold_margin=0.2)
    assert core.last_bound == -math.inf
    assert core.book(0.0) == 0.0  # the first window is cold
    assert core.last_bound == pytest.approx(0.25)
    assert core.book(2.0, lag=0.03) == 2.0  # after a window of nothing: cold again
    assert core.last_bound == pytest.approx(2.28)
    assert core.book(2.6) == 2.6  # still in that cold window
    assert core.last_bound == pytest.approx(2.85)
    assert core.book(3.1, lag=0.03) == 3.1  # warm: a window after the cold one began
    assert core.last_bound == pytest.approx(3.18)
    slot = core.book(3.2, lag=5.0)  # a lag counts for a window at most
    assert core.last_bound == pytest.approx(slot + WINDOW + 0.05)
    slot = core.book(3.3, lag=-1.0)  # and never below nothing
    assert core.last_bound == pytest.approx(slot + 0.05)
