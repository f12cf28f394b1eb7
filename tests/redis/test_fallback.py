"""The local fallback is the process's: with Redis unreachable, every client of one key in this
process, on one event loop or several, paces on one fallback at ``rate / workers`` together, and
the outage is logged once. Against a real ``redis-server`` killed and started again, and the
fake server counting what arrives."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from tightknit_async import AsyncTightknit
from tightknit_async.governor import RedisGovernor
from tightknit_async.testing import FakeTightknit

from .conftest import RedisServer

FEEDS = "/admin/v0/feeds"
SHARE = 25  # 50 / 2 workers


def client(api_key: str, fake: FakeTightknit, redis_url: str) -> AsyncTightknit:
    return AsyncTightknit(
        api_key=api_key,
        base_url=fake.url,
        redis_url=redis_url,
        redis_fallback_workers=2,
        max_retries=0,  # a 429 would surface, not be retried away
    )


def redis_governor(tk: AsyncTightknit) -> RedisGovernor:
    governor = tk.governor
    assert isinstance(governor, RedisGovernor)
    return governor


async def test_clients_of_one_key_share_one_fallback_and_log_the_outage_once(
    private_redis: RedisServer, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tightknit_async")
    async with FakeTightknit(rate_limit=SHARE) as fake:
        fake.add_key(key=api_key)
        clients = [client(api_key, fake, private_redis.url) for _ in range(4)]
        try:
            await asyncio.gather(*(tk.request("GET", FEEDS) for tk in clients))  # through Redis
            private_redis.stop()
            replies = await asyncio.gather(
                *(tk.request("GET", FEEDS) for tk in clients for _ in range(15))
            )
            assert [r.status_code for r in replies] == [200] * 60
            assert fake.stats.rate_limited == 0
            assert fake.max_in_window(1.0) <= SHARE  # 4 clients, one share: not 4 x 25
            governors = [redis_governor(tk) for tk in clients]
            assert {g.redis_statistics().mode for g in governors} == {"fallback"}
            assert sum(g.redis_statistics().fallback_grants for g in governors) == 60
            assert caplog.text.count("is unreachable") == 1
            assert (
                f"Redis at 127.0.0.1:{private_redis.port} is unreachable (ConnectionError: "
                in caplog.text
            )
            assert f"alone at {SHARE} req/s (50 / 2 workers) until it is back" in caplog.text
            private_redis.start()
            # The first governor to find Redis back wakes the others: all go back, one log line.
            async with asyncio.timeout(30):
                while any(g.redis_statistics().mode == "fallback" for g in governors):
                    await asyncio.sleep(0.05)
            assert caplog.text.count("answers again") == 1
            assert "60 grants were made on the local fallback meanwhile" in caplog.text
        finally:
            for tk in clients:
                await tk.aclose()
    assert api_key not in caplog.text


async def test_clients_on_several_event_loops_share_the_fallback(
    private_redis: RedisServer, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tightknit_async")
    private_redis.stop()  # unreachable from the start
    loops, per_loop = 3, 2
    ready = threading.Barrier(loops)  # every loop's clients exist before any sends

    async with FakeTightknit(rate_limit=SHARE) as fake:
        fake.add_key(key=api_key)

        def run_loop() -> list[int]:
            async def main() -> list[int]:
                clients = [client(api_key, fake, private_redis.url) for _ in range(per_loop)]
                try:
                    await asyncio.to_thread(ready.wait, 30)
                    replies = await asyncio.gather(
                        *(tk.request("GET", FEEDS) for tk in clients for _ in range(10))
                    )
                    return [r.status_code for r in replies]
                finally:
                    for tk in clients:
                        await tk.aclose()

            return asyncio.run(main())

        statuses = await asyncio.gather(*(asyncio.to_thread(run_loop) for _ in range(loops)))
    assert [s for run in statuses for s in run] == [200] * (loops * per_loop * 10)
    assert fake.stats.rate_limited == 0
    assert fake.max_in_window(1.0) <= SHARE  # 3 loops x 2 clients, one share
    assert caplog.text.count("is unreachable") == 1


async def test_governors_of_one_key_must_agree_on_the_fallback(
    redis_url: str, api_key: str
) -> None:
    first = RedisGovernor(redis_url, api_key, 50, fallback_workers=2)
    same = RedisGovernor(redis_url, api_key, 50, fallback_workers=2)
    without = RedisGovernor(redis_url, api_key, 50)  # no fallback: nothing to share
    try:
        with pytest.raises(ValueError, match="fallback_workers=2, asked 4") as raised:
            RedisGovernor(redis_url, api_key, 50, fallback_workers=4)
        assert api_key not in str(raised.value)
        with pytest.raises(ValueError, match="burst=1, asked 5"):
            RedisGovernor(redis_url, api_key, 50, fallback_workers=2, burst=5)
    finally:
        for governor in (first, same, without):
            await governor.aclose()
