"""The records the fake server keeps in memory, shaped exactly like the real API's JSON.

Each record is a frozen msgspec Struct whose fields are declared in the order the real API sends
them (see ``tests/models/recorded/``), so encoding one gives the same document, key for key.
Timestamps are kept as the strings the API sends: calendar events use ISO 8601
(``2025-03-11T14:45:56.607653+00:00``), posts and their authors the Postgres form
(``2024-02-01 04:04:39.198523+00``). Updates replace a record (`msgspec.structs.replace`), so a
record a test holds never changes under it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

SlackBlock = dict[str, Any]
EventStatus = Literal["draft", "needs_approval", "published"]


def iso_timestamp(moment: datetime) -> str:
    """Format ``moment`` as the API's ISO form, ``2025-04-01T11:53:07.78104+00:00`` (UTC).

    Like Postgres, the fraction drops trailing zeros and disappears when it is zero.
    """
    return _timestamp(moment, "T", "+00:00")


def pg_timestamp(moment: datetime) -> str:
    """Format ``moment`` as the API's Postgres form, ``2025-10-02 05:23:11.90921+00`` (UTC)."""
    return _timestamp(moment, " ", "+00")


def _timestamp(moment: datetime, separator: str, offset: str) -> str:
    utc = moment.astimezone(UTC)
    fraction = f".{utc.microsecond:06d}".rstrip("0") if utc.microsecond else ""
    return f"{utc:%Y-%m-%d}{separator}{utc:%H:%M:%S}{fraction}{offset}"


class SlackBlocksReferences(msgspec.Struct, frozen=True, kw_only=True):
    """What a block of Slack content mentions: users, channels, custom emoji and URLs."""

    mentioned_slack_users: list[dict[str, Any]] = msgspec.field(default_factory=list)
    mentioned_slack_channels: list[dict[str, Any]] = msgspec.field(default_factory=list)
    custom_emojis: list[dict[str, Any]] = msgspec.field(default_factory=list)
    urls: list[dict[str, Any]] = msgspec.field(default_factory=list)


class ProfileSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A member's public profile as embedded in events (hosts, speakers) and posts (author).

    Events embed the short form; posts add the name and e-mail fields, which stay `msgspec.UNSET`
    (and so absent from the JSON) in the short form.
    """

    profile_id: str
    created_at: str
    preferred_name: str
    preferred_image_original: str
    preferred_image_1024: str
    preferred_image_512: str
    preferred_image_192: str
    preferred_image_72: str
    preferred_image_48: str
    preferred_image_32: str
    preferred_image_24: str
    first_name: str | msgspec.UnsetType = msgspec.UNSET
    last_name: str | msgspec.UnsetType = msgspec.UNSET
    email: str | msgspec.UnsetType = msgspec.UNSET
    slack_user_id: str
    slack_is_admin: bool
    slack_is_bot: bool
    slack_first_name: str | msgspec.UnsetType = msgspec.UNSET
    slack_last_name: str | msgspec.UnsetType = msgspec.UNSET
    slack_image_72: str
    slack_image_original: str


class PublishedTo(msgspec.Struct, frozen=True, kw_only=True):
    """A Slack channel an event was announced in."""

    slack_channel_id: str
    slack_message_permalink: str
    feed_id: str | None


class Reminder(msgspec.Struct, frozen=True, kw_only=True):
    """An event reminder, ``minutes`` before the start."""

    minutes: int


class CalendarEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A calendar event (``GET /admin/v0/calendar_events[/{id}]``)."""

    id: str
    created_at: str
    updated_at: str
    allow_public_guest_list: bool
    description_slack_blocks: list[SlackBlock] | None
    description_slack_blocks_references: SlackBlocksReferences
    enable_registration_button: bool
    end_date: str
    external_speakers: str | None
    is_unlisted: bool
    link: str | None
    location: str | None
    luma_event_id: str | None
    publish_to_site: bool
    triggers_webhooks: bool
    recap_slack_blocks: list[SlackBlock] | None
    recap_slack_blocks_references: SlackBlocksReferences
    recording_link: str | None
    webhook_custom_metadata: str | None
    show_end_date: bool
    slug: str
    start_date: str
    status: EventStatus
    title: str
    use_registration_btn_as_link: bool
    attendees_count: int
    published_to: list[PublishedTo]
    hosts: list[ProfileSummary]
    speakers: list[ProfileSummary]
    cover_image_url: str | None
    tags: list[dict[str, Any]]
    reminders_config: list[Reminder]


