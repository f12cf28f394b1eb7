"""Idempotency: keys, the call state machine, the coordinator and the reply stores."""

from ._keys import idempotency_key_for, is_uuid4, mint_idempotency_key, validate_idempotency_key
from ._store import (
    DEFAULT_REPLAY_TTL,
    LOCAL_CLAIM,
    CachedReply,
    FlightClaim,
    IdempotencyStore,
    MemoryIdempotencyStore,
    StoreStatistics,
    default_store,
)

__all__ = [
    "DEFAULT_REPLAY_TTL",
    "LOCAL_CLAIM",
    "CachedReply",
    "FlightClaim",
    "IdempotencyStore",
    "MemoryIdempotencyStore",
    "StoreStatistics",
    "default_store",
    "idempotency_key_for",
    "is_uuid4",
    "mint_idempotency_key",
    "validate_idempotency_key",
]
