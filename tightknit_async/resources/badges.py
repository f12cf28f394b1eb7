"""``/admin/v0/badges`` (legacy): assign a badge. Use :mod:`.awards` instead."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Unpack

from ..models import Ack, BadgeAssign
from ._base import APIResource, RequestOptions, as_list, path_id

__all__ = ["BadgesResource"]


class BadgesResource(APIResource):
    """``tk.badges`` (legacy)."""

    async def assign(
        self, badge_id: str, *, users: Sequence[str], **options: Unpack[RequestOptions]
    ) -> None:
        """Give a badge to Slack users (``POST /admin/v0/badges/{badge_id}/assign``).

        Deprecated: the endpoint is legacy; ``tk.awards.assign`` replaces it. Emits
        ``DeprecationWarning``.
        """
        warnings.warn(
            "tk.badges.assign uses Tightknit's legacy badges endpoint; use tk.awards.assign",
            DeprecationWarning,
            stacklevel=2,
        )
        body = BadgeAssign(users=as_list(users))
        path = f"/admin/v0/badges/{path_id('badge_id', badge_id)}/assign"
        response = await self._send("POST", path, options, body=body)
        self._parse(response, Ack)
