"""Badges (legacy): ``POST /admin/v0/badges/{badge_id}/assign`` takes :class:`BadgeAssign`.

Superseded by awards; answers ``Ack``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from ._common import RequestModel
from ._validation import check_list, check_str

__all__ = ["BadgeAssign"]


class BadgeAssign(RequestModel, kw_only=True, frozen=True):
    """Give a badge to Slack users: ``users`` is a non-empty list of Slack user ids.

    Raises :class:`~tightknit_async.models.RequestValidationError` naming the field.
    """

    users: Annotated[list[str], msgspec.Meta(min_length=1)]

    def __post_init__(self) -> None:
        check_list("users", self.users, min_items=1, item=check_str, noun="users")
