"""Seed data: deterministic, and shaped exactly like the recorded real responses."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tightknit_async.testing import CalendarEvent, FakeTightknit, Feed, Post, ProfileSummary
from tightknit_async.testing._records import iso_timestamp, pg_timestamp
from tightknit_async.testing._seed import slugify

RECORDED = Path(__file__).resolve().parent.parent / "models" / "recorded"
NOW = datetime(2026, 2, 7, 3, 55, tzinfo=UTC)
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?\+00:00")
PG = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?\+00")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
SHORT_ID = re.compile(r"[a-z0-9]{12}")

needs_recordings = pytest.mark.skipif(
    not RECORDED.is_dir(), reason="the recorded responses are not available"
)


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())["response"]["body"]["data"]


def as_json(record: object) -> Any:
    return json.loads(msgspec.json.encode(record))


def keys(document: dict[str, Any]) -> list[str]:
    return list(document)


@pytest.fixture(scope="module")
def fake() -> FakeTightknit:
    return FakeTightknit(wall_clock=lambda: NOW)


@needs_recordings
def test_records_have_the_recorded_fields_in_order(fake: FakeTightknit) -> None:
    real_event = recorded("calendar_events_get.json")
    event = as_json(next(iter(fake.calendar_events.values())))
    assert keys(event) == keys(real_event)
    assert keys(event["hosts"][0]) == keys(real_event["hosts"][0])
    assert keys(event["published_to"][0]) == keys(real_event["published_to"][0])
    assert keys(event["description_slack_blocks_references"]) == keys(
        real_event["description_slack_blocks_references"]
    )
    assert keys(as_json(next(iter(fake.feeds.values())))) == keys(recorded("feeds_get.json"))
    real_post = recorded("feeds_posts.json")["records"][0]
    post = as_json(next(iter(fake.posts.values())))
    for path in ((), ("author",), ("slack_message",), ("feed",), ("references",)):
        mine, theirs = post, real_post
        for step in path:
            mine, theirs = mine[step], theirs[step]
        assert keys(mine) == keys(theirs), path


@needs_recordings
@pytest.mark.parametrize(
    ("name", "record_type"),
    [
        ("calendar_events_get.json", CalendarEvent),
        ("feeds_get.json", Feed),
    ],
)
def test_recorded_records_round_trip_through_the_structs(name: str, record_type: type) -> None:
    real = recorded(name)
    assert as_json(msgspec.json.decode(json.dumps(real), type=record_type)) == real


@needs_recordings
def test_recorded_lists_round_trip_through_the_structs() -> None:
    for name, record_type in [
        ("calendar_events_list.json", CalendarEvent),
        ("calendar_events_list_upcoming.json", CalendarEvent),
        ("feeds_list.json", Feed),
        ("feeds_posts.json", Post),
    ]:
        for real in recorded(name)["records"]:
            decoded = msgspec.json.decode(json.dumps(real), type=record_type)
            assert json.dumps(as_json(decoded)) == json.dumps(real), name


def test_timestamp_forms(fake: FakeTightknit) -> None:
    for event in fake.calendar_events.values():
        for stamp in (event.created_at, event.updated_at, event.start_date, event.end_date):
            assert ISO.fullmatch(stamp), stamp
        assert all(ISO.fullmatch(host.created_at) for host in event.hosts + event.speakers)
    for post in fake.posts.values():
        stamps = (
            post.created_at,
            post.updated_at,
            post.content_created_at,
            post.latest_activity_at,
            post.author.created_at,
        )
        assert all(PG.fullmatch(stamp) for stamp in stamps)


def test_timestamps_trim_trailing_zeros_like_postgres() -> None:
    moment = datetime(2025, 4, 1, 11, 53, 7, 781040, tzinfo=UTC)
    assert iso_timestamp(moment) == "2025-04-01T11:53:07.78104+00:00"
    assert pg_timestamp(moment) == "2025-04-01 11:53:07.78104+00"
    assert iso_timestamp(moment.replace(microsecond=0)) == "2025-04-01T11:53:07+00:00"


def test_profile_summary_forms(fake: FakeTightknit) -> None:
    host = next(iter(fake.calendar_events.values())).hosts[0]
    assert "email" not in as_json(host)
    author: ProfileSummary = next(iter(fake.posts.values())).author
    assert author.email.endswith("@example.com")  # type: ignore[union-attr]
    assert author.profile_id in fake.members


def test_seed_contents(fake: FakeTightknit) -> None:
    events = list(fake.calendar_events.values())
    assert len(events) == 30
    assert Counter(e.status for e in events) == {
        "published": 24,
        "draft": 3,
        "needs_approval": 3,
    }
    assert sum(e.is_unlisted for e in events) == 4
    assert all(SHORT_ID.fullmatch(e.id) for e in events)
    assert len({e.slug for e in events}) == 30
    assert len(fake.feeds) == 3
    assert all(UUID.fullmatch(feed_id) for feed_id in fake.feeds)
    assert len(fake.posts) == 11
    assert {post.feed_id for post in fake.posts.values()} == set(fake.feeds)
    assert len(fake.members) == 18
    linked = {m.id for m in fake.members.values() if m.slack_profile_id}
    assert len(linked) == 14
    assert set(fake.profiles) == linked
    assert all(fake.profiles[member_id].slack_user_id for member_id in linked)
    assert len(fake.tags) == 5
    assert {award.kind for award in fake.awards.values()} == {
        "badge",
        "photo_frame",
        "certificate",
    }
    assert all(UUID.fullmatch(i) for i in [*fake.awards, *fake.badges, *fake.groups, *fake.tags])
    assert len(fake.badges) == 3
    slack_users = {p.slack_user_id for p in fake.profiles.values()}
    assert len(fake.groups) == 3
    assert all(set(g.slack_user_ids) <= slack_users for g in fake.groups.values())
    assert fake.files == {}
    assert fake.award_assignments == []
    assert fake.badge_assignments == []


def test_same_seed_same_data_other_seed_other_data(fake: FakeTightknit) -> None:
    again = FakeTightknit(wall_clock=lambda: NOW)
    other = FakeTightknit(wall_clock=lambda: NOW, seed=1)
    mine = as_json(list(fake.calendar_events.values()))
    assert as_json(list(again.calendar_events.values())) == mine
    assert as_json(list(again.posts.values())) == as_json(list(fake.posts.values()))
    assert again.api_key != fake.api_key  # every instance has a key of its own
    assert as_json(list(other.calendar_events.values())) != mine
    assert other.api_key != fake.api_key


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("AI, Web3, & New Digital Renaissance", "ai-web3--new-digital-renaissance"),
        (
            "Breaking Barriers: The Tech That's Changing Everything",
            "breaking-barriers-the-tech-thats-changing-everythi",
        ),
        ("Global Health Summit", "global-health-summit"),
    ],
)
def test_slugify_matches_the_recorded_slugs(title: str, slug: str) -> None:
    assert slugify(title) == slug
