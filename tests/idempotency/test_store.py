from __future__ import annotations

import pytest

from tightknit_async.idempotency import CachedReply, MemoryIdempotencyStore

from ..conftest import FakeClock


def reply(body: bytes = b"{}", status: int = 200, fingerprint: str = "f") -> CachedReply:
    return CachedReply(status, {"content-type": "application/json"}, body, fingerprint)


async def test_get_put_and_scoping() -> None:
    store = MemoryIdempotencyStore()
    await store.put("tenant-a", "k1", reply(b'{"a":1}'))
    assert (await store.get("tenant-a", "k1")) == reply(b'{"a":1}')
    assert await store.get("tenant-b", "k1") is None  # another API key never sees it
    assert await store.get("tenant-a", "k2") is None
    stats = store.statistics()
    assert (stats.replies, stats.hits, stats.misses) == (1, 1, 2)


async def test_replies_expire_after_the_ttl() -> None:
    clock = FakeClock()
    store = MemoryIdempotencyStore(ttl=3600, clock=clock.monotonic)
    await store.put("s", "k", reply())
    clock.advance(3599)
    assert await store.get("s", "k") is not None
    clock.advance(2)
    assert await store.get("s", "k") is None
    assert store.statistics().replies == 0


async def test_entry_bound_evicts_least_recently_used() -> None:
    store = MemoryIdempotencyStore(max_entries=3)
    for key in ("a", "b", "c"):
        await store.put("s", key, reply())
    await store.get("s", "a")  # a is now the most recently used
    await store.put("s", "d", reply())
    assert [k for k in "abcd" if await store.get("s", k)] == ["a", "c", "d"]
    assert store.statistics().evictions == 1


async def test_byte_bound_holds_and_an_oversized_reply_is_not_kept() -> None:
    store = MemoryIdempotencyStore(max_bytes=10_000)
    for i in range(100):
        await store.put("s", f"k{i}", reply(b"x" * 1000))
    stats = store.statistics()
    assert stats.bytes <= 10_000
    assert 5 <= stats.replies < 10
    assert await store.get("s", "k99") is not None
    await store.put("s", "huge", reply(b"x" * 20_000))
    assert await store.get("s", "huge") is None
    assert store.statistics().bytes <= 10_000


async def test_replacing_a_reply_keeps_the_byte_count_right() -> None:
    store = MemoryIdempotencyStore()
    await store.put("s", "k", reply(b"x" * 100))
    first = store.statistics().bytes
    await store.put("s", "k", reply(b"x" * 100))
    assert store.statistics().bytes == first


async def test_the_byte_count_is_exactly_what_is_held() -> None:
    clock = FakeClock()
    store = MemoryIdempotencyStore(max_entries=5, max_bytes=4_000, ttl=60, clock=clock.monotonic)
    held: dict[str, CachedReply] = {}
    for i in range(40):  # replacements, evictions by count and by bytes, sizes that vary
        key, body = f"k{i % 7}", b"x" * (37 * i % 1500)
        held[key] = reply(body)
        await store.put("s", key, held[key])
        kept = {k: r for k, r in held.items() if await store.get("s", k) is r}
        assert store.statistics().bytes == sum(r.size for r in kept.values())
    clock.advance(61)
    await store.put("s", "last", reply())  # purges what expired
    assert store.statistics().bytes == reply().size


async def test_bind_keeps_the_first_fingerprint_for_the_ttl() -> None:
    clock = FakeClock()
    store = MemoryIdempotencyStore(ttl=60, clock=clock.monotonic)
    assert await store.bind("s", "k", "one") == "one"
    assert await store.bind("s", "k", "two") == "one"
    assert await store.bind("other-tenant", "k", "two") == "two"
    clock.advance(61)
    assert await store.bind("s", "k", "two") == "two"


async def test_bindings_are_bounded() -> None:
    store = MemoryIdempotencyStore(max_bindings=10)
    for i in range(100):
        await store.bind("s", f"k{i}", "f")
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
