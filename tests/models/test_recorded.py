"""Every real response recorded from api.tightknit.ai decodes into its model."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tightknit_async.models import (
    CalendarEvent,
    Envelope,
    Feed,
    ListPage,
    Post,
    convert,
    decode,
)

RECORDED = Path(__file__).parent / "recorded"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d")

EXPECTED_TYPES: dict[str, Any] = {
    "calendar_events_get": Envelope[CalendarEvent],
    "calendar_events_list": Envelope[ListPage[CalendarEvent]],
    "calendar_events_list_upcoming": Envelope[ListPage[CalendarEvent]],
    "feeds_get": Envelope[Feed],
    "feeds_list": Envelope[ListPage[Feed]],
    "feeds_posts": Envelope[ListPage[Post]],
}


def body_of(name: str) -> dict[str, Any]:
    recording = json.loads((RECORDED / f"{name}.json").read_text())
    assert recording["response"]["status"] == 200
    body: dict[str, Any] = recording["response"]["body"]
    return body


def raw(name: str) -> bytes:
    return json.dumps(body_of(name)).encode()


def walk(value: object) -> Iterator[object]:
    """Every value inside decoded models, lists and dicts, depth first."""
    yield value
    if isinstance(value, msgspec.Struct):
        for field in value.__struct_fields__:
            yield from walk(getattr(value, field))
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from walk(item)


def test_every_recording_has_an_expected_type() -> None:
    assert {path.stem for path in RECORDED.glob("*.json")} == set(EXPECTED_TYPES)


@pytest.mark.parametrize("name", sorted(EXPECTED_TYPES))
def test_recording_decodes_with_only_aware_datetimes(name: str) -> None:
    result = decode(EXPECTED_TYPES[name], raw(name))

    assert result.success is True
    moments = [value for value in walk(result) if isinstance(value, datetime)]
    assert all(moment.utcoffset() is not None for moment in moments)
    # Every timestamp string of the recording, in either form, became a datetime.
    stamps = [v for v in walk(body_of(name)) if isinstance(v, str) and TIMESTAMP.match(v)]
    assert len(moments) == len(stamps)
    assert not any(isinstance(v, str) and TIMESTAMP.match(v) for v in walk(result))


@pytest.mark.parametrize("name", sorted(EXPECTED_TYPES))
def test_convert_from_builtins_equals_decode_from_bytes(name: str) -> None:
    type_ = EXPECTED_TYPES[name]
    assert convert(body_of(name), type_) == decode(type_, raw(name))


@pytest.mark.parametrize("name", sorted(EXPECTED_TYPES))
def test_decoded_models_re_encode_and_round_trip(name: str) -> None:
    type_ = EXPECTED_TYPES[name]
    decoded = decode(type_, raw(name))
    assert decode(type_, msgspec.json.encode(decoded)) == decoded


def test_calendar_event_iso_timestamps_and_fields() -> None:
    event = decode(Envelope[CalendarEvent], raw("calendar_events_get")).data
    source = body_of("calendar_events_get")["data"]

    assert event.id == "cqquykanltdo"
    assert event.created_at == datetime(2025, 3, 11, 13, 6, 35, 552988, tzinfo=UTC)
    assert event.updated_at == datetime(2026, 1, 30, 3, 20, 25, 493019, tzinfo=UTC)
    assert event.start_date == datetime(2025, 3, 20, 18, tzinfo=UTC)
    assert event.end_date == datetime(2025, 3, 20, 20, tzinfo=UTC)
    assert event.title == "Digital Marketing Strategies for Startups"
    assert event.slug == "digital-marketing-strategies-for-startups"
    assert event.status == "published"
    assert event.external_speakers == "Nabeel"
    assert event.location == "Virtual"
    assert event.link is None
    assert event.show_end_date is False
    assert event.attendees_count == 0
    assert event.tags == []
    assert event.recap_slack_blocks is None
    assert event.description_slack_blocks == source["description_slack_blocks"]
    assert event.description_slack_blocks_references.urls == []
    assert event.cover_image_url is not None
    assert event.cover_image_url.endswith("/1.png")
    assert [r.minutes for r in event.reminders_config] == [10]
    (published,) = event.published_to
    assert published.slack_channel_id == "C08HCRJ9Z7B"
    assert published.feed_id is None
    assert published.slack_message_permalink is not None
    (host,) = event.hosts
    assert host.profile_id == "f02f2a84-22e2-4398-8786-6598260d5aca"
    assert host.slack_user_id == "U08G5NNLCH3"
    assert host.created_at == datetime(2025, 3, 11, 11, 53, 2, 403255, tzinfo=UTC)
    assert host.first_name is None  # the short profile form events embed
    assert event.speakers == []


def test_calendar_event_list_page() -> None:
    page = decode(Envelope[ListPage[CalendarEvent]], raw("calendar_events_list")).data

    assert (page.page, page.per_page, page.count, page.total_records, page.total_pages) == (
        0,
        10,
        7,
        7,
        1,
    )
    assert page.has_next is False
    assert page.next_page is None
    assert len(page.records) == page.count
    ids = [event.id for event in page.records]
    assert ids == [record["id"] for record in body_of("calendar_events_list")["data"]["records"]]
    assert sum(len(event.speakers) for event in page.records) == 4


def test_post_postgres_timestamps_and_fields() -> None:
    page = decode(Envelope[ListPage[Post]], raw("feeds_posts")).data
    (post,) = page.records

    assert post.id == "u580h2qjuc8x"
    # "2025-05-14 19:16:38.630803+00": space separator, hour-only offset.
    assert post.created_at == datetime(2025, 5, 14, 19, 16, 38, 630803, tzinfo=UTC)
    # "2025-10-02 05:23:11.90921+00": Postgres drops the fraction's trailing zero.
    assert post.updated_at == datetime(2025, 10, 2, 5, 23, 11, 909210, tzinfo=UTC)
    assert post.content_created_at == post.latest_activity_at
    assert post.created_at is not None
    assert post.created_at.utcoffset() == timedelta(0)
    assert post.feed_id == "b7a0df7e-e867-4847-8577-3bed1774ac7c"
    assert post.source == "slack"
    assert post.body_prosemirror is None
    assert post.body_plaintext is not None
    assert post.body_plaintext.startswith("Hello everyone!")
    assert post.read_time_minutes is None  # documented, absent from live data
    assert (post.reactions_count, post.comments_count, post.file_attachments_count) == (0, 0, 0)
    assert post.author is not None
    assert post.author.email == "member@example.com"
    assert post.author.slack_is_admin is True
    assert post.author.last_name == ""
    assert post.author.created_at == datetime(2025, 3, 7, 21, 27, 39, 926104, tzinfo=UTC)
    assert post.feed is not None
    assert (post.feed.id, post.feed.label, post.feed.slug) == (
        "b7a0df7e-e867-4847-8577-3bed1774ac7c",
        "Announcements",
        "announcements",
    )
    message = post.slack_message
    assert message is not None
    assert message.message_ts == "1747250195.525399"  # a string in live data
    assert message.parent_slack_message_id is None
    assert message.blocks is not None
    assert message.blocks[0]["block_id"] == "UZA6H"
    assert post.references.mentioned_slack_users == []


def test_feed_fields() -> None:
    feed = decode(Envelope[Feed], raw("feeds_get")).data
    listed = decode(Envelope[ListPage[Feed]], raw("feeds_list")).data.records

    assert listed == [feed]
    assert feed.id == "b7a0df7e-e867-4847-8577-3bed1774ac7c"
    assert feed.label == "Announcements"
    assert feed.slack_channel_id == "C08FTB08V5M"
    assert feed.slack_channel_num_members == 4
    assert feed.show_in_navigation_menu is True
    assert feed.is_site_posting_enabled is False
    assert feed.banner_file_id is None
    assert feed.list_view_display_format == "snippet"
    assert feed.slack_channel_topic_slack_blocks is not None
    assert feed.slack_channel_topic_slack_blocks[0]["text"]["text"] == (
        "The latest from LokBros Studio!"
    )
