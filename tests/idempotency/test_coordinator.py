"""Single-flight, binding and replay, through the client against a MockTransport."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import msgspec
import pytest

from tightknit_async import (
    APIStatusError,
    AsyncTightknit,
    BadRequestError,
    IdempotencyKeyError,
    InternalServerError,
)
from tightknit_async.idempotency import (
    Begun,
    Busy,
    CachedReply,
    Claimed,
    MemoryIdempotencyStore,
)
from tightknit_async.idempotency._coordinator import request_fingerprint
from tightknit_async.testing import MockTransport, json_response
from tightknit_async.transport import Request, Response

from ..conftest import TEST_KEY, FakeClock

BODY = {"email": "a@b.co", "full_name": "Ada Lovelace"}


class Gate:
    """A transport handler that holds every request until released, counting them."""

    def __init__(self, response: Response | None = None) -> None:
        self.release = asyncio.Event()
        self.arrived = asyncio.Event()
        self.count = 0
        self.response = response or json_response(201, {"success": True, "data": {"id": "m1"}})

    async def __call__(self, request: Request) -> Response:
        self.count += 1
        self.arrived.set()
        await self.release.wait()
        return self.response


def make(transport: MockTransport, *, key: str = TEST_KEY, **kwargs: object) -> AsyncTightknit:
    kwargs.setdefault("idempotency_store", MemoryIdempotencyStore())
    return AsyncTightknit(api_key=key, transport=transport, rate_limit=None, **kwargs)  # type: ignore[arg-type]


async def test_thousand_concurrent_calls_with_one_key_send_one_request() -> None:
    gate = Gate()
    transport = MockTransport(gate)
    key = str(uuid.uuid4())
    async with make(transport) as tk:
        calls = [
            asyncio.ensure_future(
                tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
            )
            for _ in range(1000)
        ]
        await gate.arrived.wait()
        await asyncio.sleep(0)
        gate.release.set()
        responses = await asyncio.gather(*calls)
        assert gate.count == 1
        assert {r.status_code for r in responses} == {201}
        assert all(r.idempotency_key == key for r in responses)
        again = await tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
    assert gate.count == 1  # answered from the replay cache
    assert again.replayed is True
    assert again.attempts == 0
    assert again.data == {"success": True, "data": {"id": "m1"}}
    assert tk.statistics().replayed == 1


async def test_cancelling_a_waiter_does_not_cancel_the_request() -> None:
    gate = Gate()
    transport = MockTransport(gate)
    key = str(uuid.uuid4())
    async with make(transport) as tk:
        first = asyncio.ensure_future(
            tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
        )
        await gate.arrived.wait()
        others = [
            asyncio.ensure_future(
                tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
            )
            for _ in range(3)
        ]
        await asyncio.sleep(0)
        others[0].cancel()
        await asyncio.sleep(0)
        gate.release.set()
        results = await asyncio.gather(first, *others[1:])
        assert others[0].cancelled()
    assert [r.status_code for r in results] == [201, 201, 201]
    assert gate.count == 1


async def test_an_error_reaches_every_waiter_and_a_final_4xx_is_replayed() -> None:
    gate = Gate(json_response(400, {"success": False, "error": "email is invalid"}))
    transport = MockTransport(gate)
    key = str(uuid.uuid4())
    async with make(transport) as tk:
        calls = [
            asyncio.ensure_future(
                tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
            )
            for _ in range(5)
        ]
        await gate.arrived.wait()
        gate.release.set()
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, BadRequestError) for r in results)
        with pytest.raises(BadRequestError) as info:
            await tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
    assert info.value.replayed is True
    assert gate.count == 1


async def test_server_errors_are_not_cached(fake_clock: FakeClock) -> None:
    transport = MockTransport(lambda _: json_response(503))
    key = str(uuid.uuid4())
    async with make(transport, max_retries=0, clock=fake_clock) as tk:
        for _ in range(2):
            with pytest.raises(InternalServerError):
                await tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
    assert len(transport.requests) == 2


async def test_key_reused_with_another_body_is_refused_unsent() -> None:
    gate = Gate()
    transport = MockTransport(gate)
    key = str(uuid.uuid4())
    async with make(transport) as tk:
        first = asyncio.ensure_future(
            tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
        )
        await gate.arrived.wait()
        with pytest.raises(IdempotencyKeyError, match="different request"):  # while in flight
            await tk.request("POST", "/admin/v0/members", json={"other": 1}, idempotency_key=key)
        gate.release.set()
        await first
        with pytest.raises(IdempotencyKeyError):  # after completion
            await tk.request("POST", "/admin/v0/members", json={"other": 1}, idempotency_key=key)
        with pytest.raises(IdempotencyKeyError):  # another path
            await tk.request("POST", "/admin/v0/other", json=BODY, idempotency_key=key)
        with pytest.raises(IdempotencyKeyError):  # another method
            await tk.request("PUT", "/admin/v0/members", json=BODY, idempotency_key=key)
    assert gate.count == 1


async def test_key_reuse_is_refused_even_after_an_uncached_failure(fake_clock: FakeClock) -> None:
    transport = MockTransport(lambda _: json_response(503))
    key = str(uuid.uuid4())
    async with make(transport, max_retries=0, clock=fake_clock) as tk:
        with pytest.raises(InternalServerError):
            await tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
        with pytest.raises(IdempotencyKeyError):
            await tk.request("POST", "/admin/v0/members", json={"x": 2}, idempotency_key=key)
    assert len(transport.requests) == 1


async def test_replies_are_scoped_per_api_key() -> None:
    transport = MockTransport(lambda _: json_response(201, {"ok": True}))
    store = MemoryIdempotencyStore()
    key = str(uuid.uuid4())
    async with (
        make(transport, key="sk_tenant_a", idempotency_store=store) as a,
        make(transport, key="sk_tenant_b", idempotency_store=store) as b,
    ):
        first = await a.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
        other = await b.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
        replay = await a.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
    assert (first.replayed, other.replayed, replay.replayed) == (False, False, True)
    assert len(transport.requests) == 2


async def test_clients_of_one_api_key_share_single_flight() -> None:
    gate = Gate()
    transport = MockTransport(gate)
    store = MemoryIdempotencyStore()
    key = str(uuid.uuid4())
    async with (
        make(transport, idempotency_store=store) as one,
        make(transport, idempotency_store=store) as two,
    ):
        calls = [
            asyncio.ensure_future(
                c.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
            )
            for c in (one, two, one, two)
        ]
        await gate.arrived.wait()
        gate.release.set()
        await asyncio.gather(*calls)
    assert gate.count == 1


async def test_server_replay_is_surfaced_and_cached_without_its_marker() -> None:
    transport = MockTransport(
        lambda _: json_response(200, {"ok": 1}, {"X-Idempotent-Replayed": "true"})
    )
    store = MemoryIdempotencyStore()
    key = str(uuid.uuid4())
    async with make(transport, idempotency_store=store) as tk:
        response = await tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
    assert response.replayed is True
    cached = await store.get(tk._scope, key)
    assert cached is not None
    assert "x-idempotent-replayed" not in cached.headers


async def test_409_in_flight_waits_retry_after_and_resends_the_same_key(
    fake_clock: FakeClock,
) -> None:
    answers = [json_response(409, {"error": "in flight"}, {"Retry-After": "2"})] * 3
    answers.append(json_response(201, {"ok": 1}))
    transport = MockTransport(lambda _: answers.pop(0))
    key = str(uuid.uuid4())
    async with make(transport, clock=fake_clock) as tk:
        response = await tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
    assert response.attempts == 4
    assert {r.headers["Idempotency-Key"] for r in transport.requests} == {key}
    assert len(fake_clock.sleeps) == 3
    assert all(2.0 <= s <= 2.4 for s in fake_clock.sleeps)


async def test_minted_keys_skip_the_store() -> None:
    transport = MockTransport(lambda _: json_response(201, {"ok": 1}))
    store = MemoryIdempotencyStore()
    async with make(transport, idempotency_store=store) as tk:
        for _ in range(10):
            await tk.request("POST", "/admin/v0/members", json=BODY)
    stats = store.statistics()
    assert (stats.replies, stats.bindings, stats.hits, stats.misses) == (0, 0, 0, 0)
    assert len(transport.requests) == 10


async def test_safe_methods_never_carry_a_key_or_touch_the_store() -> None:
    transport = MockTransport(lambda _: json_response(200, {"ok": 1}))
    store = MemoryIdempotencyStore()
    async with make(transport, idempotency_store=store) as tk:
        await tk.request("GET", "/admin/v0/feeds")
        await tk.request("GET", "/admin/v0/feeds")
    assert all("Idempotency-Key" not in r.headers for r in transport.requests)
    assert store.statistics().misses == 0


class HeldElsewhere(MemoryIdempotencyStore):
    """A store where another process holds every key, and may or may not deliver its reply."""

    def __init__(self, reply: CachedReply | None) -> None:
        super().__init__()
        self.reply = reply
        self.waits: list[float | None] = []
        self.released = 0

    async def begin(self, scope: str, key: str, fingerprint: str) -> Begun:
        return Busy()

    async def wait(self, scope: str, key: str, max_wait: float | None) -> CachedReply | None:
        self.waits.append(max_wait)
        return self.reply


async def test_a_key_held_by_another_process_is_answered_with_its_reply() -> None:
    transport = MockTransport(lambda _: json_response(201, {"ok": 1}))
    key = str(uuid.uuid4())
    fingerprint = request_fingerprint("POST", "/admin/v0/members", msgspec.json.encode(BODY))
    store = HeldElsewhere(
        CachedReply(201, {"content-type": "application/json"}, b'{"x":1}', fingerprint)
    )
    async with make(transport, idempotency_store=store) as tk:
        response = await tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
    assert transport.requests == []
    assert response.replayed is True
    assert response.data == {"x": 1}
    (max_wait,) = store.waits
    assert max_wait is not None
    assert 0 < max_wait <= 60  # the call's own deadline bounds the wait


async def test_when_the_other_process_delivers_nothing_the_call_is_sent() -> None:
    transport = MockTransport(lambda _: json_response(201, {"ok": 1}))
    store = HeldElsewhere(None)
    async with make(transport, idempotency_store=store) as tk:
        response = await tk.request(
            "POST", "/admin/v0/members", json=BODY, idempotency_key=str(uuid.uuid4())
        )
    assert len(transport.requests) == 1
    assert response.replayed is False


class CountingClaims(MemoryIdempotencyStore):
    def __init__(self) -> None:
        super().__init__()
        self.claims = 0
        self.released = 0
        self.kept: list[int] = []

    async def begin(self, scope: str, key: str, fingerprint: str) -> Begun:
        begun = await super().begin(scope, key, fingerprint)
        if not isinstance(begun, Claimed):
            return begun
        self.claims += 1
        store, inner = self, begun.claim

        class Claim:
            async def finish(self, reply: CachedReply | None) -> None:
                store.released += 1
                if reply is not None:
                    store.kept.append(reply.status_code)
                await inner.finish(reply)

        return Claimed(Claim())


@pytest.mark.parametrize("status", [201, 400, 503])
async def test_a_claim_is_always_released(status: int, fake_clock: FakeClock) -> None:
    transport = MockTransport(lambda _: json_response(status, {}))
    store = CountingClaims()
    async with make(transport, idempotency_store=store, max_retries=1, clock=fake_clock) as tk:
        key = str(uuid.uuid4())
        with contextlib.suppress(APIStatusError):
            await tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=key)
    assert (store.claims, store.released) == (1, 1)
    # 2xx and 400 are final answers worth replaying; a 503 is not (the outcome is unknown)
    assert store.kept == ([] if status == 503 else [status])
