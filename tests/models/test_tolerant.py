"""Replies that do not fit their model: decoded tolerantly by default, refused in strict mode."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tightknit_async import AsyncTightknit, ResponseValidationError, TightknitError
from tightknit_async.models import (
    ApiKeyInfo,
    CalendarEvent,
    Envelope,
    Feed,
    ListPage,
    MemberUpsert,
    Post,
    decode,
)
from tightknit_async.models._tolerant import (
    Deviation,
    deviations,
    reset_warnings,
    tolerant_convert,
    warn_once,
)
from tightknit_async.testing import MockTransport, json_response
from tightknit_async.transport import Request, Response

from .test_recorded import body_of

KEY = "sk_test_tolerant_SECRET_0123456789"
EVENTS = Envelope[ListPage[CalendarEvent]]


@pytest.fixture(autouse=True)
def _fresh_warnings() -> Iterator[None]:
    reset_warnings()
    yield
    reset_warnings()


def events_page() -> dict[str, Any]:
    return body_of("calendar_events_list")


# -- deviations ------------------------------------------------------------------------------------


def test_a_recorded_reply_has_no_deviation() -> None:
    for name, type_ in [
        ("calendar_events_list", EVENTS),
        ("calendar_events_get", Envelope[CalendarEvent]),
        ("feeds_list", Envelope[ListPage[Feed]]),
        ("feeds_get", Envelope[Feed]),
        ("feeds_posts", Envelope[ListPage[Post]]),
    ]:
        assert deviations(type_, body_of(name)) == [], name


def test_each_kind_is_named_with_its_model_and_path() -> None:
    body = events_page()
    record = body["data"]["records"][0]
    record["hosts"] = None
    record["status"] = "cancelled"
    record["attendees_count"] = "many"
    del record["id"]
    record["brand_new"] = 1
    body["data"]["per_page"] = None
    found = deviations(EVENTS, body, unknown_fields=True)
    assert {(d.model, d.path, d.kind) for d in found} == {
        ("CalendarEvent", "$.data.records[*].id", "missing"),
        ("CalendarEvent", "$.data.records[*].status", "enum"),
        ("CalendarEvent", "$.data.records[*].hosts", "null"),
        ("CalendarEvent", "$.data.records[*].attendees_count", "type"),
        ("CalendarEvent", "$.data.records[*].brand_new", "unknown_field"),
        ("ListPage", "$.data.per_page", "null"),
    }
    enum = next(d for d in found if d.kind == "enum")
    assert enum.detail == "new value 'cancelled'"
    assert str(enum) == "CalendarEvent $.data.records[*].status: enum (new value 'cancelled')"


def test_unknown_fields_are_listed_only_when_asked() -> None:
    body = events_page()
    body["data"]["records"][0]["brand_new"] = 1
    assert deviations(EVENTS, body) == []
    assert [d.kind for d in deviations(EVENTS, body, unknown_fields=True)] == ["unknown_field"]


def test_a_null_where_the_model_allows_one_is_no_deviation() -> None:
    body = events_page()
    body["data"]["records"][0]["location"] = None
    body["data"]["records"][0]["tags"] = None
    assert deviations(EVENTS, body) == []


# -- tolerant decoding -----------------------------------------------------------------------------


def test_nulls_and_missing_fields_take_defaults_and_empty_values() -> None:
    body = events_page()
    first = body["data"]["records"][0]
    first["hosts"] = None
    first["show_end_date"] = None
    first["allow_public_guest_list"] = None
    first["reminders_config"] = [{"minutes": None}, None, {"minutes": 30}]
    del first["id"]
    body["data"]["page"] = None
    body["data"]["total_pages"] = "three"
    page, found = tolerant_convert(EVENTS, body)
    event = page.data.records[0]
    assert event.id == ""
    assert event.hosts == []
    assert event.show_end_date is True  # the model's default
    assert event.allow_public_guest_list is False
    assert [r.minutes for r in event.reminders_config] == [0, 30]  # the null item is dropped
    assert page.data.page == 0
    assert page.data.total_pages == 0
    assert len(found) == 8
    expected = decode(EVENTS, json.dumps(events_page()))
    assert page.data.records[1:] == expected.data.records[1:]
    assert event.title == expected.data.records[0].title


def test_a_missing_required_payload_gives_an_empty_one() -> None:
    page, found = tolerant_convert(EVENTS, {"success": True, "data": {"page": 0}})
    assert page.data.records == []
    assert [(d.path, d.kind) for d in found] == [("$.data.records", "missing")]
    upsert, _ = tolerant_convert(Envelope[MemberUpsert], {"success": True, "data": {}})
    assert upsert.data.member.id == ""
    assert upsert.data.member.email is None


def test_lax_conversions_keep_the_value() -> None:
    body = events_page()
    body["data"]["records"][0]["attendees_count"] = "12"
    body["data"]["records"][0]["is_unlisted"] = "true"
    body["data"]["records"][0]["title"] = 42
    page, found = tolerant_convert(EVENTS, body)
    event = page.data.records[0]
    assert (event.attendees_count, event.is_unlisted, event.title) == (12, True, "42")
    assert {d.kind for d in found} == {"type"}


def test_a_body_that_is_not_an_object_gives_an_empty_model() -> None:
    info, found = tolerant_convert(Envelope[ApiKeyInfo], [1, 2])
    assert info.data == ApiKeyInfo()
    assert found[0].kind == "type"
    assert found[0].detail == "expected object, got array"


def test_an_unreadable_timestamp_becomes_none() -> None:
    body = events_page()
    body["data"]["records"][0]["created_at"] = "yesterday"
    page, found = tolerant_convert(EVENTS, body)
    assert page.data.records[0].created_at is None
    assert [(d.path, d.kind) for d in found] == [("$.data.records[*].created_at", "type")]


# -- warnings --------------------------------------------------------------------------------------


def test_one_warning_per_model_path_and_kind(caplog: pytest.LogCaptureFixture) -> None:
    null_hosts = Deviation(model="CalendarEvent", path="$.data.hosts", kind="null", detail="x")
    missing = Deviation(model="CalendarEvent", path="$.data.hosts", kind="missing")
    with caplog.at_level(logging.WARNING, logger="tightknit_async"):
        warn_once([null_hosts, null_hosts, missing], where="GET /admin/v0/x")
        warn_once([null_hosts], where="GET /admin/v0/y")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("GET /admin/v0/x: the reply does not fit CalendarEvent at ")
    assert "$.data.hosts (null: x)" in lines[0]
    assert "$.data.hosts (missing)" in lines[1]
    assert all(r.levelno == logging.WARNING for r in caplog.records)


# -- through the client ----------------------------------------------------------------------------


def serving(body: object, status: int = 200) -> MockTransport:
    def answer(request: Request) -> Response:
        return json_response(status, body, {"x-request-id": "req_123"})

    return MockTransport(answer)


async def test_a_drifted_reply_is_returned_and_warned_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = events_page()
    for record in body["data"]["records"]:
        record["hosts"] = None
        record["email_of_host"] = "secret@example.com"
    body["data"]["per_page"] = None
    async with AsyncTightknit(api_key=KEY, transport=serving(body), rate_limit=None) as tk:
        with caplog.at_level(logging.WARNING, logger="tightknit_async"):
            page = await tk.calendar_events.list()
            again = await tk.calendar_events.list()
    assert [event.hosts for event in page.records] == [[]] * len(page.records)
    assert page.records == again.records
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # hosts null, per_page null: once each, whatever the count
    assert any("CalendarEvent at $.data.records[*].hosts (null" in w for w in warnings)
    assert all(w.startswith("GET /admin/v0/calendar_events: ") for w in warnings)
    text = caplog.text
    assert "secret@example.com" not in text
    assert body["data"]["records"][0]["title"] not in text  # never the body
    assert KEY not in text


async def test_strict_mode_raises_naming_model_path_status_and_request_id() -> None:
    body = events_page()
    body["data"]["records"][1]["hosts"] = None
    transport = serving(body)
    async with AsyncTightknit(
        api_key=KEY, transport=transport, rate_limit=None, strict_responses=True
    ) as tk:
        with pytest.raises(ResponseValidationError) as caught:
            await tk.calendar_events.list()
    error = caught.value
    assert isinstance(error, TightknitError)
    assert error.model == "CalendarEvent"
    assert error.json_path == "$.data.records[1].hosts"
    assert error.status_code == 200
    assert error.request_id == "req_123"
    assert error.reason == "null: expected list[ProfileSummary]"
    assert (error.method, error.path) == ("GET", "/admin/v0/calendar_events")
    message = str(error)
    assert "CalendarEvent" in message
    assert "$.data.records[1].hosts" in message
    assert "req_123" in message
    assert "strict_responses=True" in message
    assert KEY not in message + repr(error)


async def test_strict_mode_names_a_missing_required_field() -> None:
    body = {"success": True, "data": {"message": "ok"}}
    async with AsyncTightknit(
        api_key=KEY, transport=serving(body, 201), rate_limit=None, strict_responses=True
    ) as tk:
        with pytest.raises(ResponseValidationError) as caught:
            await tk.members.create(email="ada@example.com", full_name="Ada Lovelace")
    assert caught.value.model == "MemberUpsert"
    assert caught.value.json_path == "$.data"
    assert caught.value.reason == "missing: expected Member"
    assert caught.value.status_code == 201


async def test_strict_mode_accepts_unknown_fields_new_enums_and_both_timestamp_forms() -> None:
    body = events_page()
    record = body["data"]["records"][0]
    record["status"] = "cancelled"
    record["never_seen"] = {"nested": [1, 2]}
    record["created_at"] = "2025-03-11 13:06:35.552988+00"
    async with AsyncTightknit(
        api_key=KEY, transport=serving(body), rate_limit=None, strict_responses=True
    ) as tk:
        page = await tk.calendar_events.list()
    assert page.records[0].status == "cancelled"
    assert page.records[0].created_at is not None
    assert page.records[0].created_at.utcoffset() is not None


def test_strict_responses_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="strict_responses must be a bool"):
        AsyncTightknit(api_key=KEY, strict_responses="yes")  # type: ignore[arg-type]


async def test_a_page_without_totals_is_followed_by_has_next() -> None:
    pages = {
        0: {"records": [{"id": "a"}], "page": 0, "has_next": True, "total_pages": None},
        1: {"records": [{"id": "b"}], "page": 1, "has_next": True},
        2: {"records": [{"id": "c"}], "page": 2, "has_next": False},
    }

    def answer(request: Request) -> Response:
        query = dict(part.split("=") for part in request.url.partition("?")[2].split("&"))
        number = int(query.get("page", "0"))
        return json_response(200, {"success": True, "data": pages[number]})

    transport = MockTransport(answer)
    async with AsyncTightknit(api_key=KEY, transport=transport, rate_limit=None) as tk:
        ids = [event.id async for event in tk.calendar_events.list(concurrency=4)]
    assert ids == ["a", "b", "c"]
    assert len(transport.requests) == 3
