"""Groups: ``PUT /admin/v0/groups/{group_id}/members`` takes :class:`GroupMembersAdd`.

The reply is ``{"success": true}``: decode it as ``Ack``. Groups managed through the API hold up
to 1,000 members.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from ._common import RequestModel
from ._validation import check_list, check_str

__all__ = ["GroupMembersAdd"]

MAX_GROUP_USERS: Final = 1000


class GroupMembersAdd(RequestModel, kw_only=True, frozen=True):
    """Add Slack users to a group: ``users`` is 1 to 1,000 Slack user ids.

    Raises :class:`~tightknit_async.models.RequestValidationError` naming the field (or the
    offending entry, ``users[3]``).
    """

    users: Annotated[list[str], msgspec.Meta(min_length=1, max_length=MAX_GROUP_USERS)]

    def __post_init__(self) -> None:
        check_list(
            "users",
            self.users,
            min_items=1,
            max_items=MAX_GROUP_USERS,
            item=check_str,
            noun="users",
        )
