"""Calendar events: the event record, list filters, and the create body.

Endpoints: ``GET /admin/v0/calendar_events`` (``Envelope[ListPage[CalendarEvent]]``),
``GET .../{id}`` (``Envelope[CalendarEvent]``), ``POST`` (body :class:`CalendarEventCreate`, reply
``Envelope[CalendarEventCreated]``), ``DELETE .../{id}`` (``Envelope[DeletedRef]``).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, TypeAlias

import msgspec

from ._common import (
    MessageContent,
    ProfileSummary,
    RequestModel,
    ResponseModel,
    SlackBlocks,
    SlackBlocksReferences,
    UserRefs,
    coerce_field,
)
from ._scalars import DateTimeInput, Timestamp, parse_aware_datetime
from ._tolerant import known_values
from ._validation import (
    RequestValidationError,
    check_bool,
    check_choice,
    check_list,
    check_str,
    is_set,
)

__all__ = [
    "CalendarEvent",
    "CalendarEventCreate",
    "CalendarEventCreated",
    "CreateEventStatus",
    "EventStatus",
    "PublishedTo",
    "ReminderConfig",
    "Tag",
    "TimeFilter",
]

TimeFilter: TypeAlias = Literal["upcoming", "past", "all"]
"""``time_filter`` of the list call: events whose span falls fully or partly in the window."""
EventStatus: TypeAlias = Literal["draft", "needs_approval", "published"]
"""``status`` filter of the list call (and the known values of :attr:`CalendarEvent.status`)."""
CreateEventStatus: TypeAlias = Literal["needs_approval", "published"]
"""``status`` of a new event: the API cannot create drafts."""

EVENT_STATUSES: Final = ("draft", "needs_approval", "published")
TITLE_LENGTH: Final = (3, 70)
SLUG_LENGTH: Final = (3, 70)

_CREATE_STATUSES: Final = ("needs_approval", "published")
_FLAGS: Final = (
    "allow_public_guest_list",
    "enable_registration_button",
    "use_registration_btn_as_link",
    "is_unlisted",
    "publish_to_site",
    "triggers_webhooks",
    "show_end_date",
)
_NULLABLE_TEXTS: Final = (
    "external_speakers",
    "link",
    "location",
    "luma_event_id",
    "recording_link",
    "webhook_custom_metadata",
)


# --- responses ----------------------------------------------------------------------------------


class Tag(ResponseModel, kw_only=True, frozen=True):
    """A tag on an event (shape from the legacy spec; live events carry ``[]``)."""

    id: str
    created_at: Timestamp | None = None
    tag_group_id: str | None = None
    label: str | None = None


class PublishedTo(ResponseModel, kw_only=True, frozen=True):
    """Where an event was announced: a Slack channel's message and the feed synced to it."""

    slack_channel_id: str | None = None
    slack_message_permalink: str | None = None
    feed_id: str | None = None


class ReminderConfig(ResponseModel, kw_only=True, frozen=True):
    """A reminder sent ``minutes`` before the event starts."""

    minutes: int = 0


class CalendarEvent(ResponseModel, kw_only=True, frozen=True):
    """A calendar event, as retrieved or listed.

    ``status`` is kept as a string (known values: :data:`EventStatus`) so that a new status does
    not break decoding. ``start_date``/``end_date`` carry the event's own offset.
    """

    id: str
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    title: str | None = None
    slug: str | None = None
    status: Annotated[str, known_values(*EVENT_STATUSES)] | None = None
    start_date: Timestamp | None = None
    end_date: Timestamp | None = None
    show_end_date: bool = True
    description_slack_blocks: SlackBlocks | None = None
    description_slack_blocks_references: SlackBlocksReferences = msgspec.field(
        default_factory=SlackBlocksReferences
    )
    recap_slack_blocks: SlackBlocks | None = None
    recap_slack_blocks_references: SlackBlocksReferences = msgspec.field(
        default_factory=SlackBlocksReferences
    )
    allow_public_guest_list: bool = False
    enable_registration_button: bool = False
    use_registration_btn_as_link: bool = False
    external_speakers: str | None = None
    is_unlisted: bool = False
    link: str | None = None
    location: str | None = None
    luma_event_id: str | None = None
    publish_to_site: bool = False
    triggers_webhooks: bool = False
    recording_link: str | None = None
    webhook_custom_metadata: str | None = None
    cover_image_url: str | None = None
    hosts: list[ProfileSummary] = msgspec.field(default_factory=list)
    speakers: list[ProfileSummary] = msgspec.field(default_factory=list)
    # The legacy spec marks tags nullable; live data sends [].
    tags: list[Tag] | None = None
    attendees_count: int = 0
    published_to: list[PublishedTo] = msgspec.field(default_factory=list)
    reminders_config: list[ReminderConfig] = msgspec.field(default_factory=list)


class CalendarEventCreated(ResponseModel, kw_only=True, frozen=True):
    """``data`` of a create: the new event's id."""

    calendar_event_id: str


# --- request ------------------------------------------------------------------------------------


