from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from tightknit_async.idempotency import (
    Begun,
    Busy,
    CachedReply,
    Claimed,
    FlightClaim,
    IdempotencyStore,
    MemoryIdempotencyStore,
    Mismatch,
    Replay,
)

from ..conftest import FakeClock


def reply(body: bytes = b"{}", status: int = 200, fingerprint: str = "f") -> CachedReply:
    return CachedReply(status, (("content-type", "application/json"),), body, fingerprint)


def claimed(begun: Begun) -> FlightClaim:
    assert isinstance(begun, Claimed), begun
    return begun.claim


async def remember(store: MemoryIdempotencyStore, key: str, kept: CachedReply) -> None:
    """A keyed call in scope ``s`` that completed with ``kept``."""
    await claimed(await store.begin("s", key, kept.fingerprint)).finish(kept)


async def recall(store: MemoryIdempotencyStore, key: str) -> CachedReply | None:
    """What a keyed call in scope ``s`` finds: the kept reply, or ``None`` (it would send)."""
    begun = await store.begin("s", key, "f")
    if isinstance(begun, Replay):
        return begun.reply
    await claimed(begun).finish(None)
    return None


async def test_begin_binds_then_replays_or_claims() -> None:
    store = MemoryIdempotencyStore()
    assert isinstance(store, IdempotencyStore)
    claim = claimed(await store.begin("tenant-a", "k1", "f"))
    await claim.finish(reply(b'{"a":1}'))
    assert await store.begin("tenant-a", "k1", "f") == Replay(reply(b'{"a":1}'))
    assert await store.begin("tenant-a", "k1", "other") == Mismatch("f")
    assert isinstance(await store.begin("tenant-b", "k1", "other"), Claimed)  # another API key
    assert isinstance(await store.begin("tenant-a", "k2", "f"), Claimed)
    stats = store.statistics()
    assert (stats.replies, stats.bindings, stats.hits, stats.misses) == (1, 3, 1, 3)


async def test_claims_are_always_granted_in_one_process() -> None:
    store = MemoryIdempotencyStore()
    first = claimed(await store.begin("s", "k", "f"))
    second = claimed(await store.begin("s", "k", "f"))  # the coordinator single-flights instead
    assert not isinstance(await store.begin("s", "k", "f"), Busy)
    await second.finish(None)  # nothing to keep: the key stays free
    assert await store.wait("s", "k", 1.0) is None
    await first.finish(reply())
    assert await store.wait("s", "k", 1.0) == reply()


async def test_the_get_and_put_helpers() -> None:
    store = MemoryIdempotencyStore()
    await store.put("tenant-a", "k1", reply(b'{"a":1}'))
    assert (await store.get("tenant-a", "k1")) == reply(b'{"a":1}')
    assert await store.get("tenant-b", "k1") is None
    store.keep("tenant-a", "k1", reply(b'{"a":2}'))
    assert (await store.get("tenant-a", "k1")) == reply(b'{"a":2}')


async def test_replies_expire_after_the_ttl() -> None:
    clock = FakeClock()
    store = MemoryIdempotencyStore(ttl=3600, clock=clock.monotonic)
    await remember(store, "k", reply())
    clock.advance(3599)
    assert await recall(store, "k") is not None
    clock.advance(2)
    assert await recall(store, "k") is None
    assert store.statistics().replies == 0


async def test_entry_bound_evicts_least_recently_used() -> None:
    store = MemoryIdempotencyStore(max_entries=3)
    for key in ("a", "b", "c"):
        await remember(store, key, reply())
    await recall(store, "a")  # a is now the most recently used
    await remember(store, "d", reply())
    assert [k for k in "abcd" if await recall(store, k)] == ["a", "c", "d"]
    assert store.statistics().evictions == 1


async def test_byte_bound_holds_and_an_oversized_reply_is_not_kept() -> None:
    store = MemoryIdempotencyStore(max_bytes=10_000)
    for i in range(100):
        await remember(store, f"k{i}", reply(b"x" * 1000))
    stats = store.statistics()
    assert stats.bytes <= 10_000
    assert 5 <= stats.replies < 10
    assert await recall(store, "k99") is not None
    await remember(store, "huge", reply(b"x" * 20_000))
    assert await recall(store, "huge") is None
    assert store.statistics().bytes <= 10_000


