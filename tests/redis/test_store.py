"""``RedisIdempotencyStore`` against the real Redis. Two stores (two connection pools, two
pub/sub connections) stand for two processes."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from tightknit_async.idempotency import (
    CachedReply,
    IdempotencyStore,
    IdempotencyStoreUnavailableError,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    mint_idempotency_key,
)

from .conftest import RedisServer

MakeStore = Callable[..., RedisIdempotencyStore]
REPLY = CachedReply(201, {"content-type": "application/json"}, b'{"ok": true}', "fp-1")


@pytest.fixture
def scope(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()  # what the client passes


@pytest.fixture
async def make_store(redis_url: str) -> AsyncIterator[MakeStore]:
    made: list[RedisIdempotencyStore] = []

    def make(url: str = redis_url, **options: object) -> RedisIdempotencyStore:
        store = RedisIdempotencyStore(url, **options)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make
    for store in made:
        await store.aclose()


async def test_bind_get_put_round_trip_with_the_one_hour_ttl(
    make_store: MakeStore, scope: str, redis_url: str, api_key: str
) -> None:
    store, other = make_store(), make_store()
    assert isinstance(store, IdempotencyStore)
    key = mint_idempotency_key()
    assert await store.bind(scope, key, "fp-1") == "fp-1"
    assert await other.bind(scope, key, "fp-2") == "fp-1"  # bound once, for everyone
    assert await other.get(scope, key) is None
    await store.put(scope, key, REPLY)
    assert await other.get(scope, key) == REPLY
    client = aioredis.Redis.from_url(redis_url)
    try:
        names = [k.decode() for k in await client.keys(f"tightknit:{{{scope[:16]}}}:idem:*")]
        assert sorted(n.rsplit(":", 2)[1] for n in names) == ["bind", "reply"]
        for name in names:
            assert 3_590_000 < await client.pttl(name) <= 3_600_000
        assert not any(api_key in k.decode() for k in await client.keys("*"))
    finally:
        await client.aclose()
    assert other.statistics().hits == 1


async def test_replies_never_cross_scopes(make_store: MakeStore, scope: str) -> None:
    store = make_store()
    key = mint_idempotency_key()
    await store.put(scope, key, REPLY)
    other_scope = hashlib.sha256(b"another key").hexdigest()
    assert await store.get(other_scope, key) is None
    assert await store.claim(other_scope, key) is not None


async def test_one_claim_at_a_time_and_the_waiter_gets_the_reply_when_it_lands(
    make_store: MakeStore, scope: str
) -> None:
    holder, waiter = make_store(), make_store()
    key = mint_idempotency_key()
    claim = await holder.claim(scope, key)
    assert claim is not None
    assert await waiter.claim(scope, key) is None
    waiting = asyncio.create_task(waiter.wait(scope, key, 5.0))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    landed = time.monotonic()
    await holder.put(scope, key, REPLY)
    assert await waiting == REPLY
    assert time.monotonic() - landed < 0.1  # told by pub/sub, not by polling
    await claim.release()
    assert await waiter.claim(scope, key) is not None
    assert waiter.statistics().waits_answered == 1


async def test_a_holder_giving_up_without_a_reply_ends_the_wait(
    make_store: MakeStore, scope: str
) -> None:
    holder, waiter = make_store(), make_store()
    key = mint_idempotency_key()
    claim = await holder.claim(scope, key)
    assert claim is not None
    waiting = asyncio.create_task(waiter.wait(scope, key, 5.0))
    await asyncio.sleep(0.1)
    released = time.monotonic()
    await claim.release()
    assert await waiting is None
    assert time.monotonic() - released < 0.1


async def test_the_lease_is_renewed_while_the_request_runs(
    make_store: MakeStore, scope: str
) -> None:
    holder, other = make_store(lease=0.3), make_store()
    key = mint_idempotency_key()
    claim = await holder.claim(scope, key)
    assert claim is not None
    await asyncio.sleep(1.0)  # three leases long
    assert await other.claim(scope, key) is None
    assert holder.statistics().renewals >= 3
    await claim.release()


async def test_a_crashed_holder_frees_the_key_within_a_lease(
    make_store: MakeStore, scope: str
) -> None:
    holder, waiter = make_store(lease=0.3), make_store()
    key = mint_idempotency_key()
    claim = await holder.claim(scope, key)
    assert claim is not None
    renewer = claim._renewer  # type: ignore[attr-defined]
    renewer.cancel()  # the holder "crashes": no renewal, no release
    started = time.monotonic()
    assert await waiter.wait(scope, key, 5.0) is None
    assert 0.1 < time.monotonic() - started < 0.6
    late = await waiter.claim(scope, key)
    assert late is not None
    await claim.release()  # the crashed holder's release must not free the new holder's lock
    assert await holder.claim(scope, key) is None
    await late.release()


async def test_waiting_gives_up_at_max_wait(make_store: MakeStore, scope: str) -> None:
    holder, waiter = make_store(), make_store()
    key = mint_idempotency_key()
    claim = await holder.claim(scope, key)
    assert claim is not None
    started = time.monotonic()
    assert await waiter.wait(scope, key, 0.3) is None
    assert 0.25 < time.monotonic() - started < 0.5
    await claim.release()


async def test_without_redis_the_store_raises_before_anything_is_sent(
    private_redis: RedisServer, make_store: MakeStore, scope: str
) -> None:
    store = make_store(private_redis.url, timeout=0.5)
    key = mint_idempotency_key()
    assert await store.get(scope, key) is None
    private_redis.stop()
    for operation in (
        store.bind(scope, key, "fp"),
        store.get(scope, key),
        store.claim(scope, key),
        store.wait(scope, key, 1.0),
    ):
        with pytest.raises(IdempotencyStoreUnavailableError, match="nothing was sent"):
            await operation
    await store.put(scope, key, REPLY)  # logged, not raised: the call already completed


async def test_with_a_fallback_store_it_serves_while_redis_is_away(
    private_redis: RedisServer, make_store: MakeStore, scope: str
) -> None:
    store = make_store(
        private_redis.url, fallback=MemoryIdempotencyStore(), probe_interval=0.2, timeout=0.5
    )
    key = mint_idempotency_key()
    private_redis.stop()
    assert await store.bind(scope, key, "fp") == "fp"
    assert store.statistics().fallback
    await store.put(scope, key, REPLY)
    assert await store.get(scope, key) == REPLY
    private_redis.start()
    await asyncio.sleep(0.3)
    assert await store.get(scope, key) is None  # Redis again (the reply stayed in memory)
    assert not store.statistics().fallback
