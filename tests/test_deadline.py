"""``deadline=``: one bound on everything a call spends (queue, attempts, backoff), failing fast."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tightknit_async import (
    AsyncTightknit,
    DeadlineExceededError,
    GovernorTimeoutError,
    InternalServerError,
    TightknitError,
)
from tightknit_async.testing import MockTransport, json_response
from tightknit_async.transport import Request, Response

from .conftest import FakeClock


def unique_key() -> str:
    return f"sk_test_deadline_{uuid.uuid4().hex}"


def ok(request: Request) -> Response:
    return json_response(200, {"success": True, "data": {"records": []}})


async def test_a_call_that_cannot_get_a_slot_in_time_raises_at_once() -> None:
    transport = MockTransport(ok)
    async with AsyncTightknit(api_key=unique_key(), transport=transport, rate_limit=50) as tk:
        queued = [asyncio.ensure_future(tk.request("GET", "/admin/v0/feeds")) for _ in range(150)]
        await asyncio.sleep(0)
        with pytest.raises(GovernorTimeoutError) as caught:
            await tk.request("GET", "/admin/v0/feeds", deadline=1.0)
        sent_by_then = len(transport.requests)
        for call in queued:
            call.cancel()
        await asyncio.gather(*queued, return_exceptions=True)
    error = caught.value
    assert isinstance(error, DeadlineExceededError)
    assert isinstance(error, TimeoutError)
    assert isinstance(error, TightknitError)
    # Raised at once: waiting out the second would have let about 50 more through first.
    assert sent_by_then < 20
    message = str(error)
    assert message.startswith("GET /admin/v0/feeds: no send slot within the call's deadline of 1s")
    assert "deadline=" in message
    assert "priority='bulk'" in message  # what to change, for an interactive call
    assert error.wait > 1.0


async def test_the_client_default_applies_and_a_call_overrides_it(fake_clock: FakeClock) -> None:
    transport = MockTransport(lambda _: json_response(503, None, {"Retry-After": "20"}))
    async with AsyncTightknit(
        api_key=unique_key(),
        transport=transport,
        rate_limit=None,
        max_retries=10,
        deadline=45,
        clock=fake_clock,
    ) as tk:
        with pytest.raises(DeadlineExceededError):
            await tk.request("GET", "/admin/v0/feeds")
        assert len(transport.requests) == 3  # t = 0, 20, 40
        with pytest.raises(DeadlineExceededError) as caught:
            await tk.request("GET", "/admin/v0/feeds", deadline=25)
        assert len(transport.requests) == 5  # t = 0, 20
        assert caught.value.deadline == 25
        with pytest.raises(InternalServerError):  # no deadline: the attempts bound it
            await tk.request("GET", "/admin/v0/feeds", deadline=None, max_retries=1)
        assert len(transport.requests) == 7


async def test_every_resource_method_takes_a_deadline(fake_clock: FakeClock) -> None:
    transport = MockTransport(lambda _: json_response(503, None, {"Retry-After": "20"}))
    async with AsyncTightknit(
        api_key=unique_key(),
        transport=transport,
        rate_limit=None,
        max_retries=10,
        clock=fake_clock,
    ) as tk:
        with pytest.raises(DeadlineExceededError):
            await tk.feeds.list(deadline=30)
        with pytest.raises(DeadlineExceededError):
            await tk.members.create(email="ada@example.com", full_name="Ada L", deadline=30)
    assert len(transport.requests) == 4


async def test_the_deadline_clips_each_attempts_timeout(fake_clock: FakeClock) -> None:
    transport = MockTransport(ok)
    key = unique_key()
    async with AsyncTightknit(
        api_key=key, transport=transport, rate_limit=None, timeout=30, clock=fake_clock
    ) as tk:
        await tk.request("GET", "/admin/v0/feeds", deadline=2.5)
    first = transport.requests[0]
    assert first.timeout.total == 2.5
    assert first.timeout.connect == 10.0  # only the total is clipped
    assert first.headers["X-Tightknit-Attempt"] == "1"
    assert first.headers["Authorization"] == f"Bearer {key}"


def test_deadline_and_retry_deadline_cannot_disagree() -> None:
    with pytest.raises(ValueError, match="not both"):
        AsyncTightknit(api_key=unique_key(), deadline=5, retry_deadline=10)
    tk = AsyncTightknit(api_key=unique_key(), retry_deadline=10)
    assert tk.retry_policy.deadline == 10
    assert AsyncTightknit(api_key=unique_key(), deadline=None).retry_policy.deadline is None


async def test_under_bulk_saturation_an_interactive_call_goes_first_and_a_bulk_one_fails_fast() -> (
    None
):
    transport = MockTransport(ok)
    async with AsyncTightknit(api_key=unique_key(), transport=transport, rate_limit=50) as tk:
        bulk = [
            asyncio.ensure_future(tk.request("GET", "/admin/v0/feeds", priority="bulk"))
            for _ in range(150)
        ]
        await asyncio.sleep(0)
        response = await tk.request("GET", "/admin/v0/posts/abcdefghijkl", deadline=1.0)
        sent_before_it = [r.path for r in transport.requests].index("/admin/v0/posts/abcdefghijkl")
        with pytest.raises(GovernorTimeoutError) as caught:
            await tk.request("GET", "/admin/v0/feeds", priority="bulk", deadline=1.0)
        sent_by_then = len(transport.requests)
        for call in bulk:
            call.cancel()
        await asyncio.gather(*bulk, return_exceptions=True)
    assert response.status_code == 200
    # The interactive call took the next free slot: a few bulk requests (the cold-start burst)
    # went before it, not the 150 queued.
    assert sent_before_it < 60
    assert sent_by_then < 80  # the bulk call raised at once, without waiting out its second
    assert "(bulk lane)" in str(caught.value)
    assert "priority='interactive'" in str(caught.value)
