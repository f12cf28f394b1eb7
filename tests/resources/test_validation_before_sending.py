"""Every documented request rule, through the resource methods: a typed error naming the field,
and nothing sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tightknit_async import AsyncTightknit, RequestValidationError
from tightknit_async.resources._base import path_id
from tightknit_async.testing import MockTransport, json_response

START = datetime(2027, 1, 7, 15, 0, tzinfo=UTC)
HOST = {"slack_user_ids": ["U0123456789"]}
EVENT: dict[str, Any] = {
    "title": "Quarterly meetup",
    "start_date": START,
    "end_date": START + timedelta(hours=2),
    "description": {"text": "Agenda to follow."},
    "publish_to_slack_channels": ["C08FTB08V5M"],
    "hosts": HOST,
}
AWARD = "3f0c9a6e-4b1d-4c4e-9a57-2f1f0e1c7d21"


def event(**changes: Any) -> Callable[[AsyncTightknit], Awaitable[object]]:
    return lambda tk: tk.calendar_events.create(**{**EVENT, **changes})


def member(**changes: Any) -> Callable[[AsyncTightknit], Awaitable[object]]:
    fields = {"email": "ada@example.com", "full_name": "Ada Lovelace", **changes}
    return lambda tk: tk.members.create(**fields)


CASES: list[tuple[str, Callable[[AsyncTightknit], Awaitable[object]], str]] = [
    # members
    ("email empty", member(email=""), "email"),
    ("email not an address", member(email="ada.example.com"), "email"),
    ("email too long", member(email="a" * 250 + "@b.co"), "email"),
    ("full_name empty", member(full_name=""), "full_name"),
    ("full_name blank", member(full_name="   "), "full_name"),
    ("full_name too long", member(full_name="A" * 101), "full_name"),
    ("avatar not http", member(avatar_url_original="ftp://x/y.png"), "avatar_url_original"),
    (
        "avatar too long",
        member(avatar_url_original="https://x/" + "a" * 2048),
        "avatar_url_original",
    ),
    # calendar events
    ("title too short", event(title="Hi"), "title"),
    ("title too long", event(title="T" * 71), "title"),
    ("start without offset", event(start_date="2027-01-07T15:00:00"), "start_date"),
    ("start not a date", event(start_date="next tuesday"), "start_date"),
    ("end before start", event(end_date=START - timedelta(hours=1)), "end_date"),
    ("end equals start", event(end_date=START), "end_date"),
    ("description empty", event(description={}), "description"),
    ("no slack channel", event(publish_to_slack_channels=[]), "publish_to_slack_channels"),
    (
        "11 slack channels",
        event(publish_to_slack_channels=["C1"] * 11),
        "publish_to_slack_channels",
    ),
    ("hosts empty", event(hosts={"slack_user_ids": []}), "hosts"),
    ("6 hosts", event(hosts={"slack_user_ids": [f"U{i}" for i in range(6)]}), "hosts"),
    ("hosts two kinds", event(hosts={"slack_user_ids": ["U1"], "emails": ["a@b.co"]}), "hosts"),
    ("host email bad", event(hosts={"emails": ["nope"]}), "hosts.emails[0]"),
    ("6 speakers", event(speakers={"slack_user_ids": [f"U{i}" for i in range(6)]}), "speakers"),
    ("status draft", event(status="draft"), "status"),
    ("slug too short", event(slug="ab"), "slug"),
    ("6 tags", event(tags=["t"] * 6), "tags"),
    ("cover not a uuid", event(cover_image_file_id="cover.png"), "cover_image_file_id"),
    ("flag not a bool", event(is_unlisted="yes"), "is_unlisted"),
    # awards
    ("recipient none", lambda tk: tk.awards.assign(AWARD, recipient={}), "UserRef"),
    (
        "recipient two ids",
        lambda tk: tk.awards.assign(AWARD, recipient={"email": "a@b.co", "slack_user_id": "U1"}),
        "UserRef",
    ),
    ("recipient bad email", lambda tk: tk.awards.assign(AWARD, recipient={"email": "x"}), "email"),
    (
        "sender bad profile",
        lambda tk: tk.awards.assign(
            AWARD, recipient={"email": "a@b.co"}, sender={"profile_id": "7"}
        ),
        "profile_id",
    ),
    # groups and badges
    ("group users empty", lambda tk: tk.groups.add_members(AWARD, users=[]), "users"),
    (
        "group over 1,000",
        lambda tk: tk.groups.add_members(AWARD, users=[f"U{i}" for i in range(1001)]),
        "users",
    ),
    # files
    ("filename too long", lambda tk: tk.files.upload(b"x", filename="f" * 256), "filename"),
]


@pytest.mark.parametrize(("name", "call", "field"), CASES, ids=[c[0] for c in CASES])
async def test_rule_is_enforced_before_sending(
    name: str, call: Callable[[AsyncTightknit], Awaitable[object]], field: str
) -> None:
    transport = MockTransport(lambda _: json_response(200, {"success": True}))
    async with AsyncTightknit(api_key="sk_test", transport=transport, rate_limit=None) as tk:
        with pytest.raises(RequestValidationError) as info:
            await call(tk)
    assert field in str(info.value)
    assert transport.requests == []


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda tk: tk.calendar_events.retrieve(""), "calendar_event_id"),
        (lambda tk: tk.feeds.retrieve("  "), "feed_id"),
        (lambda tk: tk.posts.retrieve(None), "post_id"),
        (lambda tk: tk.members.deactivate(""), "member_id"),
        (lambda tk: tk.awards.assign("..", recipient={"email": "a@b.co"}), "award_id"),
        (lambda tk: tk.calendar_events.list(time_filter="soon"), "time_filter"),
        (lambda tk: tk.calendar_events.list(status="gone"), "status"),
        (lambda tk: tk.calendar_events.list(is_unlisted="true"), "is_unlisted"),
        (lambda tk: tk.feeds.list(per_page=0), "per_page"),
        (lambda tk: tk.feeds.list(page=-1), "page"),
        (lambda tk: tk.feeds.list(max_items=0), "max_items"),
    ],
)
async def test_bad_arguments_raise_value_error_before_sending(call: Any, match: str) -> None:
    transport = MockTransport(lambda _: json_response(200, {"success": True}))

    async def attempt(tk: AsyncTightknit) -> None:
        result = call(tk)  # list() raises at once; the others when awaited
        if hasattr(result, "__await__"):
            await result

    async with AsyncTightknit(api_key="sk_test", transport=transport, rate_limit=None) as tk:
        with pytest.raises(ValueError, match=match):
            await attempt(tk)
    assert transport.requests == []


@given(st.text(min_size=1).filter(lambda v: v.strip() and v not in (".", "..")))
def test_a_path_id_is_quoted_exactly_as_urllib_quotes_a_segment(value: str) -> None:
    # ids of plain characters skip quote() itself: the result must be the same either way
    assert path_id("feed_id", value) == quote(value, safe="")


def test_plain_ids_are_sent_as_they_are() -> None:
    assert path_id("id", "b7a0df7e-e867-4847-8577-3bed1774ac7c") == (
        "b7a0df7e-e867-4847-8577-3bed1774ac7c"
    )
    assert path_id("id", "a.b_c~d") == "a.b_c~d"
    assert path_id("id", "a/b") == "a%2Fb"


async def test_path_ids_are_escaped_not_interpreted() -> None:
    transport = MockTransport(lambda _: json_response(200, {"success": True, "data": {"id": "x"}}))
    async with AsyncTightknit(api_key="sk_test", transport=transport, rate_limit=None) as tk:
        await tk.calendar_events.retrieve("../feeds?x=1")
    assert transport.requests[0].url.endswith("/admin/v0/calendar_events/..%2Ffeeds%3Fx%3D1")


async def test_an_unreadable_upload_path_is_a_value_error() -> None:
    transport = MockTransport(lambda _: json_response(200, {"success": True}))
    async with AsyncTightknit(api_key="sk_test", transport=transport, rate_limit=None) as tk:
        with pytest.raises(ValueError, match="cannot read"):
            await tk.files.upload("0" * 5000)
    assert transport.requests == []
