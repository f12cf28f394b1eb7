"""The async governor on a virtual clock: lanes, cancellation, deadlines, answers, 429s,
statistics.

Tests of the schedule itself set ``jitter=0`` where no answers are reported, so that slots come
exactly ``T`` apart (with the default jitter, a slot not answered counts as arriving up to 50 ms
later, and each window waits that much more).
"""

from __future__ import annotations

import asyncio
import gc
import math
import random
import sys
import time
import weakref

import pytest

from tightknit_async import GovernorTimeoutError, Priority, WrongEventLoopError
from tightknit_async.governor import Governor, GovernorStatistics, RateGovernor, max_in_window

from .conftest import VirtualClockLoop, VirtualRunner


class Recorder:
    """Starts waiters on a governor and records who was granted, when, in what order."""

    def __init__(self, governor: Governor) -> None:
        self.governor = governor
        self.grants: list[tuple[float, str]] = []
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, priority: Priority = "interactive", **kwargs: float) -> None:
        self.tasks[name] = asyncio.ensure_future(self._wait(name, priority, **kwargs))

    async def _wait(self, name: str, priority: Priority, **kwargs: float) -> None:
        await self.governor.acquire(priority, **kwargs)
        self.grants.append((asyncio.get_running_loop().time(), name))

    @property
    def order(self) -> list[str]:
        return [name for _, name in self.grants]

    @property
    def times(self) -> list[float]:
        return [when for when, _ in self.grants]

    async def settle(self) -> None:
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


async def _tick() -> None:
    """Let every ready callback run without moving the clock."""
    for _ in range(3):
        await asyncio.sleep(0)


# -- the basic contract ---------------------------------------------------------------------


def test_implements_the_rate_governor_protocol_and_starts_idle() -> None:
    governor = Governor(50)
    assert isinstance(governor, RateGovernor)
    assert governor.statistics() == GovernorStatistics(
        rate=50.0,
        current_rate=50.0,
        granted_interactive=0,
        granted_bulk=0,
        waiting_interactive=0,
        waiting_bulk=0,
        timed_out=0,
        rate_limited=0,
        paused_for=0.0,
        mean_wait=0.0,
        p99_wait=0.0,
    )


def test_grants_are_paced_and_fifo_within_a_lane(run: VirtualRunner) -> None:
    async def main() -> Recorder:
        recorder = Recorder(Governor(10, margin=0, jitter=0, cold_margin=0))
        for i in range(25):
            recorder.start(f"w{i}")
        await recorder.settle()
        return recorder

    recorder = run(main())
    assert recorder.order == [f"w{i}" for i in range(25)]
    assert recorder.times == pytest.approx([i / 10 for i in range(25)])


def test_interactive_waiters_overtake_queued_bulk(run: VirtualRunner) -> None:
    async def main() -> Recorder:
        recorder = Recorder(Governor(10))
        assert recorder.governor.try_acquire_nowait()  # the slot at t=0 is gone
        for i in range(3):
            recorder.start(f"bulk{i}", "bulk")
        await _tick()
        for i in range(3):
            recorder.start(f"web{i}", "interactive")
        await recorder.settle()
        return recorder

    assert run(main()).order == ["web0", "web1", "web2", "bulk0", "bulk1", "bulk2"]


@pytest.mark.parametrize(("bulk_share", "every"), [(0.1, 10), (0.25, 4), (0.5, 2)])
def test_bulk_gets_its_share_while_both_lanes_wait(
    run: VirtualRunner, bulk_share: float, every: int
) -> None:
    async def main() -> Recorder:
        recorder = Recorder(Governor(50, bulk_share=bulk_share))
        assert recorder.governor.try_acquire_nowait()
        for i in range(100):
            recorder.start(f"b{i}", "bulk")
            recorder.start(f"i{i}", "interactive")
        await recorder.settle()
        return recorder

    order = run(main()).order
    lanes = "".join(name[0] for name in order)
    # while interactive waiters remain, every `every`-th grant is bulk
    head = lanes[: lanes.rindex("i") + 1]
    assert head.count("b") == len(head) // every
    assert all(lanes[k] == "b" for k in range(every - 1, len(head), every))
    # and FIFO holds within each lane
    assert [n for n in order if n[0] == "b"] == [f"b{i}" for i in range(100)]
    assert [n for n in order if n[0] == "i"] == [f"i{i}" for i in range(100)]


