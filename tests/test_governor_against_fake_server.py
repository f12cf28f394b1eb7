"""The rate governor end to end: the real client, real time, the fake server's 50/s window.

``FakeTightknit(rate_limit=50)`` accepts at most 50 requests of a key in any 1-second sliding
window and answers the rest 429 + Retry-After; it records every arrival on ``time.monotonic``,
the clock the governor paces on. Each test issues its own key, so it gets a fresh governor.
"""

from __future__ import annotations

import asyncio

from tightknit_async import AsyncTightknit
from tightknit_async.testing import FakeTightknit

FEEDS = "/admin/v0/feeds"
CAP = 50


def paced(fake: FakeTightknit, key: str, **kwargs: object) -> AsyncTightknit:
    return AsyncTightknit(api_key=key, base_url=fake.url, rate_limit=CAP, **kwargs)  # type: ignore[arg-type]


def arrival_times(fake: FakeTightknit, key: str) -> list[float]:
    key_id = fake.key_info(key).id
    return sorted(a.time for a in fake.arrivals if a.key_id == key_id)


async def test_a_cold_burst_of_300_earns_no_429_and_never_tops_50_in_a_window() -> None:
    async with FakeTightknit(rate_limit=CAP) as fake:
        key = fake.add_key()
        async with paced(fake, key, max_retries=0) as tk:  # a 429 would raise, not be retried
            replies = await asyncio.gather(*(tk.request("GET", FEEDS) for _ in range(300)))
            assert tk.governor is not None
            stats = tk.governor.statistics()
    assert [r.status_code for r in replies] == [200] * 300
    assert fake.stats.rate_limited == 0
    assert fake.stats.requests == 300
    assert fake.max_in_window(1.0) <= CAP  # every arrival, whatever its status
    assert (stats.granted, stats.rate_limited, stats.waiting) == (300, 0, 0)
    times = arrival_times(fake, key)
    assert times[-1] - times[0] >= (300 - CAP) / CAP  # paced over ~6 s, not sent at once


async def test_a_burst_after_idle_earns_no_429() -> None:
    async with FakeTightknit(rate_limit=CAP) as fake:
        key = fake.add_key()
        async with paced(fake, key, max_retries=0) as tk:
            warm = await asyncio.gather(*(tk.request("GET", FEEDS) for _ in range(10)))
            await asyncio.sleep(1.5)
            burst = await asyncio.gather(*(tk.request("GET", FEEDS) for _ in range(100)))
    assert [r.status_code for r in warm + burst] == [200] * 110
    assert fake.stats.rate_limited == 0
    assert fake.max_in_window(1.0) <= CAP


async def test_an_injected_429_pauses_the_key_and_every_call_still_succeeds() -> None:
    async with FakeTightknit(rate_limit=CAP) as fake:
        key = fake.add_key()
        fake.faults.script("GET", FEEDS, [429])  # the first GET /feeds: 429 + Retry-After: 1
        async with paced(fake, key) as tk:  # default retries: the 429 is retried
            replies = await asyncio.gather(*(tk.request("GET", FEEDS) for _ in range(20)))
            assert tk.governor is not None
            stats = tk.governor.statistics()
            client_stats = tk.statistics()
    assert [r.status_code for r in replies] == [200] * 20
    assert fake.stats.rate_limited == 1
    assert (client_stats.rate_limited, client_stats.retries) == (1, 1)
    assert stats.rate_limited == 1
    assert stats.current_rate < CAP  # lowered (to 25/s), climbing back 2.5/s per second
    assert stats.granted == 21  # every attempt took a slot, the retry included
    key_id = fake.key_info(key).id
    arrivals = sorted((a for a in fake.arrivals if a.key_id == key_id), key=lambda a: a.time)
    first_429 = next(a for a in arrivals if a.status == 429)
    later = [a.time for a in arrivals if a.time > first_429.time]
    assert later  # the other 19 calls and the retry went after it ...
    assert min(later) - first_429.time >= 1.0  # ... once the Retry-After pause was over


async def test_an_unpaced_client_on_the_same_key_makes_the_governor_back_off() -> None:
    async with FakeTightknit(rate_limit=CAP) as fake:
        key = fake.add_key()
        async with (
            AsyncTightknit(api_key=key, base_url=fake.url, rate_limit=None, max_retries=0) as rogue,
            paced(fake, key) as tk,
        ):
            # The rogue uses up the key's window; our paced client then meets its 429.
            await asyncio.gather(*(rogue.request("GET", FEEDS) for _ in range(CAP)))
            replies = await asyncio.gather(*(tk.request("GET", FEEDS) for _ in range(10)))
            assert tk.governor is not None
            stats = tk.governor.statistics()
            client_stats = tk.statistics()
    assert [r.status_code for r in replies] == [200] * 10
    assert stats.rate_limited >= 1  # it saw the 429 (one, unless a second was already in flight)
    assert stats.current_rate < CAP  # ... and slowed down
    # Every 429 went to our client, and each was fed back to its governor.
    assert fake.stats.rate_limited == client_stats.rate_limited == stats.rate_limited
