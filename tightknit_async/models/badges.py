"""Badges (legacy): ``POST /admin/v0/badges/{badge_id}/assign`` takes :class:`BadgeAssign`.

Superseded by awards; answers ``Ack``.
"""

from __future__ import annotations

from ._common import RequestModel
from ._validation import check_list, check_str

__all__ = ["BadgeAssign"]


class BadgeAssign(RequestModel, kw_only=True, frozen=True):
    """Give a badge to Slack users: ``users`` is a list of Slack user ids.

    The endpoint has no current reference page (legacy spec only), so only the type is checked:
    :class:`~tightknit_async.models.RequestValidationError` for anything but a list of strings.
    """

    users: list[str]

    def __post_init__(self) -> None:
        check_list("users", self.users, item=check_str)
