"""API key introspection: ``GET /admin/v0/api_key/me`` answers ``Envelope[ApiKeyInfo]``.

The reply is undocumented (a guide only says it names the key's type, community and
permissions), so every field is optional.
"""

from __future__ import annotations

import msgspec

from ._common import ResponseModel
from ._scalars import Timestamp

__all__ = ["ApiKeyCommunity", "ApiKeyInfo"]


class ApiKeyCommunity(ResponseModel, kw_only=True, frozen=True):
    """The community a key belongs to, with its plan (e.g. ``growth``, ``enterprise``)."""

    id: str | None = None
    name: str | None = None
    plan: str | None = None


class ApiKeyInfo(ResponseModel, kw_only=True, frozen=True):
    """The calling key: id, type, name, community and granted permissions."""

    id: str | None = None
    type: str | None = None
    name: str | None = None
    community: ApiKeyCommunity | None = None
    permissions: list[str] = msgspec.field(default_factory=list)
    created_at: Timestamp | None = None

    def has_permission(self, permission: str) -> bool:
        """Whether the key was granted ``permission``."""
        return permission in self.permissions
