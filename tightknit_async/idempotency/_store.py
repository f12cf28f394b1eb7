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

import msgspec

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


class CachedReply(msgspec.Struct, frozen=True, gc=False):
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
        if type(given) is not tuple:
            msgspec.structs.force_setattr(self, "headers", header_pairs(given))  # type: ignore[arg-type]

    @property
    def size(self) -> int:
        """Approximate bytes held: body, headers (as the in-memory store keeps them, one msgpack
        blob), fingerprint."""
        return _held_size(self.content, _encode_headers(self.headers), self.fingerprint)


def _held_size(content: bytes, headers: bytes, fingerprint: str) -> int:
    return len(content) + len(headers) + len(fingerprint) + 64


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


class Replay(msgspec.Struct, frozen=True, gc=False):
    """:meth:`IdempotencyStore.begin`: the key has a cached reply; answer with it."""

    reply: CachedReply


class Claimed(msgspec.Struct, frozen=True):
    """:meth:`IdempotencyStore.begin`: the key is this caller's now; send, then ``finish``."""

    claim: FlightClaim


class Busy(msgspec.Struct, frozen=True, gc=False):
    """:meth:`IdempotencyStore.begin`: another process holds the key; ``wait`` for its reply."""


class Mismatch(msgspec.Struct, frozen=True, gc=False):
    """:meth:`IdempotencyStore.begin`: the key is bound to another request (``fingerprint``)."""

    fingerprint: str


Begun: TypeAlias = Replay | Claimed | Busy | Mismatch
"""What :meth:`IdempotencyStore.begin` found: one of four, decided atomically."""


class _Binding(msgspec.Struct, gc=False):
    expires: float
    fingerprint: str


class _Held(msgspec.Struct, gc=False):
    """A kept reply, in parts the garbage collector does not track: its headers as one msgpack
    blob, not tuples. Every tuple a store keeps counts toward the next collection (Python counts
    allocations of container objects, not what it can track), and each collection walks every
    young object of the process: a store holding five tuples per reply made every keyed call
    pay for that walk (37,000 instructions of a ~570,000-instruction POST)."""

    expires: float
    status_code: int
    headers: bytes
    content: bytes
    fingerprint: str
    size: int


_encode_headers: Final = msgspec.msgpack.Encoder().encode
_SWEEP_INTERVAL: Final = 1.0
"""Seconds between two sweeps of expired replies (bounds are kept on every keep)."""
_decode_headers: Final = msgspec.msgpack.Decoder(Headers).decode


class _LocalClaim:
    """The claim of the in-memory store: finishing it keeps the reply."""

    __slots__ = ("_slot", "_store")

    def __init__(self, store: MemoryIdempotencyStore, slot: str) -> None:
        self._store, self._slot = store, slot

    async def finish(self, reply: CachedReply | None) -> None:
        if reply is not None:
            self._store._keep(self._slot, reply)


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
        # Keyed by scope + NUL + key. Entries are plain strings and structs the garbage collector
        # does not track: a store of 10,000 replies adds nothing to each collection's work.
        self._replies: OrderedDict[str, _Held] = OrderedDict()
        self._bindings: OrderedDict[str, _Binding] = OrderedDict()
        self._bytes = 0
        self._hits = self._misses = self._evictions = 0
        self._next_sweep = 0.0  # when _purge next looks for expired replies

    async def begin(self, scope: str, key: str, fingerprint: str) -> Begun:
        """Bind ``key`` (or find it bound to another request), then replay or claim it. Claims
        are always granted: within one process the coordinator already lets one call run."""
        slot = scope + "\0" + key
        now = self._clock()
        bindings = self._bindings
        bound = bindings.get(slot)
        if bound is None:  # a new key: its binding goes last, as the newest
            bindings[slot] = _Binding(now + self.ttl, fingerprint)
            if len(bindings) > self.max_bindings:
                bindings.popitem(last=False)
        elif bound.expires <= now:  # bound once, long ago: bound anew, as the newest
            bindings[slot] = _Binding(now + self.ttl, fingerprint)
            bindings.move_to_end(slot)
        elif bound.fingerprint != fingerprint:
            return Mismatch(bound.fingerprint)
        if slot in self._replies:
            reply = self._lookup(slot, now)
            if reply is not None:
                return Replay(reply)
        else:
            self._misses += 1
        return Claimed(_LocalClaim(self, slot))

    async def get(self, scope: str, key: str) -> CachedReply | None:
        """The cached reply for ``key``, or ``None`` (never one older than the TTL)."""
        return self._lookup(scope + "\0" + key, self._clock())

    def _lookup(self, slot: str, now: float) -> CachedReply | None:
        held = self._replies.get(slot)
        if held is None:
            self._misses += 1
            return None
        if held.expires <= now:
            self._drop(slot)
            self._misses += 1
            return None
        self._replies.move_to_end(slot)
        self._hits += 1
        return CachedReply(
            held.status_code, _decode_headers(held.headers), held.content, held.fingerprint
        )

    async def put(self, scope: str, key: str, reply: CachedReply) -> None:
        """Keep ``reply`` for the TTL."""
        self._keep(scope + "\0" + key, reply)

    def keep(self, scope: str, key: str, reply: CachedReply) -> None:
        """:meth:`put`, without a coroutine."""
        self._keep(scope + "\0" + key, reply)

    def _keep(self, slot: str, reply: CachedReply) -> None:
        replies = self._replies
        if slot in replies:
            self._drop(slot)
        headers = _encode_headers(reply.headers)
        size = _held_size(reply.content, headers, reply.fingerprint)
        if size > self.max_bytes:
            return
        now = self._clock()
        replies[slot] = _Held(
            now + self.ttl, reply.status_code, headers, reply.content, reply.fingerprint, size
        )
        self._bytes += size
        self._purge(now)

    async def wait(self, scope: str, key: str, max_wait: float | None) -> CachedReply | None:
        """Nothing to wait for in one process (claims are always granted): the cached reply."""
        return self._lookup(scope + "\0" + key, self._clock())

    def _drop(self, slot: str) -> None:
        self._bytes -= self._replies.pop(slot).size

    def _purge(self, now: float) -> None:
        # Oldest-used first: whatever exceeds the bounds, on every keep; expired entries at most
        # once a second (a lookup never returns one, swept or not).
        replies = self._replies
        while replies and (len(replies) > self.max_entries or self._bytes > self.max_bytes):
            self._bytes -= replies.popitem(last=False)[1].size
            self._evictions += 1
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_INTERVAL
        while replies:
            slot = next(iter(replies))
            if replies[slot].expires > now:
                break
            self._drop(slot)

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
