"""The server side of ``Idempotency-Key``: key validation and the per-API-key reply store.

A mutating request that carries a key *claims* it (scoped to the API key that sent it). The claim
finds one of three states:

- free (never seen, or its reply expired): the request runs; its outcome is then either stored
  with `IdempotencyStore.complete` or given up with `IdempotencyStore.release`;
- in flight (another request holds the claim): the caller answers 409 with ``Retry-After``;
- completed less than ``ttl`` seconds ago: the stored reply is sent again.

Expired replies are purged on every claim, oldest first, so memory holds one ``ttl`` of replies.
"""

from __future__ import annotations

import enum
import re
from collections import OrderedDict
from dataclasses import dataclass

_UUID4 = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", re.IGNORECASE
)

Scope = tuple[str, str]
"""(API key id, lowercased idempotency key)."""


def is_uuid4(value: str) -> bool:
    """Return whether ``value`` is a canonical, hyphenated UUID of version 4 (any letter case)."""
    return _UUID4.fullmatch(value) is not None


class Claim(enum.Enum):
    """The outcomes of `IdempotencyStore.claim` other than a stored reply."""

    ACQUIRED = "acquired"
    IN_FLIGHT = "in_flight"


@dataclass(frozen=True, slots=True)
class StoredReply:
    """A final reply kept for replay: status, body, headers, and when it completed."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    completed_at: float


class IdempotencyStore:
    """Claims, in-flight markers and stored replies, keyed by `Scope`; no I/O, no clock."""

    __slots__ = ("_completed", "_in_flight", "ttl")

    def __init__(self, ttl: float) -> None:
        """Raises `ValueError` unless ``ttl > 0``."""
        if not ttl > 0:
            raise ValueError(f"idempotency_ttl must be positive, got {ttl!r}")
        self.ttl = ttl
        self._in_flight: set[Scope] = set()
        self._completed: OrderedDict[Scope, StoredReply] = OrderedDict()

    def claim(self, scope: Scope, now: float) -> Claim | StoredReply:
        """Purge expired replies, then claim ``scope`` or report why it cannot be claimed."""
        self._purge(now)
        if scope in self._in_flight:
            return Claim.IN_FLIGHT
        if (stored := self._completed.get(scope)) is not None:
            return stored
        self._in_flight.add(scope)
        return Claim.ACQUIRED

    def complete(self, scope: Scope, reply: StoredReply) -> None:
        """Store the final reply of a claimed ``scope`` and end its claim."""
        self._in_flight.discard(scope)
        self._completed[scope] = reply

    def release(self, scope: Scope) -> None:
        """End the claim on ``scope`` without storing anything: the next request runs afresh."""
        self._in_flight.discard(scope)

    def __len__(self) -> int:
        """The number of stored replies (expired ones included until the next claim purges)."""
        return len(self._completed)

    def _purge(self, now: float) -> None:
        # Replies complete in clock order, so the expired ones are at the front.
        while self._completed:
            scope, oldest = next(iter(self._completed.items()))
            if now - oldest.completed_at < self.ttl:
                break
            del self._completed[scope]