def test_unknown_priority_is_a_value_error(run: VirtualRunner) -> None:
    async def main() -> None:
        governor = Governor(50)
        with pytest.raises(ValueError, match="priority must be"):
            await governor.acquire("urgent")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="priority must be"):
            governor.try_acquire_nowait("urgent")  # type: ignore[arg-type]

    run(main())


# -- try_acquire_nowait -----------------------------------------------------------------------


def test_try_acquire_nowait(run: VirtualRunner) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        governor = Governor(10, margin=0, burst=2)
        assert governor.try_acquire_nowait()
        assert governor.try_acquire_nowait("bulk")  # the burst
        assert not governor.try_acquire_nowait()
        await asyncio.sleep(0.1)
        assert governor.try_acquire_nowait()
        assert loop.time() == pytest.approx(0.1)

        # a queued waiter comes first: nowait never jumps the queue
        waiter = asyncio.ensure_future(governor.acquire("bulk"))
        await _tick()
        await asyncio.sleep(0.1)
        assert not governor.try_acquire_nowait("interactive")
        await _tick()
        assert waiter.done()
        stats = governor.statistics()
        assert (stats.granted_interactive, stats.granted_bulk) == (2, 2)

    run(main())


# -- cancellation --------------------------------------------------------------------------------


def test_a_cancelled_waiter_gives_its_place_to_the_next(run: VirtualRunner) -> None:
    async def main() -> Recorder:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualClockLoop)
        recorder = Recorder(Governor(10, margin=0, cold_margin=0))
        assert recorder.governor.try_acquire_nowait()
        for name in ("a", "b", "c", "d"):
            recorder.start(name)
        await _tick()
        assert recorder.governor.statistics().waiting_interactive == 4
        recorder.tasks["a"].cancel()
        await _tick()
        assert recorder.governor.statistics().waiting_interactive == 3  # withdrawn at once
        recorder.tasks["b"].cancel()
        loop.now = 0.1  # the slot comes before b's task has run: b is skipped, c served
        assert not recorder.governor.try_acquire_nowait()
        await recorder.settle()
        return recorder

    recorder = run(main())
    # the cancelled waiters cost nobody a slot or a delay
    assert recorder.order == ["c", "d"]
    assert recorder.times == pytest.approx([0.1, 0.2])
    stats = recorder.governor.statistics()
    assert stats.granted == 3
    assert stats.waiting == 0


def test_a_waiter_cancelled_just_after_its_grant_hands_the_slot_on(run: VirtualRunner) -> None:
    async def main() -> Recorder:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualClockLoop)
        recorder = Recorder(Governor(10, margin=0, cold_margin=0))
        assert recorder.governor.try_acquire_nowait()
        for name in ("a", "b", "c"):
            recorder.start(name)
        await _tick()
        # at a's slot, grant it and cancel it before its task can run
        loop.now = 0.1
        assert not recorder.governor.try_acquire_nowait()
        recorder.tasks["a"].cancel()
        await recorder.settle()
        return recorder

    recorder = run(main())
    # b sends in a's slot: the cancelled grant did not burn capacity
    assert recorder.order == ["b", "c"]
    assert recorder.times == pytest.approx([0.1, 0.2])
    assert recorder.tasks["a"].cancelled()


