"""Content hashes and the idempotency keys derived from them (what makes a re-run a sync).

An item's *content hash* is a digest of what is sent for it. The journal records it; a later run
of the same job sends again only the items whose hash changed (and the new ones). The idempotency
key of such an item is derived from its job, its id and its hash, so the changed version carries a
key of its own: the server applies it instead of replaying the earlier version's reply.
"""

from __future__ import annotations

import hashlib
from typing import Final

import msgspec

from ..idempotency import idempotency_key_for

__all__ = ["hash_content", "item_idempotency_key"]

_HASH_HEX: Final = 32  # 128 bits of SHA-256: collisions are not a practical concern


def hash_content(value: object) -> str:
    """A stable digest of ``value``: SHA-256 of its JSON with sorted keys (msgspec Structs,
    datetimes and the other types msgspec encodes are taken as their JSON form), 32 hex digits.

    ``bytes`` and ``str`` are hashed as they are. Equal content gives an equal hash in every
    process and release: ``{"a": 1, "b": 2}`` and ``{"b": 2, "a": 1}`` hash the same.

    Raises:
        TypeError: for a value msgspec cannot encode as JSON.
    """
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode()
    else:
        data = msgspec.json.encode(msgspec.to_builtins(value), order="sorted")
    return hashlib.sha256(data).hexdigest()[:_HASH_HEX]


def item_idempotency_key(
    job: str, item_id: str, content_hash: str | None = None, *, salt: str | None = None
) -> str:
    """The idempotency key of one item of a bulk job.

    ``idempotency_key_for(job, item_id)`` without a content hash (every run sends the item with
    the same key); ``idempotency_key_for(job, item_id + "\\x00" + content_hash)`` with one
    (every version of the item has its own key, the same in every run). A ``salt`` (the token of
    a forced resend) is appended the same way: a key no other run uses.
    """
    if salt is not None:
        return idempotency_key_for(job, f"{item_id}\x00{content_hash or ''}\x00{salt}")
    if content_hash is None:
        return idempotency_key_for(job, item_id)
    return idempotency_key_for(job, f"{item_id}\x00{content_hash}")
