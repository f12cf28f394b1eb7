"""``RedisIdempotencyStore`` against the real Redis. Two stores (two connection pools, two
pub/sub connections) stand for two processes."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import msgspec
import pytest
import redis.asyncio as aioredis

from tightknit_async.idempotency import (
    Begun,
    Busy,
    CachedReply,
    Claimed,
    FlightClaim,
    IdempotencyStore,
    IdempotencyStoreUnavailableError,
    MemoryIdempotencyStore,
    Mismatch,
    RedisIdempotencyStore,
    Replay,
    mint_idempotency_key,
)

from .conftest import RedisServer

MakeStore = Callable[..., RedisIdempotencyStore]
T = TypeVar("T")
HEADERS = (("Content-Type", "application/json"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"))
REPLY = CachedReply(201, HEADERS, b'{"ok": true}', "fp-1")


@pytest.fixture
def scope(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()  # a digest, as the client passes


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


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A plain client on the shared server, to look at (and tamper with) the store's keys."""
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def claimed(begun: Begun) -> FlightClaim:
    assert isinstance(begun, Claimed), begun
    return begun.claim


def _text(name: bytes | str) -> str:
    return name.decode() if isinstance(name, bytes) else name


def key_of(scope: str, kind: str, key: str) -> str:
    return f"tightknit:{{{scope[:16]}}}:idem:{kind}:{key}"


async def test_a_key_is_bound_once_for_every_process_and_kept_for_the_hour(
    make_store: MakeStore, scope: str, raw: aioredis.Redis, api_key: str
) -> None:
    store, other = make_store(), make_store()
    assert isinstance(store, IdempotencyStore)
    key = mint_idempotency_key()
    claim = claimed(await store.begin(scope, key, "fp-1"))
    assert await other.begin(scope, key, "fp-2") == Mismatch("fp-1")  # bound once, for everyone
    assert await other.begin(scope, key, "fp-1") == Busy()
    assert 9_000 < await raw.pttl(key_of(scope, "lock", key)) <= 10_000  # the lease
    await claim.finish(REPLY)
    assert await other.begin(scope, key, "fp-1") == Replay(REPLY)
    assert await other.begin(scope, key, "fp-2") == Mismatch("fp-1")
    names = [_text(k) for k in await raw.keys(f"tightknit:{{{scope[:16]}}}:idem:*")]
    assert sorted(n.rsplit(":", 2)[1] for n in names) == ["bind", "reply"]  # the lock is gone
    for name in names:
        assert 3_590_000 < await raw.pttl(name) <= 3_600_000
    assert not any(api_key in _text(k) for k in await raw.keys("*"))
    mine, theirs = store.statistics(), other.statistics()
    assert (mine.claims, mine.misses, mine.puts, mine.lapsed) == (1, 1, 1, 0)
    assert (theirs.mismatches, theirs.claims_lost, theirs.hits) == (2, 1, 1)


async def test_a_replay_carries_the_headers_as_received(make_store: MakeStore, scope: str) -> None:
    store, other = make_store(), make_store()
    key = mint_idempotency_key()
    await claimed(await store.begin(scope, key, "fp-1")).finish(REPLY)
    begun = await other.begin(scope, key, "fp-1")
    assert isinstance(begun, Replay)
    assert begun.reply.headers == HEADERS  # case kept, the repeated header twice, in order
    assert begun.reply == REPLY


async def test_scopes_never_share_bindings_replies_or_claims(
    make_store: MakeStore, scope: str
) -> None:
    store = make_store()
    key = mint_idempotency_key()
    held = claimed(await store.begin(scope, key, "fp-1"))
    other_scope = hashlib.sha256(b"another key").hexdigest()
    elsewhere = claimed(await store.begin(other_scope, key, "fp-2"))  # not bound, not busy there
    await held.finish(REPLY)
    await elsewhere.finish(None)
    assert isinstance(await store.begin(other_scope, key, "fp-2"), Claimed)  # no reply there
    assert await store.begin(scope, key, "fp-1") == Replay(REPLY)


