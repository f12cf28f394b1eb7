"""``redis_backends()``: a Redis governor and a Redis idempotency store for one client.

The Redis modules, each importing only those below it (and nothing imports this one but the
client)::

    _redis.py                     redis_backends(): builds both for a client
    governor/_redis.py            RedisGovernor (imports nothing of the store), with its parts
                                  _redis_schedule.py, _redis_lanes.py, _redis_fallback.py
    idempotency/_redis_store.py   RedisIdempotencyStore (imports nothing of the governor)
    _redis_base.py                key names, bounded connection pools, pub/sub listeners,
                                  REDIS_ERRORS

Imports ``redis`` (the ``redis`` extra: ``pip install tightknit-async[redis]``); the client
imports this module only when it is given a Redis URL.
"""

from __future__ import annotations

from typing import Unpack

from ._redis_base import (
    DEFAULT_REDIS_MAX_CONNECTIONS,
    DEFAULT_REDIS_TIMEOUT,
    REDIS_ERRORS,
    Listener,
    connect,
    key_prefix,
    key_tag,
    scope_prefix,
)
from .governor._redis import RedisGovernor
from .governor._settings import GovernorOptions
from .idempotency._redis_store import RedisIdempotencyStore
from .idempotency._store import IdempotencyStore

__all__ = [
    "DEFAULT_REDIS_MAX_CONNECTIONS",
    "DEFAULT_REDIS_TIMEOUT",
    "REDIS_ERRORS",
    "Listener",
    "connect",
    "key_prefix",
    "key_tag",
    "redis_backends",
    "scope_prefix",
]


def redis_backends(
    redis_url: str,
    api_key: str,
    *,
    rate: float,
    fallback_workers: int | None = None,
    fallback_store: IdempotencyStore | None = None,
    timeout: float = DEFAULT_REDIS_TIMEOUT,
    max_connections: int | None = None,
    **options: Unpack[GovernorOptions],
) -> tuple[RedisGovernor, RedisIdempotencyStore]:
    """A Redis governor and a Redis idempotency store for ``api_key``, sharing ``redis_url``.

    Each owns its own connection pool; close both (``await governor.aclose()``, ``await
    store.aclose()``) when done.

    Args:
        redis_url: ``redis://[:password@]host:port/db`` (also ``rediss://``, ``unix://``).
        api_key: the API key paced; only its digest reaches Redis.
        rate: requests per second for the key, across every process (> 0).
        fallback_workers: opt in to a local fallback when Redis is unreachable: this process
            then paces the key alone at ``rate / fallback_workers``, all its governors of the
            key together (see :mod:`tightknit_async.governor._redis_fallback`). ``None``
            (default) raises ``GovernorUnavailableError`` instead.
        fallback_store: opt in to a fallback for the store: while Redis is unreachable,
            bindings and replies go there (e.g. a ``MemoryIdempotencyStore()``), without
            cross-process single-flight. ``None`` (default) raises
            ``IdempotencyStoreUnavailableError`` instead.
        timeout: seconds a Redis command may take.
        max_connections: connections each of the two pools opens for commands at most
            (``None``: :data:`DEFAULT_REDIS_MAX_CONNECTIONS`, 16); a command that finds them
            all busy waits for a free one (up to
            :data:`~tightknit_async._redis_base.DEFAULT_POOL_TIMEOUT` seconds) rather than
            fail. The store needs one per caller-keyed call asking it at the same moment;
            the governor sends one command at a time.
        **options: the governor's other settings (``burst``, ``margin``, ``bulk_share``, ...).

    Raises:
        ValueError: a setting out of range, or a malformed URL.
    """
    if max_connections is None:
        max_connections = DEFAULT_REDIS_MAX_CONNECTIONS
    governor = RedisGovernor(
        connect(redis_url, timeout=timeout, max_connections=max_connections),
        api_key,
        rate,
        fallback_workers=fallback_workers,
        owns_client=True,
        **options,
    )
    store = RedisIdempotencyStore(
        connect(redis_url, timeout=timeout, max_connections=max_connections),
        fallback=fallback_store,
        owns_client=True,
    )
    return governor, store
