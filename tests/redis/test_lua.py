"""The governor's Lua scripts, called directly against the real Redis: booking, lanes, pause.

Each call is made through a ``RedisGovernor``'s own schedule and its argument builders, so these
are the exact calls the governor makes. Redis's clock runs on while the tests run, so they
compare slots with each other (and with the in-process core), not with wall time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal

import pytest
import redis.asyncio as aioredis

from tightknit_async.governor import GCRA, RedisGovernor, max_in_window
from tightknit_async.governor._gcra import WINDOW


@dataclass
class Reply:
    now: float  # seconds on Redis's clock
    paused: float
    rate: float
    wake: float | None
    booked: list[float]
    refused: list[float]
    texts: list[str]


class Schedule:
    """Calls the scripts of one governor's key and decodes their replies (times in seconds)."""

    def __init__(self, governor: RedisGovernor) -> None:
        self.governor = governor

    async def book(
        self, lane: Literal["i", "b"] = "i", count: int = 1, max_wait: float | None = None
    ) -> Reply:
        schedule = self.governor._schedule
        raw = await schedule.call(
            schedule.book_script, schedule.book_args(lane, [max_wait] * count)
        )
        assert isinstance(raw, list)
        items = [item.decode().partition("|") for item in raw[4:]]
        return Reply(
            now=float(raw[0]) / 1e6,
            paused=float(raw[1]) / 1e6,
            rate=float(raw[2]),
            wake=float(raw[3]) / 1e6 if raw[3] else None,
            booked=[float(slot[1:]) / 1e6 for slot, _, _ in items if slot[0] == "s"],
            refused=[float(slot[1:]) / 1e6 for slot, _, _ in items if slot[0] == "r"],
            texts=[logged for slot, _, logged in items if slot[0] == "s"],
        )

    async def pause(self, seconds: float) -> Reply:
        schedule = self.governor._schedule
        raw = await schedule.call(schedule.pause_script, schedule.pause_args(seconds))
        assert isinstance(raw, list)
        return Reply(float(raw[0]) / 1e6, float(raw[1]) / 1e6, float(raw[2]), None, [], [], [])

    async def release(self, texts: list[str]) -> int:
        schedule = self.governor._schedule
        undone = await schedule.call(schedule.release_script, schedule.release_args(texts))
        assert isinstance(undone, int)
        return undone


@pytest.fixture
async def schedule_for(redis_url: str, api_key: str) -> AsyncIterator[Callable[..., Schedule]]:
    made: list[RedisGovernor] = []

    def make(**options: object) -> Schedule:
        governor = RedisGovernor(redis_url, api_key, **options)  # type: ignore[arg-type]
        made.append(governor)
        return Schedule(governor)

    yield make
    for governor in made:
        await governor.aclose()


@pytest.mark.parametrize("burst", [1, 10, 50])
async def test_bookings_never_put_more_than_limit_in_any_window(
    schedule_for: Callable[..., Schedule], burst: int
) -> None:
    schedule = schedule_for(rate=50, burst=burst, margin=0.005)
    slots: list[float] = []
    for _ in range(10):  # 640 slots, about 13 s of schedule
        slots += (await schedule.book("i", 64)).booked
    assert len(slots) == 640
    assert slots == sorted(slots)
    assert max_in_window(slots, WINDOW) <= 50
    # The stronger guarantee: any 51 consecutive slots span at least 1 s + margin.
    assert min(b - a for a, b in zip(slots, slots[50:], strict=False)) >= 1.005 - 1e-6
    # And no slower than needed: an interval apart on average, plus the cold start's 50 ms.
    assert slots[-1] - slots[0] <= 639 * 1.005 / 50 + 0.05 + 1e-6


async def test_one_call_books_exactly_what_the_in_process_core_books(
    schedule_for: Callable[..., Schedule],
) -> None:
    schedule = schedule_for(rate=50, burst=5, margin=0.005)
    reply = await schedule.book("i", 64)
    core = GCRA(50, burst=5, margin=0.005)
    expected = [core.book(0.0) for _ in range(64)]
    assert [slot - reply.now for slot in reply.booked] == pytest.approx(expected, abs=1e-6)


async def test_a_booking_refused_for_max_wait_consumes_nothing(
    schedule_for: Callable[..., Schedule],
) -> None:
    schedule = schedule_for(rate=50)
    ahead = await schedule.book("i", 10)  # 10 slots: the next is about 0.2 s away
    refused = await schedule.book("i", 1, max_wait=0.05)
    assert refused.booked == []
    assert len(refused.refused) == 1
    assert refused.refused[0] - refused.now > 0.05
    taken = await schedule.book("i", 1)
    assert taken.booked == pytest.approx(refused.refused, abs=1e-6)  # the very same slot
    assert taken.booked[0] > ahead.booked[-1]


