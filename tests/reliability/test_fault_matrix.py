"""The fault matrix: one test per network or server fault, through the real client on loopback.

Each test checks the documented outcome (an exception class or a success), that no mutation is
applied twice, that no task is left running, that no pooled connection is left acquired, and that
the call ends within its deadline. Faults the fake server cannot produce (resets, short bodies,
stalls, bare 429s) come from :class:`RawServer`, which writes the bytes itself.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from tightknit_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncTightknit,
    ConflictError,
    DeadlineExceededError,
    InternalServerError,
    RateLimitError,
    Timeout,
)
from tightknit_async.idempotency import MemoryIdempotencyStore
from tightknit_async.testing import FakeTightknit, disable_waits

from ._support import RawServer, acquired_connections, free_port, no_leftover_tasks, reply

MEMBERS = "/admin/v0/members"
FEEDS = "/admin/v0/feeds"
BOUND = 3.0  # no call in this module may take longer than this, whatever goes wrong
OK_JSON = b'{"success": true, "data": {"id": "x"}}'


def member(i: int) -> dict[str, str]:
    return {"email": f"fault{i}@example.com", "full_name": f"Fault Number{i}"}


def client(base_url: str, api_key: str = "sk_test_reliability", **kwargs: object) -> AsyncTightknit:
    kwargs.setdefault("rate_limit", None)
    kwargs.setdefault("idempotency_store", MemoryIdempotencyStore())
    return AsyncTightknit(api_key=api_key, base_url=base_url, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def clean() -> AsyncIterator[None]:
    """Every test runs inside this: no task may outlive it."""
    async with no_leftover_tasks():
        yield


class Elapsed:
    """Wall time of a block, for deadline assertions."""

    def __enter__(self) -> Elapsed:
        self.start = time.monotonic()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = time.monotonic() - self.start


# -- faults before any byte is answered ------------------------------------------------------


@pytest.mark.usefixtures("clean")
async def test_connection_refused_is_not_sent_and_retried_within_the_deadline() -> None:
    async with client(f"http://127.0.0.1:{free_port()}", max_retries=2, timeout=0.5) as tk:
        with disable_waits(), Elapsed() as took, pytest.raises(APIConnectionError) as info:
            # Unkeyed mutation: safe to retry because the connection never opened.
            await asyncio.wait_for(
                tk.request("POST", MEMBERS, json=member(0), idempotency_key=False), BOUND
            )
        assert acquired_connections(tk) == 0
        assert tk.statistics().attempts == 3
    assert not isinstance(info.value, APITimeoutError)
    assert info.value.request_sent is False
    assert "could not connect" in str(info.value)
    assert took.seconds < 1.0


@pytest.mark.usefixtures("clean")
async def test_dns_failure_is_a_connection_error_not_sent() -> None:
    async with client(
        "http://nonexistent.invalid", allow_insecure_http=True, max_retries=1, timeout=1.0
    ) as tk:
        with disable_waits(), Elapsed() as took, pytest.raises(APIConnectionError) as info:
            await asyncio.wait_for(tk.request("GET", FEEDS), BOUND)
        assert acquired_connections(tk) == 0
        assert tk.statistics().attempts == 2
    assert info.value.request_sent is False
    # A resolver that answers NXDOMAIN gives the DNS error; one that is unreachable, a timeout.
    assert "could not resolve the host" in str(info.value) or isinstance(
        info.value, APITimeoutError
    )
    assert took.seconds < BOUND


# -- faults in the middle of a response ------------------------------------------------------


@pytest.mark.usefixtures("clean")
async def test_reset_mid_response_is_retried_for_a_get_then_raises() -> None:
    async def reset(_request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b'{"partial')
        await writer.drain()
        writer.transport.abort()  # RST, no FIN

    async with RawServer(reset) as server, client(server.url, max_retries=2) as tk:
        with disable_waits(), Elapsed() as took, pytest.raises(APIConnectionError) as info:
            await asyncio.wait_for(tk.request("GET", FEEDS), BOUND)
        assert acquired_connections(tk) == 0
    assert not isinstance(info.value, APITimeoutError)
    assert info.value.request_sent is True
    assert len(server.requests) == 3
    assert took.seconds < 1.0


@pytest.mark.usefixtures("clean")
async def test_reset_mid_response_never_resends_an_unkeyed_mutation() -> None:
    async def reset(_request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 100\r\n\r\n{")
        await writer.drain()
        writer.transport.abort()

    async with RawServer(reset) as server, client(server.url, max_retries=3) as tk:
        with disable_waits(), pytest.raises(APIConnectionError):
            await asyncio.wait_for(
                tk.request("POST", MEMBERS, json=member(1), idempotency_key=False), BOUND
            )
        assert acquired_connections(tk) == 0
    assert len(server.requests) == 1  # it may have been applied: never sent twice


@pytest.mark.usefixtures("clean")
async def test_truncated_body_is_a_connection_error() -> None:
    async def truncated(_request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + OK_JSON[:10])
        await writer.drain()  # then a clean close (FIN) before the promised length

    async with RawServer(truncated) as server, client(server.url, max_retries=1) as tk:
        with disable_waits(), Elapsed() as took, pytest.raises(APIConnectionError) as info:
            await asyncio.wait_for(tk.request("GET", FEEDS), BOUND)
        assert acquired_connections(tk) == 0
    assert not isinstance(info.value, APITimeoutError)
    assert len(server.requests) == 2
    assert took.seconds < 1.0


@pytest.mark.usefixtures("clean")
@pytest.mark.parametrize(
    "timeout",
    [Timeout(connect=1.0, read=None, total=0.3), Timeout(connect=1.0, read=0.3, total=10.0)],
    ids=["total", "read"],
)
async def test_slow_headers_time_out(timeout: Timeout) -> None:
    async def stall(_request: bytes, _writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async with RawServer(stall) as server, client(server.url, max_retries=1, timeout=timeout) as tk:
        with disable_waits(), Elapsed() as took, pytest.raises(APITimeoutError) as info:
            await asyncio.wait_for(tk.request("GET", FEEDS), BOUND)
        assert acquired_connections(tk) == 0
    assert info.value.request_sent is True
    assert len(server.requests) == 2
    assert 0.5 <= took.seconds < 1.5  # two attempts of 0.3 s each


@pytest.mark.usefixtures("clean")
@pytest.mark.parametrize(
    "timeout",
    [Timeout(connect=1.0, read=None, total=0.3), Timeout(connect=1.0, read=0.3, total=10.0)],
    ids=["total", "read"],
)
async def test_slow_body_times_out(timeout: Timeout) -> None:
    async def dribble(_request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
        await writer.drain()
        await asyncio.sleep(30)

    async with (
        RawServer(dribble) as server,
        client(server.url, max_retries=0, timeout=timeout) as tk,
    ):
        with Elapsed() as took, pytest.raises(APITimeoutError):
            await asyncio.wait_for(tk.request("GET", FEEDS), BOUND)
        assert acquired_connections(tk) == 0
    assert len(server.requests) == 1
    assert took.seconds < 1.0


@pytest.mark.usefixtures("clean")
async def test_retry_deadline_clips_a_slow_attempt() -> None:
    async def stall(_request: bytes, _writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    # Per-attempt total 10 s, but the call's 0.4 s deadline clips it.
    async with (
        RawServer(stall) as server,
        client(server.url, max_retries=5, timeout=10.0, retry_deadline=0.4) as tk,
    ):
        with Elapsed() as took, pytest.raises(DeadlineExceededError) as info:
            await asyncio.wait_for(tk.request("GET", FEEDS), BOUND)
        assert acquired_connections(tk) == 0
    assert isinstance(info.value.__cause__, APITimeoutError)  # the attempt the deadline cut
    assert took.seconds < 1.0


# -- odd but complete answers ------------------------------------------------------------------


@pytest.mark.usefixtures("clean")
async def test_html_error_page_is_a_status_error_with_the_page() -> None:
    async with FakeTightknit() as fake, client(fake.url, fake.api_key, max_retries=2) as tk:
        fake.faults.error_rate = 1.0
        fake.faults.error_status = 502
        fake.faults.error_html = True
        with disable_waits(), Elapsed() as took, pytest.raises(InternalServerError) as info:
            await asyncio.wait_for(tk.request("POST", MEMBERS, json=member(2)), BOUND)
        assert acquired_connections(tk) == 0
    assert info.value.status_code == 502
    assert isinstance(info.value.body, str)
    assert "gave up after 3 attempts" in "".join(getattr(info.value, "__notes__", []))
    assert len(fake.arrivals) == 3
    assert fake.ledger == []  # injected errors apply nothing
    assert took.seconds < 1.0


@pytest.mark.usefixtures("clean")
async def test_empty_body_with_200_is_a_success() -> None:
    async def empty(_request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(reply(200, headers={"Content-Type": "application/json"}))
        await writer.drain()

    async with RawServer(empty) as server, client(server.url) as tk:
        response = await asyncio.wait_for(tk.request("GET", FEEDS), BOUND)
        assert acquired_connections(tk) == 0
    assert response.status_code == 200
    assert response.content == b""
    assert response.data is None
    assert len(server.requests) == 1


@pytest.mark.usefixtures("clean")
async def test_empty_body_with_500_is_retried_then_a_status_error() -> None:
    async def empty(_request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(reply(500))
        await writer.drain()

    async with RawServer(empty) as server, client(server.url, max_retries=2) as tk:
        with disable_waits(), pytest.raises(InternalServerError) as info:
            await asyncio.wait_for(tk.request("GET", FEEDS), BOUND)
        assert acquired_connections(tk) == 0
    assert info.value.status_code == 500
    assert "empty body" in str(info.value)
    assert len(server.requests) == 3


# -- rate limits -----------------------------------------------------------------------------


@pytest.mark.usefixtures("clean")
async def test_429_storm_without_retry_after_recovers() -> None:
    answers = [429, 429, 429, 200]

    async def storm(_request: bytes, writer: asyncio.StreamWriter) -> None:
        status = answers.pop(0)
        writer.write(reply(status, OK_JSON if status == 200 else b'{"success": false}'))
        await writer.drain()

    async with RawServer(storm) as server, client(server.url, max_retries=3) as tk:
        with disable_waits():
            response = await asyncio.wait_for(
                tk.request("POST", MEMBERS, json=member(3), idempotency_key=False), BOUND
            )
        assert acquired_connections(tk) == 0
        assert tk.statistics().rate_limited == 3
    assert response.status_code == 200
    assert response.attempts == 4
    assert len(server.requests) == 4  # a 429 was refused before it ran: resending is safe


@pytest.mark.usefixtures("clean")
async def test_429_storm_without_retry_after_gives_up_by_the_deadline() -> None:
    async def storm(_request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(reply(429, b'{"success": false}'))
        await writer.drain()

    # Real backoff waits this time: the 0.5 s deadline, not the attempt budget, ends the call.
    async with (
        RawServer(storm) as server,
        client(server.url, max_retries=1000, retry_deadline=0.5) as tk,
    ):
        with Elapsed() as took, pytest.raises(DeadlineExceededError) as info:
            await asyncio.wait_for(tk.request("GET", FEEDS), BOUND)
        assert acquired_connections(tk) == 0
        attempts = tk.statistics().attempts
    assert took.seconds < 0.5 + 0.3
    assert 1 <= len(server.requests) < 20
    if attempts == len(server.requests):  # every attempt was answered 429
        assert isinstance(info.value.__cause__, RateLimitError)
    else:  # the last attempt's timeout, clipped to the deadline, ran out before it was read
        assert attempts == len(server.requests) + 1
        assert isinstance(info.value.__cause__, APITimeoutError)
    assert "deadline" in str(info.value)


@pytest.mark.usefixtures("clean")
@pytest.mark.parametrize("retry_after", ["3600", "Fri, 01 Jan 2100 00:00:00 GMT"])
async def test_retry_after_far_in_the_future_is_refused_at_once(retry_after: str) -> None:
    async def refuse(_request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(reply(429, b'{"success": false}', {"Retry-After": retry_after}))
        await writer.drain()

    async with (
        RawServer(refuse) as server,
        client(server.url, max_retries=5, retry_deadline=None) as tk,
    ):
        with Elapsed() as took, pytest.raises(RateLimitError) as info:
            await asyncio.wait_for(tk.request("GET", FEEDS), BOUND)
        assert acquired_connections(tk) == 0
    notes = "".join(getattr(info.value, "__notes__", []))
    assert "Retry-After" in notes
    assert "exceeds" in notes
    assert len(server.requests) == 1
    assert took.seconds < 0.5


# -- server errors and conflicts (the fake server) -------------------------------------------


@pytest.mark.usefixtures("clean")
async def test_dropped_after_apply_keyed_mutation_is_applied_once() -> None:
    async with FakeTightknit() as fake, client(fake.url, fake.api_key, max_retries=3) as tk:
        fake.faults.drop_after_apply = 1
        with disable_waits():
            response = await asyncio.wait_for(tk.request("POST", MEMBERS, json=member(4)), BOUND)
        assert acquired_connections(tk) == 0
    assert response.status_code == 201
    assert response.attempts == 2
    assert len(fake.ledger) == 1
    assert [a.status for a in fake.arrivals] == [None, 201]
    assert fake.arrivals[1].replayed is True
    assert fake.stats.dropped_connections == 1


@pytest.mark.usefixtures("clean")
async def test_dropped_after_apply_unkeyed_mutation_is_not_resent() -> None:
    async with FakeTightknit() as fake, client(fake.url, fake.api_key, max_retries=3) as tk:
        fake.faults.drop_after_apply = 1
        with disable_waits(), pytest.raises(APIConnectionError) as info:
            await asyncio.wait_for(
                tk.request("POST", MEMBERS, json=member(5), idempotency_key=False), BOUND
            )
        assert acquired_connections(tk) == 0
    assert info.value.request_sent is True
    assert len(fake.ledger) == 1
    assert len(fake.arrivals) == 1


@pytest.mark.usefixtures("clean")
async def test_5xx_burst_shorter_than_the_retries_succeeds_applied_once() -> None:
    async with FakeTightknit() as fake, client(fake.url, fake.api_key, max_retries=3) as tk:
        fake.faults.script("POST", MEMBERS, [503, 502, 500])
        fake.faults.script("GET", FEEDS, [500, 503])
        with disable_waits(), Elapsed() as took:
            created = await asyncio.wait_for(tk.request("POST", MEMBERS, json=member(6)), BOUND)
            feeds = await asyncio.wait_for(tk.request("GET", FEEDS), BOUND)
        assert acquired_connections(tk) == 0
    assert (created.status_code, created.attempts) == (201, 4)
    assert (feeds.status_code, feeds.attempts) == (200, 3)
    assert len(fake.ledger) == 1
    assert took.seconds < 1.0


@pytest.mark.usefixtures("clean")
async def test_5xx_burst_longer_than_the_retries_fails_applied_never() -> None:
    async with FakeTightknit() as fake, client(fake.url, fake.api_key, max_retries=2) as tk:
        fake.faults.script("POST", MEMBERS, [503] * 10)
        with disable_waits(), pytest.raises(APIStatusError) as info:
            await asyncio.wait_for(tk.request("POST", MEMBERS, json=member(7)), BOUND)
        assert acquired_connections(tk) == 0
    assert info.value.status_code == 503
    assert len(fake.arrivals) == 3
    assert fake.ledger == []


@pytest.mark.usefixtures("clean")
async def test_5xx_never_resends_an_unkeyed_mutation() -> None:
    async with FakeTightknit() as fake, client(fake.url, fake.api_key, max_retries=3) as tk:
        fake.faults.script("POST", MEMBERS, [503, 503])
        with disable_waits(), pytest.raises(APIStatusError):
            await asyncio.wait_for(
                tk.request("POST", MEMBERS, json=member(8), idempotency_key=False), BOUND
            )
    assert len(fake.arrivals) == 1


@pytest.mark.usefixtures("clean")
async def test_409_in_flight_loop_waits_and_resends_then_succeeds_once() -> None:
    key = str(uuid.uuid4())
    async with FakeTightknit() as fake, client(fake.url, fake.api_key, max_retries=5) as tk:
        fake.faults.retry_after = 0
        fake.faults.conflict_next = 3
        with disable_waits():
            response = await asyncio.wait_for(
                tk.request("POST", MEMBERS, json=member(9), idempotency_key=key), BOUND
            )
        assert acquired_connections(tk) == 0
    assert (response.status_code, response.attempts) == (201, 4)
    assert [a.status for a in fake.arrivals] == [409, 409, 409, 201]
    assert {a.idempotency_key for a in fake.arrivals} == {key}
    assert len(fake.ledger) == 1


@pytest.mark.usefixtures("clean")
async def test_409_in_flight_loop_is_bounded() -> None:
    async with FakeTightknit() as fake, client(fake.url, fake.api_key, max_retries=3) as tk:
        fake.faults.retry_after = 0
        fake.faults.conflict_next = 100
        with disable_waits(), Elapsed() as took, pytest.raises(ConflictError):
            await asyncio.wait_for(tk.request("POST", MEMBERS, json=member(10)), BOUND)
        assert acquired_connections(tk) == 0
    assert len(fake.arrivals) == 4
    assert fake.ledger == []
    assert took.seconds < 1.0


@pytest.mark.usefixtures("clean")
async def test_409_in_flight_honours_its_retry_after_within_the_deadline() -> None:
    # The fake asks for 1 s; a 0.5 s deadline cannot afford it, so the call ends at once.
    async with (
        FakeTightknit() as fake,
        client(fake.url, fake.api_key, max_retries=3, retry_deadline=0.5) as tk,
    ):
        fake.faults.conflict_next = 100
        with Elapsed() as took, pytest.raises(DeadlineExceededError) as info:
            await asyncio.wait_for(tk.request("POST", MEMBERS, json=member(11)), BOUND)
        assert acquired_connections(tk) == 0
    assert isinstance(info.value.__cause__, ConflictError)
    assert "deadline" in str(info.value)
    assert len(fake.arrivals) == 1
    assert took.seconds < 0.5