class Feed(msgspec.Struct, frozen=True, kw_only=True):
    """A feed: a Slack channel synced to the community site (``GET /admin/v0/feeds[/{id}]``)."""

    id: str
    label: str
    slug: str
    is_archived: bool
    is_unlisted: bool
    banner_file_id: str | None
    emoji_icon: str | None
    list_view_display_format: str
    post_detail_display_format: str
    banner_file_url: str | None
    show_in_navigation_menu: bool
    is_site_posting_enabled: bool
    slack_channel_id: str
    slack_channel_name: str
    slack_channel_num_members: int
    slack_channel_purpose_slack_blocks: list[SlackBlock]
    slack_channel_purpose_slack_blocks_references: SlackBlocksReferences
    slack_channel_topic_slack_blocks: list[SlackBlock]
    slack_channel_topic_slack_blocks_references: SlackBlocksReferences


class FeedRef(msgspec.Struct, frozen=True, kw_only=True):
    """The short form of a feed embedded in a post."""

    id: str
    label: str
    slug: str


class SlackMessage(msgspec.Struct, frozen=True, kw_only=True):
    """The Slack message a post was synced from."""

    id: str
    message_ts: str
    blocks: list[SlackBlock]
    markdown: str
    permalink: str
    parent_slack_message_id: str | None
    username: str | None
    icon: str | None


class Post(msgspec.Struct, frozen=True, kw_only=True):
    """A post in a feed."""

    id: str
    created_at: str
    updated_at: str
    content_created_at: str
    latest_activity_at: str
    title: str
    slug: str
    feed_id: str
    post_detail_display_format: str
    author_profile_id: str
    body_prosemirror: dict[str, Any] | None
    body_plaintext: str
    source: str
    file_attachments_count: int
    reactions_count: int
    comments_count: int
    slack_message: SlackMessage
    cover_image_file_id: str | None
    cover_image_url: str | None
    author: ProfileSummary
    feed: FeedRef
    references: SlackBlocksReferences


class Member(msgspec.Struct, frozen=True, kw_only=True):
    """A community member as ``POST /admin/v0/members`` returns it."""

    id: str
    email: str
    full_name: str
    preferred_name: str
    avatar_url_original: str | None
    slack_profile_id: str | None


class Community(msgspec.Struct, frozen=True, kw_only=True):
    """The community every key of the fake belongs to."""

    id: str
    name: str


class Tag(msgspec.Struct, frozen=True, kw_only=True):
    """An event tag, as embedded in ``CalendarEvent.tags`` (the legacy spec's shape)."""

    id: str
    created_at: str
    tag_group_id: str
    label: str


class File(msgspec.Struct, frozen=True, kw_only=True):
    """An uploaded file as ``POST /admin/v0/files`` returns it."""

    id: str
    created_at: str
    name: str
    title: str
    size: int
    mimetype: str
    url: str


class StoredFile(msgspec.Struct, frozen=True, kw_only=True):
    """An upload as the fake keeps it: the `File` record and what a test may want to check.

    ``sha256`` is the hex digest of every byte received; ``content`` holds the bytes themselves
    when the upload was small enough to keep (see ``FakeTightknit``), else None.
    """

    file: File
    description: str | None
    sha256: str
    content: bytes | None


AwardKind = Literal["badge", "photo_frame", "certificate"]


class Award(msgspec.Struct, frozen=True, kw_only=True):
    """An award members can be given (``POST /admin/v0/awards/{id}/assign``); the API has no
    endpoint that lists them, so only the fake's seed knows their ids."""

    id: str
    name: str
    kind: AwardKind


class AwardAssignment(msgspec.Struct, frozen=True, kw_only=True):
    """One award given: to the member ``recipient_id``, from ``sender_id`` (None when the
    community gives it), at ``assigned_at`` (ISO form)."""

    award_id: str
    recipient_id: str
    sender_id: str | None
    send_anonymously: bool
    assigned_at: str


class Badge(msgspec.Struct, frozen=True, kw_only=True):
    """A legacy badge (``POST /admin/v0/badges/{id}/assign``)."""

    id: str
    name: str


class BadgeAssignment(msgspec.Struct, frozen=True, kw_only=True):
    """A legacy badge held by the Slack user ``slack_user_id`` since ``assigned_at``."""

    badge_id: str
    slack_user_id: str
    assigned_at: str


class Group(msgspec.Struct, frozen=True, kw_only=True):
    """A Tightknit group and its members' Slack user ids, in the order they were added."""

    id: str
    name: str
    slack_user_ids: tuple[str, ...]
