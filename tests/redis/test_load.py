"""Redis under load: bounded connection pools whose commands wait for a free connection, and what
one call costs in round trips. Against the real Redis and the fake server on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections import Counter
from collections.abc import Awaitable
from typing import TypeVar

import pytest
import redis.asyncio as aioredis

from tightknit_async import AsyncTightknit
from tightknit_async._redis import redis_backends
from tightknit_async._redis_base import (
    DEFAULT_REDIS_MAX_CONNECTIONS,
    CommandPool,
    PoolTimeoutError,
    connect,
)
from tightknit_async.governor import GovernorUnavailableError, RedisGovernor
from tightknit_async.idempotency import (
    Busy,
    CachedReply,
    Claimed,
    IdempotencyStoreUnavailableError,
    RedisIdempotencyStore,
)
from tightknit_async.testing import FakeTightknit

from .conftest import RedisServer

T = TypeVar("T")
FEEDS = "/admin/v0/feeds"
MEMBERS = "/admin/v0/members"
REPLY = CachedReply(201, (("Content-Type", "application/json"),), b"{}", "fp")


def member(number: int) -> dict[str, str]:
    return {"email": f"member-{number}@example.org", "full_name": f"Member {number}"}


async def test_a_thousand_concurrent_keyed_posts_through_one_client_all_land_once(
    redis_url: str, api_key: str
) -> None:
    keys = [str(uuid.uuid4()) for _ in range(1000)]
    async with FakeTightknit(rate_limit=None) as fake:
        fake.add_key(key=api_key)
        async with AsyncTightknit(
            api_key=api_key, base_url=fake.url, redis_url=redis_url, rate_limit=10_000
        ) as tk:
            outcomes = await asyncio.gather(
                *(
                    tk.request("POST", MEMBERS, json=member(n), idempotency_key=key)
                    for n, key in enumerate(keys)
                ),
                return_exceptions=True,
            )
        applied = Counter(entry.idempotency_key for entry in fake.ledger)
    errors = [repr(o) for o in outcomes if isinstance(o, BaseException)]
    assert errors == []  # the pool's 16 connections were busy, and everyone waited their turn
    assert applied == Counter(keys)  # each applied exactly once


async def test_a_pool_wait_that_runs_out_names_the_pool_and_the_setting(
    redis_url: str, api_key: str
) -> None:
    store_client = connect(redis_url, max_connections=1, pool_timeout=0.2)
    governor_client = connect(redis_url, max_connections=1, pool_timeout=0.2)
    store = RedisIdempotencyStore(store_client, owns_client=True)
    governor = RedisGovernor(governor_client, api_key, 50, owns_client=True)
    scope = hashlib.sha256(api_key.encode()).hexdigest()
    try:
        for client, attempt, error in (
            (store_client, lambda: store.begin(scope, "k", "fp"), IdempotencyStoreUnavailableError),
            (governor_client, governor.acquire, GovernorUnavailableError),
        ):
            pool = client.connection_pool  # its only connection is held elsewhere meanwhile
            busy = await pool.get_connection()  # type: ignore[no-untyped-call]
            try:
                with pytest.raises(error) as raised:
                    await attempt()
            finally:
                await pool.release(busy)
            message = str(raised.value)
            assert "no free connection in the Redis connection pool" in message
            assert "all 1 of its connections stayed busy" in message
            assert "raise redis_max_connections=1" in message
            assert isinstance(raised.value.__cause__, PoolTimeoutError)
        # Once the connection is free again, both are served.
        begun = await store.begin(scope, "k", "fp")
        assert isinstance(begun, Claimed)
        await begun.claim.finish(None)
        await governor.acquire()
    finally:
        await governor.aclose()
        await store.aclose()


async def test_listeners_keep_connections_of_their_own(redis_url: str, api_key: str) -> None:
    """One pooled connection is enough: a subscribed pub/sub connection never takes it."""
    scope = hashlib.sha256(api_key.encode()).hexdigest()
    holder = RedisIdempotencyStore(redis_url, max_connections=1)
    waiter = RedisIdempotencyStore(redis_url, max_connections=1)
    governor = RedisGovernor(redis_url, api_key, 50, max_connections=1)
    try:
        begun = await holder.begin(scope, "k", "fp")
        assert isinstance(begun, Claimed)
        assert isinstance(await waiter.begin(scope, "k", "fp"), Busy)
        waiting = asyncio.create_task(waiter.wait(scope, "k", max_wait=30))
        await asyncio.sleep(0.1)  # subscribed to the notices, and re-reading
        await begun.claim.finish(REPLY)
        assert await waiting == REPLY
        for _ in range(3):  # the pause listener subscribes in the background meanwhile
            await governor.acquire()
            await asyncio.sleep(0.05)
        assert governor.redis_statistics().failures == 0
    finally:
        await governor.aclose()
        await holder.aclose()
        await waiter.aclose()


async def commands_sent(url: str, operation: Awaitable[T]) -> tuple[list[str], T]:
    """The commands that clients sent Redis while ``operation`` ran, as ``MONITOR`` saw them:
    one round trip each. The commands a Lua script runs inside Redis are not among them."""
    observer, ender = aioredis.Redis.from_url(url), aioredis.Redis.from_url(url)
    marker = f"end-{secrets.token_hex(8)}"
    sent: list[str] = []
    try:
        await ender.ping()  # connected before MONITOR starts: its handshake is not seen
        async with observer.monitor() as monitor:
            result = await operation
            await ender.echo(marker)
            async with asyncio.timeout(10):
                while True:
                    entry = await monitor.next_command()
                    if marker in entry["command"]:
                        break
                    if entry["client_type"] != "lua":
                        sent.append(entry["command"].partition(" ")[0].upper())
    finally:
        await observer.aclose()
        await ender.aclose()
    return sent, result


async def test_round_trips_per_call_get_one_keyed_post_three(
    private_redis: RedisServer, api_key: str
) -> None:
    async with FakeTightknit() as fake:
        fake.add_key(key=api_key)
        async with AsyncTightknit(
            api_key=api_key, base_url=fake.url, redis_url=private_redis.url
        ) as tk:
            for n in range(3):  # warm: connections open, scripts loaded, listener subscribed
                await tk.request("GET", FEEDS)
                await tk.request("POST", MEMBERS, json=member(n), idempotency_key=str(uuid.uuid4()))
            await asyncio.sleep(0.2)
            for _ in range(3):
                sent, reply = await commands_sent(private_redis.url, tk.request("GET", FEEDS))
                assert reply.status_code == 200
                assert sent == ["EVALSHA"]  # the governor's booking
            for n in range(3, 6):
                keyed = tk.request(
                    "POST", MEMBERS, json=member(n), idempotency_key=str(uuid.uuid4())
                )
                sent, reply = await commands_sent(private_redis.url, keyed)
                assert reply.status_code == 201
                assert sent == ["EVALSHA"] * 3  # begin, the governor's booking, finish
            minted = tk.request("POST", MEMBERS, json=member(6))
            sent, reply = await commands_sent(private_redis.url, minted)
            assert sent == ["EVALSHA"]  # a minted key asks no store


async def test_pool_size_default_setting_and_validation(redis_url: str, api_key: str) -> None:
    governor, store = redis_backends(redis_url, api_key, rate=50)
    sized, sized_store = redis_backends(redis_url, api_key, rate=50, max_connections=4)
    try:
        for backend, size in ((governor, 16), (store, 16), (sized, 4), (sized_store, 4)):
            client = (
                backend._schedule.client if isinstance(backend, RedisGovernor) else backend._client
            )
            pool = client.connection_pool
            assert isinstance(pool, CommandPool)
            assert pool.max_connections == size
        assert DEFAULT_REDIS_MAX_CONNECTIONS == 16
    finally:
        for backend in (governor, store, sized, sized_store):
            await backend.aclose()
    for wrong in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_connections must be an int >= 1"):
            connect(redis_url, max_connections=wrong)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="redis_max_connections must be an int >= 1"):
            AsyncTightknit(api_key=api_key, redis_url=redis_url, redis_max_connections=wrong)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pool_timeout"):
        connect(redis_url, pool_timeout=0)
    async with AsyncTightknit(
        api_key=api_key, base_url="http://127.0.0.1:1", redis_url=redis_url, redis_max_connections=3
    ) as tk:
        assert isinstance(tk.governor, RedisGovernor)
        assert tk.governor._schedule.client.connection_pool.max_connections == 3
        assert isinstance(tk._store, RedisIdempotencyStore)
        assert tk._store._client.connection_pool.max_connections == 3
