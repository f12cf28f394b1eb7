"""Deterministic identifiers in the API's formats, drawn from a seeded random generator."""

from __future__ import annotations

import random
import string
import uuid

_SHORT_ID_ALPHABET = string.ascii_lowercase + string.digits


class IdFactory:
    """Makes UUIDv4s, 12-character ids (``8x38el2x6di9``) and hex strings from one seeded generator.

    The same seed gives the same sequence, so seed data and key ids repeat from run to run.
    """

    __slots__ = ("_rng",)

    def __init__(self, seed: str) -> None:
        self._rng = random.Random(seed)

    def uuid4(self) -> str:
        """Return a random UUIDv4 in canonical lowercase form."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def short_id(self) -> str:
        """Return a 12-character lowercase alphanumeric id, as events and posts use."""
        return "".join(self._rng.choices(_SHORT_ID_ALPHABET, k=12))

    def hex(self, length: int) -> str:
        """Return ``length`` random lowercase hex digits."""
        return f"{self._rng.getrandbits(4 * length):0{length}x}"