def test_cancelling_everybody_disarms_the_timer(run: VirtualRunner) -> None:
    async def main() -> None:
        governor = Governor(1)
        assert governor.try_acquire_nowait()
        waiters = [asyncio.ensure_future(governor.acquire()) for _ in range(50)]
        await _tick()
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        assert governor.statistics().waiting == 0
        assert governor._timer is None

    run(main())


# -- max_wait --------------------------------------------------------------------------------


def test_max_wait_fails_fast_when_the_queue_is_too_long(run: VirtualRunner) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        governor = Governor(50)
        waiters = [asyncio.ensure_future(governor.acquire()) for _ in range(101)]
        await _tick()
        with pytest.raises(GovernorTimeoutError) as caught:
            await governor.acquire(max_wait=0.5)
        assert loop.time() == 0.0  # raised at once
        error = caught.value
        assert error.deadline == 0.5
        assert error.wait == pytest.approx(101 * 1.002 / 50, rel=0.02)
        assert "100 queued ahead" in str(error)
        assert "max_wait=0.500s" in str(error)
        assert governor.statistics().timed_out == 1
        assert governor.statistics().waiting == 100  # the failed caller never queued
        await asyncio.gather(*waiters)

    run(main())


def test_max_wait_estimate_matches_the_actual_wait(run: VirtualRunner) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        governor = Governor(50, jitter=0, cold_margin=0)
        waiters = [asyncio.ensure_future(governor.acquire("bulk")) for _ in range(30)]
        waiters += [asyncio.ensure_future(governor.acquire()) for _ in range(30)]
        await _tick()
        with pytest.raises(GovernorTimeoutError) as caught:
            await governor.acquire("bulk", max_wait=0.0)
        await governor.acquire("bulk", max_wait=caught.value.wait)
        assert loop.time() == pytest.approx(caught.value.wait)
        await asyncio.gather(*waiters)

    run(main())


def test_max_wait_zero_takes_a_free_slot_or_raises(run: VirtualRunner) -> None:
    async def main() -> None:
        governor = Governor(50)
        await governor.acquire(max_wait=0)
        await governor.acquire(max_wait=0.02004)  # exactly the wait needed: granted in time
        with pytest.raises(GovernorTimeoutError, match=r"at least 0\.020s"):
            await governor.acquire(max_wait=-1)
        assert governor.statistics().timed_out == 1

    run(main())


def test_max_wait_bounds_the_actual_wait(run: VirtualRunner) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        governor = Governor(10, margin=0, cold_margin=0)
        assert governor.try_acquire_nowait()
        patient = asyncio.ensure_future(governor.acquire("bulk", max_wait=0.5))
        await _tick()
        # then interactive work floods in and takes the next 9 slots (bulk gets one in 10)
        flood = [asyncio.ensure_future(governor.acquire()) for _ in range(100)]
        with pytest.raises(GovernorTimeoutError, match=r"no send slot within max_wait=0\.500s"):
            await patient
        assert loop.time() == pytest.approx(0.5)
        stats = governor.statistics()
        assert (stats.timed_out, stats.granted, stats.waiting_bulk) == (1, 6, 0)
        for waiter in flood:
            waiter.cancel()
        await asyncio.gather(*flood, return_exceptions=True)

    run(main())


def test_a_429_pause_longer_than_max_wait_times_the_waiter_out(run: VirtualRunner) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        governor = Governor(10)
        assert governor.try_acquire_nowait()
        waiter = asyncio.ensure_future(governor.acquire(max_wait=0.5))
        await _tick()
        governor.on_rate_limited(5.0)
        with pytest.raises(GovernorTimeoutError) as caught:
            await waiter
        assert loop.time() == pytest.approx(0.5)
        assert caught.value.wait >= 5.0
        assert "after a 429" in str(caught.value)
        with pytest.raises(GovernorTimeoutError, match="paused for"):
            await governor.acquire(max_wait=1.0)

    run(main())


