"""The Redis plumbing the governor and the idempotency store share: key names, connection pools,
pub/sub listeners, and what a failing Redis raises.

Everything the library keeps in Redis for one API key lives under one prefix::

    tightknit:{<first 16 hex digits of sha256(api_key)>}:...

never the key itself. The braces make the digest a Redis Cluster hash tag, so every key of one
API key lands on one slot and the multi-key Lua scripts also run on a cluster.

This module imports nothing of the package but its error base: the governor
(:mod:`tightknit_async.governor._redis`) and the store
(:mod:`tightknit_async.idempotency._redis_store`) build on it, and :mod:`tightknit_async._redis`
builds both for a client. It imports ``redis`` (the ``redis`` extra: ``pip install
tightknit-async[redis]``), so the package imports it only when a Redis backend is asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.connection import BlockingConnectionPool, ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from ._exceptions import TightknitError

__all__ = [
    "DEFAULT_POOL_TIMEOUT",
    "DEFAULT_REDIS_MAX_CONNECTIONS",
    "DEFAULT_REDIS_TIMEOUT",
    "REDIS_ERRORS",
    "CommandPool",
    "Listener",
    "PoolTimeoutError",
    "connect",
    "describe_failure",
    "key_prefix",
    "key_tag",
    "redis_address",
    "scope_prefix",
]

DEFAULT_REDIS_TIMEOUT: Final = 1.0
"""Seconds a Redis command (or connecting) may take before Redis counts as unavailable."""

DEFAULT_REDIS_MAX_CONNECTIONS: Final = 16
"""Connections one pool opens for commands at most; a command beyond them waits for a free one.

Redis runs one command at a time, and the governor lets at most 50 calls a second through per
key, each costing at most three round trips (booking, ``begin``, ``finish``): a single
connection carries that steady load many times over. What needs connections is a burst: every
caller-keyed call asks the store (``begin``) the moment it is made, before it queues for a send
slot. Sixteen connections serve such a burst at some thousands of commands a second on a LAN
(1,000 simultaneous calls in well under a second), and the calls would have waited for their
send slots longer than that anyway. More connections would not make Redis answer faster, and
each costs Redis a client slot (``maxclients``, 10,000 by default, shared by every process): 100
processes of two pools each stay at 3,200."""

DEFAULT_POOL_TIMEOUT: Final = 5.0
"""Seconds a command waits for a free pooled connection before it fails (:class:`PoolTimeoutError`):
far longer than a healthy Redis takes to work through the burst ahead of it, short enough that a
Redis that stopped answering fails the calls queued behind it clearly."""

REDIS_ERRORS: Final = (RedisError, OSError)
"""What a Redis call raises when Redis is unreachable, timing out or refusing (``TimeoutError``
is an ``OSError``)."""

_HEX_DIGEST: Final = re.compile(r"[0-9a-f]{64}")


def key_tag(api_key: str) -> str:
    """The first 16 hex digits of ``sha256(api_key)``: names the key in Redis, not reversible."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def key_prefix(tag: str) -> str:
    """``tightknit:{tag}``: the prefix of every Redis key and channel of one API key."""
    return f"tightknit:{{{tag}}}"


def scope_prefix(scope: str) -> str:
    """The prefix for an idempotency scope.

    A scope that is a hex SHA-256 digest (the client's: of its server's URL and its API key)
    gives its first 16 digits as the tag; any other scope string is hashed first.
    """
    tag = scope[:16] if _HEX_DIGEST.fullmatch(scope) else key_tag(scope)
    return key_prefix(tag)


class PoolTimeoutError(TightknitError, RedisConnectionError):
    """Every connection of a :class:`CommandPool` stayed busy for its whole ``pool_timeout``.

    A Redis error like any other to the governor and the store, which raise their own
    unavailable errors with this one as the cause."""


class CommandPool(BlockingConnectionPool):
    """A bounded pool whose commands wait for a free connection rather than fail.

    At most ``max_connections`` connections carry commands; a command that finds them all busy
    waits (in turn) for one to come free, up to ``pool_timeout`` seconds, then raises
    :class:`PoolTimeoutError` naming the pool and the setting to raise. Pub/sub listeners do not
    take a connection from it: each :class:`Listener` opens one of its own (see
    :meth:`listener_pool`), so listeners can never starve the commands.
    """

    def __init__(self, *, max_connections: int, pool_timeout: float, **kwargs: Any) -> None:
        # The parent waits without a bound; get_connection() bounds the wait itself, so that
        # running out of time is told apart from failing to connect.
        super().__init__(max_connections=max_connections, timeout=None, **kwargs)
        self.pool_timeout = pool_timeout

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        """A free connection, connected; waits up to ``pool_timeout`` seconds for one.

        Raises:
            PoolTimeoutError: none came free in time.
        """
        get: Callable[..., Awaitable[Any]] = super().get_connection  # untyped in redis-py
        bound = asyncio.timeout(self.pool_timeout)
        try:
            async with bound:
                return await get(*args, **kwargs)
        except TimeoutError:
            if not bound.expired():
                raise
            raise PoolTimeoutError(
                f"no free connection in the Redis connection pool for {self.pool_timeout:g}s: all "
                f"{self.max_connections} of its connections stayed busy (Redis is slow to answer, "
                f"or this process needs more: raise redis_max_connections={self.max_connections})"
            ) from None

    def listener_pool(self) -> ConnectionPool:
        """A pool of its own for one pub/sub connection, with this pool's connection settings."""
        return ConnectionPool(
            connection_class=self.connection_class, max_connections=1, **self.connection_kwargs
        )


