"""``RedisGovernor`` against the real Redis: several governors of one key in this process stand
for several processes (each has its own slot pool, booker and pub/sub connection; they meet only
in Redis). Real time, a few seconds at most per test."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import AsyncIterator, Callable

import pytest

from tightknit_async import GovernorTimeoutError, Priority
from tightknit_async.governor import (
    GovernorUnavailableError,
    RateGovernor,
    RedisGovernor,
    max_in_window,
)

from .conftest import RedisServer

CAP = 50

MakeGovernor = Callable[..., RedisGovernor]


@pytest.fixture
async def make_governor(redis_url: str, api_key: str) -> AsyncIterator[MakeGovernor]:
    made: list[RedisGovernor] = []

    def make(url: str = redis_url, **options: object) -> RedisGovernor:
        governor = RedisGovernor(url, api_key, CAP, **options)  # type: ignore[arg-type]
        made.append(governor)
        return governor

    yield make
    for governor in made:
        await governor.aclose()


async def grant_times(
    governor: RateGovernor, count: int, priority: Priority = "interactive", tasks: int = 20
) -> list[float]:
    """Acquire ``count`` slots from ``tasks`` looping tasks; return the grant times."""
    times: list[float] = []
    remaining = count

    async def loop() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await governor.acquire(priority)
            times.append(time.monotonic())

    await asyncio.gather(*(loop() for _ in range(tasks)))
    return times


async def test_the_governor_is_a_rate_governor(make_governor: MakeGovernor, api_key: str) -> None:
    governor = make_governor()
    assert isinstance(governor, RateGovernor)
    await governor.acquire()
    stats = governor.statistics()
    assert (stats.granted, stats.rate, stats.waiting) == (1, CAP, 0)
    assert api_key not in repr(governor)
    assert "mode=redis" in repr(governor)
    assert governor.redis_statistics().booked == 1


async def test_three_governors_of_one_key_share_the_cap(make_governor: MakeGovernor) -> None:
    governors = [make_governor() for _ in range(3)]
    started = time.monotonic()
    lanes: list[Priority] = ["interactive", "bulk", "interactive"]
    runs = await asyncio.gather(
        *(grant_times(g, 50, lane) for g, lane in zip(governors, lanes, strict=True))
    )
    elapsed = time.monotonic() - started
    times = sorted(t for run in runs for t in run)
    assert len(times) == 150
    assert max_in_window(times, 1.0) <= CAP
    assert elapsed >= (150 - CAP) / CAP  # paced together, not 3 x 50/s
    assert elapsed < 150 / CAP * 1.25  # and close to the cap
    for governor, lane in zip(governors, lanes, strict=True):
        redis_stats = governor.redis_statistics()
        assert redis_stats.booked >= 50
        if lane == "interactive":  # the first 20 in one batch, then one per returning task
            assert redis_stats.round_trips <= redis_stats.booked - 15
        else:  # bulk books a horizon ahead: about a round trip per slot
            assert redis_stats.round_trips < 1.5 * redis_stats.booked


async def test_interactive_in_one_process_waits_little_behind_bulk_in_another(
    make_governor: MakeGovernor,
) -> None:
    bulk, interactive = make_governor(), make_governor()
    stop = asyncio.Event()

    async def saturate() -> None:
        while not stop.is_set():
            await bulk.acquire("bulk")

    saturating = [asyncio.create_task(saturate()) for _ in range(200)]
    await asyncio.sleep(1.2)  # past the cold start's first window (its one-off 50 ms)
    waits = []
    for _ in range(10):
        started = time.monotonic()
        await interactive.acquire("interactive")
        waits.append(time.monotonic() - started)
        await asyncio.sleep(0.1)
    stop.set()
    for task in saturating:
        task.cancel()
    await asyncio.gather(*saturating, return_exceptions=True)
    # Bulk books at most bulk_horizon (50 ms) ahead: interactive waits that, a slot (20 ms),
    # a round trip; not behind the 200 bulk waiters (4 s).
    assert statistics.median(waits) <= 0.08
    assert max(waits) <= 0.15
    assert bulk.statistics().granted_bulk >= 80  # and bulk kept the key busy meanwhile


async def test_bulk_is_not_starved_and_its_share_goes_round_the_processes(
    make_governor: MakeGovernor,
) -> None:
    interactive, first, second = make_governor(), make_governor(), make_governor()
    stop = asyncio.Event()

    async def loop(governor: RedisGovernor, priority: Priority) -> None:
        while not stop.is_set():
            await governor.acquire(priority)

    tasks = [asyncio.create_task(loop(interactive, "interactive")) for _ in range(40)]
    await asyncio.sleep(0.2)
    tasks += [asyncio.create_task(loop(bulk, "bulk")) for bulk in (first, second) for _ in "ab"]
    await asyncio.sleep(3.0)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    shares = [first.statistics().granted_bulk, second.statistics().granted_bulk]
    # Interactive holds the key; bulk gets one booking in bulk_every = 10, taken in turns.
    assert min(shares) >= 3
    assert abs(shares[0] - shares[1]) <= 3  # in turns (one process alone would take all)
    assert interactive.statistics().granted_interactive > 5 * sum(shares)


async def test_cancelled_waiters_give_their_slots_back(make_governor: MakeGovernor) -> None:
    first, second = make_governor(), make_governor()
    waiters = [asyncio.create_task(first.acquire()) for _ in range(20)]
    await asyncio.sleep(0.05)  # all 20 booked, 0.4 s of schedule
    for task in waiters[10:]:
        task.cancel()
    await asyncio.gather(*waiters[10:], return_exceptions=True)
    await asyncio.sleep(0.02)  # the booker hands the 10 latest slots back
    assert first.redis_statistics().released == 10
    started = time.monotonic()
    await second.acquire()
    assert time.monotonic() - started < 0.3  # behind 10 slots (0.2 s), not 20
    await asyncio.gather(*waiters[:10])


async def test_max_wait_fails_fast_and_books_nothing(make_governor: MakeGovernor) -> None:
    first, second = make_governor(), make_governor()
    waiters = [asyncio.create_task(first.acquire()) for _ in range(50)]  # 1 s of schedule
    await asyncio.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(GovernorTimeoutError) as raised:
        await second.acquire(max_wait=0.2)
    assert time.monotonic() - started < 0.1  # one round trip, not 0.2 s
    assert raised.value.deadline == pytest.approx(0.2)
    assert raised.value.wait > 0.5
    stats = second.redis_statistics()
    assert (stats.refused, stats.booked) == (1, 0)
    assert second.statistics().timed_out == 1
    for task in waiters:
        task.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)


async def test_a_429_in_one_process_pauses_the_others(make_governor: MakeGovernor) -> None:
    reporter, other = make_governor(), make_governor()
    runs = [
        asyncio.create_task(grant_times(reporter, 60, "bulk", tasks=10)),
        asyncio.create_task(grant_times(other, 60, "interactive", tasks=10)),
    ]
    await asyncio.sleep(0.5)
    reporter.on_rate_limited(0.6)
    paused_at = time.monotonic()
    times = sorted(t for run in await asyncio.gather(*runs) for t in run)
    # The other process hears of the pause within milliseconds (pub/sub); until then a slot
    # due may still be granted, as a request already on its way would be sent.
    inside = [t - paused_at for t in times if paused_at + 0.05 < t < paused_at + 0.6]
    assert inside == []  # neither process sent during the pause
    assert other.statistics().current_rate == pytest.approx(25, rel=0.2)  # lowered for all
    assert reporter.statistics().rate_limited == 1


async def test_without_redis_acquire_raises_governor_unavailable(
    private_redis: RedisServer, make_governor: MakeGovernor
) -> None:
    governor = make_governor(private_redis.url, timeout=0.5)
    await governor.acquire()
    private_redis.stop()
    started = time.monotonic()
    with pytest.raises(GovernorUnavailableError, match="Redis is unavailable") as raised:
        await governor.acquire()
    assert time.monotonic() - started < 1.5
    assert raised.value.__cause__ is not None
    assert governor.redis_statistics().failures >= 1
    private_redis.start()
    await asyncio.sleep(0.1)
    await governor.acquire()  # Redis is back: so is the governor


async def test_with_a_fallback_the_governor_paces_locally_and_comes_back(
    private_redis: RedisServer, make_governor: MakeGovernor, caplog: pytest.LogCaptureFixture
) -> None:
    governor = make_governor(private_redis.url, fallback_workers=2, probe_interval=0.2, timeout=0.5)
    caplog.set_level(logging.WARNING, logger="tightknit_async")
    await grant_times(governor, 10)
    private_redis.stop()
    times = await grant_times(governor, 30)  # 25/s on the fallback
    assert len(times) == 30
    assert max_in_window(times, 1.0) <= 25
    assert governor.redis_statistics().mode == "fallback"
    assert governor.redis_statistics().fallback_grants >= 25
    assert f"Redis at 127.0.0.1:{private_redis.port} is unreachable" in caplog.text
    assert "this process paces key sha256:" in caplog.text
    assert "alone at 25 req/s (50 / 2 workers) until it is back" in caplog.text
    private_redis.start()
    await asyncio.sleep(0.5)
    await grant_times(governor, 5)
    assert governor.redis_statistics().mode == "redis"
    assert f"Redis at 127.0.0.1:{private_redis.port} answers again" in caplog.text


async def test_closing_fails_the_waiters(make_governor: MakeGovernor) -> None:
    governor = make_governor()
    waiters = [asyncio.create_task(governor.acquire()) for _ in range(30)]
    await asyncio.sleep(0.05)
    await governor.aclose()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert any(isinstance(o, GovernorUnavailableError) for o in outcomes)
    with pytest.raises(GovernorUnavailableError, match="closed"):
        await governor.acquire()
    assert "closed" in repr(governor)
