"""Request rules through the resource methods.

A rule a current reference page states is checked before sending: a typed error naming the field,
and nothing sent. A rule no reference page states (counts from the legacy spec, an order of start
and end, id forms) is the server's: the request is sent, and the server's 400 comes back as
:class:`BadRequestError` with the server's own message (here from the fake server, which still
applies most of them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tightknit_async import AsyncTightknit, BadRequestError, RequestValidationError
from tightknit_async.models import CalendarEventCreated
from tightknit_async.resources._base import path_id
from tightknit_async.testing import FakeTightknit, MockTransport, json_response

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

Call = Callable[[AsyncTightknit], Awaitable[object]]


def event(**changes: Any) -> Call:
    return lambda tk: tk.calendar_events.create(**{**EVENT, **changes})


def member(**changes: Any) -> Call:
    fields = {"email": "ada@example.com", "full_name": "Ada Lovelace", **changes}
    return lambda tk: tk.members.create(**fields)


async def refused_unsent(call: Call) -> RequestValidationError:
    transport = MockTransport(lambda _: json_response(200, {"success": True}))
    async with AsyncTightknit(api_key="sk_test", transport=transport, rate_limit=None) as tk:
        with pytest.raises(RequestValidationError) as info:
            await call(tk)
    assert transport.requests == []
    return info.value


ADD_MEMBER_CASES: list[tuple[str, Call, str]] = [
    ("email empty", member(email=""), "email: must not be empty"),
    ("email not an address", member(email="ada.example.com"), "email: must be an e-mail"),
    ("email too long", member(email="a" * 250 + "@b.co"), "email: must be 1 to 254"),
    ("full_name empty", member(full_name=""), "full_name: must not be empty"),
    ("full_name too long", member(full_name="A" * 101), "full_name: must be 1 to 100"),
    (
        "avatar not a URI",
        member(avatar_url_original="ada.png"),
        "avatar_url_original: must be an absolute URI",
    ),
    (
        "avatar too long",
        member(avatar_url_original="https://x/" + "a" * 2048),
        "avatar_url_original: must be at most 2048",
    ),
]


@pytest.mark.parametrize(
    ("name", "call", "message"), ADD_MEMBER_CASES, ids=[c[0] for c in ADD_MEMBER_CASES]
)
async def test_add_member_page_rules_are_checked_before_sending(
    name: str, call: Call, message: str
) -> None:
    """docs.tightknit.ai/api-reference/members/add-member: email string<email> 1-254,
    full_name 1-100, avatar_url_original string<uri> of at most 2048."""
    assert str(await refused_unsent(call)).startswith(message)


CREATE_EVENT_CASES: list[tuple[str, Call, str]] = [
    ("title too short", event(title="Hi"), "title: must be 3 to 70 characters, got 2"),
    ("title too long", event(title="T" * 71), "title: must be 3 to 70 characters, got 71"),
    ("start without offset", event(start_date="2027-01-07T15:00:00"), "start_date: "),
    ("start not a date", event(start_date="next tuesday"), "start_date: invalid timestamp"),
    (
        "hosts two kinds",
        event(hosts={"slack_user_ids": ["U1"], "emails": ["a@b.co"]}),
        "hosts: a UserRefs takes exactly one of",
    ),
    ("status draft", event(status="draft"), "status: must be one of needs_approval, published"),
    ("slug too short", event(slug="ab"), "slug: must be 3 to 70 characters, got 2"),
    ("flag not a bool", event(is_unlisted="yes"), "is_unlisted: must be true or false"),
    ("channels a str", event(publish_to_slack_channels="C1"), "publish_to_slack_channels: must"),
    ("tags a str", event(tags="t1"), "tags: must be a list, got str"),
]


@pytest.mark.parametrize(
    ("name", "call", "message"), CREATE_EVENT_CASES, ids=[c[0] for c in CREATE_EVENT_CASES]
)
async def test_create_event_page_rules_are_checked_before_sending(
    name: str, call: Call, message: str
) -> None:
    """docs.tightknit.ai/api-reference/calendar-events/create-a-calendar-event: title and slug
    3-70, ISO 8601 dates with an offset, hosts of one kind of id, status needs_approval or
    published, and the documented types (a bare str for a list is refused, not split)."""
    assert str(await refused_unsent(call)).startswith(message)


AWARD_CASES: list[tuple[str, Call, str]] = [
    (
        "recipient none",
        lambda tk: tk.awards.assign(AWARD, recipient={}),
        "recipient: a UserRef takes exactly one of",
    ),
    (
        "recipient two ids",
        lambda tk: tk.awards.assign(AWARD, recipient={"email": "a@b.co", "slack_user_id": "U1"}),
        "recipient: a UserRef takes exactly one of",
    ),
    (
        "anonymously not a bool",
        lambda tk: tk.awards.assign(AWARD, recipient={"email": "a"}, send_anonymously="no"),  # type: ignore[arg-type]
        "send_anonymously: must be true or false",
    ),
]


@pytest.mark.parametrize(("name", "call", "message"), AWARD_CASES, ids=[c[0] for c in AWARD_CASES])
async def test_assign_award_page_rules_are_checked_before_sending(
    name: str, call: Call, message: str
) -> None:
    """docs.tightknit.ai/api-reference/award/assign-an-award-to-a-user: a user named by exactly
    one kind of id; send_anonymously a boolean."""
    assert str(await refused_unsent(call)).startswith(message)


async def test_upload_file_page_rules_are_checked_before_sending() -> None:
    """docs.tightknit.ai/api-reference/files/upload-file: filename 1-255, size >= 1."""
    too_long = await refused_unsent(lambda tk: tk.files.upload(b"x", filename="f" * 256))
    assert str(too_long) == "filename: must be 1 to 255 characters, got 256"
    empty = await refused_unsent(lambda tk: tk.files.upload(b"", filename="empty.txt"))
    assert str(empty) == "size: must be >= 1, got 0"


@pytest.mark.parametrize(
    "call",
    [
        lambda tk: tk.groups.add_members(AWARD, users="U0123456789"),
        lambda tk: tk.badges.assign(AWARD, users="U0123456789"),
    ],
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_a_bare_str_of_users_is_refused_not_split_into_characters(call: Call) -> None:
    """Not an API rule but the client's own guard: list("U1") would send ["U", "1"]."""
    assert str(await refused_unsent(call)) == "users: must be a list, got str"