async def test_bulk_books_within_the_horizon_only_and_is_told_when_to_ask_again(
    schedule_for: Callable[..., Schedule],
) -> None:
    schedule = schedule_for(rate=50, margin=0.01, bulk_horizon=0.05, bulk_share=0.1)
    interval = 1.01 / 50
    first = await schedule.book("b", 10)
    # 0, T, 2T are within 50 ms; 3T = 60.6 ms is not.
    assert len(first.booked) == 3
    assert first.wake is not None
    assert first.wake == pytest.approx(first.booked[-1] + interval - 0.05, abs=1e-5)
    second = await schedule.book("b", 10)
    assert second.booked == []
    assert second.wake is not None
    assert second.wake >= first.wake + interval - 1e-6  # staggered behind the first one


async def test_interactive_goes_ahead_of_bulk_and_bulk_still_gets_its_share(
    schedule_for: Callable[..., Schedule],
) -> None:
    schedule = schedule_for(rate=50, margin=0.01, bulk_horizon=0.05, bulk_share=0.1)
    await schedule.book("b", 1)  # resets the interactive streak
    await schedule.book("i", 5)  # interactive is booked at once, however far ahead
    refused = await schedule.book("b", 1)
    assert refused.booked == []
    assert refused.wake is not None
    interval = 1.01 / 50
    assert refused.wake - refused.now <= 10 * interval + 1e-6  # re-checks soon for its share
    interactive = await schedule.book("i", 4)  # nine interactive bookings in a row now
    share = await schedule.book("b", 1)
    assert len(share.booked) == 1  # booked at the end of the schedule, beyond the horizon
    assert share.booked[0] > interactive.booked[-1]
    assert share.booked[0] - share.now > 0.05
    again = await schedule.book("b", 1)
    assert again.booked == []


async def test_a_429_pauses_every_booking_and_lowers_the_rate_once_per_second(
    schedule_for: Callable[..., Schedule], redis_url: str, api_key: str
) -> None:
    schedule = schedule_for(rate=50, decrease=0.5, recovery=0.05)
    gov = schedule.governor
    listener = aioredis.Redis.from_url(redis_url)
    pubsub = listener.pubsub()
    await pubsub.subscribe(gov._schedule.channel)
    try:
        await schedule.book("i", 3)
        paused = await schedule.pause(1.0)
        assert paused.paused == pytest.approx(paused.now + 1.0, abs=1e-5)
        assert paused.rate == pytest.approx(25.0)
        again = await schedule.pause(0.5)  # within a second: longer pause? no; no new decrease
        assert again.paused == pytest.approx(paused.paused, abs=1e-5)
        assert again.rate == pytest.approx(25.0)
        after = await schedule.book("i", 3)
        assert after.booked[0] >= paused.paused - 1e-6
        assert after.rate == pytest.approx(25.0, rel=0.01)
        gaps = [b - a for a, b in zip(after.booked, after.booked[1:], strict=False)]
        assert min(gaps) >= 1 / 25.1  # spaced at the lowered rate
        messages = []
        async with asyncio.timeout(2):
            while len(messages) < 2:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    messages.append(message["data"].split())
        assert float(messages[0][0]) / 1e6 == pytest.approx(paused.paused, abs=1e-5)
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await listener.aclose()


async def test_the_rate_climbs_back_after_the_pause(
    schedule_for: Callable[..., Schedule],
) -> None:
    schedule = schedule_for(rate=50, decrease=0.5, recovery=1.0)  # +50/s per second
    await schedule.pause(0.2)
    await asyncio.sleep(0.3)  # 0.1 s past the pause: 25 + 5 = 30/s
    reply = await schedule.book("i", 1)
    assert 29.0 < reply.rate < 33.0


async def test_a_released_tail_slot_is_booked_again_and_an_inner_one_is_not(
    schedule_for: Callable[..., Schedule],
) -> None:
    # (In a cold start's first window the log holds slots later than they are, and a slot
    # handed back leaves the one before it at its logged time: the same slots, a bit later.)
    schedule = schedule_for(rate=50, cold_margin=0.0)
    booked = await schedule.book("i", 5)
    assert await schedule.release([booked.texts[2]]) == 0  # not the latest booking
    assert await schedule.release([booked.texts[4], booked.texts[3]]) == 2
    again = await schedule.book("i", 2)
    assert again.booked == pytest.approx(booked.booked[3:], abs=1e-6)


async def test_keys_are_namespaced_by_a_digest_and_expire(
    schedule_for: Callable[..., Schedule], redis_url: str, api_key: str
) -> None:
    schedule = schedule_for(rate=50)
    await schedule.book("i", 3)
    await schedule.pause(0.1)
    client = aioredis.Redis.from_url(redis_url)
    try:
        tag = schedule.governor.tag
        names = sorted(k.decode() for k in await client.keys(f"tightknit:{{{tag}}}:*"))
        assert names == [f"tightknit:{{{tag}}}:gov", f"tightknit:{{{tag}}}:gov:log"]
        assert not any(api_key in k.decode() for k in await client.keys("*"))
        for name in names:
            assert 55_000 < await client.pttl(name) <= 61_000
    finally:
        await client.aclose()
    assert api_key not in repr(schedule.governor)