def test_deadlines_of_granted_waiters_do_not_pile_up(run: VirtualRunner) -> None:
    async def main() -> None:
        governor = Governor(50, bulk_share=0.01, jitter=0, cold_margin=0)  # bulk: 1 grant in 100
        assert governor.try_acquire_nowait()
        slow = asyncio.ensure_future(governor.acquire("bulk", max_wait=3.0))
        await _tick()
        fast = [asyncio.ensure_future(governor.acquire(max_wait=1000.0)) for _ in range(120)]
        # the bulk waiter's deadline stays first in the heap while 98 later ones are granted
        await asyncio.sleep(98 * 1.002 / 50 + 0.001)
        waiting = governor.statistics().waiting
        assert waiting == 1 + 22
        assert len(governor._deadlines) <= 64 + 2 * waiting < 1 + 120  # stale entries dropped
        await asyncio.gather(slow, *fast)

    run(main())


def test_interactive_latency_while_bulk_saturates_the_key(run: VirtualRunner) -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        governor = Governor(50)

        async def send(priority: Priority) -> None:  # answered 2 ms after its grant
            await governor.acquire(priority)
            await asyncio.sleep(0.002)
            governor.on_reply(0.002)

        backlog = [asyncio.ensure_future(send("bulk")) for _ in range(2000)]
        waits = []
        for _ in range(100):
            await asyncio.sleep(random.Random(len(waits)).uniform(0.05, 0.5))
            asked = loop.time()
            await governor.acquire()
            waits.append(loop.time() - asked)
            governor.on_reply(0.0)
        for waiter in backlog:
            waiter.cancel()
        await asyncio.gather(*backlog, return_exceptions=True)
        return waits

    waits = sorted(run(main()))
    assert waits[94] <= 0.050  # p95 within the design's 50 ms
    # at worst: the next slot, or the one after a bulk grant (the round trip on top, per window)
    assert waits[-1] <= 2 * 1.002 / 50 + 0.002


# -- 429 feedback -----------------------------------------------------------------------------


def test_a_single_429_pauses_everybody_and_the_key_comes_back_at_full_rate(
    run: VirtualRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "random", lambda: 0.5)  # jitter: half of pause_jitter

    async def main() -> Recorder:
        loop = asyncio.get_running_loop()
        recorder = Recorder(Governor(50, jitter=0, cold_margin=0))
        for i in range(400):
            recorder.start(f"w{i}", "bulk")
        await asyncio.sleep(2.0)
        recorder.governor.on_rate_limited(1.0)
        stats = recorder.governor.statistics()
        assert stats.rate_limited == 1
        assert stats.paused_for == pytest.approx(1.05)
        assert stats.current_rate == 50.0  # one 429 is a signal: the rate stays
        assert "paused_for=1.050s" in repr(recorder.governor)
        await asyncio.sleep(1.05)
        assert loop.time() == pytest.approx(3.05)
        await recorder.settle()
        return recorder

    times = run(main()).times
    assert not [t for t in times if 2.0 < t < 3.05]
    assert sum(1 for t in times if 1.0 <= t < 2.0) == 50  # full speed before the 429
    assert sum(1 for t in times if 3.05 <= t < 4.05) == 50  # and at once after the pause
    assert max_in_window(times) <= 50


def test_429s_that_repeat_lower_the_rate_and_it_climbs_back(
    run: VirtualRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "random", lambda: 0.0)  # pauses exactly Retry-After

    async def main() -> Recorder:
        loop = asyncio.get_running_loop()
        recorder = Recorder(Governor(50, jitter=0, cold_margin=0))
        for i in range(1500):
            recorder.start(f"w{i}", "bulk")
        await asyncio.sleep(2.0)
        recorder.governor.on_rate_limited(1.0)  # isolated: pause until 3.0
        await asyncio.sleep(1.5)
        recorder.governor.on_rate_limited(1.0)  # 0.5 s after it: a repeat, pause until 4.5
        stats = recorder.governor.statistics()
        assert (stats.rate_limited, stats.current_rate) == (2, 25.0)
        await asyncio.sleep(1.0)
        assert loop.time() == pytest.approx(4.5)
        await recorder.settle()
        return recorder

    times = run(main()).times
    assert not [t for t in times if 2.0 < t < 3.0 or 3.5 < t < 4.5]
    after = {s: sum(1 for t in times if 4.5 + s <= t < 5.5 + s) for s in range(16)}
    assert 25 <= after[0] <= 27  # half speed just after the pause
    assert after[5] > after[3] > after[1] > after[0]  # climbing back by 2.5/s every second
    assert after[15] == pytest.approx(49.9, abs=1)  # back at the full rate
    assert max_in_window(times) <= 50