# -- rules no current reference page states: sent, and the server answers ----------------------


def a_host(fake: FakeTightknit) -> dict[str, list[str]]:
    return {"slack_user_ids": [next(iter(fake.profiles.values())).slack_user_id]}


def fake_event(fake: FakeTightknit, **changes: Any) -> dict[str, Any]:
    return {**EVENT, "publish_to_slack_channels": ["C0123456789"], "hosts": a_host(fake), **changes}


def pager(pages: Any) -> Any:
    async def first_page() -> object:
        return await pages

    return first_page()


ServerCall = Callable[[AsyncTightknit, FakeTightknit], Awaitable[object]]
SERVER_CASES: list[tuple[str, ServerCall, str]] = [
    (
        "full_name blank",
        lambda tk, _: tk.members.create(email="ada@example.com", full_name="   "),
        "full_name must not be empty",
    ),
    (
        "avatar not http",
        lambda tk, _: tk.members.create(
            email="ada@example.com", full_name="Ada", avatar_url_original="ftp://x.org/a.png"
        ),
        "avatar_url_original must be an http or https URL",
    ),
    (
        "title blank",
        lambda tk, fake: tk.calendar_events.create(**fake_event(fake, title="   ")),
        "title must not be empty",
    ),
    (
        "description empty",
        lambda tk, fake: tk.calendar_events.create(**fake_event(fake, description={})),
        "description must have blocks or text",
    ),
    (
        "no slack channel",
        lambda tk, fake: tk.calendar_events.create(
            **fake_event(fake, publish_to_slack_channels=[])
        ),
        "publish_to_slack_channels must have between 1 and 10 entries",
    ),
    (
        "11 slack channels",
        lambda tk, fake: tk.calendar_events.create(
            **fake_event(fake, publish_to_slack_channels=[f"C{n:010d}" for n in range(11)])
        ),
        "publish_to_slack_channels must have between 1 and 10 entries",
    ),
    (
        "hosts empty",
        lambda tk, fake: tk.calendar_events.create(
            **fake_event(fake, hosts={"slack_user_ids": []})
        ),
        "hosts.slack_user_ids must have between 1 and 5 entries",
    ),
    (
        "6 hosts",
        lambda tk, fake: tk.calendar_events.create(
            **fake_event(fake, hosts={"slack_user_ids": [f"U{n:010d}" for n in range(6)]})
        ),
        "hosts.slack_user_ids must have between 1 and 5 entries",
    ),
    (
        "host email unknown",
        lambda tk, fake: tk.calendar_events.create(**fake_event(fake, hosts={"emails": ["nope"]})),
        "hosts.emails names no community member for: nope",
    ),
    (
        "6 speakers",
        lambda tk, fake: tk.calendar_events.create(
            **fake_event(fake, speakers={"slack_user_ids": [f"U{n:010d}" for n in range(6)]})
        ),
        "speakers.slack_user_ids must have at most 5 entries",
    ),
    (
        "6 tags",
        lambda tk, fake: tk.calendar_events.create(**fake_event(fake, tags=list("abcdef"))),
        "tags must have at most 5 entries",
    ),
    (
        "cover not an uploaded file",
        lambda tk, fake: tk.calendar_events.create(
            **fake_event(fake, cover_image_file_id="cover.png")
        ),
        "cover_image_file_id does not name an uploaded file",
    ),
    (
        "recipient unknown e-mail",
        lambda tk, fake: tk.awards.assign(next(iter(fake.awards)), recipient={"email": "x"}),
        "recipient.email names no community member: x",
    ),
    (
        "sender unknown profile",
        lambda tk, fake: tk.awards.assign(
            next(iter(fake.awards)), recipient=a_recipient(fake), sender={"profile_id": "7"}
        ),
        "sender.profile_id names no community member: 7",
    ),
    (
        "group users empty",
        lambda tk, fake: tk.groups.add_members(next(iter(fake.groups)), users=[]),
        "users must have at least 1 entry",
    ),
    (
        "group over 1,000",
        lambda tk, fake: tk.groups.add_members(
            next(iter(fake.groups)), users=[f"U{n:010d}" for n in range(1001)]
        ),
        "a group can have at most 1000",
    ),
    (
        "badge users empty",
        lambda tk, fake: tk.badges.assign(next(iter(fake.badges)), users=[]),
        "users must have at least 1 entry",
    ),
    (
        "time_filter unknown",
        lambda tk, _: pager(tk.calendar_events.list(time_filter="soon")),  # type: ignore[arg-type]
        "time_filter must be one of",
    ),
    (
        "status unknown",
        lambda tk, _: pager(tk.calendar_events.list(status="gone")),  # type: ignore[arg-type]
        "status must be one of",
    ),
    (
        "per_page 0",
        lambda tk, _: pager(tk.feeds.list(per_page=0)),
        "per_page must be an integer between 1 and 100",
    ),
    ("q blank", lambda tk, _: pager(tk.search.list(q="  ")), "q must not be empty"),
]


