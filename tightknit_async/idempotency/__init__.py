"""Idempotency: keys, the call state machine, the coordinator and the reply stores.

``RedisIdempotencyStore`` and ``RedisStoreStatistics`` need the ``redis`` extra
(``pip install 'tightknit-async[redis]'``); they are imported on first use.
"""

from typing import TYPE_CHECKING

from .._exceptions import IdempotencyStoreUnavailableError
from .._optional import import_redis_name as _import_redis_name
from ._keys import idempotency_key_for, is_uuid4, mint_idempotency_key, validate_idempotency_key
from ._store import (
    DEFAULT_REPLAY_TTL,
    Begun,
    Busy,
    CachedReply,
    Claimed,
    FlightClaim,
    IdempotencyStore,
    MemoryIdempotencyStore,
    Mismatch,
    Replay,
    StoreStatistics,
    default_store,
)

if TYPE_CHECKING:
    from ._redis_store import RedisIdempotencyStore, RedisStoreStatistics

__all__ = [
    "DEFAULT_REPLAY_TTL",
    "Begun",
    "Busy",
    "CachedReply",
    "Claimed",
    "FlightClaim",
    "IdempotencyStore",
    "IdempotencyStoreUnavailableError",
    "MemoryIdempotencyStore",
    "Mismatch",
    "RedisIdempotencyStore",
    "RedisStoreStatistics",
    "Replay",
    "StoreStatistics",
    "default_store",
    "idempotency_key_for",
    "is_uuid4",
    "mint_idempotency_key",
    "validate_idempotency_key",
]

_NEED_REDIS = frozenset({"RedisIdempotencyStore", "RedisStoreStatistics"})


def __getattr__(name: str) -> object:
    """Import the Redis names on first use, so the package works without redis."""
    if name not in _NEED_REDIS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = _import_redis_name("tightknit_async.idempotency._redis_store", name)
    return value
