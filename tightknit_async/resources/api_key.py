"""``/admin/v0/api_key``: the key introspecting itself."""

from __future__ import annotations

from typing import Unpack

from ..models import ApiKeyInfo
from ._base import APIResource, RequestOptions

__all__ = ["ApiKeyResource"]


class ApiKeyResource(APIResource):
    """``tk.api_key``."""

    async def me(self, **options: Unpack[RequestOptions]) -> ApiKeyInfo:
        """The key in use: its type, community and permissions (``GET /admin/v0/api_key/me``).

        Any valid key may call it: a cheap way to check a key before real work.
        """
        return await self._data("GET", "/admin/v0/api_key/me", ApiKeyInfo, options)
