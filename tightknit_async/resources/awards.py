"""``/admin/v0/awards``: give an award to a member."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Unpack

import msgspec

from ..models import Ack, AwardAssign, UserRef
from ._base import APIResource, RequestOptions, path_id

__all__ = ["AwardsResource"]


class AwardsResource(APIResource):
    """``tk.awards``."""

    async def assign(
        self,
        award_id: str,
        *,
        recipient: UserRef | Mapping[str, str],
        sender: UserRef | Mapping[str, str] | msgspec.UnsetType = msgspec.UNSET,
        send_anonymously: bool | msgspec.UnsetType = msgspec.UNSET,
        **options: Unpack[RequestOptions],
    ) -> None:
        """Give award ``award_id`` to ``recipient`` (``POST /admin/v0/awards/{award_id}/assign``).

        ``recipient`` and ``sender`` name one user each by exactly one of ``slack_user_id``,
        ``email`` or ``profile_id``, e.g. ``{"email": "ada@example.com"}``.
        """
        fields: dict[str, Any] = {"recipient": recipient}
        if not isinstance(sender, msgspec.UnsetType):
            fields["sender"] = sender
        if not isinstance(send_anonymously, msgspec.UnsetType):
            fields["send_anonymously"] = send_anonymously
        body = AwardAssign(**fields)
        path = f"/admin/v0/awards/{path_id('award_id', award_id)}/assign"
        response = await self._send("POST", path, options, body=body)
        self._parse(response, Ack)
