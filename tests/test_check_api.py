"""``tightknit-async check-api`` against the fake server (as is, drifting, with a narrow key, a
refused key, nothing listening), the pure report builder, and the fake server's drift switch."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Annotated, Any

import aiohttp
import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from tightknit_async import AsyncTightknit
from tightknit_async._check_api import (
    DriftItem,
    EndpointReport,
    Probe,
    Reply,
    Report,
    build_report,
    check_api,
    examine,
    first_record_id,
    format_report,
    group_deviations,
    probes,
    report_to_builtins,
    skipped,
)
from tightknit_async.cli import _parser, main
from tightknit_async.models import ApiKeyInfo, Envelope, Feed, ListPage
from tightknit_async.models._tolerant import Deviation
from tightknit_async.testing import (
    DRIFT_FIELD,
    DRIFT_STATUS,
    PERMISSIONS,
    Drift,
    FakeTightknit,
    InjectedDrift,
    MockTransport,
    disable_waits,
    json_response,
)
from tightknit_async.testing._drift import inject_drift
from tightknit_async.testing._endpoints import ENDPOINTS as ENDPOINT_TABLE
from tightknit_async.testing._pipeline import EXCHANGE, Exchange
from tightknit_async.transport import Request, Response

API = "/admin/v0"
ENDPOINTS = [
    f"{API}/api_key/me",
    f"{API}/calendar_events",
    f"{API}/calendar_events",
    f"{API}/calendar_events",
    f"{API}/calendar_events/{{calendar_event_id}}",
    f"{API}/feeds",
    f"{API}/feeds/{{feed_id}}",
    f"{API}/feeds/{{feed_id}}/posts",
    f"{API}/search",
    f"{API}/posts/{{post_id}}",
]
ENDPOINT_KEYS = {
    "method",
    "path",
    "request",
    "model",
    "status",
    "http_status",
    "error_code",
    "reason",
    "needed_tolerant_path",
    "drift",
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit() as server:
        yield server


@pytest.fixture
async def drifting() -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit(drift=True) as server:
        yield server


class Cli:
    """Runs ``main()`` in a worker thread (it starts its own event loop) with the environment
    pointing at a server, and keeps what it printed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.key = ""
        self.out = self.err = ""

    async def run(self, url: str, key: str, *args: str) -> int:
        self.key = key
        self.monkeypatch.setenv("TIGHTKNIT_API_KEY", key)
        self.monkeypatch.setenv("TIGHTKNIT_BASE_URL", url)
        code = await asyncio.to_thread(main, ["check-api", *args])
        self.out, self.err = self.capsys.readouterr()
        assert key not in self.out + self.err
        return code

    @property
    def report(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.out)
        return document


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(monkeypatch, capsys)


