"""The body of ``POST /admin/v0/calendar_events``: each field checked, references resolved, and the
new `CalendarEvent` built.

Fields are checked in the order the API reference lists them (``docs/api.md``), so the first
error reported is the first wrong field in that order; every error is a 400
``VALIDATION_ERROR`` whose message starts with the field's name. The rules:

- ``title``: 3-70 characters after stripping; ``start_date``, ``end_date``: ISO-8601 date-times
  with an offset (both are stored in UTC, as the API returns them). How the end relates to the
  start is not checked: no reference page states a rule, and the page's own request example
  (docs.tightknit.ai/api-reference/calendar-events/create-a-calendar-event) sends them equal;
- ``description`` (required) and ``recap``: objects with ``blocks`` (1-50 Slack blocks, each an
  object with a ``type``) and/or ``text`` (1-40000 characters); blocks win, text alone becomes one
  ``rich_text`` block;
- ``publish_to_slack_channels``: 1-10 Slack channel ids (``C...`` or ``G...``);
- ``hosts`` (required, 1-5) and ``speakers`` (0-5): an object with exactly one of
  ``slack_user_ids``, ``emails``, ``profile_ids``, each naming a Slack-linked member; unknown ones
  are listed in the message and under ``unknown``;
- ``status``: ``needs_approval`` or ``published`` (default); ``draft`` is refused;
- ``slug``: 3-70 lowercase letters, digits and hyphens, unused by any other event; when absent,
  made from the title and made unique with ``-2``, ``-3``...;
- the booleans must be JSON booleans; ``link`` and ``recording_link`` http(s) URLs of at most 2048
  characters; ``location``, ``luma_event_id``, ``external_speakers`` and
  ``webhook_custom_metadata`` strings; each of these may be null;
- ``tags``: at most 5 known tag ids; ``cover_image_file_id``: an uploaded image's file id.

Unknown fields are ignored. Whether the API demands a link or a location is not known, so
neither is demanded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal, get_args

import msgspec

from ._dataset import Dataset, PersonKey
from ._ids import IdFactory
from ._records import (
    CalendarEvent,
    EventStatus,
    ProfileSummary,
    PublishedTo,
    SlackBlock,
    SlackBlocksReferences,
    iso_timestamp,
)
from ._responses import validation_error
from ._seed import rich_text_block, slack_permalink, slugify
from ._validation import (
    body_bool,
    body_datetime,
    body_object,
    body_optional_string,
    body_optional_url,
    body_string,
    body_string_list,
    only_key,
)

PeopleKey = Literal["slack_user_ids", "emails", "profile_ids"]

_PERSON_KEY: Final[dict[PeopleKey, PersonKey]] = {
    "slack_user_ids": "slack_user_id",
    "emails": "email",
    "profile_ids": "profile_id",
}
_MAX_PEOPLE = 5
_MAX_BLOCKS = 50  # Slack's own limit for one message
_MAX_TEXT = 40_000  # Slack's own limit for a message's text
_MAX_URL = 2048
_SLACK_CHANNEL = re.compile(r"[CG][A-Z0-9]{6,14}")
_SLUG = re.compile(r"[a-z0-9-]+")
_CREATABLE: Final = ("needs_approval", "published")


def new_calendar_event(
    body: Mapping[str, Any], data: Dataset, ids: IdFactory, now: datetime
) -> CalendarEvent:
    """Check ``body`` and return the event it describes, created at ``now`` (not yet stored).

    Raises:
        ApiError: 400 ``VALIDATION_ERROR`` naming the first invalid field.
    """
    title = body_string(body, "title", min_length=3, max_length=70, strip=True)
    start = body_datetime(body, "start_date")
    end = body_datetime(body, "end_date")
    description = _content(body, "description", required=True)
    channels = body_string_list(
        body,
        "publish_to_slack_channels",
        min_items=1,
        max_items=10,
        pattern=_SLACK_CHANNEL,
        pattern_label="a Slack channel id",
    )
    hosts = _people(body, "hosts", data, min_items=1)
    speakers = _people(body, "speakers", data, min_items=0)
    status = _status(body)
    slug = _chosen_slug(body, data)
    recap = _content(body, "recap", required=False)
    allow_public_guest_list = body_bool(body, "allow_public_guest_list", default=False)
    enable_registration_button = body_bool(body, "enable_registration_button", default=False)
    use_registration_btn_as_link = body_bool(body, "use_registration_btn_as_link", default=False)
    external_speakers = body_optional_string(body, "external_speakers")
    is_unlisted = body_bool(body, "is_unlisted", default=False)
    link = _optional_url(body, "link")
    location = body_optional_string(body, "location")
    luma_event_id = body_optional_string(body, "luma_event_id")
    publish_to_site = body_bool(body, "publish_to_site", default=False)
    triggers_webhooks = body_bool(body, "triggers_webhooks", default=False)
    recording_link = _optional_url(body, "recording_link")
    webhook_custom_metadata = body_optional_string(body, "webhook_custom_metadata")
    show_end_date = body_bool(body, "show_end_date", default=True)
    tags = _tags(body, data)
    cover_image_url = _cover_image_url(body, data)

    event_id = ids.short_id()
    while event_id in data.calendar_events:
        event_id = ids.short_id()
    stamp = iso_timestamp(now)
    return CalendarEvent(
        id=event_id,
        created_at=stamp,
        updated_at=stamp,
        allow_public_guest_list=allow_public_guest_list,
        description_slack_blocks=description,
        description_slack_blocks_references=SlackBlocksReferences(),
        enable_registration_button=enable_registration_button,
        end_date=iso_timestamp(end),
        external_speakers=external_speakers,
        is_unlisted=is_unlisted,
        link=link,
        location=location,
        luma_event_id=luma_event_id,
        publish_to_site=publish_to_site,
        triggers_webhooks=triggers_webhooks,
        recap_slack_blocks=recap,
        recap_slack_blocks_references=SlackBlocksReferences(),
        recording_link=recording_link,
        webhook_custom_metadata=webhook_custom_metadata,
        show_end_date=show_end_date,
        slug=slug or _generated_slug(title, event_id, data),
        start_date=iso_timestamp(start),
        status=status,
        title=title,
        use_registration_btn_as_link=use_registration_btn_as_link,
        attendees_count=0,
        published_to=(
            [_announcement(channel, data, now) for channel in channels]
            if status == "published"
            else []
        ),
        hosts=hosts,
        speakers=speakers,
        cover_image_url=cover_image_url,
        tags=tags,
        reminders_config=[],
    )


def _content(body: Mapping[str, Any], name: str, *, required: bool) -> list[SlackBlock] | None:
    """A Slack message-content object, as the event's blocks (None when optional and absent)."""
    content = body_object(body, name, required=required)
    if content is None:
        return None
    blocks = content.get("blocks")
    if blocks is None and content.get("text") is None:
        raise validation_error(f"{name} must have blocks or text")
    text = (
        None
        if content.get("text") is None
        else body_string(content, "text", max_length=_MAX_TEXT, prefix=f"{name}.")
    )
    if blocks is None:
        return [rich_text_block(text or "")]
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= _MAX_BLOCKS:
        raise validation_error(f"{name}.blocks must be a list of 1 to {_MAX_BLOCKS} Slack blocks")
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise validation_error(
                f"{name}.blocks[{index}] must be a Slack block (an object with a type)"
            )
    return blocks


