"""Groups: ``PUT /admin/v0/groups/{group_id}/members`` takes :class:`GroupMembersAdd`.

The reply is ``{"success": true}``: decode it as ``Ack``. Groups managed through the API hold up
to 1,000 members (the Groups guide); the server enforces that, not this model.
"""

from __future__ import annotations

from ._common import RequestModel
from ._validation import check_list, check_str

__all__ = ["GroupMembersAdd"]


class GroupMembersAdd(RequestModel, kw_only=True, frozen=True):
    """Add Slack users to a group: ``users`` is a list of Slack user ids.

    The endpoint has no current reference page (legacy spec only), so only the type is checked:
    :class:`~tightknit_async.models.RequestValidationError` naming the field (or the offending
    entry, ``users[3]``) for anything but a list of strings. How many users fit is the server's
    call.
    """

    users: list[str]

    def __post_init__(self) -> None:
        check_list("users", self.users, item=check_str)