async def test_busy_while_another_holds_and_the_waiter_gets_the_reply_when_it_lands(
    make_store: MakeStore, scope: str
) -> None:
    holder, waiter = make_store(), make_store()
    key = mint_idempotency_key()
    claim = claimed(await holder.begin(scope, key, "fp-1"))
    assert await waiter.begin(scope, key, "fp-1") == Busy()
    waiting = asyncio.create_task(waiter.wait(scope, key, 5.0))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    landed = time.monotonic()
    await claim.finish(REPLY)
    assert await waiting == REPLY
    assert time.monotonic() - landed < 0.1  # told by pub/sub, not by polling
    assert await waiter.begin(scope, key, "fp-1") == Replay(REPLY)
    assert waiter.statistics().waits_answered == 1


async def test_finishing_without_a_reply_frees_the_key_and_ends_the_wait(
    make_store: MakeStore, scope: str
) -> None:
    holder, waiter = make_store(), make_store()
    key = mint_idempotency_key()
    claim = claimed(await holder.begin(scope, key, "fp-1"))
    waiting = asyncio.create_task(waiter.wait(scope, key, 5.0))
    await asyncio.sleep(0.1)
    released = time.monotonic()
    await claim.finish(None)
    assert await waiting is None
    assert time.monotonic() - released < 0.1
    again = claimed(await waiter.begin(scope, key, "fp-1"))  # nothing kept: free to send again
    assert await holder.begin(scope, key, "fp-2") == Mismatch("fp-1")  # still bound
    await again.finish(None)
    assert (holder.statistics().puts, holder.statistics().lapsed) == (0, 0)


async def test_a_second_finish_does_nothing(
    make_store: MakeStore, scope: str, raw: aioredis.Redis
) -> None:
    store = make_store()
    key = mint_idempotency_key()
    claim = claimed(await store.begin(scope, key, "fp-1"))
    await claim.finish(None)
    later = claimed(await store.begin(scope, key, "fp-1"))
    await claim.finish(REPLY)
    assert await raw.exists(key_of(scope, "reply", key)) == 0
    assert await store.begin(scope, key, "fp-1") == Busy()  # ``later`` still holds the key
    await later.finish(None)


async def test_the_lease_is_renewed_while_the_request_runs(
    make_store: MakeStore, scope: str
) -> None:
    # A lease of 1.2 s renewed every 0.4 s: a renewal may run up to 0.8 s late on a busy
    # machine and the key is still held.
    holder, other = make_store(lease=1.2), make_store()
    key = mint_idempotency_key()
    claim = claimed(await holder.begin(scope, key, "fp-1"))
    await asyncio.sleep(2.5)  # two leases long
    assert await other.begin(scope, key, "fp-1") == Busy()
    assert holder.statistics().renewals >= 3
    await claim.finish(None)


async def test_a_crashed_holder_frees_the_key_within_a_lease_and_its_late_finish_frees_nothing(
    make_store: MakeStore, scope: str, raw: aioredis.Redis
) -> None:
    holder, waiter = make_store(lease=0.3), make_store()
    key = mint_idempotency_key()
    claim = claimed(await holder.begin(scope, key, "fp-1"))
    renewer = claim._renewer  # type: ignore[attr-defined]
    renewer.cancel()  # the holder "crashes": no renewal, no finish
    started = time.monotonic()
    assert await waiter.wait(scope, key, 5.0) is None
    assert 0.1 < time.monotonic() - started < 0.6
    late = claimed(await waiter.begin(scope, key, "fp-1"))
    await claim.finish(None)  # the crashed holder's finish must not free the new holder's claim
    assert await raw.get(key_of(scope, "lock", key)) == late.token.encode()  # type: ignore[attr-defined]
    assert await holder.begin(scope, key, "fp-1") == Busy()
    assert holder.statistics().lapsed == 1
    await late.finish(REPLY)
    assert await holder.begin(scope, key, "fp-1") == Replay(REPLY)