def connect(
    url: str,
    *,
    timeout: float = DEFAULT_REDIS_TIMEOUT,
    max_connections: int = DEFAULT_REDIS_MAX_CONNECTIONS,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
) -> aioredis.Redis:
    """A redis-py asyncio client for ``url`` that fails fast, on a bounded :class:`CommandPool`.

    Connecting and every command time out after ``timeout`` seconds; a dropped connection is
    retried once at once (a pooled connection may predate a Redis restart), a timeout not at all,
    so an unreachable Redis surfaces within about ``2 * timeout``. At most ``max_connections``
    commands are in flight at once; the others wait for a free connection, up to
    ``pool_timeout`` seconds.

    Raises:
        ValueError: ``url`` is not a ``redis://``, ``rediss://`` or ``unix://`` URL, or a setting
            is out of range.
    """
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
    if isinstance(max_connections, bool) or not (
        isinstance(max_connections, int) and max_connections >= 1
    ):
        raise ValueError(f"max_connections must be an int >= 1, got {max_connections!r}")
    if not (math.isfinite(pool_timeout) and pool_timeout > 0):
        raise ValueError(f"pool_timeout must be a finite number > 0 seconds, got {pool_timeout!r}")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("the Redis URL must start with redis://, rediss:// or unix://")
    pool = CommandPool.from_url(
        url,
        max_connections=max_connections,
        pool_timeout=pool_timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
    return aioredis.Redis.from_pool(pool)


def redis_address(client: aioredis.Redis) -> str:
    """Where ``client`` connects, for a log line: ``host:port``, or the socket's path."""
    settings = client.connection_pool.connection_kwargs
    if "path" in settings:
        return f"unix:{settings['path']}"
    return f"{settings.get('host', 'localhost')}:{settings.get('port', 6379)}"


def describe_failure(exc: BaseException) -> str:
    """What a failed Redis call tells the caller: an exhausted pool says so (and what to raise),
    anything else is an unavailable Redis."""
    if isinstance(exc, PoolTimeoutError):
        return str(exc)
    return f"Redis is unavailable ({type(exc).__name__}: {exc})"


class Listener:
    """One pub/sub connection, subscribed to one channel or pattern, feeding a callback.

    On a client made by :func:`connect` the connection is the listener's own, outside the
    client's :class:`CommandPool` (a subscribed connection carries no commands); on any other
    client it comes from the client's pool.

    :meth:`start` subscribes and returns once Redis confirmed the subscription (so a message
    published afterwards is not missed); a task then reads messages and calls
    ``on_message(channel, data)`` for each. After a Redis error it calls ``on_error(exc)``,
    waits ``retry_after`` seconds and subscribes again, until :meth:`aclose`.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        channel: str | None = None,
        pattern: str | None = None,
        on_message: Callable[[bytes, bytes], None],
        on_error: Callable[[BaseException], None] | None = None,
        retry_after: float = 1.0,
        name: str = "tightknit-redis-listener",
    ) -> None:
        if (channel is None) == (pattern is None):
            raise ValueError("pass exactly one of channel= or pattern=")
        self._client = client
        self._channel, self._pattern = channel, pattern
        self._on_message = on_message
        self._on_error = on_error
        self._retry_after = retry_after
        self._name = name
        pool = client.connection_pool
        self._pool = pool.listener_pool() if isinstance(pool, CommandPool) else None
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the reading task is alive."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Subscribe, wait for the confirmation, and start reading.

        Raises:
            RedisError, OSError: Redis did not answer (nothing keeps running then).
        """
        self._pubsub = await self._subscribe()
        self._task = asyncio.get_running_loop().create_task(self._read(), name=self._name)

    async def aclose(self) -> None:
        """Stop reading and close the connection. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop_pubsub()
        if self._pool is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                await self._pool.aclose()

    async def _subscribe(self) -> PubSub:
        pubsub = self._client.pubsub() if self._pool is None else PubSub(self._pool)
        try:
            if self._channel is not None:
                await pubsub.subscribe(self._channel)
                wanted = "subscribe"
            else:
                assert self._pattern is not None
                await pubsub.psubscribe(self._pattern)
                wanted = "psubscribe"
            async with asyncio.timeout(5 * DEFAULT_REDIS_TIMEOUT):
                while True:
                    message = await pubsub.get_message(timeout=DEFAULT_REDIS_TIMEOUT)
                    if message is not None and message["type"] == wanted:
                        return pubsub
        except BaseException:
            await _close_pubsub(pubsub)
            raise

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                await _close_pubsub(pubsub)

    async def _read(self) -> None:
        while True:
            try:
                if self._pubsub is None:
                    self._pubsub = await self._subscribe()
                message = await self._pubsub.get_message(timeout=1.0)
            except REDIS_ERRORS as exc:
                if self._on_error is not None:
                    self._on_error(exc)
                await self._drop_pubsub()
                await asyncio.sleep(self._retry_after)
                continue
            if message is not None and message["type"] in ("message", "pmessage"):
                channel, data = message["channel"], message["data"]
                if isinstance(channel, bytes) and isinstance(data, bytes):
                    self._on_message(channel, data)


async def _close_pubsub(pubsub: PubSub) -> None:
    close: Callable[[], Awaitable[None]] = pubsub.aclose  # untyped in redis-py
    await close()