def a_recipient(fake: FakeTightknit) -> dict[str, str]:
    return {"slack_user_id": next(iter(fake.profiles.values())).slack_user_id}


@pytest.mark.parametrize(
    ("name", "call", "message"), SERVER_CASES, ids=[c[0] for c in SERVER_CASES]
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_undocumented_rules_are_left_to_the_server(
    tk: AsyncTightknit, fake: FakeTightknit, name: str, call: ServerCall, message: str
) -> None:
    with pytest.raises(BadRequestError) as info:
        await call(tk, fake)
    assert message in str(info.value)
    assert info.value.status_code == 400
    assert [arrival.status for arrival in fake.arrivals] == [400]  # sent once, refused there
    assert fake.ledger == []


@pytest.mark.parametrize("end", [START, START - timedelta(hours=1)], ids=["equal", "before"])
async def test_an_end_date_not_after_the_start_date_is_sent_and_accepted(
    tk: AsyncTightknit, fake: FakeTightknit, end: datetime
) -> None:
    """No reference page orders start and end; the create-event page's own example has them
    equal (docs.tightknit.ai/api-reference/calendar-events/create-a-calendar-event)."""
    created = await tk.calendar_events.create(**fake_event(fake, start_date=START, end_date=end))
    assert isinstance(created, CalendarEventCreated)
    stored = fake.calendar_events[created.calendar_event_id]
    assert datetime.fromisoformat(stored.end_date) == end
    assert datetime.fromisoformat(stored.start_date) == START


# -- the client's own argument checks --------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda tk: tk.calendar_events.retrieve(""), "^calendar_event_id must"),
        (lambda tk: tk.calendar_events.delete(" "), "^calendar_event_id must"),
        (lambda tk: tk.feeds.retrieve("  "), "feed_id"),
        (lambda tk: tk.feeds.retrieve("."), "feed_id"),
        (lambda tk: tk.posts.retrieve(".."), "post_id"),
        (lambda tk: tk.posts.retrieve(None), "post_id"),
        (lambda tk: tk.members.deactivate(""), "member_id"),
        (lambda tk: tk.awards.assign("..", recipient={"email": "a@b.co"}), "award_id"),
        (lambda tk: tk.calendar_events.list(time_filter=5), "time_filter must be a str"),
        (lambda tk: tk.calendar_events.list(status=["published"]), "status must be a str"),
        (
            lambda tk: tk.calendar_events.list(is_unlisted="true"),
            "^is_unlisted must be a bool or None, got 'true'$",
        ),
        (
            lambda tk: tk.calendar_events.list(published_to_site=1),
            "^published_to_site must be a bool or None, got 1$",
        ),
        (lambda tk: tk.feeds.list(per_page="10"), "per_page must be an int"),
        (lambda tk: tk.feeds.list(per_page=True), "per_page must be an int"),
        (lambda tk: tk.search.list(q=None), "q must be a str"),
        (lambda tk: tk.feeds.list(page=-1), "page"),
        (lambda tk: tk.feeds.list(max_items=0), "max_items"),
    ],
)
async def test_bad_arguments_raise_value_error_before_sending(call: Any, match: str) -> None:
    """Type checks that protect the client itself (a path id that is not a non-empty str, a
    filter or flag of the wrong type, the pager's own bounds): not API rules."""
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
