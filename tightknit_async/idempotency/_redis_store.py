"""The Redis idempotency store: bindings, replies and in-flight claims shared by every process.

Keys, per scope (``P`` = ``tightknit:{tag}``, the tag taken from the scope's digest: see
:func:`~tightknit_async._redis_base.scope_prefix`) and idempotency key ``K``::

    P:idem:bind:K    string   the fingerprint the key is bound to        TTL 1 hour
    P:idem:reply:K   string   the cached reply (msgspec MessagePack)     TTL 1 hour
    P:idem:lock:K    string   the claim holder's random token            lease, renewed
    P:idem:done:K    channel  ``put`` or ``released``, published when a reply lands or the
                              claim is given up

One round trip per step, each one Lua script (:mod:`._lua`, sent with ``EVALSHA``):

* ``begin`` binds the key (``SET NX`` with the TTL) and reads the bound fingerprint back: another
  one is a :class:`~._store.Mismatch`; else a kept reply is a :class:`~._store.Replay`; else
  ``SET lock token NX PX lease`` makes it :class:`~._store.Claimed`, or
  :class:`~._store.Busy` if another process holds the lock.
* The holder renews the lease (compare-and-``PEXPIRE``) every ``lease / 3`` seconds from a
  background task while its request runs, so a crashed holder frees the key within one lease.
* ``finish(reply)`` keeps the reply (if any) with the TTL, deletes the lock only if it still
  holds the claim's token (a holder whose lease ran out must not free the next holder's claim),
  and publishes ``put`` or ``released`` on the key's channel.
* ``wait`` listens on ``P:idem:done:*`` (one pub/sub connection per scope and process, opened on
  the first wait) and re-reads the reply and the lock whenever a notice arrives, and at least
  every ``recheck`` seconds or when the holder's lease would run out. A notice makes the
  waiter see the reply within a millisecond or so; the re-reads cover what pub/sub does not (a
  holder that crashed and published nothing, a notice lost to a reconnect). It returns the
  reply; ``None`` once the key is neither held nor answered (the holder gave up without a
  cacheable outcome, or its lease ran out), or at ``max_wait``.

Replies are stored as MessagePack ``[status, [[name, value], ...], body, fingerprint]``, the
headers in the server's case, repeats kept. A reply written by a version that kept the headers
as a map is read too (its headers as that map held them); an entry that cannot be read at all is
ignored, as if there were none (logged at WARNING; the call is sent, and the server's own
replay window still answers it).

Failures: ``begin`` and ``wait`` run before a request is sent; when Redis fails there they raise
:class:`IdempotencyStoreUnavailableError` (nothing is sent), unless a ``fallback`` store is
configured, which then serves them (logged at WARNING; Redis is tried again after
``probe_interval``). ``finish`` runs after the request: a failure there is logged at WARNING and
swallowed, so a completed call is not turned into an error; the reply is then kept in the
fallback store, if any, else only in the server's own replay window, and the claim lapses with
its lease.

Connections: commands share one bounded pool (``max_connections``, 16 by default); a command
that finds every connection busy waits for one rather than fail, and only a wait that outlasts
the pool timeout counts as a failure (its error names the setting to raise). The pub/sub
listener holds a connection of its own.
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
from .._redis_base import (
    DEFAULT_REDIS_MAX_CONNECTIONS,
    DEFAULT_REDIS_TIMEOUT,
    REDIS_ERRORS,
    Listener,
    connect,
    describe_failure,
    scope_prefix,
)
from . import _lua
from ._store import (
    DEFAULT_REPLAY_TTL,
    Begun,
    Busy,
    CachedReply,
    Claimed,
    IdempotencyStore,
    Mismatch,
    Replay,
    header_pairs,
)

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


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisStoreStatistics:
    """Counters of one :class:`RedisIdempotencyStore` since creation.

    ``hits`` / ``misses``: ``begin``\\ s answered with a reply / not; ``mismatches``: ``begin``\\ s
    that found the key bound to another request; ``claims`` / ``claims_lost``: claims won /
    found held by another process; ``puts``: replies kept by ``finish``; ``lapsed``: claims
    whose lease had run out when finished; ``waits`` / ``waits_answered``: waits begun / ended
    with a reply; ``renewals``: lease renewals; ``failures``: Redis calls that failed;
    ``fallback``: whether the fallback store serves now.
    """

    hits: int
    misses: int
    mismatches: int
    puts: int
    claims: int
    claims_lost: int
    lapsed: int
    waits: int
    waits_answered: int
    renewals: int
    failures: int
    fallback: bool


class _Stored(msgspec.Struct, array_like=True, frozen=True):
    status_code: int
    headers: tuple[tuple[str, str], ...] | dict[str, str]  # a map: written by older versions
    content: bytes
    fingerprint: str


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(_Stored)


def _encode(reply: CachedReply) -> bytes:
    stored = _Stored(reply.status_code, reply.headers, reply.content, reply.fingerprint)
    return _encoder.encode(stored)


def _decode(raw: bytes) -> CachedReply | None:
    """The reply stored as ``raw``; ``None`` (logged) if this version cannot read it."""
    try:
        stored = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        logger.warning(
            "idempotency store: ignoring a cached reply this version cannot read (%s)", exc
        )
        return None
    headers = stored.headers
    if isinstance(headers, dict):
        headers = header_pairs(headers)
    return CachedReply(stored.status_code, headers, stored.content, stored.fingerprint)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class _Claim:
    """A held key: renews its lease in the background until finished."""

    __slots__ = (
        "_channel",
        "_fingerprint",
        "_finished",
        "_key",
        "_keys",
        "_renewer",
        "_scope",
        "_store",
        "token",
    )

    def __init__(
        self, store: RedisIdempotencyStore, scope: str, key: str, fingerprint: str
    ) -> None:
        self._store = store
        self._scope, self._key, self._fingerprint = scope, key, fingerprint
        self._keys = (store._key(scope, "reply", key), store._key(scope, "lock", key))
        self._channel = store._key(scope, "done", key)
        self.token = secrets.token_hex(16)
        self._renewer: asyncio.Task[None] | None = None
        self._finished = False

    def start(self) -> None:
        self._renewer = asyncio.get_running_loop().create_task(
            self._renew(), name="tightknit-claim-renewal"
        )
        self._store._held.add(self)

    def stop_renewing(self) -> asyncio.Task[None] | None:
        """Cancel the renewal task; return it if it was running. A renewal already on its way
        is harmless: it extends the lease only while the lock holds this claim's token."""
        self._store._held.discard(self)
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
        return renewer

    async def _renew(self) -> None:
        store = self._store
        lock = self._keys[1]
        while True:
            await asyncio.sleep(store.lease / 3)
            try:
                renewed = await store._renew_script(keys=[lock], args=[self.token, store._lease_ms])
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

    async def finish(self, reply: CachedReply | None) -> None:
        """Stop renewing, then in one round trip keep ``reply`` (if any), delete the lock if this
        claim still holds it and wake the waiters. Never raises; a second call does nothing."""
        if self._finished:
            return
        self._finished = True
        self.stop_renewing()
        store = self._store
        args: list[str | int | bytes] = [self.token, self._channel, store._ttl_ms]
        if reply is not None:
            args.append(_encode(reply))
        try:
            done = await store._finish_script(keys=list(self._keys), args=args)
        except REDIS_ERRORS as exc:
            store._failures += 1
            if reply is None:
                outcome = "nothing was to be kept"
            elif store.fallback is not None:
                outcome = "the reply is kept in the fallback store"
            else:
                outcome = "a repeat of the call relies on the server's replay"
            logger.warning(
                "idempotency store: could not finish an in-flight claim in Redis (%s: %s); %s, "
                "and the claim lapses within %.3gs",
                type(exc).__name__,
                exc,
                outcome,
                store.lease,
            )
            if reply is not None:
                await store._keep_in_fallback(self._scope, self._key, self._fingerprint, reply)
            return
        assert isinstance(done, int)
        if done & 1:
            store._puts += 1
        if not done & 2:
            store._lapsed += 1

    def __repr__(self) -> str:
        state = "finished" if self._finished else "held"
        return f"<RedisIdempotencyStore claim {state}>"


