"""The Redis backends under a real ``AsyncTightknit`` in this process, and ``redis_backends()``."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
import redis.asyncio as aioredis

from tightknit_async import AsyncTightknit
from tightknit_async._redis import redis_backends
from tightknit_async.governor import GovernorUnavailableError
from tightknit_async.idempotency import CachedReply, Claimed, IdempotencyStoreUnavailableError
from tightknit_async.testing import FakeTightknit

from .conftest import RedisServer

FEEDS = "/admin/v0/feeds"


async def test_redis_backends_share_one_namespace_per_api_key(redis_url: str, api_key: str) -> None:
    governor, store = redis_backends(redis_url, api_key, rate=50, burst=2)
    try:
        assert governor.settings.burst == 2
        await governor.acquire()
        scope = hashlib.sha256(api_key.encode()).hexdigest()  # a scope under the governor's tag
        begun = await store.begin(scope, "k", "fp")
        assert isinstance(begun, Claimed)
        await begun.claim.finish(CachedReply(200, (), b"{}", "fp"))
        client = aioredis.Redis.from_url(redis_url)
        try:
            names = sorted(k.decode() for k in await client.keys(f"tightknit:{{{governor.tag}}}:*"))
        finally:
            await client.aclose()
        tag = hashlib.sha256(api_key.encode()).hexdigest()[:16]
        assert names == [
            f"tightknit:{{{tag}}}:gov",
            f"tightknit:{{{tag}}}:gov:log",
            f"tightknit:{{{tag}}}:idem:bind:k",
            f"tightknit:{{{tag}}}:idem:reply:k",
        ]
        assert api_key not in repr(governor) + repr(store)
    finally:
        await governor.aclose()
        await store.aclose()
    with pytest.raises(ValueError, match="redis://"):
        redis_backends("http://localhost:6379", api_key, rate=50)


async def test_a_client_pacing_through_redis_fails_clearly_when_redis_goes_away(
    private_redis: RedisServer, api_key: str
) -> None:
    governor, store = redis_backends(private_redis.url, api_key, rate=50, timeout=0.5)
    async with FakeTightknit(rate_limit=50) as fake:
        fake.add_key(key=api_key)
        async with AsyncTightknit(
            api_key=api_key, base_url=fake.url, governor=governor, idempotency_store=store
        ) as tk:
            replies = await asyncio.gather(*(tk.request("GET", FEEDS) for _ in range(20)))
            assert [r.status_code for r in replies] == [200] * 20
            private_redis.stop()
            with pytest.raises(GovernorUnavailableError, match="Redis is unavailable"):
                await tk.request("GET", FEEDS)
            with pytest.raises(IdempotencyStoreUnavailableError, match="nothing was sent"):
                await tk.request(
                    "POST",
                    "/admin/v0/members",
                    json={"email": "ada@example.org", "full_name": "Ada Lovelace"},
                    idempotency_key="5f0c7b1e-3c1a-4d2b-9a6e-2f4b8c9d0e1f",
                )
        assert fake.stats.requests == 20  # nothing was sent without a slot or a claim
    await governor.aclose()
    await store.aclose()
