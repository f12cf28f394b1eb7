"""Posts: a feed's posts, one post, and search; pagination, 404s and the query rules."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiohttp
import msgspec
import pytest

from tightknit_async.testing import FakeClock, FakeTightknit, Post

from .helpers import Client, validation_error

ENVELOPE_KEYS = ["page", "per_page", "count", "total_records", "total_pages", "has_next", "records"]
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


def as_json(record: object) -> Any:
    return json.loads(msgspec.json.encode(record))


def newest_first(posts: list[Post]) -> list[Post]:
    return sorted(posts, key=lambda p: datetime.fromisoformat(p.content_created_at), reverse=True)


async def all_records(client: Client, path: str, per_page: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    page = 0
    separator = "&" if "?" in path else "?"
    while True:
        reply = await client.get(f"{path}{separator}page={page}&per_page={per_page}")
        assert reply.status == 200, reply.body
        data = reply.body["data"]
        assert data["count"] == len(data["records"])
        records += data["records"]
        if not data["has_next"]:
            return records
        page += 1


# GET /feeds/{id}/posts


async def test_feed_posts_are_the_feeds_newest_first(client: Client) -> None:
    fake = client.fake
    feed = next(iter(fake.feeds.values()))
    expected = newest_first([p for p in fake.posts.values() if p.feed_id == feed.id])
    assert len(expected) == 4
    reply = await client.get(f"/feeds/{feed.id}/posts")
    assert reply.status == 200
    assert reply.body["success"] is True
    data = reply.body["data"]
    assert list(data) == ENVELOPE_KEYS
    assert data == {
        "page": 0,
        "per_page": 10,
        "count": 4,
        "total_records": 4,
        "total_pages": 1,
        "has_next": False,
        "records": [as_json(post) for post in expected],
    }


async def test_feed_posts_paginate(client: Client) -> None:
    fake = client.fake
    feed = list(fake.feeds.values())[1]
    expected = newest_first([p for p in fake.posts.values() if p.feed_id == feed.id])
    pages = [
        (await client.get(f"/feeds/{feed.id}/posts?per_page=3&page={page}")).body["data"]
        for page in range(3)
    ]
    assert [(p["count"], p["has_next"], p["total_pages"]) for p in pages] == [
        (3, True, 2),
        (1, False, 2),
        (0, False, 2),
    ]
    assert [r["id"] for p in pages for r in p["records"]] == [post.id for post in expected]
    assert await all_records(client, f"/feeds/{feed.id}/posts", 1) == [
        as_json(post) for post in expected
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=-1", "page must be an integer >= 0"),
        ("per_page=0", "per_page must be an integer between 1 and 100"),
        ("per_page=101", "per_page must be an integer between 1 and 100"),
    ],
)
async def test_feed_posts_page_bounds(client: Client, query: str, message: str) -> None:
    feed_id = next(iter(client.fake.feeds))
    reply = await client.get(f"/feeds/{feed_id}/posts?{query}")
    assert reply.status == 400
    assert reply.body == validation_error(message)


async def test_posts_of_an_unknown_feed_are_404(client: Client) -> None:
    reply = await client.get(f"/feeds/{UNKNOWN_UUID}/posts")
    assert reply.status == 404
    assert reply.body == {"success": False, "error": "Feed not found"}


async def test_feed_posts_need_feeds_and_posts_permissions(client: Client) -> None:
    fake = client.fake
    path = f"/feeds/{next(iter(fake.feeds))}/posts"
    feeds_only = fake.add_key(["feeds:read"])
    reply = await client.get(path, api_key=feeds_only)
    assert reply.status == 403
    assert reply.body == {
        "success": False,
        "error": "This API key lacks the permissions this endpoint requires",
        "code": "INSUFFICIENT_SCOPE",
        "hint": "Required permissions: feeds:read, posts:read. Current permissions: feeds:read",
        "required_permissions": ["feeds:read", "posts:read"],
        "current_permissions": ["feeds:read"],
    }
    assert (await client.get(path, api_key=fake.add_key(["posts:read"]))).status == 403
    both = fake.add_key(["feeds:read", "posts:read"], plan="growth")
    assert (await client.get(path, api_key=both)).status == 200


# GET /posts/{id}


async def test_retrieve_post(client: Client) -> None:
    post = list(client.fake.posts.values())[5]
    reply = await client.get(f"/posts/{post.id}")
    assert reply.status == 200
    assert reply.body == {"success": True, "data": as_json(post)}


async def test_unknown_post_is_404(client: Client) -> None:
    reply = await client.get("/posts/zzzzzzzzzzzz")
    assert reply.status == 404
    assert reply.body == {"success": False, "error": "Post not found"}


# GET /search


async def test_search_matches_title_and_body_ignoring_case(client: Client) -> None:
    fake = client.fake
    by_title = await client.get("/search?q=HACK%20night")
    assert by_title.status == 200
    titles = [r["title"] for r in by_title.body["data"]["records"]]
    assert titles == ["Hack Night Recap"]
    by_body = await client.get("/search?q=lisbon")
    assert [r["title"] for r in by_body.body["data"]["records"]] == ["Hello from Lisbon"]
    record = by_body.body["data"]["records"][0]
    assert record == as_json(fake.posts[record["id"]])


async def test_search_needs_every_term(client: Client) -> None:
    both = (await client.get("/search?q=community%20onboarding")).body["data"]["records"]
    assert [r["title"] for r in both] == ["Community Manager at a Climate Startup"]
    assert (await client.get("/search?q=lisbon%20climate")).body["data"]["total_records"] == 0


async def test_search_paginates_newest_first(client: Client) -> None:
    fake = client.fake
    expected = newest_first(
        [p for p in fake.posts.values() if "the" in f"{p.title}\n{p.body_plaintext}".lower()]
    )
    assert len(expected) >= 5
    first = (await client.get("/search?q=the&per_page=2")).body["data"]
    assert list(first) == ENVELOPE_KEYS
    assert (first["count"], first["total_records"], first["has_next"]) == (2, len(expected), True)
    assert first["total_pages"] == (len(expected) + 1) // 2
    records = await all_records(client, "/search?q=The", 2)
    assert [r["id"] for r in records] == [post.id for post in expected]


async def test_search_without_hits_is_an_empty_page(client: Client) -> None:
    data = (await client.get("/search?q=zebra")).body["data"]
    assert data == {
        "page": 0,
        "per_page": 10,
        "count": 0,
        "total_records": 0,
        "total_pages": 0,
        "has_next": False,
        "records": [],
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "q is required"),
        ("page=0", "q is required"),
        ("q=", "q must not be empty"),
        ("q=%20%20", "q must not be empty"),
        ("q=a&q=b", "q must be given at most once"),
        ("q=hack&per_page=0", "per_page must be an integer between 1 and 100"),
        ("q=hack&page=x", "page must be an integer >= 0"),
    ],
)
async def test_search_query_rules(client: Client, query: str, message: str) -> None:
    reply = await client.get(f"/search?{query}")
    assert reply.status == 400
    assert reply.body == validation_error(message)


async def test_without_seed_data_there_is_nothing_to_find(
    clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    async with FakeTightknit(clock=clock, seed_data=False) as fake:
        client = Client(session, fake)
        data = (await client.get("/search?q=community")).body["data"]
        assert (data["total_records"], data["records"]) == (0, [])
        assert (await client.get(f"/feeds/{UNKNOWN_UUID}/posts")).status == 404
        assert [len(fake.profiles), len(fake.awards), len(fake.badges), len(fake.groups)] == [0] * 4
        assert fake.tags == {}