class RedisIdempotencyStore:
    """An :class:`IdempotencyStore` in Redis: replay and single-flight across processes.

    See the module docstring for the keys, the claim lease and how waiting works. ``begin`` and
    a claim's ``finish`` are one round trip each. Close it with :meth:`aclose` (or
    ``async with``). Use one per event loop.

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
        max_connections: connections the pool opens for commands (only when ``redis`` is a
            URL); a command beyond them waits for a free one (see
            :class:`~tightknit_async._redis_base.CommandPool`).
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
        max_connections: int = DEFAULT_REDIS_MAX_CONNECTIONS,
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
            self._client = connect(redis, timeout=timeout, max_connections=max_connections)
            self._owns_client = True
        else:
            self._client = redis
            self._owns_client = owns_client
        self._begin_script: AsyncScript = self._client.register_script(_lua.BEGIN)
        self._finish_script: AsyncScript = self._client.register_script(_lua.FINISH)
        self._renew_script: AsyncScript = self._client.register_script(_lua.RENEW)
        self._held: set[_Claim] = set()  # claims renewing their lease
        self._listeners: dict[str, Listener] = {}
        self._listening: dict[str, asyncio.Lock] = {}
        self._notices: dict[bytes, set[asyncio.Future[None]]] = {}
        self._down_until = -math.inf  # on the fallback until then (monotonic seconds)
        self._closed = False
        self._hits = self._misses = self._mismatches = self._puts = 0
        self._claims = self._claims_lost = self._lapsed = 0
        self._waits = self._waits_answered = self._renewals = self._failures = 0

    # -- the IdempotencyStore protocol -----------------------------------------------------------

    async def begin(self, scope: str, key: str, fingerprint: str) -> Begun:
        """Bind ``key`` to ``fingerprint`` (unless bound), then replay or claim it: one script,
        one round trip (see :class:`~tightknit_async.idempotency.IdempotencyStore`).

        A claim's lease is renewed in the background until its ``finish``.

        Raises:
            IdempotencyStoreUnavailableError: Redis failed (and no fallback).
        """

        async def begin() -> Begun:
            claim = _Claim(self, scope, key, fingerprint)
            keys = [self._key(scope, kind, key) for kind in ("bind", "reply", "lock")]
            args: list[str | int] = [fingerprint, self._ttl_ms, claim.token, self._lease_ms]
            answer = await self._begin_script(keys=keys, args=args)
            assert isinstance(answer, list)
            if answer[0] == b"r":
                reply = _decode(answer[1])
                if reply is not None:
                    self._hits += 1
                    return Replay(reply)
                # A reply this version cannot read: as if there were none (a second round trip,
                # only for such an entry).
                answer = await self._begin_script(keys=keys, args=[*args, "1"])
                assert isinstance(answer, list)
            if answer[0] == b"m":
                self._mismatches += 1
                return Mismatch(_text(answer[1]))
            self._misses += 1
            if answer[0] == b"b":
                self._claims_lost += 1
                return Busy()
            self._claims += 1
            claim.start()
            return Claimed(claim)

        return await self._run(begin, lambda store: store.begin(scope, key, fingerprint))

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
            mismatches=self._mismatches,
            puts=self._puts,
            claims=self._claims,
            claims_lost=self._claims_lost,
            lapsed=self._lapsed,
            waits=self._waits,
            waits_answered=self._waits_answered,
            renewals=self._renewals,
            failures=self._failures,
            fallback=self._on_fallback(),
        )

    async def aclose(self) -> None:
        """Stop listening and renewing, and close the Redis client if owned. Idempotent.

        Claims not finished yet are not released: they lapse with their lease.
        """
        if self._closed:
            return
        self._closed = True
        renewers = {task for claim in list(self._held) if (task := claim.stop_renewing())}
        if renewers:
            await asyncio.wait(renewers)
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

    def _on_fallback(self) -> bool:
        return self.fallback is not None and time.monotonic() < self._down_until

    async def _keep_in_fallback(
        self, scope: str, key: str, fingerprint: str, reply: CachedReply
    ) -> None:
        """Keep ``reply`` in the fallback store (if any) after Redis failed to take it."""
        fallback = self.fallback
        if fallback is None:
            return
        try:
            begun = await fallback.begin(scope, key, fingerprint)
            if isinstance(begun, Claimed):
                await begun.claim.finish(reply)
        except IdempotencyStoreUnavailableError as exc:
            logger.warning("idempotency store: the fallback store failed too (%s)", exc)

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
                    f"idempotency store: {describe_failure(exc)}; nothing was sent"
                ) from exc
            logger.warning(
                "idempotency store: %s; using the fallback store (no cross-process "
                "single-flight) for %.3gs before trying Redis again",
                describe_failure(exc),
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
                    reply = _decode(raw)
                    if reply is not None:
                        self._waits_answered += 1
                    return reply
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
