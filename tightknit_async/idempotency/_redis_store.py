"""The Redis idempotency store: bindings, replies and in-flight claims shared by every process.

Keys, per scope (the client's scope is the SHA-256 of the API key, so ``P`` is the governor's
prefix ``tightknit:{tag}``) and idempotency key ``K``::

    P:idem:bind:K    string   the fingerprint the key is bound to        TTL 1 hour
    P:idem:reply:K   string   the cached reply (msgspec MessagePack)     TTL 1 hour
    P:idem:lock:K    string   the claim holder's random token            lease, renewed
    P:idem:done:K    channel  ``put`` or ``released``, published when the reply lands or the
                              claim is given up

* ``bind`` is one script: read the binding, or set it if there is none.
* ``claim`` is ``SET lock token NX PX lease``. The holder renews the lease (compare-and-
  ``PEXPIRE``, a script) every ``lease / 3`` seconds from a background task while its request
  runs, so a crashed holder frees the key within one lease; ``release`` is compare-and-delete
  (a script: only the owner deletes) and publishes ``released``.
* ``put`` sets the reply with the TTL and publishes ``put`` in one script.
* ``wait`` listens on ``P:idem:done:*`` (one pub/sub connection per scope and process, opened on
  the first wait) and re-reads the reply and the lock whenever a notice arrives, and at least
  every ``recheck`` seconds or when the holder's lease would run out. A notice makes the
  waiter see the reply within a millisecond or so; the re-reads cover what pub/sub does not (a
  holder that crashed and published nothing, a notice lost to a reconnect). It returns the
  reply; ``None`` once the key is neither held nor answered (the holder gave up without a
  cacheable outcome, or its lease ran out), or at ``max_wait``.

Failures: ``bind``, ``get``, ``claim`` and ``wait`` run before a request is sent; when Redis
fails there they raise :class:`IdempotencyStoreUnavailableError` (nothing is sent), unless a
``fallback`` store is configured, which then serves them (logged at WARNING; Redis is tried
again after ``probe_interval``). ``put`` and ``release`` run after the request: a failure there
is logged at WARNING and swallowed, so a completed call is not turned into an error; the reply
is then only in the server's own replay window and the claim lapses with its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Self, TypeVar

import msgspec
import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from .._exceptions import IdempotencyStoreUnavailableError
from .._redis import (
    DEFAULT_REDIS_TIMEOUT,
    REDIS_ERRORS,
    Listener,
    connect,
    scope_prefix,
)
from ._store import DEFAULT_REPLAY_TTL, CachedReply, FlightClaim, IdempotencyStore

__all__ = [
    "DEFAULT_LEASE",
    "IdempotencyStoreUnavailableError",
    "RedisIdempotencyStore",
    "RedisStoreStatistics",
]

logger: Final = logging.getLogger("tightknit_async")
T = TypeVar("T")

DEFAULT_LEASE: Final = 10.0
"""Seconds a claim lasts unless renewed; its holder renews it every third of that."""

DEFAULT_RECHECK: Final = 1.0
"""A waiter re-reads the reply and the lock at least this often, notices or not."""

_BIND: Final = """
local bound = redis.call('GET', KEYS[1])
if bound then return bound end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
"""

_PUT: Final = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], 'put')
return 1
"""

_RENEW: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], 'released')
  return 1