def test_without_retry_after_the_pause_is_about_a_second(run: VirtualRunner) -> None:
    async def main() -> None:
        governor = Governor(50)
        governor.on_rate_limited(None)
        assert 1.0 <= governor.statistics().paused_for < 1.1
        governor.on_rate_limited(0.4)  # a second 429 at once: the pause only grows
        assert 1.0 <= governor.statistics().paused_for < 1.1
        assert governor.statistics().current_rate == 50.0  # one signal: the rate stays

    run(main())


# -- answers ---------------------------------------------------------------------------------


def test_an_answer_frees_the_next_slot_sooner_and_the_timer_follows(run: VirtualRunner) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        governor = Governor(1, margin=0, cold_margin=0)  # one a second, jitter 50 ms
        assert governor.try_acquire_nowait()  # t=0: unanswered, it arrives by 0.05
        waiter = asyncio.ensure_future(governor.acquire())
        await _tick()
        assert governor._timer is not None
        assert governor._timer.when() == pytest.approx(1.05)
        await asyncio.sleep(0.02)
        governor.on_reply(0.02)  # answered 20 ms after its send began: it arrived by 0.02
        assert governor._timer.when() == pytest.approx(1.02)
        await waiter
        assert loop.time() == pytest.approx(1.02)

    run(main())


def test_answers_keep_a_busy_key_close_to_the_cap(run: VirtualRunner) -> None:
    """Answers read 5 ms after each grant: a window waits 5 ms more, not jitter (50 ms), once
    the first two have passed (after a cold start the answers of the requests sent within jitter
    of the first window's end may be either window's, so they are not used)."""

    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        governor = Governor(50)
        times: list[float] = []

        async def worker() -> None:
            for _ in range(30):
                await governor.acquire()
                times.append(loop.time())
                await asyncio.sleep(0.005)
                governor.on_reply(0.005)

        await asyncio.gather(*(worker() for _ in range(10)))
        return times

    times = run(main())
    assert max_in_window(times) == 50
    spans = [later - earlier for earlier, later in zip(times[100:], times[150:], strict=False)]
    assert max(spans) == pytest.approx(1.002 + 0.005)  # 49.65/s: 99.3 % of the cap