async def test_a_late_finish_still_keeps_its_reply(
    make_store: MakeStore, scope: str, raw: aioredis.Redis
) -> None:
    holder, other = make_store(lease=0.2), make_store()
    key = mint_idempotency_key()
    claim = claimed(await holder.begin(scope, key, "fp-1"))
    claim._renewer.cancel()  # type: ignore[attr-defined]
    await asyncio.sleep(0.3)
    late = claimed(await other.begin(scope, key, "fp-1"))
    await claim.finish(REPLY)  # the server answered it: the reply is kept all the same
    assert await raw.get(key_of(scope, "lock", key)) == late.token.encode()  # type: ignore[attr-defined]
    assert await other.begin(scope, key, "fp-1") == Replay(REPLY)
    await late.finish(None)


async def test_waiting_gives_up_at_max_wait(make_store: MakeStore, scope: str) -> None:
    holder, waiter = make_store(), make_store()
    key = mint_idempotency_key()
    claim = claimed(await holder.begin(scope, key, "fp-1"))
    started = time.monotonic()
    assert await waiter.wait(scope, key, 0.3) is None
    assert 0.25 < time.monotonic() - started < 0.5
    await claim.finish(None)


async def test_bindings_and_replies_expire_after_the_ttl(make_store: MakeStore, scope: str) -> None:
    store = make_store(ttl=0.3)
    key = mint_idempotency_key()
    await claimed(await store.begin(scope, key, "fp-1")).finish(REPLY)
    assert await store.begin(scope, key, "fp-2") == Mismatch("fp-1")
    await asyncio.sleep(0.4)
    fresh = claimed(await store.begin(scope, key, "fp-2"))  # bound anew, nothing to replay
    await fresh.finish(None)


async def test_a_reply_kept_by_an_older_version_is_replayed(
    make_store: MakeStore, scope: str, raw: aioredis.Redis
) -> None:
    # Older versions stored the headers as a map.
    class OldReply(msgspec.Struct, array_like=True):
        status_code: int
        headers: dict[str, str]
        content: bytes
        fingerprint: str

    key = mint_idempotency_key()
    old = OldReply(200, {"content-type": "application/json"}, b"{}", "fp-1")
    await raw.set(key_of(scope, "reply", key), msgspec.msgpack.encode(old), px=60_000)
    begun = await make_store().begin(scope, key, "fp-1")
    assert begun == Replay(CachedReply(200, (("content-type", "application/json"),), b"{}", "fp-1"))


