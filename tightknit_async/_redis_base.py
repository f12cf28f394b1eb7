"""The Redis plumbing the governor and the idempotency store share: key names, connections,
pub/sub listeners, and what a failing Redis raises.

Everything the library keeps in Redis for one API key lives under one prefix::

    tightknit:{<first 16 hex digits of sha256(api_key)>}:...

never the key itself. The braces make the digest a Redis Cluster hash tag, so every key of one
API key lands on one slot and the multi-key Lua scripts also run on a cluster.

This module imports nothing of the package: :mod:`tightknit_async.governor._redis` and
:mod:`tightknit_async.idempotency._redis_store` build on it, and :mod:`tightknit_async._redis`
builds both for a client. It imports ``redis`` (the ``redis`` extra: ``pip install
tightknit-async[redis]``), so the package imports it only when a Redis backend is asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import Final

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

__all__ = [
    "DEFAULT_REDIS_TIMEOUT",
    "REDIS_ERRORS",
    "Listener",
    "connect",
    "key_prefix",
    "key_tag",
    "scope_prefix",
]

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

    A scope that is a hex SHA-256 digest (the client's: of its server's URL and its API key)
    gives its first 16 digits as the tag; any other scope string is hashed first.
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
