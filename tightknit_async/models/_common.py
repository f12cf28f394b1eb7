"""Shapes shared across API areas: base classes, envelopes, pages, errors, profiles, references.

Response models (``ResponseModel`` subclasses) are frozen, keyword-only msgspec Structs that
ignore unknown fields, so the API can add fields without breaking decoding, and give every field
that may be absent a default: ``None`` for strings, timestamps and nested objects, ``[]`` for
lists, ``False``/``0`` for booleans and counts (or the API's documented default). Only identifiers
(``id``, ``profile_id``) and the payload of an envelope or page are required. Frozen because a
decoded response is a value shared between tasks: nobody should edit one in place (the lists
inside are still Python lists; treat them as read-only too).

Request models (``RequestModel`` subclasses) are frozen too, validated in ``__post_init__`` and
encoded with ``omit_defaults``: optional fields default to ``msgspec.UNSET`` and are left out of
the JSON unless given, so ``None`` can still mean an explicit ``null`` where the API allows one.

msgspec passes Struct options down to subclasses, but type checkers (``dataclass_transform``) do
not, so every model repeats ``kw_only=True, frozen=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, Self, TypeAlias, TypeVar

import msgspec

from ._scalars import LenientInt, Timestamp
from ._validation import RequestValidationError, check_list, check_one_of, check_str, is_set

__all__ = [
    "Ack",
    "CustomEmoji",
    "DeletedRef",
    "Envelope",
    "ErrorBody",
    "FeedRef",
    "ListPage",
    "MentionedSlackChannel",
    "MessageContent",
    "ProfileSummary",
    "ReferencedUrl",
    "RequestModel",
    "ResponseModel",
    "SlackBlock",
    "SlackBlocks",
    "SlackBlocksReferences",
    "SlackChannelRef",
    "UserRef",
    "UserRefs",
]

T = TypeVar("T")
R = TypeVar("R", bound="RequestModel")

SlackBlock: TypeAlias = dict[str, Any]
"""One Slack Block Kit block, kept as opaque JSON."""
SlackBlocks: TypeAlias = list[SlackBlock]


# --- base classes -----------------------------------------------------------------------------


class ResponseModel(msgspec.Struct, kw_only=True, frozen=True, repr_omit_defaults=True):
    """Base of every response model: frozen, keyword-only, unknown fields ignored."""


class RequestModel(
    msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True, repr_omit_defaults=True
):
    """Base of every request model: validated on construction, unset fields never sent.

    ``model.to_builtins()`` (``msgspec.to_builtins``) gives the JSON-ready dict;
    ``msgspec.json.encode(model)`` the bytes. Both leave out fields still ``msgspec.UNSET``.
    """

    def to_builtins(self) -> dict[str, Any]:
        """The body as JSON-ready builtins: unset fields omitted, date-times as ISO strings."""
        body: dict[str, Any] = msgspec.to_builtins(self)
        return body

    @classmethod
    def coerce(cls, value: Self | Mapping[str, Any], *, field: str = "") -> Self:
        """Return ``value`` if it already is a ``cls``, else build one from a mapping.

        Errors name the field path with ``field`` prefixed (``recipient.email: ...``). Raises
        :class:`RequestValidationError` for unknown keys, a wrong type or a failed check.
        """
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise RequestValidationError(
                field, f"must be a {cls.__name__} or a mapping, got {type(value).__name__}"
            )
        unknown = sorted(str(key) for key in value if key not in cls.__struct_fields__)
        if unknown:
            raise RequestValidationError(field, f"unknown field(s) {', '.join(unknown)}")
        for info in msgspec.structs.fields(cls):
            if info.required and info.name not in value:
                path = f"{field}.{info.name}" if field else info.name
                raise RequestValidationError(path, "is required")
        try:
            return cls(**value)
        except RequestValidationError as exc:
            raise (exc.within(field) if field else exc) from None


def coerce_field(owner: msgspec.Struct, name: str, kind: type[R]) -> R:
    """Make ``owner.name`` a ``kind`` (building it from a mapping if need be) and return it."""
    value = getattr(owner, name)
    result = kind.coerce(value, field=name)
    if result is not value:
        msgspec.structs.force_setattr(owner, name, result)
    return result


# --- envelopes ----------------------------------------------------------------------------------


class Envelope(ResponseModel, Generic[T], kw_only=True, frozen=True):
    """The success envelope ``{"success": true, "data": ..., "message"?: ...}``."""

    data: T
    success: bool = True
    message: str | None = None


class ListPage(ResponseModel, Generic[T], kw_only=True, frozen=True):
    """One page of a list endpoint (``data`` of the envelope); ``page`` is 0-based.

    The counters are integers; a float (one generated doc example shows ``per_page: 10.5``) is
    truncated towards zero rather than failing the whole page. Page through with ``has_next``
    (or :attr:`next_page`), not with the counters.
    """

    records: list[T]
    page: LenientInt = 0
    per_page: LenientInt = 0
    count: LenientInt = 0
    total_records: LenientInt = 0
    total_pages: LenientInt = 0
    has_next: bool = False

    @property
    def next_page(self) -> int | None:
        """The number of the following page, or None on the last one."""
        return self.page + 1 if self.has_next else None


class Ack(ResponseModel, kw_only=True, frozen=True):
    """A body that only reports success, ``{"success": true}`` (award, badge and group calls)."""

    success: bool = True
    message: str | None = None


class DeletedRef(ResponseModel, kw_only=True, frozen=True):
    """``data`` of a delete: ``{"id": ...}`` of what was deleted."""

    id: str


class ErrorBody(ResponseModel, kw_only=True, frozen=True):
    """An error response body, ``{"success": false, "error": ..., "code"?: ..., ...}``.

    ``code`` is e.g. ``INSUFFICIENT_SCOPE`` (with ``hint`` and the permission lists) or
    ``PLAN_REQUIRED`` (with the plans); every field is optional as the API documents few of them.
    """

    success: bool = False
    error: str | None = None
    code: str | None = None
    hint: str | None = None
    message: str | None = None
    required_permissions: list[str] = msgspec.field(default_factory=list)
    current_permissions: list[str] = msgspec.field(default_factory=list)
    required_plan: str | None = None
    current_plan: str | None = None

    @property
    def detail(self) -> str | None:
        """The most specific human-readable text: ``message``, else ``error``."""
        return self.message or self.error


# --- profiles and references --------------------------------------------------------------------


class ProfileSummary(ResponseModel, kw_only=True, frozen=True):
    """A member's public profile as embedded in events (hosts, speakers), posts and mentions.

    Events embed a short form; posts add the name and e-mail fields, which are then None.
    """

    profile_id: str
    created_at: Timestamp | None = None
    preferred_name: str | None = None
    preferred_image_original: str | None = None
    preferred_image_1024: str | None = None
    preferred_image_512: str | None = None
    preferred_image_192: str | None = None
    preferred_image_72: str | None = None
    preferred_image_48: str | None = None
    preferred_image_32: str | None = None
    preferred_image_24: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    slack_user_id: str | None = None
    slack_is_admin: bool = False
    slack_is_bot: bool = False
    slack_first_name: str | None = None
    slack_last_name: str | None = None
    slack_image_72: str | None = None
    slack_image_original: str | None = None


class FeedRef(ResponseModel, kw_only=True, frozen=True):
    """A feed named inside another object: ``{"id", "label", "slug"}``."""

    id: str
    label: str | None = None
    slug: str | None = None


class SlackChannelRef(ResponseModel, kw_only=True, frozen=True):
    """A Slack channel named in content: ``{"id": "C...", "name": ...}``."""

    id: str | None = None
    name: str | None = None


class MentionedSlackChannel(ResponseModel, kw_only=True, frozen=True):
    """A channel mentioned in Slack content, and the feed synced to it, if any."""

    slack_channel: SlackChannelRef | None = None
    feed: FeedRef | None = None


class CustomEmoji(ResponseModel, kw_only=True, frozen=True):
    """A workspace custom emoji used in Slack content."""

    alias: str | None = None
    name: str | None = None
    url: str | None = None


class ReferencedUrl(ResponseModel, kw_only=True, frozen=True):
    """A URL found in Slack content, in order of appearance."""

    url: str | None = None
    order_seen: int = 0
    is_embedded_media: bool = False
    is_image: bool = False
    is_video: bool = False


class SlackBlocksReferences(ResponseModel, kw_only=True, frozen=True):
    """What a piece of Slack content mentions: users, channels, custom emoji and URLs."""

    mentioned_slack_users: list[ProfileSummary] = msgspec.field(default_factory=list)
    mentioned_slack_channels: list[MentionedSlackChannel] = msgspec.field(default_factory=list)
    custom_emojis: list[CustomEmoji] = msgspec.field(default_factory=list)
    urls: list[ReferencedUrl] = msgspec.field(default_factory=list)


# --- request building blocks ---------------------------------------------------------------------


class UserRef(RequestModel, kw_only=True, frozen=True):
    """One user, named by exactly one kind of id (award ``recipient`` and ``sender``).

    Only ``slack_user_id`` appears in the API's examples; ``email`` and ``profile_id`` are the
    documented alternatives whose key names are inferred.

    Raises :class:`RequestValidationError` unless exactly one is given, as a string (the
    award page: "exactly one of" a Slack user ID, an e-mail or a Tightknit profile ID). Whether
    the id names someone is the server's call.
    """

    slack_user_id: str | msgspec.UnsetType = msgspec.UNSET
    email: str | msgspec.UnsetType = msgspec.UNSET
    profile_id: str | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        given = check_one_of(
            "UserRef",
            [
                ("slack_user_id", self.slack_user_id),
                ("email", self.email),
                ("profile_id", self.profile_id),
            ],
        )
        check_str(given, getattr(self, given))


class UserRefs(RequestModel, kw_only=True, frozen=True):
    """Several users, all named by one kind of id (event ``hosts`` and ``speakers``).

    Give exactly one of ``slack_user_ids``, ``emails`` or ``profile_ids``, a list of strings
    (the create-event page: "one of the following: Slack user IDs, emails, or Tightknit profile
    IDs"). The ``emails``/``profile_ids`` key names are inferred from the API docs;
    ``slack_user_ids`` is confirmed. How many users an event may have is the server's call.
    Raises :class:`RequestValidationError` otherwise.
    """

    slack_user_ids: list[str] | msgspec.UnsetType = msgspec.UNSET
    emails: list[str] | msgspec.UnsetType = msgspec.UNSET
    profile_ids: list[str] | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        given = check_one_of(
            "UserRefs",
            [
                ("slack_user_ids", self.slack_user_ids),
                ("emails", self.emails),
                ("profile_ids", self.profile_ids),
            ],
        )
        check_list(given, getattr(self, given), item=check_str)

    @property
    def ids(self) -> list[str]:
        """The ids given, whichever kind they are."""
        for value in (self.slack_user_ids, self.emails, self.profile_ids):
            if not isinstance(value, msgspec.UnsetType):
                return value
        return []  # unreachable after validation


class MessageContent(RequestModel, kw_only=True, frozen=True):
    """Slack message content, ``{"blocks"?: [...], "text"?: "..."}`` (event description, recap).

    ``blocks`` is a list of Block Kit blocks (objects), ``text`` a string; whether a content
    needs either, and how much of it, is the server's call. Raises
    :class:`RequestValidationError` for a value of another type.
    """

    blocks: SlackBlocks | msgspec.UnsetType = msgspec.UNSET
    text: str | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        if is_set(self.blocks):
            check_list("blocks", self.blocks, item=_check_block)
        if is_set(self.text):
            check_str("text", self.text)


def _check_block(field: str, value: object) -> None:
    if not isinstance(value, dict):
        raise RequestValidationError(
            field, f"must be a Block Kit object, got {type(value).__name__}"
        )