def _people(
    body: Mapping[str, Any], name: str, data: Dataset, *, min_items: int
) -> list[ProfileSummary]:
    """Hosts or speakers: the profiles an ``{<kind>: [...]}`` object names, in its order."""
    people = body_object(body, name, required=min_items > 0)
    if people is None:
        return []
    key = only_key(people, name, get_args(PeopleKey))
    values = body_string_list(
        people, key, min_items=min_items, max_items=_MAX_PEOPLE, prefix=f"{name}."
    )
    found = {value: data.find_profile(_PERSON_KEY[key], value) for value in values}
    if unknown := [value for value, profile in found.items() if profile is None]:
        raise validation_error(
            f"{name}.{key} names no community member for: {', '.join(unknown)}", unknown=unknown
        )
    profiles = {p.profile_id: p for p in found.values() if p is not None}  # one per person
    return list(profiles.values())


def _status(body: Mapping[str, Any]) -> EventStatus:
    value = body.get("status")
    if value is None:
        return "published"
    if value == "draft":
        raise validation_error(
            "status must be needs_approval or published: the API cannot create drafts"
        )
    if value == "needs_approval":
        return "needs_approval"
    if value == "published":
        return "published"
    raise validation_error(f"status must be one of: {', '.join(_CREATABLE)}")


def _chosen_slug(body: Mapping[str, Any], data: Dataset) -> str | None:
    if body.get("slug") is None:
        return None
    slug = body_string(body, "slug", min_length=3, max_length=70)
    if not _SLUG.fullmatch(slug):
        raise validation_error("slug must contain only lowercase letters, digits and hyphens")
    if data.slug_in_use(slug):
        raise validation_error(f"slug {slug!r} is already used by another calendar event")
    return slug


def _generated_slug(title: str, event_id: str, data: Dataset) -> str:
    base = slugify(title)
    if len(base.strip("-")) < 3:
        base = event_id
    slug, suffix = base, 1
    while data.slug_in_use(slug):
        suffix += 1
        slug = f"{base}-{suffix}"
    return slug


def _optional_url(body: Mapping[str, Any], name: str) -> str | None:
    value = body_optional_url(body, name, max_length=_MAX_URL)
    return None if isinstance(value, msgspec.UnsetType) else value


def _tags(body: Mapping[str, Any], data: Dataset) -> list[dict[str, Any]]:
    if body.get("tags") is None:
        return []
    tag_ids = body_string_list(body, "tags", min_items=0, max_items=5)
    if unknown := [tag_id for tag_id in tag_ids if tag_id not in data.tags]:
        raise validation_error(f"tags has unknown tag ids: {', '.join(unknown)}", unknown=unknown)
    return [msgspec.to_builtins(data.tags[tag_id]) for tag_id in tag_ids]


def _cover_image_url(body: Mapping[str, Any], data: Dataset) -> str | None:
    file_id = body_optional_string(body, "cover_image_file_id")
    if file_id is None:
        return None
    stored = data.files.get(file_id)
    if stored is None:
        raise validation_error("cover_image_file_id does not name an uploaded file")
    if not stored.file.mimetype.startswith("image/"):
        raise validation_error("cover_image_file_id must name an image file")
    return stored.file.url


def _announcement(channel: str, data: Dataset, now: datetime) -> PublishedTo:
    feed_id = next((f.id for f in data.feeds.values() if f.slack_channel_id == channel), None)
    return PublishedTo(
        slack_channel_id=channel,
        slack_message_permalink=slack_permalink(channel, now),
        feed_id=feed_id,
    )
