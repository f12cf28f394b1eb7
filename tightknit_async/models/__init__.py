"""Typed msgspec models of every Tightknit request body and response shape.

Responses decode with the package's helpers, which add the ``dec_hook`` that reads both timestamp
forms the API sends (``2024-02-01 04:04:39.198523+00`` and ISO 8601)::

    from tightknit_async.models import CalendarEvent, Envelope, ListPage, decode

    page = decode(Envelope[ListPage[CalendarEvent]], body)      # one cached decoder per type
    for event in page.data.records:
        event.start_date                                         # an aware datetime

Requests are validated when built, and leave unset optional fields out of the JSON::

    body = MemberCreate(email="ada@example.com", full_name="Ada Lovelace")
    msgspec.json.encode(body)   # or body.to_builtins() -> {"email": ..., "full_name": ...}

A failed check raises :class:`RequestValidationError` (a ``ValueError``) naming the field, e.g.
``title: must be 3 to 70 characters, got 2``. Conventions (defaults, frozen, unknown fields) are
in :mod:`tightknit_async.models._common`; the timestamp approach in
:mod:`tightknit_async.models._scalars`.
"""

from ._common import (
    Ack,
    CustomEmoji,
    DeletedRef,
    Envelope,
    ErrorBody,
    FeedRef,
    ListPage,
    MentionedSlackChannel,
    MessageContent,
    ProfileSummary,
    ReferencedUrl,
    RequestModel,
    ResponseModel,
    SlackBlock,
    SlackBlocks,
    SlackBlocksReferences,
    SlackChannelRef,
    UserRef,
    UserRefs,
)
from ._decoding import convert, decode, decoder_for
from ._scalars import DateTimeInput, Timestamp, dec_hook, parse_timestamp
from ._validation import RequestValidationError
from .api_key import ApiKeyCommunity, ApiKeyInfo
from .awards import AwardAssign
from .badges import BadgeAssign
from .calendar_events import (
    CalendarEvent,
    CalendarEventCreate,
    CalendarEventCreated,
    CreateEventStatus,
    EventStatus,
    PublishedTo,
    ReminderConfig,
    Tag,
    TimeFilter,
)
from .feeds import Feed
from .files import File, FileUpload
from .groups import GroupMembersAdd
from .members import Member, MemberCreate, MemberResult, MemberUpsert
from .posts import Post, SlackMessage
from .search import SearchHit
from .webhooks import (
    EVENT_REGISTRATION_STATUS_CHANGE,
    EventRegistrationStatusChange,
    RegistrationStatus,
    WebhookEvent,
    WebhookEventRef,
    WebhookProfileField,
    WebhookSource,
    WebhookUser,
    decode_webhook,
)

__all__ = [
    "EVENT_REGISTRATION_STATUS_CHANGE",
    "Ack",
    "ApiKeyCommunity",
    "ApiKeyInfo",
    "AwardAssign",
    "BadgeAssign",
    "CalendarEvent",
    "CalendarEventCreate",
    "CalendarEventCreated",
    "CreateEventStatus",
    "CustomEmoji",
    "DateTimeInput",
    "DeletedRef",
    "Envelope",
    "ErrorBody",
    "EventRegistrationStatusChange",
    "EventStatus",
    "Feed",
    "FeedRef",
    "File",
    "FileUpload",
    "GroupMembersAdd",
    "ListPage",
    "Member",
    "MemberCreate",
    "MemberResult",
    "MemberUpsert",
    "MentionedSlackChannel",
    "MessageContent",
    "Post",
    "ProfileSummary",
    "PublishedTo",
    "ReferencedUrl",
    "RegistrationStatus",
    "ReminderConfig",
    "RequestModel",
    "RequestValidationError",
    "ResponseModel",
    "SearchHit",
    "SlackBlock",
    "SlackBlocks",
    "SlackBlocksReferences",
    "SlackChannelRef",
    "SlackMessage",
    "Tag",
    "TimeFilter",
    "Timestamp",
    "UserRef",
    "UserRefs",
    "WebhookEvent",
    "WebhookEventRef",
    "WebhookProfileField",
    "WebhookSource",
    "WebhookUser",
    "convert",
    "dec_hook",
    "decode",
    "decode_webhook",
    "decoder_for",
    "parse_timestamp",
]
