"""``resource.with_raw_response.method(...)``: the reply behind every typed call."""

from __future__ import annotations

import uuid

import pytest

from tightknit_async import APIResponse, AsyncTightknit
from tightknit_async.models import CalendarEvent, Envelope, ListPage, MemberUpsert
from tightknit_async.testing import FakeTightknit, MockTransport, json_response
from tightknit_async.transport import Request, Response


async def test_a_typed_call_gives_its_reply(tk: AsyncTightknit, fake: FakeTightknit) -> None:
    response = await tk.members.with_raw_response.create(
        email="grace@example.com", full_name="Grace Hopper"
    )
    assert isinstance(response, APIResponse)
    assert response.status_code == 201
    assert response.method == "POST"
    assert response.path == "/admin/v0/members"
    assert response.idempotency_key is not None
    assert response.data["data"]["member"]["email"] == "grace@example.com"
    member = response.parse(Envelope[MemberUpsert]).data.member
    assert member.email == "grace@example.com"
    assert member.id in {m.id for m in fake.members.values()}


async def test_a_list_call_gives_its_first_page(tk: AsyncTightknit) -> None:
    response = await tk.calendar_events.with_raw_response.list(time_filter="all", per_page=2)
    assert response.status_code == 200
    assert response.data["data"]["page"] == 0
    page = response.parse(Envelope[ListPage[CalendarEvent]]).data
    assert len(page.records) == 2
    assert page.has_next is True


async def test_a_method_without_a_result_gives_its_reply(
    tk: AsyncTightknit, fake: FakeTightknit
) -> None:
    member = await tk.members.create(email="ada@example.com", full_name="Ada Lovelace")
    response = await tk.members.with_raw_response.deactivate(member.member.id)
    assert response.status_code == 200
    assert response.path == f"/admin/v0/members/{member.member.id}/deactivate"


async def test_fields_the_model_does_not_know_stay_readable() -> None:
    body = {"success": True, "data": {"id": "k1", "brand_new": {"x": 1}}}

    def answer(request: Request) -> Response:
        return json_response(200, body)

    async with AsyncTightknit(
        api_key="sk_test_raw_0123456789", transport=MockTransport(answer), rate_limit=None
    ) as tk:
        info = await tk.api_key.me()
        response = await tk.api_key.with_raw_response.me()
    assert info.id == "k1"
    assert response.data["data"]["brand_new"] == {"x": 1}


async def test_errors_still_raise_and_nothing_leaks_between_calls(tk: AsyncTightknit) -> None:
    from tightknit_async import NotFoundError

    with pytest.raises(NotFoundError):
        await tk.feeds.with_raw_response.retrieve(str(uuid.uuid4()))
    feed = (await tk.feeds.list()).records[0]
    response = await tk.feeds.with_raw_response.retrieve(feed.id)
    assert response.data["data"]["id"] == feed.id


def test_private_and_unknown_names_are_refused(tk: AsyncTightknit) -> None:
    with pytest.raises(AttributeError, match="has no method '_send'"):
        _ = tk.members.with_raw_response._send
    with pytest.raises(AttributeError, match="has no method 'nope'"):
        _ = tk.members.with_raw_response.nope
    assert repr(tk.members.with_raw_response) == "<RawResponses of MembersResource>"
