"""The per-key sliding-window rate limit, driven by a FakeClock: no sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tightknit_async.testing import FakeClock, FakeTightknit
from tightknit_async.testing._rate_window import SlidingWindow

from .helpers import Client

RATE_LIMITED = {"success": False, "error": "Too many requests", "code": "RATE_LIMITED"}


async def burst(client: Client, count: int, *, api_key: str = "default") -> list[int]:
    replies = await asyncio.gather(
        *(client.get("/api_key/me", api_key=api_key) for _ in range(count))
    )
    return [reply.status for reply in replies]


async def test_fifty_accepted_then_429_with_retry_after(client: Client) -> None:
    assert await burst(client, 50) == [200] * 50
    reply = await client.get("/api_key/me")
    assert reply.status == 429
    assert reply.body == RATE_LIMITED
    assert reply.headers["Retry-After"] == "1"
    assert client.fake.stats.rate_limited == 1


async def test_window_slides_with_the_clock(client: Client, clock: FakeClock) -> None:
    assert await burst(client, 25) == [200] * 25
    clock.advance(0.5)
    assert await burst(client, 25) == [200] * 25
    clock.advance(0.4)
    assert (await client.get("/api_key/me")).status == 429
    clock.advance(0.1)  # the first 25 are now exactly one window old: they leave it
    statuses = await burst(client, 26)
    assert statuses.count(200) == 25
    assert statuses.count(429) == 1


async def test_rejected_requests_do_not_count(client: Client, clock: FakeClock) -> None:
    assert await burst(client, 50) == [200] * 50
    clock.advance(0.5)
    assert await burst(client, 10) == [429] * 10
    clock.advance(0.5)
    # Had the ten 429s counted, only 40 would fit now.
    assert await burst(client, 50) == [200] * 50


async def test_limit_is_per_key(client: Client) -> None:
    other = client.fake.add_key()
    assert await burst(client, 50) == [200] * 50
    assert (await client.get("/api_key/me")).status == 429
    assert await burst(client, 50, api_key=other) == [200] * 50


async def test_limit_spans_all_endpoints(client: Client) -> None:
    for path in ("/api_key/me", "/calendar_events", "/feeds", "/missing"):
        for _ in range(12):
            await client.get(path)
    assert (await client.get("/feeds")).status == 200  # the 49th and 50th
    assert (await client.get("/feeds")).status == 200
    assert (await client.get("/calendar_events")).status == 429


async def test_unauthenticated_requests_do_not_count(client: Client) -> None:
    for _ in range(60):
        assert (await client.get("/api_key/me", api_key="sk_test_wrong")).status == 401
    assert await burst(client, 50) == [200] * 50


@pytest.fixture
async def small_window(clock: FakeClock, session: aiohttp.ClientSession) -> AsyncIterator[Client]:
    async with FakeTightknit(clock=clock, rate_limit=3, rate_window=10.0) as fake:
        yield Client(session, fake)


async def test_retry_after_counts_until_the_oldest_leaves(
    small_window: Client, clock: FakeClock
) -> None:
    assert await burst(small_window, 3) == [200] * 3
    clock.advance(2.5)
    reply = await small_window.get("/api_key/me")
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "8"  # ceil(10 - 2.5)
    clock.advance(7.5)
    assert (await small_window.get("/api_key/me")).status == 200


async def test_rate_limit_none_disables_the_limit(
    clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    async with FakeTightknit(clock=clock, rate_limit=None) as fake:
        assert await burst(Client(session, fake), 120) == [200] * 120
        assert fake.stats.rate_limited == 0


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([0.0, 0.0, 0.0], [None, None, 1]),
        ([0.0, 0.3, 0.6, 1.0, 1.0], [None, None, 1, None, 1]),
        ([0.0, 0.1, 0.9, 1.1], [None, None, 1, None]),
    ],
)
def test_sliding_window_table(times: list[float], expected: list[int | None]) -> None:
    window = SlidingWindow(2, 1.0)
    assert [window.admit("k", t) for t in times] == expected


def test_sliding_window_retry_after_is_whole_seconds_at_least_one() -> None:
    window = SlidingWindow(1, 5.0)
    assert window.admit("k", 0.0) is None
    assert window.admit("k", 0.1) == 5  # ceil(4.9)
    assert window.admit("k", 4.0) == 1
    assert window.admit("k", 4.99) == 1
    assert window.admit("other", 4.99) is None
