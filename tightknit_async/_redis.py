"""Shared Redis plumbing: key names, connections, pub/sub listeners, and ``redis_backends()``.

Everything the library keeps in Redis for one API key lives under one prefix::

    tightknit:{<first 16 hex digits of sha256(api_key)>}:...

never the key itself. The braces make the digest a Redis Cluster hash tag, so every key of one
API key lands on one slot and the multi-key Lua scripts also run on a cluster.

Imports ``redis`` (the ``redis`` extra: ``pip install tightknit-async[redis]``); the package
imports this module only when a Redis backend is asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final, Unpack

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from .governor._settings import GovernorOptions

if TYPE_CHECKING:
    from .governor._redis import RedisGovernor
    from .idempotency._redis_store import RedisIdempotencyStore
    from .idempotency._store import IdempotencyStore

__all__ = [
    "DEFAULT_REDIS_TIMEOUT",
    "REDIS_ERRORS",
    "Listener",
    "connect",
    "key_prefix",
    "key_tag",
    "redis_backends",
    "scope_prefix",
]

logger: Final = logging.getLogger("tightknit_async")

DEFAULT_REDIS_TIMEOUT: Final = 1.0
"""Seconds a Redis command (or connecting) may take before Redis counts as unavailable."""

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

    The client's scope is the hex SHA-256 of the API key, so its prefix is the governor's
    (``key_prefix(key_tag(api_key))``); any other scope string is hashed first.
    """
    tag = scope[:16] if _HEX_DIGEST.fullmatch(scope) else key_tag(scope)
    return key_prefix(tag)


def connect(url: str, *, timeout: float = DEFAULT_REDIS_TIMEOUT) -> aioredis.Redis:
    """A redis-py asyncio client for ``url`` that fails fast.

    Connecting and every command time out after ``timeout`` seconds; a dropped connection is
    retried once at once (a pooled connection may predate a Redis restart), a timeout not at all,
    so an unreachable Redis surfaces within about ``2 * timeout``.

    Raises:
        ValueError: ``url`` is not a ``redis://``, ``rediss://`` or ``unix://`` URL, or
            ``timeout`` is not positive.
    """
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("the Redis URL must start with redis://, rediss:// or unix://")
    return aioredis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )


class Listener:
    """One pub/sub connection, subscribed to one channel or pattern, feeding a callback.

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

    async def _subscribe(self) -> PubSub:
        pubsub = self._client.pubsub()
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


def redis_backends(
    redis_url: str,
    api_key: str,
    *,
    rate: float,
    fallback_workers: int | None = None,
    fallback_store: IdempotencyStore | None = None,
    timeout: float = DEFAULT_REDIS_TIMEOUT,
    **options: Unpack[GovernorOptions],
) -> tuple[RedisGovernor, RedisIdempotencyStore]:
    """A Redis governor and a Redis idempotency store for ``api_key``, sharing ``redis_url``.

    Each owns its own connection pool; close both (``await governor.aclose()``, ``await
    store.aclose()``) when done.

    Args:
        redis_url: ``redis://[:password@]host:port/db`` (also ``rediss://``, ``unix://``).
        api_key: the API key paced; only its digest reaches Redis.
        rate: requests per second for the key, across every process (> 0).
        fallback_workers: opt in to a local fallback when Redis is unreachable: the governor
            then paces this process alone at ``rate / fallback_workers`` (see
            :class:`~tightknit_async.governor.RedisGovernor`). ``None`` (default) raises
            ``GovernorUnavailableError`` instead.
        fallback_store: opt in to a fallback for the store: while Redis is unreachable,
            bindings and replies go there (e.g. a ``MemoryIdempotencyStore()``), without
            cross-process single-flight. ``None`` (default) raises
            ``IdempotencyStoreUnavailableError`` instead.
        timeout: seconds a Redis command may take.
        **options: the governor's other settings (``burst``, ``margin``, ``bulk_share``, ...).

    Raises:
        ValueError: a setting out of range, or a malformed URL.
    """
    from .governor._redis import RedisGovernor
    from .idempotency._redis_store import RedisIdempotencyStore

    governor = RedisGovernor(
        connect(redis_url, timeout=timeout),
        api_key,
        rate,
        fallback_workers=fallback_workers,
        owns_client=True,
        **options,
    )
    store = RedisIdempotencyStore(
        connect(redis_url, timeout=timeout), fallback=fallback_store, owns_client=True
    )
    return governor, store
