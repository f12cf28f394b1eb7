"""Idempotency: key validation, minting and deterministic keys for jobs."""

from ._keys import idempotency_key_for, is_uuid4, mint_idempotency_key, validate_idempotency_key

__all__ = ["idempotency_key_for", "is_uuid4", "mint_idempotency_key", "validate_idempotency_key"]
