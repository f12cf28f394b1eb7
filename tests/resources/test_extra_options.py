"""``extra_query``, ``extra_body`` and ``extra_headers`` on every resource method: each reaches the
wire, merged over what the method sends itself."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tightknit_async import AsyncTightknit
from tightknit_async.testing import FakeTightknit, MockTransport, disable_waits, json_response
from tightknit_async.transport import Multipart, Request, Response

from ..conftest import TEST_KEY

DATA = {
    "id": "x1",
    "calendar_event_id": "e1",
    "member": {"id": "m1"},
    "records": [{"id": "r1"}],
    "page": 0,
    "has_next": False,
}


def reply(_: Request) -> Response:
    return json_response(200, {"success": True, "data": DATA})


def client(transport: MockTransport) -> AsyncTightknit:
    return AsyncTightknit(api_key=TEST_KEY, transport=transport, rate_limit=None)


async def first_page(pager: Any) -> object:
    return await pager


Method = Callable[[AsyncTightknit, dict[str, Any]], Awaitable[object]]

EVENT: dict[str, Any] = {
    "title": "Office hours",
    "start_date": "2026-03-02T17:00:00+00:00",
    "end_date": "2026-03-02T18:00:00+00:00",
    "description": {"text": "Questions welcome."},
    "publish_to_slack_channels": ["C08HCRJ9Z7B"],
    "hosts": {"slack_user_ids": ["U08FTAZTVJT"]},
}
EVENT_SENT = {**EVENT, "start_date": "2026-03-02T17:00:00Z", "end_date": "2026-03-02T18:00:00Z"}

# name, the call, HTTP method, path, the query the method sends itself, the body it sends itself
# (None: none; a dict of str for a multipart upload's form fields)
METHODS: list[tuple[str, Method, str, str, dict[str, str], dict[str, Any] | None]] = [
    ("api_key.me", lambda tk, o: tk.api_key.me(**o), "GET", "/admin/v0/api_key/me", {}, None),
    (
        "members.create",
        lambda tk, o: tk.members.create(email="ada@example.com", full_name="Ada L", **o),
        "POST",
        "/admin/v0/members",
        {},
        {"email": "ada@example.com", "full_name": "Ada L"},
    ),
    (
        "members.deactivate",
        lambda tk, o: tk.members.deactivate("m1", **o),
        "POST",
        "/admin/v0/members/m1/deactivate",
        {},
        None,
    ),
    (
        "calendar_events.list",
        lambda tk, o: first_page(
            tk.calendar_events.list(
                time_filter="past",
                status="draft",
                published_to_site=True,
                is_unlisted=False,
                per_page=5,
                **o,
            )
        ),
        "GET",
        "/admin/v0/calendar_events",
        {
            "time_filter": "past",
            "status": "draft",
            "published_to_site": "true",
            "is_unlisted": "false",
            "page": "0",
            "per_page": "5",
        },
        None,
    ),
    (
        "calendar_events.retrieve",
        lambda tk, o: tk.calendar_events.retrieve("e1", **o),
        "GET",
        "/admin/v0/calendar_events/e1",
        {},
        None,
    ),
    (
        "calendar_events.create",
        lambda tk, o: tk.calendar_events.create(**EVENT, **o),
        "POST",
        "/admin/v0/calendar_events",
        {},
        EVENT_SENT,
    ),
    (
        "calendar_events.delete",
        lambda tk, o: tk.calendar_events.delete("e1", **o),
        "DELETE",
        "/admin/v0/calendar_events/e1",
        {},
        None,
    ),
    (
        "feeds.list",
        lambda tk, o: first_page(tk.feeds.list(**o)),
        "GET",
        "/admin/v0/feeds",
        {"page": "0"},
        None,
    ),
    (
        "feeds.retrieve",
        lambda tk, o: tk.feeds.retrieve("f1", **o),
        "GET",
        "/admin/v0/feeds/f1",
        {},
        None,
    ),
    (
        "feeds.list_posts",
        lambda tk, o: first_page(tk.feeds.list_posts("f1", page=2, **o)),
        "GET",
        "/admin/v0/feeds/f1/posts",
        {"page": "2"},
        None,
    ),
    (
        "posts.retrieve",
        lambda tk, o: tk.posts.retrieve("p1", **o),
        "GET",
        "/admin/v0/posts/p1",
        {},
        None,
    ),
    (
        "search.list",
        lambda tk, o: first_page(tk.search.list(q="onboarding", **o)),
        "GET",
        "/admin/v0/search",
        {"q": "onboarding", "page": "0"},
        None,
    ),
    (
        "files.upload",
        lambda tk, o: tk.files.upload(b"abc", filename="a.txt", description="Notes", **o),
        "POST",
        "/admin/v0/files",
        {},
        {"filename": "a.txt", "size": "3", "description": "Notes"},
    ),
    (
        "awards.assign",
        lambda tk, o: tk.awards.assign("a1", recipient={"slack_user_id": "U1"}, **o),
        "POST",
        "/admin/v0/awards/a1/assign",
        {},
        {"recipient": {"slack_user_id": "U1"}},
    ),
    (
        "groups.add_members",
        lambda tk, o: tk.groups.add_members("g1", users=["U1", "U2"], **o),
        "PUT",
        "/admin/v0/groups/g1/members",
        {},
        {"users": ["U1", "U2"]},
    ),
    (
        "badges.assign",
        lambda tk, o: tk.badges.assign("b1", users=["U1"], **o),
        "POST",
        "/admin/v0/badges/b1/assign",
        {},
        {"users": ["U1"]},
    ),
]
IDS = [m[0] for m in METHODS]


def query_of(request: Request) -> dict[str, str]:
    pairs = parse_qsl(urlsplit(request.url).query, keep_blank_values=True)
    assert len(pairs) == len(dict(pairs)), f"a parameter sent twice: {pairs}"
    return dict(pairs)


def body_of(request: Request) -> dict[str, Any] | None:
    if isinstance(request.content, Multipart):
        return dict(request.content.fields)
    if request.content is None:
        return None
    decoded: dict[str, Any] = json.loads(request.content)
    return decoded


async def sent(call: Method, options: dict[str, Any]) -> Request:
    transport = MockTransport(reply)
    async with client(transport) as tk:
        await call(tk, options)
    (request,) = transport.requests
    return request


@pytest.mark.parametrize(("name", "call", "verb", "path", "query", "body"), METHODS, ids=IDS)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_without_extras_the_method_sends_its_own_request(
    name: str,
    call: Method,
    verb: str,
    path: str,
    query: dict[str, str],
    body: dict[str, Any] | None,
) -> None:
    request = await sent(call, {})
    assert request.method == verb
    assert urlsplit(request.url).path == path
    assert query_of(request) == query
    assert body_of(request) == body
    assert "X-Extra" not in request.headers


@pytest.mark.parametrize(("name", "call", "verb", "path", "query", "body"), METHODS, ids=IDS)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_every_extra_reaches_the_wire(
    name: str,
    call: Method,
    verb: str,
    path: str,
    query: dict[str, str],
    body: dict[str, Any] | None,
) -> None:
    request = await sent(
        call,
        {
            "extra_query": {"beta": "yes", "limit": 3, "strict": False},
            "extra_body": {"source": "crm", "weight": 2},
            "extra_headers": {"X-Extra": "on", "X-Trace": "t-1"},
        },
    )
    assert request.method == verb
    assert urlsplit(request.url).path == path
    assert query_of(request) == {**query, "beta": "yes", "limit": "3", "strict": "false"}
    if isinstance(request.content, Multipart):  # a file upload: more form fields
        assert body_of(request) == {**(body or {}), "source": "crm", "weight": "2"}
        assert request.content.file.filename == "a.txt"
    else:
        assert body_of(request) == {**(body or {}), "source": "crm", "weight": 2}
        assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Extra"] == "on"
    assert request.headers["X-Trace"] == "t-1"
    assert request.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert request.headers["User-Agent"].startswith("tightknit-async/")


@pytest.mark.parametrize(("name", "call", "verb", "path", "query", "body"), METHODS, ids=IDS)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_empty_extras_change_nothing(
    name: str,
    call: Method,
    verb: str,
    path: str,
    query: dict[str, str],
    body: dict[str, Any] | None,
) -> None:
    request = await sent(call, {"extra_query": {}, "extra_body": {}, "extra_headers": {}})
    assert query_of(request) == query
    assert body_of(request) == body  # a GET gets no body from an empty extra_body


async def test_extra_query_wins_over_the_methods_own_parameters_and_none_drops_one() -> None:
    request = await sent(
        lambda tk, o: first_page(tk.calendar_events.list(status="draft", is_unlisted=True, **o)),
        {"extra_query": {"status": "needs_approval", "is_unlisted": None, "many": ["a", "b"]}},
    )
    pairs = parse_qsl(urlsplit(request.url).query)
    assert ("status", "needs_approval") in pairs
    assert ("status", "draft") not in pairs
    assert not any(name == "is_unlisted" for name, _ in pairs)
    assert [value for name, value in pairs if name == "many"] == ["a", "b"]


async def test_extra_body_wins_over_the_methods_own_fields_at_the_top_level() -> None:
    request = await sent(
        lambda tk, o: tk.calendar_events.create(**EVENT, **o),
        {"extra_body": {"title": "Renamed by extra_body", "hosts": {"emails": ["a@b.co"]}}},
    )
    assert body_of(request) == {
        **EVENT_SENT,
        "title": "Renamed by extra_body",
        "hosts": {"emails": ["a@b.co"]},  # replaced whole, not merged into
    }


async def test_extra_body_on_an_upload_replaces_form_fields_and_writes_scalars_as_text() -> None:
    request = await sent(
        lambda tk, o: tk.files.upload(b"abc", filename="a.txt", **o),
        {"extra_body": {"filename": "b.txt", "public": True, "draft": False, "ratio": 1.5}},
    )
    assert isinstance(request.content, Multipart)
    assert dict(request.content.fields) == {
        "filename": "b.txt",
        "size": "3",
        "public": "true",
        "draft": "false",
        "ratio": "1.5",
    }
    assert request.content.file.filename == "a.txt"  # the file part keeps its own name
    assert request.content.file.source == b"abc"


@pytest.mark.parametrize(
    ("value", "kind"),
    [(None, "NoneType"), ({"nested": 1}, "dict"), ([1, 2], "list"), (b"r", "bytes")],
)
async def test_an_upload_extra_body_value_without_a_text_form_is_a_type_error(
    value: object, kind: str
) -> None:
    transport = MockTransport(reply)
    async with client(transport) as tk:
        with pytest.raises(TypeError) as info:
            await tk.files.upload(b"abc", filename="a.txt", extra_body={"tag": value})
    assert str(info.value) == (
        f"extra_body['tag'] must be a str, int, float or bool for a form field, not {kind}"
    )
    assert transport.requests == []


async def test_extra_headers_win_over_the_clients_and_stay_with_their_call() -> None:
    transport = MockTransport(reply)
    async with client(transport) as tk:
        await tk.feeds.retrieve("f1", extra_headers={"user-agent": "my-app/1.0", "X-One": "1"})
        await tk.feeds.retrieve("f1")
        await tk.members.create(email="a@b.co", full_name="A", extra_headers={"X-Two": "2"})
        await tk.members.create(email="a@b.co", full_name="A")
    first, plain, keyed, plain_post = transport.requests
    assert first.headers.getall("User-Agent") == ["my-app/1.0"]
    assert first.headers["X-One"] == "1"
    assert plain.headers["User-Agent"].startswith("tightknit-async/")
    assert "X-One" not in plain.headers
    assert keyed.headers["X-Two"] == "2"
    assert keyed.headers["Content-Type"] == "application/json"
    assert "Idempotency-Key" in keyed.headers
    assert "X-Two" not in plain_post.headers


@pytest.mark.parametrize(
    "name", ["Authorization", "authorization", "Idempotency-Key", "IDEMPOTENCY-KEY"]
)
async def test_extra_headers_cannot_replace_the_key_or_the_idempotency_key(name: str) -> None:
    transport = MockTransport(reply)
    async with client(transport) as tk:
        with pytest.raises(ValueError, match=f"must not set {name.split('-')[0].title()}"):
            await tk.members.create(email="a@b.co", full_name="A", extra_headers={name: "x"})
    assert transport.requests == []


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"extra_query": [("a", "1")]}, "extra_query must be a mapping, not list"),
        ({"extra_body": "x=1"}, "extra_body must be a mapping, not str"),
        ({"extra_headers": ["X-A: 1"]}, "extra_headers must be a mapping, not list"),
        ({"extra_headers": {"X-A": 1}}, "headers must map str to str"),
        ({"extra_body": {"when": object()}}, "json is not JSON-serialisable"),
        ({"extra_query": {"when": object()}}, r"params\['when'\] must be"),
    ],
)
async def test_bad_extras_are_type_errors_before_sending(
    options: dict[str, Any], match: str
) -> None:
    transport = MockTransport(reply)
    async with client(transport) as tk:
        with pytest.raises(TypeError, match=match):
            await tk.members.create(email="a@b.co", full_name="A", **options)
    assert transport.requests == []


@pytest.mark.parametrize(
    "make",
    [
        lambda tk, o: tk.calendar_events.list(**o),
        lambda tk, o: tk.feeds.list(**o),
        lambda tk, o: tk.feeds.list_posts("f1", **o),
        lambda tk, o: tk.search.list(q="x", **o),
    ],
    ids=["calendar_events.list", "feeds.list", "feeds.list_posts", "search.list"],
)
async def test_a_pager_sends_the_extras_with_every_page(make: Any) -> None:
    def paged(request: Request) -> Response:
        page = int(query_of(request)["page"])
        data = {
            "page": page,
            "total_pages": 3,
            "has_next": page < 2,
            "records": [{"id": f"r{page}"}],
        }
        return json_response(200, {"success": True, "data": data})

    transport = MockTransport(paged)
    options = {
        "extra_query": {"beta": "1"},
        "extra_body": {"trace": True},
        "extra_headers": {"X-Extra": "on"},
    }
    async with client(transport) as tk:
        records = [record.id async for record in make(tk, options)]
    assert records == ["r0", "r1", "r2"]
    assert sorted(query_of(r)["page"] for r in transport.requests) == ["0", "1", "2"]
    for request in transport.requests:
        assert query_of(request)["beta"] == "1"
        assert body_of(request) == {"trace": True}
        assert request.headers["X-Extra"] == "on"


async def test_every_retry_of_a_call_carries_its_extras() -> None:
    outcomes = [json_response(503), json_response(200, {"success": True, "data": DATA})]
    transport = MockTransport(lambda _: outcomes.pop(0))
    with disable_waits():
        async with client(transport) as tk:
            await tk.members.create(
                email="a@b.co",
                full_name="A",
                extra_query={"dry": "1"},
                extra_body={"source": "crm"},
                extra_headers={"X-Extra": "on"},
            )
    first, second = transport.requests
    assert first.headers["X-Tightknit-Attempt"] == "1"
    assert second.headers["X-Tightknit-Attempt"] == "2"
    for request in (first, second):
        assert query_of(request) == {"dry": "1"}
        assert body_of(request) == {"email": "a@b.co", "full_name": "A", "source": "crm"}
        assert request.headers["X-Extra"] == "on"
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


async def test_the_fake_server_takes_calls_with_extras(
    tk: AsyncTightknit, fake: FakeTightknit
) -> None:
    """End to end over HTTP: a GET with a JSON body, unknown query parameters, body fields and
    headers; the fake server, like the API, ignores what it does not know."""
    feed = next(iter(fake.feeds.values()))
    got = await tk.feeds.retrieve(
        feed.id,
        extra_query={"expand": "channel"},
        extra_body={"include": ["topic"]},
        extra_headers={"X-Extra": "on"},
    )
    assert got.id == feed.id
    result = await tk.members.create(
        email="grace@example.com",
        full_name="Grace Hopper",
        extra_body={"full_name": "Grace B. Hopper", "nickname": "Amazing Grace"},
    )
    assert result.member.full_name == "Grace B. Hopper"
    page = await tk.feeds.list(extra_query={"per_page": 1})
    assert len(page.records) == 1
    assert [(a.method, a.status) for a in fake.arrivals] == [
        ("GET", 200),
        ("POST", 201),
        ("GET", 200),
    ]


@pytest.mark.parametrize(
    "call",
    [
        lambda tk, users: tk.groups.add_members("g1", users=users),
        lambda tk, users: tk.badges.assign("b1", users=users),
        lambda tk, users: tk.calendar_events.create(
            **{**EVENT, "publish_to_slack_channels": users}
        ),
        lambda tk, users: tk.calendar_events.create(**EVENT, tags=users),
    ],
    ids=["groups.users", "badges.users", "publish_to_slack_channels", "tags"],
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_any_sequence_of_ids_is_sent_as_a_json_list(call: Any) -> None:
    transport = MockTransport(reply)
    async with client(transport) as tk:
        await call(tk, deque(["U1", "U2"]))
    body = body_of(transport.requests[0])
    assert body is not None
    assert ["U1", "U2"] in body.values()


async def test_a_pager_stops_at_max_pages_with_extras_on() -> None:
    def paged(request: Request) -> Response:
        page = int(query_of(request)["page"])
        data = {"page": page, "total_pages": 5, "has_next": True, "records": [{"id": f"r{page}"}]}
        return json_response(200, {"success": True, "data": data})

    transport = MockTransport(paged)
    async with client(transport) as tk:
        pager = tk.feeds.list(max_pages=2, concurrency=1, extra_query={"beta": "1"})
        records = [record.id async for record in pager]
    assert records == ["r0", "r1"]
    assert [query_of(r) for r in transport.requests] == [
        {"page": "0", "beta": "1"},
        {"page": "1", "beta": "1"},
    ]
