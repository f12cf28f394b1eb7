"""Where keyed calls leave their replies: the store interface and the in-memory store.

A store keeps, per ``(scope, key)`` (scope: a digest of the API key, so one tenant never sees
another's replies):

- a **binding**: the fingerprint (hash of method, path and body) of the request first sent with the
  key, so reusing the key for another request is refused;
- a **reply**: the cached outcome of a completed call, for the server's replay window (1 hour).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

__all__ = [
    "DEFAULT_REPLAY_TTL",
    "LOCAL_CLAIM",
    "CachedReply",
    "FlightClaim",
    "IdempotencyStore",
    "MemoryIdempotencyStore",
    "StoreStatistics",
    "default_store",
]

DEFAULT_REPLAY_TTL: Final = 3600.0
"""Seconds Tightknit keeps a completed key's reply; the client keeps its copy as long."""


@dataclass(frozen=True, slots=True)
class CachedReply:
    """A completed call's answer, as it will be replayed."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    fingerprint: str

    @property
    def size(self) -> int:
        """Approximate bytes held: body, headers, fingerprint."""
        header_bytes = sum(len(k) + len(v) for k, v in self.headers.items())
        return len(self.content) + header_bytes + len(self.fingerprint) + 64


@dataclass(frozen=True, slots=True)
class StoreStatistics:
    """Counts of a store: replies and bindings held, bytes held, hits, misses, evictions."""

    replies: int
    bindings: int
    bytes: int
    hits: int
    misses: int
    evictions: int


class FlightClaim(Protocol):
    """A hold on a key while its request runs; other processes wait for its reply."""

    async def release(self) -> None:
        """Give the hold up (after the reply was stored, or the call failed)."""
        ...


class _LocalClaim:
    """The claim of a store that serves one process: the coordinator already single-flights."""

    async def release(self) -> None:
        return None


LOCAL_CLAIM: Final[FlightClaim] = _LocalClaim()


@runtime_checkable
class IdempotencyStore(Protocol):
    """The interface the coordinator uses; a Redis store implements it for several processes.

    For one keyed call the coordinator does: ``bind`` (refuse a key reused for another request),
    ``get`` (a cached reply answers at once), else ``claim``; with a claim it sends, ``put``s a
    cacheable outcome and releases the claim; without one (another process holds the key) it
    ``wait``s for that process's reply, and sends itself only if none lands in time.
    """

    async def bind(self, scope: str, key: str, fingerprint: str) -> str:
        """Bind ``key`` to ``fingerprint`` unless already bound; return the bound fingerprint."""
        ...

    async def get(self, scope: str, key: str) -> CachedReply | None:
        """The cached reply for ``key``, or ``None`` (never one older than the TTL)."""
        ...

    async def put(self, scope: str, key: str, reply: CachedReply) -> None:
        """Keep ``reply`` for the TTL."""
        ...

    async def claim(self, scope: str, key: str) -> FlightClaim | None:
        """Hold ``key`` while its request runs; ``None`` if another process holds it."""
        ...

    async def wait(self, scope: str, key: str, max_wait: float | None) -> CachedReply | None:
        """Wait up to ``max_wait`` seconds for the holder's reply; ``None`` if none lands (or the
        holder gave up without a cacheable outcome)."""
        ...


class MemoryIdempotencyStore:
    """An in-process store: LRU-bounded by entries and by bytes, entries expire after ``ttl``.

    Args:
        max_entries: cached replies kept at most (least recently used go first).
        max_bytes: total size of cached replies kept at most; a reply larger than this is not kept.
        max_bindings: key bindings kept at most (each ~200 bytes).
        ttl: seconds a reply or binding is kept (default 3600, the server's window).
        clock: monotonic seconds (``time.monotonic``); tests pass a fake.
    """

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        max_bindings: int = 200_000,
        ttl: float = DEFAULT_REPLAY_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (
            ("max_entries", max_entries),
            ("max_bytes", max_bytes),
            ("max_bindings", max_bindings),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not ttl > 0:
            raise ValueError(f"ttl must be > 0 seconds, got {ttl!r}")
        self.max_entries, self.max_bytes, self.max_bindings = max_entries, max_bytes, max_bindings
        self.ttl = float(ttl)
        self._clock = clock
        # (scope, key) -> (expiry, reply, its size: computed once, read again on eviction)
        self._replies: OrderedDict[tuple[str, str], tuple[float, CachedReply, int]] = OrderedDict()
        self._bindings: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()
        self._bytes = 0
        self._hits = self._misses = self._evictions = 0

    async def bind(self, scope: str, key: str, fingerprint: str) -> str:
        now, slot = self._clock(), (scope, key)
        held = self._bindings.get(slot)
        if held is not None and held[0] > now:
            return held[1]
        self._bindings[slot] = (now + self.ttl, fingerprint)
        self._bindings.move_to_end(slot)
        while len(self._bindings) > self.max_bindings:
            self._bindings.popitem(last=False)
        return fingerprint

    async def get(self, scope: str, key: str) -> CachedReply | None:
        slot = (scope, key)
        held = self._replies.get(slot)
        if held is None:
            self._misses += 1
            return None
        expires, reply, _ = held
        if expires <= self._clock():
            self._drop(slot)
            self._misses += 1
            return None
        self._replies.move_to_end(slot)
        self._hits += 1
        return reply

    async def put(self, scope: str, key: str, reply: CachedReply) -> None:
        slot = (scope, key)
        if slot in self._replies:
            self._drop(slot)
        size = reply.size
        if size > self.max_bytes:
            return
        self._replies[slot] = (self._clock() + self.ttl, reply, size)
        self._bytes += size
        self._purge()

    async def claim(self, scope: str, key: str) -> FlightClaim | None:
        """Always granted: within one process the coordinator already lets one call run."""
        return LOCAL_CLAIM

    async def wait(self, scope: str, key: str, max_wait: float | None) -> CachedReply | None:
        """Nothing to wait for in one process (claims are always granted): the cached reply."""
        return await self.get(scope, key)

    def _drop(self, slot: tuple[str, str]) -> None:
        self._bytes -= self._replies.pop(slot)[2]

    def _purge(self) -> None:
        now = self._clock()
        # Oldest-used first: expired entries and then whatever exceeds the bounds.
        while self._replies:
            slot, (expires, _, _) = next(iter(self._replies.items()))
            over = len(self._replies) > self.max_entries or self._bytes > self.max_bytes
            if not over and expires > now:
                break
            self._drop(slot)
            self._evictions += over

    def statistics(self) -> StoreStatistics:
        """A snapshot of the store's counters."""
        return StoreStatistics(
            replies=len(self._replies),
            bindings=len(self._bindings),
            bytes=self._bytes,
            hits=self._hits,
            misses=self._misses,
            evictions=self._evictions,
        )

    def __repr__(self) -> str:
        return (
            f"<MemoryIdempotencyStore replies={len(self._replies)}/{self.max_entries} "
            f"bytes={self._bytes}/{self.max_bytes} ttl={self.ttl:g}s>"
        )


_default: MemoryIdempotencyStore | None = None


def default_store() -> MemoryIdempotencyStore:
    """The process-wide in-memory store that clients use unless given one (replies are scoped
    per API key inside it)."""
    global _default
    if _default is None:
        _default = MemoryIdempotencyStore()
    return _default
