"""``/admin/v0/groups``: add members to a group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Unpack

from ..models import Ack, GroupMembersAdd
from ._base import APIResource, RequestOptions, as_list, path_id

__all__ = ["GroupsResource"]


class GroupsResource(APIResource):
    """``tk.groups``."""

    async def add_members(
        self, group_id: str, *, users: Sequence[str], **options: Unpack[RequestOptions]
    ) -> None:
        """Add users (Slack user ids) to a group (``PUT /admin/v0/groups/{group_id}/members``).

        Adding a user already in the group is harmless. An API-managed group holds at most 1,000
        members (the Groups guide): the server refuses a call that would pass that, with a 400
        (:class:`~tightknit_async.BadRequestError`).
        """
        body = GroupMembersAdd(users=as_list(users))
        path = f"/admin/v0/groups/{path_id('group_id', group_id)}/members"
        response = await self._send("PUT", path, options, body=body)
        self._parse(response, Ack)