class CalendarEventCreate(RequestModel, kw_only=True, frozen=True):
    """Body of ``POST /admin/v0/calendar_events``.

    ``start_date``/``end_date`` take aware ``datetime`` objects or ISO 8601 strings with an offset;
    strings are parsed on construction, so the fields always hold aware datetimes afterwards and
    are sent as ISO 8601 with their offset (UTC as ``Z``). ``description``, ``recap``, ``hosts`` and
    ``speakers`` also accept plain mappings (``{"slack_user_ids": [...]}``), turned into their
    models on construction. Optional fields left unset are not sent; the API's defaults apply
    (``status`` published, the flags false except ``show_end_date``, ``slug`` from the title).

    Raises :class:`~tightknit_async.models.RequestValidationError` naming the field, for the
    rules the reference page states
    (docs.tightknit.ai/api-reference/calendar-events/create-a-calendar-event): the required
    fields; ``title`` 3-70 characters; ``start_date``/``end_date`` ISO 8601 date-times with an
    offset; ``hosts``/``speakers`` one kind of id; ``status`` ``needs_approval`` or
    ``published``; ``slug`` 3-70 characters; every field of its documented type (flags
    booleans, texts strings, lists of strings). The rest is the server's to judge, and its 400
    comes back as :class:`~tightknit_async.BadRequestError`: how many channels, hosts, speakers
    or tags an event may have, whether an id exists, how the end relates to the start (the
    page's own example has them equal).
    """

    title: Annotated[str, msgspec.Meta(min_length=TITLE_LENGTH[0], max_length=TITLE_LENGTH[1])]
    start_date: DateTimeInput
    end_date: DateTimeInput
    description: MessageContent
    publish_to_slack_channels: list[str]
    hosts: UserRefs
    speakers: UserRefs | msgspec.UnsetType = msgspec.UNSET
    status: CreateEventStatus | msgspec.UnsetType = msgspec.UNSET
    slug: (
        Annotated[str, msgspec.Meta(min_length=SLUG_LENGTH[0], max_length=SLUG_LENGTH[1])]
        | msgspec.UnsetType
        | None
    ) = msgspec.UNSET
    recap: MessageContent | msgspec.UnsetType = msgspec.UNSET
    allow_public_guest_list: bool | msgspec.UnsetType = msgspec.UNSET
    enable_registration_button: bool | msgspec.UnsetType = msgspec.UNSET
    use_registration_btn_as_link: bool | msgspec.UnsetType = msgspec.UNSET
    external_speakers: str | msgspec.UnsetType | None = msgspec.UNSET
    is_unlisted: bool | msgspec.UnsetType = msgspec.UNSET
    link: str | msgspec.UnsetType | None = msgspec.UNSET
    location: str | msgspec.UnsetType | None = msgspec.UNSET
    luma_event_id: str | msgspec.UnsetType | None = msgspec.UNSET
    publish_to_site: bool | msgspec.UnsetType = msgspec.UNSET
    triggers_webhooks: bool | msgspec.UnsetType = msgspec.UNSET
    recording_link: str | msgspec.UnsetType | None = msgspec.UNSET
    webhook_custom_metadata: str | msgspec.UnsetType | None = msgspec.UNSET
    show_end_date: bool | msgspec.UnsetType = msgspec.UNSET
    tags: list[str] | msgspec.UnsetType = msgspec.UNSET
    cover_image_file_id: str | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        check_str("title", self.title, min_len=TITLE_LENGTH[0], max_len=TITLE_LENGTH[1])
        self._aware("start_date")
        self._aware("end_date")
        coerce_field(self, "description", MessageContent)
        check_list("publish_to_slack_channels", self.publish_to_slack_channels, item=check_str)
        coerce_field(self, "hosts", UserRefs)
        if is_set(self.speakers):
            coerce_field(self, "speakers", UserRefs)
        if is_set(self.status):
            check_choice("status", self.status, _CREATE_STATUSES)
        if is_set(self.slug) and self.slug is not None:
            check_str("slug", self.slug, min_len=SLUG_LENGTH[0], max_len=SLUG_LENGTH[1])
        if is_set(self.recap):
            coerce_field(self, "recap", MessageContent)
        for name in _FLAGS:
            value = getattr(self, name)
            if is_set(value):
                check_bool(name, value)
        for name in _NULLABLE_TEXTS:
            value = getattr(self, name)
            if is_set(value) and value is not None:
                check_str(name, value)
        if is_set(self.tags):
            check_list("tags", self.tags, item=check_str)
        if is_set(self.cover_image_file_id):
            check_str("cover_image_file_id", self.cover_image_file_id)

    def _aware(self, name: str) -> None:
        value = getattr(self, name)
        try:
            moment = parse_aware_datetime(value)
        except (TypeError, ValueError) as exc:
            reason = str(exc)
            raise RequestValidationError(name, reason[:1].lower() + reason[1:]) from None
        if moment is not value:
            msgspec.structs.force_setattr(self, name, moment)
