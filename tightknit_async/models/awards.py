"""Awards: ``POST /admin/v0/awards/{award_id}/assign`` takes :class:`AwardAssign`.

The reply is ``{"success": true}``: decode it as ``Ack``.
"""

from __future__ import annotations

import msgspec

from ._common import RequestModel, UserRef, coerce_field
from ._validation import check_bool, is_set

__all__ = ["AwardAssign"]


class AwardAssign(RequestModel, kw_only=True, frozen=True):
    """Give an award to ``recipient``, optionally from ``sender`` and optionally anonymously.

    ``recipient`` and ``sender`` take a :class:`~tightknit_async.models.UserRef` or a mapping
    such as ``{"email": "a@b.co"}``. Raises
    :class:`~tightknit_async.models.RequestValidationError` naming the field for the rules of the
    reference page (docs.tightknit.ai/api-reference/award/assign-an-award-to-a-user):
    ``recipient`` required, each person named by exactly one kind of id, ``send_anonymously`` a
    boolean.
    """

    recipient: UserRef
    sender: UserRef | msgspec.UnsetType = msgspec.UNSET
    send_anonymously: bool | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        coerce_field(self, "recipient", UserRef)
        if is_set(self.sender):
            coerce_field(self, "sender", UserRef)
        if is_set(self.send_anonymously):
            check_bool("send_anonymously", self.send_anonymously)
