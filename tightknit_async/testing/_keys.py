"""API keys of the fake: their secrets, permissions and plans.

A key has a public id (a UUID, what the ledger and the arrivals record) and a secret (what clients
send as ``Authorization: Bearer <secret>``; never recorded, never echoed). Permissions are named
``<resource>:<read|write>``; plans are ordered growth < momentum < enterprise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, get_args

from ._clock import WallClock
from ._ids import IdFactory

Plan = Literal["growth", "momentum", "enterprise"]

PLANS: tuple[Plan, ...] = get_args(Plan)
"""The plans, lowest first."""

PERMISSIONS: tuple[str, ...] = (
    "api_key:read",
    "awards:write",
    "badges:write",
    "calendar_events:read",
    "calendar_events:write",
    "feeds:read",
    "files:write",
    "groups:write",
    "members:write",
    "posts:read",
    "search:read",
)
"""Every permission a key can hold, sorted."""


def plan_allows(plan: Plan, required: Plan) -> bool:
    """Return whether ``plan`` is ``required`` or above it."""
    return PLANS.index(plan) >= PLANS.index(required)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One API key as the fake knows it. The secret is left out of the repr."""

    id: str
    name: str
    secret: str = field(repr=False)
    permissions: tuple[str, ...]
    plan: Plan
    created_at: datetime
    revoked: bool = False


class KeyRing:
    """The fake's keys, found by secret; keys are added and revoked, never deleted."""

    __slots__ = ("_by_secret", "_ids", "_wall_clock")

    def __init__(self, ids: IdFactory, wall_clock: WallClock) -> None:
        self._ids = ids
        self._wall_clock = wall_clock
        self._by_secret: dict[str, ApiKey] = {}

    def add(
        self,
        *,
        permissions: Iterable[str] | None,
        plan: Plan,
        secret: str | None,
        name: str | None,
    ) -> ApiKey:
        """Create a key and return it; ``permissions=None`` grants all of `PERMISSIONS`.

        A missing ``secret`` is generated as ``sk_test_`` and 32 hex digits.

        Raises:
            TypeError: if ``permissions`` is a single string rather than an iterable of names.
            ValueError: for an unknown permission or plan, or a secret that is empty, contains
                whitespace or is already in use.
        """
        if isinstance(permissions, str):
            raise TypeError("permissions must be an iterable of names, not one string")
        granted = PERMISSIONS if permissions is None else tuple(sorted(set(permissions)))
        if unknown := [p for p in granted if p not in PERMISSIONS]:
            raise ValueError(f"unknown permission(s) {unknown}; known: {', '.join(PERMISSIONS)}")
        if plan not in PLANS:
            raise ValueError(f"unknown plan {plan!r}; known: {', '.join(PLANS)}")
        if secret is None:
            secret = f"sk_test_{self._ids.hex(32)}"
        elif not secret or any(c.isspace() for c in secret):
            raise ValueError("an API key must be non-empty and contain no whitespace")
        if secret in self._by_secret:
            raise ValueError("that API key already exists")
        key = ApiKey(
            id=self._ids.uuid4(),
            name=name if name is not None else f"Test key {len(self._by_secret) + 1}",
            secret=secret,
            permissions=granted,
            plan=plan,
            created_at=self._wall_clock(),
        )
        self._by_secret[secret] = key
        return key

    def revoke(self, secret: str) -> None:
        """Revoke a key: requests with it are answered 401 from now on.

        Raises:
            KeyError: if the fake never issued ``secret``.
        """
        key = self.get(secret)
        self._by_secret[secret] = replace(key, revoked=True)

    def get(self, secret: str) -> ApiKey:
        """Return the key with this secret.

        Raises:
            KeyError: if the fake never issued ``secret`` (the message does not repeat it).
        """
        try:
            return self._by_secret[secret]
        except KeyError:
            raise KeyError("no such API key") from None

    def find(self, secret: str) -> ApiKey | None:
        """Return the key with this secret, or None."""
        return self._by_secret.get(secret)
