"""AsyncTightknit(redis_url=...) paces and keeps idempotency state in Redis, and closes both."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tightknit_async import AsyncTightknit
from tightknit_async.governor import RedisGovernor
from tightknit_async.idempotency import RedisIdempotencyStore
from tightknit_async.testing import FakeTightknit

MEMBER = {"email": "ada@example.com", "full_name": "Ada Lovelace"}


async def test_redis_url_switches_governor_and_store(redis_url: str, api_key: str) -> None:
    async with FakeTightknit() as fake:
        key = fake.add_key(key=api_key)
        async with AsyncTightknit(api_key=key, base_url=fake.url, redis_url=redis_url) as tk:
            assert isinstance(tk.governor, RedisGovernor)
            assert isinstance(tk._store, RedisIdempotencyStore)
            await asyncio.gather(*(tk.request("GET", "/admin/v0/feeds") for _ in range(60)))
            idem = str(uuid.uuid4())
            first = await tk.request("POST", "/admin/v0/members", json=MEMBER, idempotency_key=idem)
        # a second client (another process, as far as the store can tell) gets the reply from Redis
        async with AsyncTightknit(api_key=key, base_url=fake.url, redis_url=redis_url) as other:
            again = await other.request(
                "POST", "/admin/v0/members", json=MEMBER, idempotency_key=idem
            )
    assert fake.stats.rate_limited == 0
    assert fake.max_in_window(1.0) <= 50
    assert first.replayed is False
    assert again.replayed is True
    assert len(fake.ledger) == 1
    assert len([a for a in fake.arrivals if a.method == "POST"]) == 1  # answered from Redis


async def test_environment_variable_and_explicit_none(
    redis_url: str, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIGHTKNIT_REDIS_URL", redis_url)
    async with AsyncTightknit(api_key=api_key, base_url="http://127.0.0.1:1") as tk:
        assert isinstance(tk.governor, RedisGovernor)
    async with AsyncTightknit(
        api_key=api_key, base_url="http://127.0.0.1:1", redis_url=None
    ) as local:
        assert not isinstance(local.governor, RedisGovernor)
