"""Calendar events and feeds: list envelopes, filters, pagination bounds, lookups, 404s."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import msgspec
import pytest

from tightknit_async.testing import CalendarEvent, FakeClock, FakeTightknit

from .helpers import Client

ENVELOPE_KEYS = ["page", "per_page", "count", "total_records", "total_pages", "has_next", "records"]
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def as_json(record: object) -> Any:
    return json.loads(msgspec.json.encode(record))


class WallClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def wall_clock() -> WallClock:
    return WallClock(NOW)


@pytest.fixture
async def dated(
    clock: FakeClock, wall_clock: WallClock, session: aiohttp.ClientSession
) -> AsyncIterator[Client]:
    async with FakeTightknit(clock=clock, wall_clock=wall_clock, rate_limit=None) as fake:
        yield Client(session, fake)


def events(client: Client, status: str = "published") -> list[CalendarEvent]:
    chosen = [e for e in client.fake.calendar_events.values() if e.status == status]
    return sorted(chosen, key=lambda e: datetime.fromisoformat(e.start_date))


async def all_pages(client: Client, query: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    page = 0
    while True:
        data = (await client.get(f"/calendar_events?per_page=7&page={page}&{query}")).body["data"]
        records += data["records"]
        if not data["has_next"]:
            return records
        page += 1


async def test_default_list_is_published_events_of_all_time(client: Client) -> None:
    reply = await client.get("/calendar_events")
    assert reply.status == 200
    assert reply.body["success"] is True
    data = reply.body["data"]
    assert list(data) == ENVELOPE_KEYS
    published = events(client)
    assert len(published) == 24
    assert data == {
        "page": 0,
        "per_page": 10,
        "count": 10,
        "total_records": 24,
        "total_pages": 3,
        "has_next": True,
        "records": [as_json(e) for e in published[:10]],
    }


async def test_pagination_walks_every_record_once(client: Client) -> None:
    pages = []
    for page in range(5):
        pages.append((await client.get(f"/calendar_events?per_page=7&page={page}")).body["data"])
    assert [p["count"] for p in pages] == [7, 7, 7, 3, 0]
    assert [p["has_next"] for p in pages] == [True, True, True, False, False]
    assert {p["total_pages"] for p in pages} == {4}
    ids = [r["id"] for p in pages for r in p["records"]]
    assert ids == [e.id for e in events(client)]
    assert pages[4]["records"] == []


async def test_per_page_bounds_are_inclusive(client: Client) -> None:
    one = (await client.get("/calendar_events?per_page=1")).body["data"]
    assert (one["count"], one["total_pages"]) == (1, 24)
    hundred = (await client.get("/calendar_events?per_page=100")).body["data"]
    assert (hundred["count"], hundred["total_pages"], hundred["has_next"]) == (24, 1, False)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=-1", "page must be an integer >= 0"),
        ("page=abc", "page must be an integer >= 0"),
        ("page=1.5", "page must be an integer >= 0"),
        ("page=", "page must be an integer >= 0"),
        ("page=1&page=2", "page must be given at most once"),
        ("per_page=0", "per_page must be an integer between 1 and 100"),
        ("per_page=101", "per_page must be an integer between 1 and 100"),
        ("per_page=ten", "per_page must be an integer between 1 and 100"),
        ("time_filter=soon", "time_filter must be one of: upcoming, past, all"),
        ("time_filter=UPCOMING", "time_filter must be one of: upcoming, past, all"),
        ("status=cancelled", "status must be one of: draft, needs_approval, published"),
        ("published_to_site=yes", "published_to_site must be 'true' or 'false'"),
        ("is_unlisted=1", "is_unlisted must be 'true' or 'false'"),
    ],
)
async def test_invalid_parameters_are_400_naming_them(
    client: Client, query: str, message: str
) -> None:
    reply = await client.get(f"/calendar_events?{query}")
    assert reply.status == 400
    assert reply.body == {"success": False, "error": message, "code": "VALIDATION_ERROR"}


@pytest.mark.parametrize(("status", "count"), [("draft", 3), ("needs_approval", 3)])
async def test_status_filter(client: Client, status: str, count: int) -> None:
    records = await all_pages(client, f"status={status}")
    assert [r["id"] for r in records] == [e.id for e in events(client, status)]
    assert len(records) == count


@pytest.mark.parametrize("name", ["published_to_site", "is_unlisted"])
@pytest.mark.parametrize("value", [True, False])
async def test_boolean_filters(client: Client, name: str, value: bool) -> None:
    field = "publish_to_site" if name == "published_to_site" else name
    records = await all_pages(client, f"{name}={str(value).lower()}")
    expected = [e.id for e in events(client) if getattr(e, field) is value]
    assert [r["id"] for r in records] == expected
    assert expected  # the seed has both kinds


async def test_time_filters_split_at_the_wall_clock(dated: Client) -> None:
    published = events(dated)
    upcoming = await all_pages(dated, "time_filter=upcoming")
    past = await all_pages(dated, "time_filter=past")
    every = await all_pages(dated, "time_filter=all")
    assert [r["id"] for r in every] == [e.id for e in published]
    assert upcoming
    assert past
    assert all(datetime.fromisoformat(r["start_date"]) > NOW for r in upcoming)
    assert all(datetime.fromisoformat(r["end_date"]) < NOW for r in past)
    assert [r["id"] for r in past + upcoming] == [e.id for e in published]


async def test_a_running_event_is_both_upcoming_and_past(
    dated: Client, wall_clock: WallClock
) -> None:
    running = events(dated)[5]
    wall_clock.now = datetime.fromisoformat(running.start_date) + timedelta(minutes=30)
    upcoming = await all_pages(dated, "time_filter=upcoming")
    past = await all_pages(dated, "time_filter=past")
    assert upcoming[0]["id"] == running.id
    assert past[-1]["id"] == running.id


async def test_seed_dates_follow_the_wall_clock(dated: Client) -> None:
    starts = [datetime.fromisoformat(e.start_date) for e in dated.fake.calendar_events.values()]
    assert min(starts) > NOW - timedelta(days=151)
    assert max(starts) < NOW + timedelta(days=150)
    assert all(abs(start - NOW) > timedelta(hours=24) for start in starts)


async def test_retrieve_event_of_any_status(client: Client) -> None:
    draft = events(client, "draft")[0]
    reply = await client.get(f"/calendar_events/{draft.id}")
    assert reply.status == 200
    assert reply.body == {"success": True, "data": as_json(draft)}


async def test_unknown_event_is_404(client: Client) -> None:
    reply = await client.get("/calendar_events/zzzzzzzzzzzz")
    assert reply.status == 404
    assert reply.body == {"success": False, "error": "Calendar event not found"}


async def test_feeds_list_and_pages(client: Client) -> None:
    feeds = list(client.fake.feeds.values())
    assert len(feeds) == 3
    data = (await client.get("/feeds")).body["data"]
    assert data == {
        "page": 0,
        "per_page": 10,
        "count": 3,
        "total_records": 3,
        "total_pages": 1,
        "has_next": False,
        "records": [as_json(f) for f in feeds],
    }
    second = (await client.get("/feeds?per_page=2&page=1")).body["data"]
    assert (second["count"], second["total_pages"], second["has_next"]) == (1, 2, False)
    assert second["records"] == [as_json(feeds[2])]
    assert (await client.get("/feeds?per_page=0")).status == 400


async def test_retrieve_feed_and_404(client: Client) -> None:
    feed = next(iter(client.fake.feeds.values()))
    reply = await client.get(f"/feeds/{feed.id}")
    assert reply.body == {"success": True, "data": as_json(feed)}
    missing = await client.get("/feeds/00000000-0000-4000-8000-000000000000")
    assert missing.status == 404
    assert missing.body == {"success": False, "error": "Feed not found"}


async def test_without_seed_data_lists_are_empty(
    clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    async with FakeTightknit(clock=clock, seed_data=False) as fake:
        client = Client(session, fake)
        for path in ("/calendar_events", "/feeds"):
            data = (await client.get(path)).body["data"]
            assert data == {
                "page": 0,
                "per_page": 10,
                "count": 0,
                "total_records": 0,
                "total_pages": 0,
                "has_next": False,
                "records": [],
            }
        assert not fake.members
        assert not fake.posts