async def test_replacing_a_reply_keeps_the_byte_count_right() -> None:
    store = MemoryIdempotencyStore()
    one, other = (
        claimed(await store.begin("s", "k", "f")),
        claimed(await store.begin("s", "k", "f")),
    )
    await one.finish(reply(b"x" * 100))
    first = store.statistics().bytes
    await other.finish(reply(b"x" * 100))  # the second claim's reply replaces the first
    assert store.statistics().bytes == first


async def test_the_byte_count_is_exactly_what_is_held() -> None:
    clock = FakeClock()
    store = MemoryIdempotencyStore(max_entries=5, max_bytes=4_000, ttl=60, clock=clock.monotonic)
    held: dict[str, CachedReply] = {}
    for i in range(40):  # replacements, evictions by count and by bytes, sizes that vary
        key, body = f"k{i % 7}", b"x" * (37 * i % 1500)
        held[key] = reply(body)
        await store.put("s", key, held[key])  # the helper: replaces a kept reply
        kept = {k: r for k, r in held.items() if await store.get("s", k) == r}
        assert store.statistics().bytes == sum(r.size for r in kept.values())
    clock.advance(61)
    await remember(store, "last", reply())  # purges what expired
    assert store.statistics().bytes == reply().size


@pytest.fixture
def gc_paused() -> Iterator[None]:
    """The collector off, its counts at zero: ``gc.get_count()[0]`` then counts the container
    objects allocated and not freed since."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.skipif(
    sys.implementation.name != "cpython", reason="CPython's generational collector's counts"
)
@pytest.mark.usefixtures("gc_paused")
async def test_kept_replies_leave_nothing_that_counts_toward_a_collection() -> None:
    """Python starts a collection after ~700 container objects allocated and not freed, and each
    walks every young object of the process. The store keeps 1,000 replies, each with its own
    headers, without adding to that count: what a reply's header tuples would cost every keyed
    call that keeps one."""
    store = MemoryIdempotencyStore()
    headers = [("Content-Type", "application/json"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    before = gc.get_count()[0]
    for i in range(1000):
        received = tuple([(name, value) for name, value in headers])  # new tuples, as live
        await remember(store, f"k{i}", CachedReply(201, received, b"{}", "f"))
    assert store.statistics().replies == 1000
    assert gc.get_count()[0] - before < 100  # five tuples per reply, kept, made it 5,000


async def test_a_kept_reply_comes_back_whole() -> None:
    store = MemoryIdempotencyStore()
    headers = (("Content-Type", "application/json"), ("Set-Cookie", "a=1"), ("set-cookie", "b=2"))
    kept = CachedReply(201, headers, b'{"id": 1}', "f")
    await remember(store, "k", kept)
    again = await recall(store, "k")
    assert again == kept
    assert again is not None
    assert again.headers == headers  # names' case, order, repeats kept


async def test_the_first_fingerprint_is_bound_for_the_ttl() -> None:
    clock = FakeClock()
    store = MemoryIdempotencyStore(ttl=60, clock=clock.monotonic)
    assert isinstance(await store.begin("s", "k", "one"), Claimed)
    assert await store.begin("s", "k", "two") == Mismatch("one")
    assert isinstance(await store.begin("other-tenant", "k", "two"), Claimed)
    clock.advance(61)
    assert isinstance(await store.begin("s", "k", "two"), Claimed)


async def test_bindings_are_bounded() -> None:
    store = MemoryIdempotencyStore(max_bindings=10)
    for i in range(100):
        await store.begin("s", f"k{i}", "f")
    assert store.statistics().bindings == 10


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"max_entries": 0}, "max_entries"), ({"max_bytes": -1}, "max_bytes"), ({"ttl": 0}, "ttl")],
)
def test_bad_bounds_are_rejected(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MemoryIdempotencyStore(**kwargs)  # type: ignore[arg-type]


def test_repr_shows_fill() -> None:
    assert repr(MemoryIdempotencyStore(max_entries=5)).startswith(
        "<MemoryIdempotencyStore replies=0/5"
    )