def test_a_late_loop_gives_the_waiters_it_releases_that_much_more_time(
    run: VirtualRunner,
) -> None:
    """The timer fires 20 ms late (a callback held the loop): the waiter it releases sends at
    least that late, so its grant is booked with that lag (its bound moves on by as much), and
    the lateness is remembered, halving every second."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualClockLoop)
        governor = Governor(1, margin=0, cold_margin=0)
        assert governor.try_acquire_nowait()  # booked at once: no lag
        assert governor._core._pending.keys == [0.0]
        waiter = asyncio.ensure_future(governor.acquire())
        await _tick()

        def hold_the_loop() -> None:
            loop.now += 0.03

        loop.call_at(1.04, hold_the_loop)  # the governor's timer is due at 1.05
        await waiter
        assert loop.time() == pytest.approx(1.07)
        assert governor._core._pending.keys == pytest.approx([1.09])  # 0.0 is behind us
        assert governor._lateness(1.07) == pytest.approx(0.02)
        assert governor._lateness(2.07) == pytest.approx(0.01)

    run(main())


def test_a_waiter_woken_too_late_for_its_grant_books_a_new_slot(run: VirtualRunner) -> None:
    """Granted at 1.05, its send due to begin by 1.10 (jitter 50 ms), the waiter only gets its
    turn at 1.25: a callback held the loop between the grant and the waiter's step. Sent then,
    it could arrive where its bound says it cannot. The grant is left unused (its bound stays,
    as a request that never arrived) and the waiter books the next slot, a window after that
    bound; the lateness is remembered for the grants to come."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualClockLoop)
        governor = Governor(1, margin=0, cold_margin=0)
        assert governor.try_acquire_nowait()  # 0.0: the next slot is due at 1.05
        waiter = asyncio.ensure_future(governor.acquire())
        await _tick()

        def hold_the_loop() -> None:
            loop.now += 0.2

        loop.call_at(1.05, hold_the_loop)  # runs after the governor's timer, before the waiter
        await waiter
        assert loop.time() == pytest.approx(2.10)  # 1.10 + the window
        stats = governor.statistics()
        assert (stats.stale, stats.granted_interactive) == (1, 3)
        assert governor._lateness(1.25) == pytest.approx(0.2)
        # the grant it sends on carries the lateness seen at 1.25, halved over 0.85 s, as lag
        assert governor._core._pending.keys == pytest.approx([2.10 + 0.2 * 2**-0.85])

    run(main())


def test_a_waiter_on_time_for_its_grant_keeps_it(run: VirtualRunner) -> None:
    """The same, held 40 ms: within the 50 ms its grant allows, so it sends on that grant."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualClockLoop)
        governor = Governor(1, margin=0, cold_margin=0)
        assert governor.try_acquire_nowait()
        waiter = asyncio.ensure_future(governor.acquire())
        await _tick()

        def hold_the_loop() -> None:
            loop.now += 0.04

        loop.call_at(1.05, hold_the_loop)
        await waiter
        assert loop.time() == pytest.approx(1.09)
        assert governor.statistics().stale == 0

    run(main())


def test_a_loop_late_every_time_books_anew_three_times_then_sends(run: VirtualRunner) -> None:
    """Every grant is followed by a 200 ms hold, more than the lag the halving lateness leaves
    plus the jitter: the waiter books anew three times, then sends on the fourth grant all the
    same rather than wait on (a loop that late breaks the jitter assumption whatever is
    booked)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualClockLoop)
        holds = 0

        def hold() -> None:
            nonlocal holds
            holds += 1
            loop.now += 0.2

        class HeldAfterEachGrant(Governor):
            __slots__ = ()

            def _grant_due(self, now: float) -> None:
                if self.statistics().waiting_interactive:  # the timer is releasing the waiter
                    loop.call_soon(hold)  # queued before the released waiter's step
                super()._grant_due(now)

        governor = HeldAfterEachGrant(1, margin=0, cold_margin=0)
        assert governor.try_acquire_nowait()
        await governor.acquire()
        assert holds == 4
        assert governor.statistics().stale == 3

    run(main())


@pytest.mark.parametrize("elapsed", [-0.1, math.nan, math.inf])
def test_an_answer_that_took_no_sensible_time_is_ignored(
    run: VirtualRunner, elapsed: float
) -> None:
    async def main() -> None:
        governor = Governor(1, margin=0, cold_margin=0)
        assert governor.try_acquire_nowait()
        governor.on_reply(elapsed)
        assert governor._core.in_flight == 1
        assert governor._core.earliest() == pytest.approx(1.05)

    run(main())


# -- statistics and repr ----------------------------------------------------------------------


