"""One call, one way: replies the same live or replayed, scoped by server, and no stray tasks."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from tightknit_async import AsyncTightknit
from tightknit_async.idempotency import MemoryIdempotencyStore
from tightknit_async.testing import FakeTightknit, MockTransport
from tightknit_async.transport import Request, Response

KEY = "sk_test_pipeline_0123456789abcdef"
BODY = {"email": "ada@example.com", "full_name": "Ada Lovelace"}


def with_cookies(request: Request) -> Response:
    headers = CIMultiDict(
        [
            ("Content-Type", "application/json"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("X-Request-Id", "req_live"),
        ]
    )
    return Response(201, CIMultiDictProxy(headers), b'{"success": true}')


async def test_a_replay_has_the_same_headers_as_the_live_reply() -> None:
    transport = MockTransport(with_cookies)
    key = str(uuid.uuid4())
    async with AsyncTightknit(
        api_key=KEY,
        transport=transport,
        rate_limit=None,
        idempotency_store=MemoryIdempotencyStore(),
    ) as tk:
        live = await tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
        replay = await tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
    assert len(transport.requests) == 1
    assert (live.replayed, replay.replayed) == (False, True)
    assert type(replay.headers) is type(live.headers) is CIMultiDictProxy
    for response in (live, replay):
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["content-type"] == "application/json"
        assert response.headers.getall("Set-Cookie") == ["a=1", "b=2"]
        assert response.request_id == "req_live"
    assert list(replay.headers.items()) == list(live.headers.items())
    assert replay.content == live.content
    assert replay.status_code == live.status_code == 201


async def test_a_plain_dict_of_headers_becomes_the_same_multidict() -> None:
    transport = MockTransport(lambda _: Response(200, {"x-request-id": "r1"}, b"{}"))
    async with AsyncTightknit(api_key=KEY, transport=transport, rate_limit=None) as tk:
        response = await tk.request("GET", "/admin/v0/feeds")
    assert isinstance(response.headers, CIMultiDictProxy)
    assert response.headers["X-Request-ID"] == "r1"


async def test_two_servers_behind_one_key_never_share_a_reply() -> None:
    store = MemoryIdempotencyStore()
    key = str(uuid.uuid4())
    async with FakeTightknit(rate_limit=None) as first, FakeTightknit(rate_limit=None) as second:
        secret = first.api_key
        second.add_key(key=secret, name="same key, other server")
        for server in (first, second):
            async with AsyncTightknit(
                api_key=secret, base_url=server.url, rate_limit=None, idempotency_store=store
            ) as tk:
                response = await tk.request(
                    "POST", "/admin/v0/members", json=BODY, idempotency_key=key
                )
            assert response.replayed is False
            assert response.status_code == 201
        assert len(first.ledger) == 1
        assert len(second.ledger) == 1  # the POST reached the second server too


async def test_every_fake_server_has_its_own_default_key() -> None:
    async with FakeTightknit() as one, FakeTightknit() as two:
        assert one.api_key != two.api_key


class Held:
    """A transport that holds every request until released, then answers 201."""

    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.count = 0

    async def __call__(self, request: Request) -> Response:
        self.count += 1
        self.arrived.set()
        await self.release.wait()
        return Response(201, {"content-type": "application/json"}, b'{"n": %d}' % self.count)


def client(transport: MockTransport) -> AsyncTightknit:
    return AsyncTightknit(
        api_key=KEY,
        transport=transport,
        rate_limit=None,
        idempotency_store=MemoryIdempotencyStore(),
    )


async def test_single_flight_creates_no_task_of_its_own() -> None:
    held = Held()
    before = asyncio.all_tasks()
    async with client(MockTransport(held)) as tk:
        key = str(uuid.uuid4())
        callers = [
            asyncio.ensure_future(
                tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
            )
            for _ in range(5)
        ]
        await held.arrived.wait()
        assert asyncio.all_tasks() - before == set(callers)
        held.release.set()
        responses = await asyncio.gather(*callers)
    assert held.count == 1
    assert {r.data["n"] for r in responses} == {1}
    assert asyncio.all_tasks() - before == set()


async def test_cancelling_a_waiter_leaves_the_run_alone() -> None:
    held = Held()
    async with client(MockTransport(held)) as tk:
        key = str(uuid.uuid4())
        first = asyncio.ensure_future(
            tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
        )
        await held.arrived.wait()
        second = asyncio.ensure_future(
            tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
        )
        third = asyncio.ensure_future(
            tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
        )
        await asyncio.sleep(0)
        second.cancel()
        held.release.set()
        assert (await first).data == {"n": 1}
        assert (await third).data == {"n": 1}
    assert second.cancelled()
    assert held.count == 1


async def test_when_the_first_caller_is_cancelled_a_waiter_runs_the_call_again() -> None:
    held = Held()
    async with client(MockTransport(held)) as tk:
        key = str(uuid.uuid4())
        first = asyncio.ensure_future(
            tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
        )
        await held.arrived.wait()
        others = [
            asyncio.ensure_future(
                tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
            )
            for _ in range(3)
        ]
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.sleep(0)
        held.release.set()
        responses = await asyncio.gather(*others)
    assert first.cancelled()
    assert held.count == 2  # the abandoned request, and one run again with the same key
    assert {r.data["n"] for r in responses} == {2}
    assert {r.idempotency_key for r in responses} == {key}


@pytest.mark.parametrize(
    ("option", "sends_key"),
    [({}, True), ({"idempotency_key": None}, True), ({"idempotency_key": False}, False)],
)
async def test_false_is_the_one_spelling_of_no_key(
    option: dict[str, object], sends_key: bool
) -> None:
    transport = MockTransport(lambda _: Response(201, {}, b"{}"))
    async with AsyncTightknit(
        api_key=KEY,
        transport=transport,
        rate_limit=None,
        idempotency_store=MemoryIdempotencyStore(),
    ) as tk:
        response = await tk.request("POST", "/admin/v0/members", json=BODY, **option)  # type: ignore[arg-type]
    sent = transport.requests[0].headers.get("Idempotency-Key")
    assert (sent is not None) is sends_key
    assert response.idempotency_key == sent