end
return 0
"""


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisStoreStatistics:
    """Counters of one :class:`RedisIdempotencyStore` since creation.

    ``hits`` / ``misses``: lookups answered / not; ``claims`` / ``claims_lost``: claims won /
    found held by another process; ``waits`` / ``waits_answered``: waits begun / ended with a
    reply; ``renewals``: lease renewals; ``failures``: Redis calls that failed; ``fallback``:
    whether the fallback store serves now.
    """

    hits: int
    misses: int
    puts: int
    claims: int
    claims_lost: int
    waits: int
    waits_answered: int
    renewals: int
    failures: int
    fallback: bool


class _Stored(msgspec.Struct, array_like=True, frozen=True):
    status_code: int
    headers: dict[str, str]
    content: bytes
    fingerprint: str


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(_Stored)


def _encode(reply: CachedReply) -> bytes:
    stored = _Stored(reply.status_code, dict(reply.headers), reply.content, reply.fingerprint)
    return _encoder.encode(stored)


def _decode(raw: bytes) -> CachedReply:
    stored = _decoder.decode(raw)
    return CachedReply(stored.status_code, stored.headers, stored.content, stored.fingerprint)


class _Claim:
    """A held key: renews its lease in the background until released."""

    def __init__(self, store: RedisIdempotencyStore, lock: str, channel: str) -> None:
        self._store = store
        self._lock = lock
        self._channel = channel
        self.token = secrets.token_hex(16)
        self._renewer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._renewer = asyncio.get_running_loop().create_task(
            self._renew(), name="tightknit-claim-renewal"
        )

    async def _renew(self) -> None:
        store = self._store
        lease_ms = round(store.lease * 1000)
        while True:
            await asyncio.sleep(store.lease / 3)
            try:
                renewed = await store._renew_script(keys=[self._lock], args=[self.token, lease_ms])
            except REDIS_ERRORS as exc:
                store._failures += 1
                logger.warning(
                    "idempotency store: could not renew an in-flight claim (%s); other "
                    "processes may send the same key once its lease runs out",
                    type(exc).__name__,
                )
                continue
            store._renewals += 1
            if not renewed:
                return  # lost (it lapsed and someone else holds it now): nothing to renew

    async def release(self) -> None:
        """Stop renewing and delete the lock if this claim still holds it (never raises)."""
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        store = self._store
        try:
            await store._release_script(keys=[self._lock], args=[self.token, self._channel])
        except REDIS_ERRORS as exc:
            store._failures += 1
            logger.warning(
                "idempotency store: could not release an in-flight claim (%s); it lapses "
                "within %.3gs",
                type(exc).__name__,
                store.lease,
            )


class RedisIdempotencyStore:
    """An :class:`IdempotencyStore` in Redis: replay and single-flight across processes.

    See the module docstring for the keys, the claim lease and how waiting works. Close it with
    :meth:`aclose` (or ``async with``). Use one per event loop.

    Args:
        redis: a ``redis://`` URL (the store owns the connection pool it creates), or a
            redis-py asyncio client (closed by :meth:`aclose` only if ``owns_client``).
        ttl: seconds a binding or reply is kept (default 3600, the server's window).
        lease: seconds a claim lasts without renewal (renewed every third of it).
        recheck: a waiter re-reads at least this often (seconds).
        fallback: an opt-in store to use while Redis is unreachable (e.g.
            ``MemoryIdempotencyStore()``): no cross-process single-flight then. ``None`` raises
            :class:`IdempotencyStoreUnavailableError`.
        probe_interval: seconds on the fallback before Redis is tried again.
        timeout: seconds a Redis call may take (only when ``redis`` is a URL).
        owns_client: close a client passed as ``redis`` in :meth:`aclose`.

    Raises:
        ValueError: a setting out of range.
    """

    def __init__(
        self,
        redis: str | aioredis.Redis,
        *,
        ttl: float = DEFAULT_REPLAY_TTL,
        lease: float = DEFAULT_LEASE,
        recheck: float = DEFAULT_RECHECK,
        fallback: IdempotencyStore | None = None,
        probe_interval: float = 1.0,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
        owns_client: bool = False,
    ) -> None:
        for name, value in (
            ("ttl", ttl),
            ("lease", lease),
            ("recheck", recheck),
            ("probe_interval", probe_interval),
        ):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0 seconds, got {value!r}")
        self.ttl, self.lease, self.recheck = float(ttl), float(lease), float(recheck)
        self.probe_interval = float(probe_interval)
        self.fallback = fallback
        if isinstance(redis, str):
            self._client = connect(redis, timeout=timeout)
            self._owns_client = True
        else:
            self._client = redis
            self._owns_client = owns_client
        self._bind_script: AsyncScript = self._client.register_script(_BIND)
        self._put_script: AsyncScript = self._client.register_script(_PUT)
        self._renew_script: AsyncScript = self._client.register_script(_RENEW)
        self._release_script: AsyncScript = self._client.register_script(_RELEASE)
        self._listeners: dict[str, Listener] = {}
        self._listening: dict[str, asyncio.Lock] = {}
        self._notices: dict[bytes, set[asyncio.Future[None]]] = {}
        self._down_until = -math.inf  # on the fallback until then (monotonic seconds)
        self._closed = False
        self._hits = self._misses = self._puts = self._claims = self._claims_lost = 0
        self._waits = self._waits_answered = self._renewals = self._failures = 0

    # -- the IdempotencyStore protocol -----------------------------------------------------------

    async def bind(self, scope: str, key: str, fingerprint: str) -> str:
        """Bind ``key`` to ``fingerprint`` unless already bound; return the bound fingerprint.

        Raises:
            IdempotencyStoreUnavailableError: Redis failed (and no fallback).
        """

        async def bind() -> str:
            bound = await self._bind_script(
                keys=[self._key(scope, "bind", key)], args=[fingerprint, self._ttl_ms]
            )
            return bound.decode() if isinstance(bound, bytes) else str(bound)

        return await self._run(bind, lambda store: store.bind(scope, key, fingerprint))

    async def get(self, scope: str, key: str) -> CachedReply | None:
        """The cached reply for ``key``, or ``None``.

        Raises:
            IdempotencyStoreUnavailableError: Redis failed (and no fallback).
        """

        async def get() -> CachedReply | None:
            raw = await self._client.get(self._key(scope, "reply", key))
            return self._count(raw)

        return await self._run(get, lambda store: store.get(scope, key))

    async def put(self, scope: str, key: str, reply: CachedReply) -> None:
        """Keep ``reply`` for the TTL and tell the waiters. A Redis failure is logged, not
        raised (the call it answers already completed)."""
        if self._on_fallback():
            assert self.fallback is not None
            await self.fallback.put(scope, key, reply)
            return
        try:
            await self._put_script(
                keys=[self._key(scope, "reply", key)],
                args=[_encode(reply), self._ttl_ms, self._key(scope, "done", key)],
            )
        except REDIS_ERRORS as exc:
            self._failures += 1
            logger.warning(
                "idempotency store: could not keep a reply in Redis (%s: %s); a repeat of the "
                "call relies on the server's replay",
                type(exc).__name__,
                exc,
            )
            if self.fallback is not None:
                await self.fallback.put(scope, key, reply)
            return
        self._puts += 1

    async def claim(self, scope: str, key: str) -> FlightClaim | None:
        """Hold ``key`` while its request runs; ``None`` if another process holds it.

        Raises:
            IdempotencyStoreUnavailableError: Redis failed (and no fallback).
        """

        async def claim() -> FlightClaim | None:
            held = _Claim(self, self._key(scope, "lock", key), self._key(scope, "done", key))
            won = await self._client.set(held._lock, held.token, nx=True, px=self._lease_ms)
            if not won:
                self._claims_lost += 1
                return None
            self._claims += 1
            held.start()
            return held

        return await self._run(claim, lambda store: store.claim(scope, key))

    async def wait(self, scope: str, key: str, max_wait: float | None) -> CachedReply | None:
        """Wait up to ``max_wait`` seconds for the holder's reply (see the module docstring).

        Raises:
            IdempotencyStoreUnavailableError: Redis failed (and no fallback).
        """

        async def wait() -> CachedReply | None:
            return await self._wait(scope, key, max_wait)

        return await self._run(wait, lambda store: store.wait(scope, key, max_wait))

    # -- the rest ----------------------------------------------------------------------------------

    def statistics(self) -> RedisStoreStatistics:
        """A snapshot of the store's counters."""
        return RedisStoreStatistics(
            hits=self._hits,
            misses=self._misses,
            puts=self._puts,
            claims=self._claims,
            claims_lost=self._claims_lost,
            waits=self._waits,
            waits_answered=self._waits_answered,
            renewals=self._renewals,
            failures=self._failures,
            fallback=self._on_fallback(),
        )

    async def aclose(self) -> None:
        """Stop listening and close the Redis client if owned. Idempotent."""
        if self._closed:
            return
        self._closed = True
        listeners, self._listeners = self._listeners, {}
        for listener in listeners.values():
            await listener.aclose()
        for waiters in self._notices.values():
            for notice in waiters:
                if not notice.done():
                    notice.set_result(None)
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        mode = "fallback" if self._on_fallback() else "redis"
        return (
            f"<RedisIdempotencyStore mode={mode} ttl={self.ttl:g}s lease={self.lease:g}s "
            f"hits={self._hits} claims={self._claims}{' closed' if self._closed else ''}>"
        )

    @property
    def _ttl_ms(self) -> int:
        return round(self.ttl * 1000)

    @property
    def _lease_ms(self) -> int:
        return round(self.lease * 1000)

    def _key(self, scope: str, kind: str, key: str) -> str:
        return f"{scope_prefix(scope)}:idem:{kind}:{key}"

    def _count(self, raw: object) -> CachedReply | None:
        if not isinstance(raw, bytes):
            self._misses += 1
            return None
        self._hits += 1
        return _decode(raw)

    def _on_fallback(self) -> bool:
        return self.fallback is not None and time.monotonic() < self._down_until

    async def _run(
        self,
        operation: Callable[[], Awaitable[T]],
        on_fallback: Callable[[IdempotencyStore], Awaitable[T]],
    ) -> T:
        """Run ``operation`` on Redis; on failure raise, or serve it from the fallback."""
        if self._closed:
            raise IdempotencyStoreUnavailableError("this RedisIdempotencyStore is closed")
        fallback = self.fallback
        if fallback is not None and self._on_fallback():
            return await on_fallback(fallback)
        try:
            return await operation()
        except REDIS_ERRORS as exc:
            self._failures += 1
            if fallback is None:
                raise IdempotencyStoreUnavailableError(
                    f"idempotency store: Redis is unavailable ({type(exc).__name__}: {exc}); "
                    "nothing was sent"
                ) from exc
            logger.warning(
                "idempotency store: Redis is unavailable (%s: %s); using the fallback store "
                "(no cross-process single-flight) for %.3gs before trying Redis again",
                type(exc).__name__,
                exc,
                self.probe_interval,
            )
            self._down_until = time.monotonic() + self.probe_interval
            return await on_fallback(fallback)

    async def _wait(self, scope: str, key: str, max_wait: float | None) -> CachedReply | None:
        loop = asyncio.get_running_loop()
        deadline = None if max_wait is None else loop.time() + max(0.0, max_wait)
        prefix = scope_prefix(scope)
        await self._listen(prefix)
        channel = self._key(scope, "done", key).encode()
        reply_key, lock_key = self._key(scope, "reply", key), self._key(scope, "lock", key)
        self._waits += 1
        while True:
            notice: asyncio.Future[None] = loop.create_future()
            self._notices.setdefault(channel, set()).add(notice)
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    pipe.get(reply_key)
                    pipe.pttl(lock_key)
                    raw, lease_left = await pipe.execute()
                if isinstance(raw, bytes):
                    self._waits_answered += 1
                    return self._count(raw)
                if not isinstance(lease_left, int) or lease_left == -2:
                    return None  # nobody holds the key and no reply landed
                timeout = self.recheck
                if lease_left > 0:
                    timeout = min(timeout, lease_left / 1000 + 0.01)
                if deadline is not None:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        return None
                    timeout = min(timeout, remaining)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await notice
                if self._closed:
                    raise IdempotencyStoreUnavailableError("this RedisIdempotencyStore is closed")
            finally:
                waiters = self._notices.get(channel)
                if waiters is not None:
                    waiters.discard(notice)
                    if not waiters:
                        del self._notices[channel]

    async def _listen(self, prefix: str) -> None:
        """Make sure this process listens for the scope's notices (subscribed before return)."""
        listener = self._listeners.get(prefix)
        if listener is not None and listener.running:
            return
        lock = self._listening.setdefault(prefix, asyncio.Lock())
        async with lock:
            listener = self._listeners.get(prefix)
            if listener is not None and listener.running:
                return
            if listener is not None:
                await listener.aclose()
            listener = Listener(
                self._client,
                pattern=f"{prefix}:idem:done:*",
                on_message=self._on_notice,
                on_error=self._on_listener_error,
                retry_after=self.probe_interval,
                name="tightknit-idempotency-listener",
            )
            await listener.start()
            self._listeners[prefix] = listener

    def _on_notice(self, channel: bytes, data: bytes) -> None:
        for notice in self._notices.get(channel, ()):
            if not notice.done():
                notice.set_result(None)

    def _on_listener_error(self, exc: BaseException) -> None:
        # Wake every waiter: each re-reads now (and meets the Redis error itself, if any).
        self._failures += 1
        for waiters in self._notices.values():
            for notice in waiters:
                if not notice.done():
                    notice.set_result(None)