def test_statistics_and_repr(run: VirtualRunner) -> None:
    governor = Governor(10, margin=0, cold_margin=0)
    fresh = governor.statistics()
    assert (fresh.granted, fresh.waiting, fresh.timed_out, fresh.rate_limited) == (0, 0, 0, 0)
    assert (fresh.rate, fresh.current_rate, fresh.paused_for) == (10.0, 10.0, 0.0)
    assert (fresh.mean_wait, fresh.p99_wait) == (0.0, 0.0)
    assert repr(governor) == (
        "<Governor rate=10/s current_rate=10/s waiting=0+0 granted=0 paused_for=0.000s>"
    )

    async def main() -> None:
        waiters = [asyncio.ensure_future(governor.acquire()) for _ in range(5)]
        waiters += [asyncio.ensure_future(governor.acquire("bulk")) for _ in range(2)]
        await _tick()
        stats = governor.statistics()
        assert (stats.granted, stats.waiting_interactive, stats.waiting_bulk) == (1, 4, 2)
        assert "waiting=4+2 granted=1" in repr(governor)
        await asyncio.gather(*waiters)

    run(main())
    stats = governor.statistics()
    assert (stats.granted_interactive, stats.granted_bulk, stats.waiting) == (5, 2, 0)
    assert stats.mean_wait == pytest.approx(sum(i / 10 for i in range(7)) / 7)
    assert stats.p99_wait == pytest.approx(0.6)
    with pytest.raises(AttributeError):
        stats.granted_bulk = 3  # type: ignore[misc]


# -- scale ------------------------------------------------------------------------------------


def test_five_thousand_waiters(run: VirtualRunner) -> None:
    async def main() -> Recorder:
        recorder = Recorder(Governor(50, jitter=0, cold_margin=0))
        for i in range(5000):
            recorder.start(f"{'ib'[i % 2]}{i}", "bulk" if i % 2 else "interactive")
        await _tick()
        assert recorder.governor.statistics().waiting == 4999
        await recorder.settle()
        return recorder

    started = time.perf_counter()
    recorder = run(main())
    assert time.perf_counter() - started < 10
    assert len(recorder.grants) == 5000
    assert max_in_window(recorder.times) == 50
    assert recorder.times[-1] == pytest.approx(4999 * 1.002 / 50)
    for lane in "ib":
        names = [name for name in recorder.order if name[0] == lane]
        assert names == sorted(names, key=lambda name: int(name[1:]))


# -- event loops ------------------------------------------------------------------------------


def test_a_governor_belongs_to_the_loop_it_was_first_used_on() -> None:
    governor = Governor(50)
    asyncio.run(governor.acquire())

    async def elsewhere() -> None:
        with pytest.raises(WrongEventLoopError, match="another event loop"):
            await governor.acquire()
        with pytest.raises(WrongEventLoopError):
            governor.on_rate_limited(1.0)
        with pytest.raises(WrongEventLoopError):
            governor.on_reply(0.01)

    asyncio.run(elsewhere())


def test_a_waiter_left_pending_on_a_closed_loop_is_collected_quietly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unraisable: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: unraisable.append(info.exc_value))
    loop = VirtualClockLoop()
    governor = Governor(1)
    loop.run_until_complete(governor.acquire(max_wait=0))
    task = loop.create_task(governor.acquire())
    loop.run_until_complete(_tick())
    assert governor.statistics().waiting_interactive == 1
    loop.close()  # with the waiter still queued: no cancellation ever reaches it
    gone = weakref.ref(governor)
    del task, governor
    gc.collect()  # the coroutine is closed here; withdrawing must not touch the dead loop
    assert gone() is None
    assert unraisable == []


# -- one real-time sanity check ---------------------------------------------------------------


async def test_real_clock_pacing() -> None:
    loop = asyncio.get_running_loop()
    governor = Governor(200)  # T = 1.002 / 200 = 5.01 ms
    started = loop.time()
    times = []
    for _ in range(20):
        await governor.acquire()
        times.append(loop.time())
    # never ahead of the schedule (a late grant may be followed by a quicker one, not an early one)
    assert all(t - times[0] >= i * 0.00501 - 1e-6 for i, t in enumerate(times))
    assert times[-1] - started < 1.0
