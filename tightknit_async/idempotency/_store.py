"""Where keyed calls leave their replies: the store interface and the in-memory store.

A store keeps, per ``(scope, key)`` (scope: a digest of the server's base URL and the API key, so
one tenant, or one server, never sees another's replies):

- a **binding**: the fingerprint (hash of method, path and body) of the request first sent with the
  key, so reusing the key for another request is refused;
- a **reply**: the cached outcome of a completed call, for the server's replay window (1 hour).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol, TypeAlias, runtime_checkable

__all__ = [
    "DEFAULT_REPLAY_TTL",
    "Begun",
    "Busy",
    "CachedReply",
    "Claimed",
    "FlightClaim",
    "Headers",
    "IdempotencyStore",
    "MemoryIdempotencyStore",
    "Mismatch",
    "Replay",
    "StoreStatistics",
    "default_store",
    "header_pairs",
]

DEFAULT_REPLAY_TTL: Final = 3600.0
"""Seconds Tightknit keeps a completed key's reply; the client keeps its copy as long."""


Headers: TypeAlias = tuple[tuple[str, str], ...]
"""Response headers as received: names in the server's case, repeated headers kept, in order."""


def header_pairs(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> Headers:
    """``headers`` (a mapping, a multidict or pairs) as :data:`Headers`; a multidict's repeated
    names all kept."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(name), str(value)) for name, value in items)


@dataclass(frozen=True, slots=True)
class CachedReply:
    """A completed call's answer, as it will be replayed.

    ``headers`` may be given as a mapping or a multidict; they are kept as pairs
    (:data:`Headers`), so a replay carries the same headers, in the same case, as the live reply.
    """

    status_code: int
    headers: Headers
    content: bytes
    fingerprint: str

    def __post_init__(self) -> None:
        given: object = self.headers
        if not isinstance(given, tuple):
            object.__setattr__(self, "headers", header_pairs(given))  # type: ignore[arg-type]

    @property
    def size(self) -> int:
        """Approximate bytes held: body, headers, fingerprint."""
        header_bytes = sum(len(k) + len(v) for k, v in self.headers)
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

    async def finish(self, reply: CachedReply | None) -> None:
        """Keep ``reply`` for the TTL (``None``: nothing to keep, the outcome is not cacheable)
        and give the hold up, in one step (one round trip for a shared store)."""
        ...


@dataclass(frozen=True, slots=True)
class Replay:
    """:meth:`IdempotencyStore.begin`: the key has a cached reply; answer with it."""

    reply: CachedReply


@dataclass(frozen=True, slots=True)
class Claimed:
    """:meth:`IdempotencyStore.begin`: the key is this caller's now; send, then ``finish``."""

    claim: FlightClaim


@dataclass(frozen=True, slots=True)
class Busy:
    """:meth:`IdempotencyStore.begin`: another process holds the key; ``wait`` for its reply."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """:meth:`IdempotencyStore.begin`: the key is bound to another request (``fingerprint``)."""

    fingerprint: str


Begun: TypeAlias = Replay | Claimed | Busy | Mismatch
"""What :meth:`IdempotencyStore.begin` found: one of four, decided atomically."""


class _LocalClaim:
    """The claim of the in-memory store: finishing it keeps the reply."""

    __slots__ = ("_key", "_scope", "_store")

    def __init__(self, store: MemoryIdempotencyStore, scope: str, key: str) -> None:
        self._store, self._scope, self._key = store, scope, key

    async def finish(self, reply: CachedReply | None) -> None:
        if reply is not None:
            self._store.keep(self._scope, self._key, reply)


@runtime_checkable
class IdempotencyStore(Protocol):
    """The interface the coordinator uses; a Redis store implements it for several processes.

    For one keyed call the coordinator asks once, :meth:`begin`, which decides atomically:

    - :class:`Mismatch`: the key is bound to another request (the coordinator refuses, unsent);
    - :class:`Replay`: a cached reply answers at once;
    - :class:`Claimed`: the key is the caller's: it sends, then ``claim.finish(reply)`` keeps a
      cacheable outcome and releases the key in one step;
    - :class:`Busy`: another process holds the key: the caller waits (:meth:`wait`) for that
      process's reply, and sends itself only if none lands in time.

    The first ``begin`` for a key binds it to ``fingerprint`` (method, path, query and body).
    Replies and bindings are kept for the TTL (the server's replay window: 1 hour).
    """

    async def begin(self, scope: str, key: str, fingerprint: str) -> Begun:
        """Bind, look up and claim ``key`` in one atomic step; see the class docstring."""
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

    async def begin(self, scope: str, key: str, fingerprint: str) -> Begun:
        """Bind ``key`` (or find it bound to another request), then replay or claim it. Claims
        are always granted: within one process the coordinator already lets one call run."""
        bound = self._bind(scope, key, fingerprint)
        if bound != fingerprint:
            return Mismatch(bound)
        reply = await self.get(scope, key)
        if reply is not None:
            return Replay(reply)
        return Claimed(_LocalClaim(self, scope, key))

    def _bind(self, scope: str, key: str, fingerprint: str) -> str:
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
        """The cached reply for ``key``, or ``None`` (never one older than the TTL)."""
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
        """Keep ``reply`` for the TTL."""
        self.keep(scope, key, reply)

    def keep(self, scope: str, key: str, reply: CachedReply) -> None:
        """:meth:`put`, without a coroutine."""
        slot = (scope, key)
        if slot in self._replies:
            self._drop(slot)
        size = reply.size
        if size > self.max_bytes:
            return
        self._replies[slot] = (self._clock() + self.ttl, reply, size)
        self._bytes += size
        self._purge()

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