async def test_a_reply_this_version_cannot_read_is_ignored(
    make_store: MakeStore, scope: str, raw: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    key = mint_idempotency_key()
    await raw.set(key_of(scope, "reply", key), b"\x93\x01\x02", px=60_000)
    with caplog.at_level(logging.WARNING, logger="tightknit_async"):
        claim = claimed(await store.begin(scope, key, "fp-1"))
    assert "cannot read" in caplog.text
    await claim.finish(REPLY)  # and a readable one takes its place
    assert await store.begin(scope, key, "fp-1") == Replay(REPLY)


async def test_begin_and_finish_are_one_round_trip_each(
    private_redis: RedisServer, make_store: MakeStore, scope: str
) -> None:
    """Counted by the server (``INFO commandstats``). The commands a script runs count there
    too, so each expected delta lists them; the only command a client sent is ``EVALSHA``."""
    store, other = make_store(private_redis.url), make_store(private_redis.url)
    observer = aioredis.Redis.from_url(private_redis.url)
    try:
        # Warm up: each store's connection opened, and the scripts loaded into the server.
        for each in (store, other):
            warm = mint_idempotency_key()
            await claimed(await each.begin(scope, warm, "fp")).finish(REPLY)
            await each.begin(scope, warm, "fp")

        async def counted(operation: Awaitable[T]) -> tuple[dict[str, int], T]:
            before = await observer.info("commandstats")
            result = await operation
            after = await observer.info("commandstats")
            delta = {
                name.removeprefix("cmdstat_"): stats["calls"] - before.get(name, {}).get("calls", 0)
                for name, stats in after.items()
                if name != "cmdstat_info"
            }
            return {name: calls for name, calls in delta.items() if calls}, result

        key = mint_idempotency_key()
        # claimed: SET NX the binding, GET the reply, SET NX the lock
        sent, begun = await counted(store.begin(scope, key, "fp-1"))
        assert sent == {"evalsha": 1, "set": 2, "get": 1}
        claim = claimed(begun)
        # busy: the binding is there (SET NX, GET), no reply (GET), the lock is held (SET NX)
        sent, begun = await counted(other.begin(scope, key, "fp-1"))
        assert (sent, begun) == ({"evalsha": 1, "set": 2, "get": 2}, Busy())
        # mismatch: SET NX, GET, and nothing more
        sent, begun = await counted(other.begin(scope, key, "fp-2"))
        assert (sent, begun) == ({"evalsha": 1, "set": 1, "get": 1}, Mismatch("fp-1"))
        # finish with a reply: SET it, GET and DEL the lock, PUBLISH
        sent, _ = await counted(claim.finish(REPLY))
        assert sent == {"evalsha": 1, "set": 1, "get": 1, "del": 1, "publish": 1}
        # replay: SET NX, GET the binding, GET the reply
        sent, begun = await counted(other.begin(scope, key, "fp-1"))
        assert (sent, begun) == ({"evalsha": 1, "set": 1, "get": 2}, Replay(REPLY))
        # finish without a reply: GET and DEL the lock, PUBLISH
        claim = claimed(await store.begin(scope, mint_idempotency_key(), "fp-1"))
        sent, _ = await counted(claim.finish(None))
        assert sent == {"evalsha": 1, "get": 1, "del": 1, "publish": 1}
    finally:
        await observer.aclose()


async def test_without_redis_the_store_raises_before_anything_is_sent(
    private_redis: RedisServer, make_store: MakeStore, scope: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store(private_redis.url, timeout=0.5)
    key = mint_idempotency_key()
    claim = claimed(await store.begin(scope, key, "fp"))
    private_redis.stop()
    for operation in (store.begin(scope, key, "fp"), store.wait(scope, key, 1.0)):
        with pytest.raises(IdempotencyStoreUnavailableError, match="nothing was sent"):
            await operation
    with caplog.at_level(logging.WARNING, logger="tightknit_async"):
        await claim.finish(REPLY)  # logged, not raised: the call already completed
    assert "could not finish" in caplog.text
    assert store.statistics().failures == 3


async def test_with_a_fallback_store_it_serves_while_redis_is_away(
    private_redis: RedisServer, make_store: MakeStore, scope: str
) -> None:
    fallback = MemoryIdempotencyStore()
    store = make_store(private_redis.url, fallback=fallback, probe_interval=0.2, timeout=0.5)
    key = mint_idempotency_key()
    private_redis.stop()
    claim = claimed(await store.begin(scope, key, "fp-1"))  # the fallback's claim
    assert store.statistics().fallback
    await claim.finish(REPLY)
    assert await store.begin(scope, key, "fp-2") == Mismatch("fp-1")
    assert await store.begin(scope, key, "fp-1") == Replay(REPLY)
    assert await store.wait(scope, key, 1.0) == REPLY
    private_redis.start()
    await asyncio.sleep(0.3)
    again = claimed(await store.begin(scope, key, "fp-2"))  # Redis again (that was in memory)
    assert not store.statistics().fallback
    await again.finish(None)


async def test_a_reply_redis_could_not_take_is_kept_in_the_fallback(
    private_redis: RedisServer, make_store: MakeStore, scope: str
) -> None:
    fallback = MemoryIdempotencyStore()
    store = make_store(private_redis.url, fallback=fallback, probe_interval=0.2, timeout=0.5)
    key = mint_idempotency_key()
    claim = claimed(await store.begin(scope, key, "fp-1"))  # Redis's claim
    private_redis.stop()
    await claim.finish(REPLY)
    assert await fallback.get(scope, key) == REPLY
    assert await fallback.begin(scope, key, "fp-2") == Mismatch("fp-1")  # bound as in Redis


async def test_closing_stops_the_lease_renewals(make_store: MakeStore, scope: str) -> None:
    store = make_store(lease=0.3)
    claim = claimed(await store.begin(scope, mint_idempotency_key(), "fp-1"))
    renewer = claim._renewer  # type: ignore[attr-defined]
    await store.aclose()
    assert renewer.done()
    with pytest.raises(IdempotencyStoreUnavailableError, match="closed"):
        await store.begin(scope, mint_idempotency_key(), "fp-1")
