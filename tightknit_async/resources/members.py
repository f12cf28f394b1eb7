"""``/admin/v0/members``: add (upsert) and deactivate members."""

from __future__ import annotations

from typing import Unpack

import msgspec

from ..models import Envelope, MemberCreate, MemberResult, MemberUpsert
from ._base import APIResource, RequestOptions, path_id

__all__ = ["MembersResource"]


class MembersResource(APIResource):
    """``tk.members``."""

    async def create(
        self,
        *,
        email: str,
        full_name: str,
        avatar_url_original: str | msgspec.UnsetType | None = msgspec.UNSET,
        **options: Unpack[RequestOptions],
    ) -> MemberResult:
        """Add a member, or update the one with this e-mail (``POST /admin/v0/members``).

        Returns the member and ``created`` (``True`` for 201 Created, ``False`` for an update).
        The body is checked first against the reference page's rules (an e-mail address of
        1-254 characters, a full name of 1-100, an avatar URI of up to 2048): a bad one raises
        :class:`~tightknit_async.models.RequestValidationError` naming the field, unsent.
        Creating members may need the Enterprise plan (:class:`~tightknit_async.PlanRequiredError`).
        """
        body = MemberCreate(
            email=email, full_name=full_name, avatar_url_original=avatar_url_original
        )
        response = await self._send("POST", "/admin/v0/members", options, body=body)
        envelope = self._parse(response, Envelope[MemberUpsert])
        return MemberResult.from_response(envelope, response.status_code)

    async def deactivate(self, member_id: str, **options: Unpack[RequestOptions]) -> None:
        """Deactivate a member (``POST /admin/v0/members/{member_id}/deactivate``).

        Deactivating an already deactivated member succeeds. Members linked to a Slack profile
        cannot be deactivated here (Slack is their source of truth): the API answers 4xx.
        """
        path = f"/admin/v0/members/{path_id('member_id', member_id)}/deactivate"
        self._record(await self._send("POST", path, options))