def by_path(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for endpoint in report["endpoints"]:
        found.setdefault(endpoint["path"], []).append(endpoint)
    return found


# --- against the fake server as it is ---------------------------------------------------------


async def test_the_fake_as_is_has_no_drift(fake: FakeTightknit, cli: Cli) -> None:
    assert await cli.run(fake.url, fake.api_key, "--json") == 0
    assert cli.out.startswith('{\n  "base_url": ')  # indented
    assert cli.err == ""
    report = cli.report
    assert set(report) == {"base_url", "drift_found", "could_not_check", "endpoints"}
    assert report["base_url"] == fake.url
    assert report["drift_found"] is False
    assert report["could_not_check"] is None
    assert [endpoint["path"] for endpoint in report["endpoints"]] == ENDPOINTS
    for endpoint in report["endpoints"]:
        assert set(endpoint) == ENDPOINT_KEYS
        assert endpoint["method"] == "GET"
        assert endpoint["status"] == "ok"
        assert endpoint["http_status"] == 200
        assert endpoint["needed_tolerant_path"] is False
        assert endpoint["drift"] == []
        assert endpoint["error_code"] is None
        assert endpoint["reason"] is None
    # Each endpoint called once, and the by-id calls use ids from the lists.
    gets = [arrival for arrival in fake.arrivals if arrival.method == "GET"]
    assert len(gets) == len(ENDPOINTS) == len(fake.arrivals)
    requests = [endpoint["request"] for endpoint in report["endpoints"]]
    assert requests[1] == f"{API}/calendar_events?time_filter=all&status=published&per_page=100"
    assert requests[2] == f"{API}/calendar_events?time_filter=all&status=draft&per_page=100"
    assert requests[3].endswith("status=needs_approval&per_page=100")
    assert requests[5] == f"{API}/feeds?per_page=100"
    event_id = requests[4].rsplit("/", 1)[1]
    assert fake.calendar_events[event_id].status == "published"
    feed_id = requests[6].rsplit("/", 1)[1]
    assert feed_id in fake.feeds
    assert requests[7] == f"{API}/feeds/{feed_id}/posts?per_page=100"
    assert requests[8] == f"{API}/search?q=a&per_page=100"
    post_id = requests[9].rsplit("/", 1)[1]
    assert fake.posts[post_id].feed_id == feed_id  # the feed's first post, not a search hit
    assert report["endpoints"][0]["model"] == "Envelope[ApiKeyInfo]"
    assert report["endpoints"][1]["model"] == "Envelope[ListPage[CalendarEvent]]"
    assert report["endpoints"][9]["model"] == "Envelope[Post]"


async def test_the_human_report_of_a_clean_api(fake: FakeTightknit, cli: Cli) -> None:
    assert await cli.run(fake.url, fake.api_key, "--query", "the") == 0
    lines = cli.out.splitlines()
    assert lines[0] == f"Checking {fake.url} against the models of this client"
    assert lines[1] == f"ok           GET {API}/api_key/me"
    assert f"ok           GET {API}/search?q=the&per_page=100" in lines
    assert len(lines) == 2 + len(ENDPOINTS)
    assert all(line.startswith("ok  ") for line in lines[1:-1])
    assert lines[-1] == "No drift: 10 of 10 endpoints match the models."
    assert cli.err == ""


# --- against the drifting fake ----------------------------------------------------------------


async def test_every_injected_drift_is_reported(drifting: FakeTightknit, cli: Cli) -> None:
    assert await cli.run(drifting.url, drifting.api_key, "--json") == 1
    report = cli.report
    assert report["drift_found"] is True
    assert report["could_not_check"] is None
    injected = drifting.drift.injected
    assert {item.endpoint for item in injected} == set(ENDPOINTS)
    reported = {
        InjectedDrift(endpoint["path"], item["path"], item["kind"])
        for endpoint in report["endpoints"]
        for item in endpoint["drift"]
    }
    # Every change is named, and nothing else is.
    assert reported == set(injected)
    for endpoint in report["endpoints"]:
        assert endpoint["status"] == "drift"
        # Only unknown fields at /api_key/me: the typed decoder takes those.
        assert endpoint["needed_tolerant_path"] is (endpoint["path"] != f"{API}/api_key/me")
        keys = [(item["path"], item["kind"], item["detail"]) for item in endpoint["drift"]]
        assert len(keys) == len(set(keys))  # grouped


async def test_drift_is_grouped_with_counts(drifting: FakeTightknit, cli: Cli) -> None:
    assert await cli.run(drifting.url, drifting.api_key, "--json") == 1
    published = sum(event.status == "published" for event in drifting.calendar_events.values())
    assert published > 1
    listing = by_path(cli.report)[f"{API}/calendar_events"][0]
    items = {(item["path"], item["kind"]): item for item in listing["drift"]}
    assert items["$.data.records[*].hosts", "null"] == {
        "kind": "null",
        "path": "$.data.records[*].hosts",
        "model": "CalendarEvent",
        "detail": "expected list[ProfileSummary]",
        "count": published,
    }
    assert items["$.data.records[*].status", "enum"]["detail"] == f"new value {DRIFT_STATUS!r}"
    assert items["$.data.records[*].status", "enum"]["count"] == published
    assert items["$.data.per_page", "null"]["count"] == 1
    assert items["$.data.per_page", "null"]["model"] == "ListPage"
    assert items[f"$.data.{DRIFT_FIELD}", "unknown_field"]["detail"] == ""
    one = by_path(cli.report)[f"{API}/feeds/{{feed_id}}"][0]
    assert one["drift"][0] == {
        "kind": "type",
        "path": "$.data.slack_channel_num_members",
        "model": "Feed",
        "detail": "expected int, got string",
        "count": 1,
    }


async def test_the_human_report_of_drift(drifting: FakeTightknit, cli: Cli) -> None:
    assert await cli.run(drifting.url, drifting.api_key) == 1
    lines = cli.out.splitlines()
    assert lines[1] == f"DRIFT        GET {API}/api_key/me"
    assert lines[2] == f"    unknown_field  $.data.community.{DRIFT_FIELD}  ApiKeyCommunity"
    assert lines[3] == f"    unknown_field  $.data.{DRIFT_FIELD}  ApiKeyInfo"
    single = next(line for line in lines if line.startswith(f"DRIFT        GET {API}/posts/"))
    assert single.endswith("  (typed decoding failed: needed the tolerant path)")
    below = lines[lines.index(single) + 1]
    assert below == "    missing        $.data.author.profile_id  ProfileSummary: expected str"
    for item in drifting.drift.injected:
        assert any(item.path in line and item.kind in line for line in lines), item
    assert lines[-1] == "Drift found on 10 of 10 endpoints."


# --- endpoints that cannot be read, and failures ----------------------------------------------


async def test_403_endpoints_are_not_checked(fake: FakeTightknit, cli: Cli) -> None:
    refused = {"calendar_events:read", "posts:read"}
    key = fake.add_key([p for p in PERMISSIONS if p not in refused])
    assert await cli.run(fake.url, key, "--json") == 0
    endpoints = by_path(cli.report)
    for listing in endpoints[f"{API}/calendar_events"]:
        assert listing["status"] == "not_checked"
        assert listing["http_status"] == 403
        assert listing["error_code"] == "INSUFFICIENT_SCOPE"
        assert listing["reason"]
        assert listing["drift"] == []
    (event,) = endpoints[f"{API}/calendar_events/{{calendar_event_id}}"]
    assert event["status"] == "not_checked"
    assert event["http_status"] is None
    assert event["request"] is None  # never called
    assert "calendar_event_id" in event["reason"]
    (posts,) = endpoints[f"{API}/feeds/{{feed_id}}/posts"]
    assert (posts["status"], posts["http_status"]) == ("not_checked", 403)
    # The post to retrieve then comes from the search, and is refused too.
    (post,) = endpoints[f"{API}/posts/{{post_id}}"]
    assert (post["status"], post["http_status"]) == ("not_checked", 403)
    assert post["request"].startswith(f"{API}/posts/")
    for path in (f"{API}/api_key/me", f"{API}/feeds", f"{API}/feeds/{{feed_id}}", f"{API}/search"):
        assert endpoints[path][0]["status"] == "ok"
    assert cli.report["drift_found"] is False

    assert await cli.run(fake.url, key) == 0
    assert f"not checked  GET {API}/calendar_events/{{calendar_event_id}}: no " in cli.out
    assert f"not checked  GET {API}/feeds/" in cli.out
    assert ": 403 INSUFFICIENT_SCOPE " in cli.out
    assert cli.out.splitlines()[-1] == (
        "No drift: 4 of 10 endpoints match the models. (6 not checked)"
    )


async def test_a_refused_key_stops_at_the_first_call(fake: FakeTightknit, cli: Cli) -> None:
    wrong = "sk_test_" + "0" * 32
    assert await cli.run(fake.url, wrong, "--json") == 2
    report = cli.report
    assert len(fake.arrivals) == 1
    (me,) = report["endpoints"]
    assert (me["status"], me["http_status"], me["error_code"]) == ("error", 401, "UNAUTHORIZED")
    assert report["could_not_check"] == "the API key was refused (401 UNAUTHORIZED Invalid API key)"
    assert "could not check" in cli.err

    fake.reset_arrivals()
    assert await cli.run(fake.url, wrong) == 2
    assert cli.out.splitlines()[-1] == (
        "Could not check the API: the API key was refused (401 UNAUTHORIZED Invalid API key)."
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_nothing_listening_exits_2(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with disable_waits():
        assert await cli.run(url, "sk_test_unreachable", "--json") == 2
    report = cli.report
    assert report["could_not_check"].startswith("no endpoint answered: ")
    called = [endpoint for endpoint in report["endpoints"] if endpoint["request"] is not None]
    assert len(called) == 6  # the lists and /api_key/me; the by-id calls lack their ids
    for endpoint in called:
        assert (endpoint["status"], endpoint["http_status"]) == ("error", None)
        assert endpoint["reason"].startswith(f"GET {endpoint['path']}: could not connect (")
    skipped_paths = [e["path"] for e in report["endpoints"] if e["request"] is None]
    assert skipped_paths == [
        f"{API}/calendar_events/{{calendar_event_id}}",
        f"{API}/feeds/{{feed_id}}",
        f"{API}/feeds/{{feed_id}}/posts",
        f"{API}/posts/{{post_id}}",
    ]


async def test_no_key_exits_2(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIGHTKNIT_API_KEY", raising=False)
    code = await asyncio.to_thread(main, ["check-api", "--json"])
    out, err = cli.capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "TIGHTKNIT_API_KEY" in err


async def test_the_key_is_redacted_even_when_a_reply_carries_it(cli: Cli) -> None:
    # A server that names a field after the bearer token: the drift report would print it.
    async def handler(request: web.Request) -> web.Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        if token.endswith("refused"):
            return web.json_response({"success": False, "error": f"bad key {token}"}, status=401)
        return web.json_response({"success": True, "data": {token: 1, "records": []}})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        key = "sk_test_echoed_back_0123456789"
        assert await cli.run(f"http://127.0.0.1:{port}", key, "--json") == 1
        assert "$.data.<redacted>" in cli.out
        assert await cli.run(f"http://127.0.0.1:{port}", key) == 1
        assert "$.data.<redacted>" in cli.out
        refused = "sk_test_echoed_and_refused"
        assert await cli.run(f"http://127.0.0.1:{port}", refused, "--json") == 2
        assert "bad key <redacted>" in cli.report["could_not_check"]
        assert "bad key <redacted>" in cli.err
    finally:
        await runner.cleanup()


# --- check_api through a MockTransport ----------------------------------------------------------


def page(*records: object) -> dict[str, Any]:
    return {"success": True, "data": {"records": list(records), "has_next": False}}


def mock_client(answers: dict[str, Response]) -> AsyncTightknit:
    me = json_response(200, {"success": True, "data": {"id": "k"}})

    def handler(request: Request) -> Response:
        path = request.url.split("?", 1)[0].removeprefix("https://api.example.test")
        if path == f"{API}/api_key/me":
            return answers.get(path, me)
        return answers.get(path, json_response(200, page()))

    return AsyncTightknit(
        api_key="sk_test_mock",
        base_url="https://api.example.test",
        transport=MockTransport(handler),
        rate_limit=None,
        max_retries=0,
    )


async def test_404_405_and_other_errors() -> None:
    not_found = json_response(404, {"success": False, "error": "Not found"})
    bare = Response(status_code=403, headers={}, content=b"")
    answers = {
        f"{API}/search": not_found,
        f"{API}/api_key/me": bare,
        f"{API}/feeds": json_response(
            405, {"success": False, "error": "Method not allowed", "code": "METHOD_NOT_ALLOWED"}
        ),
        f"{API}/calendar_events": json_response(200, page({"id": "ev1"})),
        f"{API}/calendar_events/ev1": json_response(
            500, {"success": False, "error": "boom", "code": "INTERNAL_ERROR"}
        ),
    }
    async with mock_client(answers) as client:
        report = await check_api(client)
    assert report.base_url == "https://api.example.test"
    statuses = [(e.path, e.status, e.http_status) for e in report.endpoints]
    assert statuses == [
        (f"{API}/api_key/me", "not_checked", 403),
        (f"{API}/calendar_events", "ok", 200),
        (f"{API}/calendar_events", "ok", 200),
        (f"{API}/calendar_events", "ok", 200),
        (f"{API}/calendar_events/{{calendar_event_id}}", "error", 500),
        (f"{API}/feeds", "not_checked", 405),
        (f"{API}/feeds/{{feed_id}}", "not_checked", None),
        (f"{API}/feeds/{{feed_id}}/posts", "not_checked", None),
        (f"{API}/search", "not_checked", 404),
        (f"{API}/posts/{{post_id}}", "not_checked", None),
    ]
    assert report.endpoints[4].error_code == "INTERNAL_ERROR"
    assert report.endpoints[4].reason == "boom"
    assert report.endpoints[5].error_code == "METHOD_NOT_ALLOWED"
    assert report.endpoints[8].reason == "Not found"
    # No message in the body: the error's own words.
    assert report.endpoints[0].reason == f"GET {API}/api_key/me: 403 (empty body)"
    assert report.endpoints[0].error_code is None
    # Neither errors nor unchecked endpoints are drift.
    assert report.drift_found is False
    assert report.could_not_check is None
    assert report.exit_status == 0
    text = format_report(report)
    assert f"ERROR        GET {API}/calendar_events/ev1: 500 INTERNAL_ERROR boom" in text
    assert f"not checked  GET {API}/search?q=a&per_page=100: 404 Not found" in text
    assert text.endswith("No drift: 3 of 10 endpoints match the models. (6 not checked, 1 failed)")


async def test_401_after_the_first_call_is_an_endpoint_error() -> None:
    answers = {f"{API}/feeds": json_response(401, {"success": False, "error": "nope"})}
    async with mock_client(answers) as client:
        report = await check_api(client)
    assert len(report.endpoints) == 10
    assert report.endpoints[5].status == "error"
    assert report.endpoints[5].http_status == 401
    assert report.could_not_check is None
    assert report.exit_status == 0


async def test_the_post_to_retrieve_is_the_feeds_first() -> None:
    answers = {
        f"{API}/feeds": json_response(200, page({"id": "f1"}, {"id": "f2"})),
        f"{API}/feeds/f1/posts": json_response(200, page({"id": "p-feed"}, {"id": "p-2"})),
        f"{API}/search": json_response(200, page({"id": "p-search"})),
    }
    async with mock_client(answers) as client:
        report = await check_api(client)
    assert report.endpoints[7].request == f"{API}/feeds/f1/posts?per_page=100"
    assert report.endpoints[9].request == f"{API}/posts/p-feed"


async def test_the_first_post_comes_from_search_when_the_feed_has_none() -> None:
    answers = {
        f"{API}/feeds": json_response(200, page({"id": "f/1"})),
        f"{API}/search": json_response(200, page({"title": "no id"}, {"id": "p1"})),
    }
    async with mock_client(answers) as client:
        report = await check_api(client, query="zz")
    requests = [endpoint.request for endpoint in report.endpoints]
    assert requests[6] == f"{API}/feeds/f%2F1"
    assert requests[7] == f"{API}/feeds/f%2F1/posts?per_page=100"
    assert requests[8] == f"{API}/search?q=zz&per_page=100"
    assert requests[9] == f"{API}/posts/p1"
    # The first record had no id: a missing required field.
    assert report.endpoints[8].drift == (
        DriftItem(
            kind="missing",
            path="$.data.records[*].id",
            model="Post",
            detail="expected str",
            count=1,
        ),
    )


# --- the pure report ----------------------------------------------------------------------------


ME = Probe(f"{API}/api_key/me", Envelope[ApiKeyInfo])
FEEDS = Probe(f"{API}/feeds", Envelope[ListPage[Feed]], (("per_page", "100"),))


def test_group_deviations_counts_by_path_kind_and_detail() -> None:
    found = [
        Deviation(model="A", path="$.x", kind="null", detail="expected int"),
        Deviation(model="B", path="$.y", kind="unknown_field"),
        Deviation(model="A", path="$.x", kind="null", detail="expected int"),
        Deviation(model="A", path="$.x", kind="type", detail="expected int"),
        Deviation(model="A", path="$.x", kind="null", detail="expected str"),
    ]
    assert group_deviations(found) == (
        DriftItem(kind="null", path="$.x", model="A", detail="expected int", count=2),
        DriftItem(kind="unknown_field", path="$.y", model="B", detail="", count=1),
        DriftItem(kind="type", path="$.x", model="A", detail="expected int", count=1),
        DriftItem(kind="null", path="$.x", model="A", detail="expected str", count=1),
    )
    assert group_deviations([]) == ()


def test_examine_a_fitting_reply() -> None:
    body = msgspec.json.encode({"success": True, "data": {"id": "k", "permissions": []}})
    result = examine(ME, Reply(200, body))
    assert result == EndpointReport(
        method="GET",
        path=f"{API}/api_key/me",
        model="Envelope[ApiKeyInfo]",
        status="ok",
        http_status=200,
        request=f"{API}/api_key/me",
    )


def test_examine_unknown_fields_are_drift_without_the_tolerant_path() -> None:
    body = msgspec.json.encode({"success": True, "data": {"id": "k", "shiny": 1}})
    result = examine(ME, Reply(200, body))
    assert result.status == "drift"
    assert result.needed_tolerant_path is False
    assert result.drift == (
        DriftItem(
            kind="unknown_field", path="$.data.shiny", model="ApiKeyInfo", detail="", count=1
        ),
    )


def test_examine_a_reply_the_typed_decoder_refuses() -> None:
    body = msgspec.json.encode({"success": True, "data": {"records": None, "per_page": 10}})
    result = examine(FEEDS, Reply(200, body), path=f"{API}/feeds")
    assert result.status == "drift"
    assert result.needed_tolerant_path is True
    assert result.request == f"{API}/feeds?per_page=100"
    assert result.drift == (
        DriftItem(
            kind="null",
            path="$.data.records",
            model="ListPage",
            detail="expected list[Feed]",
            count=1,
        ),
    )


def test_examine_a_constraint_only_the_typed_decoder_sees() -> None:
    class Counted(msgspec.Struct):
        count: Annotated[int, msgspec.Meta(ge=0)] = 0

    result = examine(Probe("/counted", Counted), Reply(200, b'{"count": -1, "more": 1}'))
    assert result.status == "drift"
    assert result.needed_tolerant_path is True
    assert result.drift == (
        DriftItem(kind="unknown_field", path="$.more", model="Counted", detail="", count=1),
        DriftItem(
            kind="type", path="$.count", model="Counted", detail="Expected `int` >= 0", count=1
        ),
    )
    root = examine(Probe("/n", Annotated[int, msgspec.Meta(ge=0)]), Reply(200, b"-1"))
    assert root.drift == (
        DriftItem(kind="type", path="$", model="int", detail="Expected `int` >= 0", count=1),
    )


def test_examine_bodies_that_are_not_json_or_empty() -> None:
    broken = examine(ME, Reply(200, b"<html>"))
    assert broken.status == "error"
    assert broken.http_status == 200
    assert broken.reason == "the body is not JSON (JSON is malformed: invalid character (byte 0))"
    empty = examine(ME, Reply(204, b""))
    assert empty.status == "drift"
    assert empty.needed_tolerant_path is True
    assert [(item.kind, item.path) for item in empty.drift] == [("null", "$")]


@pytest.mark.parametrize("status", [403, 404, 405])
def test_examine_refusals_are_not_checked(status: int) -> None:
    result = examine(ME, Reply(status, error_code="X", error="why"))
    assert (result.status, result.http_status, result.error_code, result.reason) == (
        "not_checked",
        status,
        "X",
        "why",
    )
    assert result.request == f"{API}/api_key/me"


@pytest.mark.parametrize("status", [199, 300, 400, 401, 402, 406, 429, 500, 503])
def test_examine_other_errors_are_errors(status: int) -> None:
    assert examine(ME, Reply(status, error="why")).status == "error"


def test_examine_no_answer() -> None:
    result = examine(ME, Reply(None, error="connection refused"))
    assert (result.status, result.http_status, result.reason) == (
        "error",
        None,
        "connection refused",
    )
    assert examine(ME, Reply(None)).reason == "no answer"


def test_first_record_id() -> None:
    def reply(body: object, status: int | None = 200) -> Reply:
        return Reply(status, msgspec.json.encode(body))

    assert first_record_id(reply(page({"id": 5}, {"id": ""}, "x", {"id": "b"}, {"id": "c"}))) == (
        "b"
    )
    assert first_record_id(reply(page())) is None
    assert first_record_id(reply(page({"id": "a"}), status=404)) is None
    assert first_record_id(reply(page({"id": "a"}), status=None)) is None
    assert first_record_id(reply(page({"id": "a"}), status=299)) == "a"
    assert first_record_id(reply(page({"id": "a"}), status=300)) is None
    assert first_record_id(reply({"data": {"id": "a"}})) is None
    assert first_record_id(reply({"data": None})) is None
    assert first_record_id(reply([1])) is None
    assert first_record_id(Reply(200, b"{")) is None


def test_probe_targets() -> None:
    by_id = Probe(f"{API}/posts/{{post_id}}", Envelope[Feed], needs="post_id")
    assert by_id.target({}) is None
    assert by_id.target({"post_id": "a b/c"}) == f"{API}/posts/a%20b%2Fc"
    assert ME.target({}) == f"{API}/api_key/me"
    assert [probe.path for probe in probes()] == ENDPOINTS
    assert dict(probes()[8].params) == {"q": "a", "per_page": "100"}
    assert dict(probes("word")[8].params) == {"q": "word", "per_page": "100"}
    assert skipped(by_id) == EndpointReport(
        method="GET",
        path=f"{API}/posts/{{post_id}}",
        model="Envelope[Feed]",
        status="not_checked",
        reason="no post_id: no list that gives one returned a record",
    )


def endpoint(status: str, http_status: int | None, **fields: Any) -> EndpointReport:
    return EndpointReport(
        method="GET",
        path="/p",
        model="M",
        status=status,  # type: ignore[arg-type]
        http_status=http_status,
        request=fields.pop("request", "/p"),
        **fields,
    )


def test_what_could_not_be_checked() -> None:
    refused = endpoint("error", 401, error_code="UNAUTHORIZED", reason="Bad key")
    report = build_report("https://h", [refused])
    assert report.could_not_check == "the API key was refused (401 UNAUTHORIZED Bad key)"
    assert report.exit_status == 2
    assert build_report("https://h", [endpoint("error", 401)]).could_not_check == (
        "the API key was refused (401)"
    )
    later = build_report("https://h", [endpoint("ok", 200), refused])
    assert later.could_not_check is None
    silent = [
        endpoint("error", None, reason="refused"),
        endpoint("not_checked", None, request=None),
        endpoint("error", None, reason="other"),
    ]
    assert build_report("https://h", silent).could_not_check == "no endpoint answered: refused"
    mute = [endpoint("error", None)]
    assert build_report("https://h", mute).could_not_check == "no endpoint answered: no answer"
    one_answer = [*silent, endpoint("error", 500)]
    assert build_report("https://h", one_answer).could_not_check is None
    assert build_report("https://h", []).could_not_check is None
    # Nothing could be checked outranks drift.
    drift = endpoint("drift", 200, drift=(DriftItem("null", "$", "M", "", 1),))
    assert build_report("https://h", [refused, drift]).exit_status == 2
    assert build_report("https://h", [endpoint("ok", 200), drift]).exit_status == 1
    assert build_report("https://h", [endpoint("ok", 200)]).exit_status == 0


def test_credentials_in_the_base_url_are_not_reported() -> None:
    assert build_report("https://u:pw@h.test:8443/x", []).base_url == "https://h.test:8443/x"
    assert build_report("https://u@h.test/x", []).base_url == "https://h.test/x"
    assert build_report("http://u:p@[::1]:80", []).base_url == "http://[::1]:80"
    assert build_report("https://h.test", []).base_url == "https://h.test"
    assert build_report("https://:pw@h.test", []).base_url == "https://h.test"
    assert build_report("https://u:p@", []).base_url == "https://"
    assert build_report("https://H.Test", []).base_url == "https://H.Test"  # untouched


def test_the_report_as_json_and_as_text() -> None:
    drift = (
        DriftItem("unknown_field", "$.data.new", "Feed", "", 2),
        DriftItem("null", "$.data.hosts", "CalendarEvent", "expected list[X]", 1),
    )
    report = Report(
        base_url="https://h",
        endpoints=(
            endpoint("drift", 200, needed_tolerant_path=True, drift=drift, request="/p?q=1"),
            endpoint("not_checked", 403, error_code="INSUFFICIENT_SCOPE", reason="no"),
            endpoint("not_checked", None, request=None, reason="no id"),
            endpoint("error", None, reason="refused"),
            endpoint("ok", 200),
        ),
    )
    assert report_to_builtins(report) == {
        "base_url": "https://h",
        "drift_found": True,
        "could_not_check": None,
        "endpoints": [
            {
                "method": "GET",
                "path": "/p",
                "request": "/p?q=1",
                "model": "M",
                "status": "drift",
                "http_status": 200,
                "error_code": None,
                "reason": None,
                "needed_tolerant_path": True,
                "drift": [
                    {
                        "kind": "unknown_field",
                        "path": "$.data.new",
                        "model": "Feed",
                        "detail": "",
                        "count": 2,
                    },
                    {
                        "kind": "null",
                        "path": "$.data.hosts",
                        "model": "CalendarEvent",
                        "detail": "expected list[X]",
                        "count": 1,
                    },
                ],
            },
            {
                "method": "GET",
                "path": "/p",
                "request": "/p",
                "model": "M",
                "status": "not_checked",
                "http_status": 403,
                "error_code": "INSUFFICIENT_SCOPE",
                "reason": "no",
                "needed_tolerant_path": False,
                "drift": [],
            },
            *report_to_builtins(report)["endpoints"][2:],
        ],
    }
    assert report_to_builtins(report)["endpoints"][2]["request"] is None
    assert format_report(report).splitlines() == [
        "Checking https://h against the models of this client",
        "DRIFT        GET /p?q=1  (typed decoding failed: needed the tolerant path)",
        "    unknown_field  $.data.new  Feed  (x2)",
        "    null           $.data.hosts  CalendarEvent: expected list[X]",
        "not checked  GET /p: 403 INSUFFICIENT_SCOPE no",
        "not checked  GET /p: no id",
        "ERROR        GET /p: refused",
        "ok           GET /p",
        "Drift found on 1 of 5 endpoints. (2 not checked, 1 failed)",
    ]
    clean = Report(base_url="https://h", endpoints=(endpoint("ok", 200), endpoint("ok", 200)))
    assert format_report(clean).splitlines()[-1] == ("No drift: 2 of 2 endpoints match the models.")
    assert report_to_builtins(clean)["drift_found"] is False
    plain = Report(base_url="https://h", endpoints=(endpoint("drift", 200, drift=drift[:1]),))
    assert format_report(plain).splitlines()[1] == "DRIFT        GET /p"
    stuck = Report(
        base_url="https://h",
        endpoints=(endpoint("error", None, reason="x"), endpoint("not_checked", 404)),
        could_not_check="nothing answered",
    )
    assert format_report(stuck).splitlines()[-1] == "Could not check the API: nothing answered."
    assert report_to_builtins(stuck)["could_not_check"] == "nothing answered"


# --- the fake server's drift switch -------------------------------------------------------------


async def get(fake: FakeTightknit, path: str, key: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key or fake.api_key}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(fake.url + API + path, headers=headers) as response,
    ):
        return response.status, await response.json()


async def test_the_drift_catalogue(drifting: FakeTightknit) -> None:
    _, events = await get(drifting, "/calendar_events?per_page=2")
    feed_id = next(iter(drifting.feeds))
    for path in ("/api_key/me", "/feeds", f"/feeds/{feed_id}", f"/feeds/{feed_id}/posts"):
        await get(drifting, path)
    event_id = events["data"]["records"][0]["id"]
    post_id = next(iter(drifting.posts))
    for path in (f"/calendar_events/{event_id}", f"/posts/{post_id}", "/search?q=a"):
        await get(drifting, path)
    rows = {
        (item.endpoint.removeprefix(API), item.path, item.kind) for item in drifting.drift.injected
    }
    page_rows = {("$.data.new_field_x", "unknown_field"), ("$.data.per_page", "null")}
    expected = {("/api_key/me", "$.data.new_field_x", "unknown_field")}
    expected.add(("/api_key/me", "$.data.community.new_field_x", "unknown_field"))
    for endpoint_path, record_rows in [
        (
            "/calendar_events",
            [("new_field_x", "unknown_field"), ("hosts", "null"), ("status", "enum")],
        ),
        ("/feeds", [("new_field_x", "unknown_field"), ("slack_channel_num_members", "type")]),
        (
            "/feeds/{feed_id}/posts",
            [("new_field_x", "unknown_field"), ("author.profile_id", "missing")],
        ),
        ("/search", [("new_field_x", "unknown_field"), ("author.profile_id", "missing")]),
    ]:
        expected |= {(endpoint_path, *row) for row in page_rows}
        expected |= {(endpoint_path, f"$.data.records[*].{f}", k) for f, k in record_rows}
    for endpoint_path, record_rows in [
        (
            "/calendar_events/{calendar_event_id}",
            [("new_field_x", "unknown_field"), ("hosts", "null"), ("status", "enum")],
        ),
        (
            "/feeds/{feed_id}",
            [("new_field_x", "unknown_field"), ("slack_channel_num_members", "type")],
        ),
        ("/posts/{post_id}", [("new_field_x", "unknown_field"), ("author.profile_id", "missing")]),
    ]:
        expected |= {(endpoint_path, f"$.data.{f}", k) for f, k in record_rows}
    assert rows == expected
    assert len(drifting.drift.injected) == len(expected)  # each change recorded once
    assert set(drifting.drift.endpoints) == {API + path for path, _, _ in expected}


async def test_drifted_replies(drifting: FakeTightknit) -> None:
    status, body = await get(drifting, "/calendar_events?per_page=3")
    assert status == 200
    data = body["data"]
    assert data[DRIFT_FIELD] == {"added": "by drift"}
    assert data["per_page"] is None
    assert data["page"] == 0
    assert len(data["records"]) == 3
    for record in data["records"]:
        assert record["hosts"] is None
        assert record["status"] == DRIFT_STATUS
        assert DRIFT_FIELD in record
        assert record["id"] in drifting.calendar_events  # ids kept
        assert record["speakers"] == msgspec.to_builtins(
            drifting.calendar_events[record["id"]].speakers
        )
    feed = next(iter(drifting.feeds.values()))
    _, body = await get(drifting, f"/feeds/{feed.id}")
    assert body["data"]["slack_channel_num_members"] == str(feed.slack_channel_num_members)
    assert body["data"]["id"] == feed.id
    post = next(iter(drifting.posts.values()))
    _, body = await get(drifting, f"/posts/{post.id}")
    assert "profile_id" not in body["data"]["author"]
    assert body["data"]["author"]["preferred_name"] == post.author.preferred_name
    assert body["data"]["author_profile_id"] == post.author_profile_id
    _, body = await get(drifting, "/api_key/me")
    assert body["data"]["community"][DRIFT_FIELD] == {"added": "by drift"}
    assert body["data"]["permissions"] == list(PERMISSIONS)


async def test_only_successful_gets_drift(drifting: FakeTightknit) -> None:
    status, body = await get(drifting, "/posts/nope")
    assert status == 404
    assert body == {"success": False, "error": "Post not found"}
    status, body = await get(drifting, "/search")  # q missing: 400
    assert status == 400
    assert DRIFT_FIELD not in body
    headers = {"Authorization": f"Bearer {drifting.api_key}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{drifting.url}{API}/members",
            json={"email": "new@example.com", "full_name": "New Member"},
            headers=headers,
        ) as response,
    ):
        created = await response.json()
    assert response.status == 201
    assert DRIFT_FIELD not in created["data"]["member"]
    assert drifting.drift.injected == []


async def test_drift_can_be_switched_live(fake: FakeTightknit) -> None:
    assert fake.drift.enabled is False
    _, body = await get(fake, "/feeds")
    assert DRIFT_FIELD not in body["data"]
    assert fake.drift.injected == []
    fake.drift.enabled = True
    _, body = await get(fake, "/feeds")
    assert body["data"]["per_page"] is None
    assert len(fake.drift.injected) == 4
    fake.drift.reset()
    assert fake.drift.injected == []
    assert fake.drift.enabled is True
    fake.drift.enabled = False
    _, body = await get(fake, "/feeds")
    assert body["data"]["per_page"] == 10
    assert fake.drift.injected == []


def test_drift_alter_leaves_other_shapes_alone() -> None:
    drift = Drift(True)
    assert drift.alter(f"{API}/members", {"data": {"id": "x"}}) is False
    assert drift.alter(f"{API}/feeds", [1]) is False
    assert drift.alter(f"{API}/feeds", {"data": None}) is False
    body: dict[str, Any] = {"data": {"records": [1, {"id": "f"}]}}
    assert drift.alter(f"{API}/feeds", body) is True
    assert body == {
        "data": {
            "records": [1, {"id": "f", DRIFT_FIELD: {"added": "by drift"}}],
            DRIFT_FIELD: {"added": "by drift"},
        }
    }
    # per_page and slack_channel_num_members absent: nothing recorded for them.
    assert [(item.path, item.kind) for item in drift.injected] == [
        ("$.data.new_field_x", "unknown_field"),
        ("$.data.records[*].new_field_x", "unknown_field"),
    ]
    bare_event: dict[str, Any] = {"data": {"id": "e"}}
    assert Drift(True).alter(f"{API}/calendar_events/{{calendar_event_id}}", bare_event) is True
    assert bare_event == {"data": {"id": "e", DRIFT_FIELD: {"added": "by drift"}}}
    bare_post: dict[str, Any] = {"data": {"id": "p", "author": {"name": "n"}}}
    Drift(True).alter(f"{API}/posts/{{post_id}}", bare_post)
    assert bare_post["data"]["author"] == {"name": "n"}
    flag: dict[str, Any] = {"data": {"slack_channel_num_members": True}}
    drift.alter(f"{API}/feeds/{{feed_id}}", flag)
    assert flag["data"]["slack_channel_num_members"] is True
    with pytest.raises(TypeError, match=r"^drift must be a bool, got 1$"):
        Drift(1)  # type: ignore[arg-type]
    assert Drift().enabled is False
    assert repr(drift) == "<Drift enabled=True injected=3>"


def test_serve_fake_takes_drift(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _parser().parse_args(["serve-fake"]).drift is False
    assert _parser().parse_args(["serve-fake", "--drift"]).drift is True
    calls: list[tuple[int, str, bool]] = []

    async def serve(port: int, host: str = "127.0.0.1", *, drift: bool = False) -> None:
        calls.append((port, host, drift))

    monkeypatch.setattr("tightknit_async.testing.serve_forever", serve)
    assert main(["serve-fake", "--drift", "--port", "9"]) == 0
    assert main(["serve-fake"]) == 0
    assert calls == [(9, "127.0.0.1", True), (8040, "127.0.0.1", False)]


async def test_serve_forever_with_drift(capsys: pytest.CaptureFixture[str]) -> None:
    from tightknit_async.testing import serve_forever

    task = asyncio.create_task(serve_forever(0, drift=True))
    printed = ""
    for _ in range(200):
        await asyncio.sleep(0.01)
        printed += capsys.readouterr().out
        if "TIGHTKNIT_API_KEY=" in printed:
            break
    try:
        settings = dict(
            line.split("=", 1) for line in printed.splitlines() if line.startswith("TIGHTKNIT_")
        )
        assert "--drift" in printed
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                settings["TIGHTKNIT_BASE_URL"] + API + "/api_key/me",
                headers={"Authorization": f"Bearer {settings['TIGHTKNIT_API_KEY']}"},
            ) as response,
        ):
            body = await response.json()
        assert body["data"][DRIFT_FIELD] == {"added": "by drift"}
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_deleting_an_event_does_not_drift(drifting: FakeTightknit) -> None:
    event_id = next(iter(drifting.calendar_events))
    headers = {"Authorization": f"Bearer {drifting.api_key}"}
    async with (
        aiohttp.ClientSession() as session,
        session.delete(f"{drifting.url}{API}/calendar_events/{event_id}", headers=headers) as reply,
    ):
        body = await reply.json()
    assert reply.status == 200
    assert body == {"success": True, "data": {"id": event_id}}
    assert drifting.drift.injected == []


def feeds_request(fake: FakeTightknit, method: str = "GET", endpoint: bool = True) -> web.Request:
    request = make_mocked_request(method, f"{API}/feeds", app=fake.app)
    feeds = next(e for e in ENDPOINT_TABLE if e.path == "/feeds" and e.method == "GET")
    request[EXCHANGE] = Exchange(
        arrived_at=0.0, endpoint=feeds if endpoint else None, idempotency_key=None
    )
    return request


@pytest.mark.parametrize(
    ("status", "content_type", "body", "method", "endpoint"),
    [
        (500, "application/json", b'{"data": {"records": []}}', "GET", True),
        (199, "application/json", b'{"data": {"records": []}}', "GET", True),
        (300, "application/json", b'{"data": {"records": []}}', "GET", True),
        (200, "text/plain", b'{"data": {"records": []}}', "GET", True),
        (200, "application/json", b'{"data": {"records": []', "GET", True),
        (200, "application/json", b'{"data": {"records": []}}', "GET", False),
        (200, "application/json", b'{"data": {"records": []}}', "POST", True),
    ],
)
async def test_the_middleware_leaves_other_replies_alone(
    status: int, content_type: str, body: bytes, method: str, endpoint: bool
) -> None:
    fake = FakeTightknit(drift=True)
    request = feeds_request(fake, method, endpoint)

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=body, content_type=content_type)

    response = await inject_drift(request, handler)
    assert isinstance(response, web.Response)
    assert response.body == body
    assert fake.drift.injected == []
    await fake.close()


@pytest.mark.parametrize("status", [200, 201, 299])
async def test_the_middleware_alters_2xx_json(status: int) -> None:
    fake = FakeTightknit(drift=True)

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"data": {"records": []}}, status=status)

    response = await inject_drift(feeds_request(fake), handler)
    assert isinstance(response, web.Response)
    assert isinstance(response.body, bytes)
    assert json.loads(response.body) == {
        "data": {"records": [], DRIFT_FIELD: {"added": "by drift"}}
    }
    fake.drift.enabled = False
    response = await inject_drift(feeds_request(fake), handler)
    assert isinstance(response, web.Response)
    assert response.body == b'{"data": {"records": []}}'
    await fake.close()
