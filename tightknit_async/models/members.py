"""Members: ``POST /admin/v0/members`` (an upsert by e-mail) and deactivation.

``POST /admin/v0/members`` takes :class:`MemberCreate` and answers ``Envelope[MemberUpsert]``,
with HTTP 201 when the member was created and 200 when an existing one was updated; the body does
not say which, so :meth:`MemberResult.from_response` combines envelope and status.
``POST .../{member_id}/deactivate`` answers an undocumented success body: decode it as ``Ack``.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from ._common import Envelope, RequestModel, ResponseModel
from ._validation import check_email, check_str, check_uri, is_set

__all__ = ["Member", "MemberCreate", "MemberResult", "MemberUpsert"]

EMAIL_MAX: Final = 254
FULL_NAME_MAX: Final = 100
AVATAR_URL_MAX: Final = 2048


class Member(ResponseModel, kw_only=True, frozen=True):
    """A community member as the add-member call returns it."""

    id: str
    email: str | None = None
    full_name: str | None = None
    preferred_name: str | None = None
    avatar_url_original: str | None = None
    slack_profile_id: str | None = None


class MemberUpsert(ResponseModel, kw_only=True, frozen=True):
    """``data`` of the add-member reply: ``{"member": {...}}``."""

    member: Member


class MemberResult(msgspec.Struct, kw_only=True, frozen=True):
    """What an add-member call did: the member, whether it was created, the API's message.

    Filled by the resource layer from the envelope and the HTTP status (201 created, 200
    updated); not a wire shape.
    """

    member: Member
    created: bool
    message: str | None = None

    @classmethod
    def from_response(cls, envelope: Envelope[MemberUpsert], status_code: int) -> MemberResult:
        """Combine a decoded reply with its status: 201 means created, any other 2xx updated."""
        return cls(
            member=envelope.data.member, created=status_code == 201, message=envelope.message
        )


class MemberCreate(RequestModel, kw_only=True, frozen=True):
    """Body of ``POST /admin/v0/members``: creates the member, or updates the one with this e-mail.

    Raises :class:`~tightknit_async.models.RequestValidationError` for the rules of the
    reference page (docs.tightknit.ai/api-reference/members/add-member): ``email`` an e-mail
    address (``string<email>``) of 1-254 characters; ``full_name`` 1-100 characters (first and
    last name separated by a space, by convention); ``avatar_url_original`` None or an absolute
    URI (``string<uri>``) of at most 2048 characters.
    """

    email: Annotated[str, msgspec.Meta(min_length=1, max_length=EMAIL_MAX)]
    full_name: Annotated[str, msgspec.Meta(min_length=1, max_length=FULL_NAME_MAX)]
    avatar_url_original: (
        Annotated[str, msgspec.Meta(max_length=AVATAR_URL_MAX)] | msgspec.UnsetType | None
    ) = msgspec.UNSET

    def __post_init__(self) -> None:
        check_email("email", self.email)
        check_str("full_name", self.full_name, min_len=1, max_len=FULL_NAME_MAX)
        if is_set(self.avatar_url_original) and self.avatar_url_original is not None:
            check_uri("avatar_url_original", self.avatar_url_original, max_len=AVATAR_URL_MAX)
