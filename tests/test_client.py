"""The client pipeline against a MockTransport: configuration, lifecycle, retries, redaction."""

from __future__ import annotations

import asyncio
import logging
import threading
import traceback
import uuid
from collections.abc import Callable

import pytest

from tightknit_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncTightknit,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    DeadlineExceededError,
    IdempotencyKeyError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    Timeout,
    WrongEventLoopError,
)
from tightknit_async._types import NOT_GIVEN
from tightknit_async.governor import Governor
from tightknit_async.idempotency import is_uuid4
from tightknit_async.testing import MockTransport, disable_waits, json_response
from tightknit_async.transport import Request, Response

from .conftest import TEST_KEY, FakeClock

OK = {"success": True, "data": {"id": "x"}}


def ok(_: Request) -> Response:
    return json_response(200, OK)


def scripted(*outcomes: Response | Exception) -> Callable[[Request], Response]:
    queue = list(outcomes)

    def handler(request: Request) -> Response:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handler


def client(
    transport: MockTransport, clock: FakeClock | None = None, **kwargs: object
) -> AsyncTightknit:
    kwargs.setdefault("rate_limit", None)
    return AsyncTightknit(api_key=TEST_KEY, transport=transport, clock=clock, **kwargs)  # type: ignore[arg-type]


# -- configuration -------------------------------------------------------------------------------


def test_api_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIGHTKNIT_API_KEY", "sk_from_env")
    tk = AsyncTightknit(rate_limit=None)
    assert tk._api_key == "sk_from_env"


def test_argument_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIGHTKNIT_API_KEY", "sk_from_env")
    monkeypatch.setenv("TIGHTKNIT_BASE_URL", "http://127.0.0.1:9/")
    tk = AsyncTightknit(api_key="sk_arg", base_url="https://example.test", rate_limit=None)
    assert tk._api_key == "sk_arg"
    assert tk.base_url == "https://example.test"


def test_timeout_object_validates_each_field() -> None:
    with pytest.raises(ValueError, match=r"timeout\.connect"):
        Timeout(total=5, connect=-1)
    with pytest.raises(TypeError, match=r"timeout\.read"):
        Timeout(read="5")  # type: ignore[arg-type]


def test_base_url_from_environment_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert AsyncTightknit(api_key="k").base_url == "https://api.tightknit.ai"
    monkeypatch.setenv("TIGHTKNIT_BASE_URL", "http://127.0.0.1:8080/")
    assert AsyncTightknit(api_key="k").base_url == "http://127.0.0.1:8080"


def test_missing_key_names_argument_and_variable() -> None:
    with pytest.raises(ValueError, match=r"api_key=.*TIGHTKNIT_API_KEY"):
        AsyncTightknit()


@pytest.mark.parametrize("bad", ["", "   ", "\t\n", "sk_with space", "sk_\x00"])
def test_blank_or_unsendable_key_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="api_key"):
        AsyncTightknit(api_key=bad)


def test_blank_env_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIGHTKNIT_API_KEY", "  ")
    with pytest.raises(ValueError, match="TIGHTKNIT_API_KEY"):
        AsyncTightknit()


@pytest.mark.parametrize(
    "bad", ["api.tightknit.ai", "ftp://api.tightknit.ai", "https://", "/admin/v0", "http://h/?q=1"]
)
def test_base_url_needs_scheme_and_host(bad: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        AsyncTightknit(api_key="k", base_url=bad)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8040", "http://localhost:1", "http://[::1]:80", "https://example.test"],
)
def test_https_or_loopback_http_is_accepted(url: str) -> None:
    assert AsyncTightknit(api_key="k", base_url=url).base_url == url


def test_plain_http_to_another_host_is_refused_unless_allowed() -> None:
    with pytest.raises(ValueError, match="unencrypted"):
        AsyncTightknit(api_key="k", base_url="http://api.tightknit.ai")
    with pytest.raises(ValueError, match="unencrypted"):
        AsyncTightknit(api_key="k", base_url="http://10.0.0.5:8080")
    tk = AsyncTightknit(api_key="k", base_url="http://10.0.0.5:8080", allow_insecure_http=True)
    assert tk.base_url == "http://10.0.0.5:8080"


def test_bad_env_base_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIGHTKNIT_BASE_URL", "not-a-url")
    with pytest.raises(ValueError, match="TIGHTKNIT_BASE_URL"):
        AsyncTightknit(api_key="k")


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"timeout": -1}, ValueError, "timeout"),
        ({"timeout": "10"}, TypeError, "timeout"),
        ({"max_retries": -1}, ValueError, "max_retries"),
        ({"retry_deadline": -5}, ValueError, "deadline"),
        ({"rate_limit": 0}, ValueError, "rate_limit"),
        ({"rate_limit": -3}, ValueError, "rate_limit"),
        ({"default_headers": {"authorization": "x"}}, ValueError, "Authorization"),
    ],
)
def test_bad_constructor_arguments(
    kwargs: dict[str, object], exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match):
        AsyncTightknit(api_key="k", **kwargs)  # type: ignore[arg-type]


# -- lifecycle -----------------------------------------------------------------------------------


async def test_use_after_close_is_a_clear_error() -> None:
    transport = MockTransport(ok)
    async with client(transport) as tk:
        await tk.request("GET", "/admin/v0/api_key/me")
    assert tk.is_closed
    with pytest.raises(ClientClosedError, match="closed"):
        await tk.request("GET", "/admin/v0/api_key/me")
    with pytest.raises(ClientClosedError):
        async with tk:
            pass
    assert len(transport.requests) == 1


async def test_aclose_is_idempotent_and_leaves_a_borrowed_transport_open() -> None:
    transport = MockTransport(ok)
    tk = client(transport)
    await tk.aclose()
    await tk.aclose()
    assert not transport.closed  # the caller owns it


async def test_use_from_another_event_loop_is_a_clear_error() -> None:
    tk = client(MockTransport(ok))
    await tk.request("GET", "/admin/v0/api_key/me")
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            asyncio.run(tk.request("GET", "/admin/v0/api_key/me"))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert len(errors) == 1
    assert isinstance(errors[0], WrongEventLoopError)
    assert "event loop" in str(errors[0])
    await tk.aclose()


# -- the request ---------------------------------------------------------------------------------


async def test_headers_body_and_url() -> None:
    transport = MockTransport(ok)
    key = str(uuid.uuid4())
    async with client(transport) as tk:
        response = await tk.request(
            "post",
            "/admin/v0/members",
            params={"a": 1, "b": None, "flag": True, "many": ["x", "y"]},
            json={"email": "a@b.co", "full_name": "Ada Lovelace"},
            idempotency_key=key,
        )
    (request,) = transport.requests
    assert request.method == "POST"
    assert request.url == f"{tk.base_url}/admin/v0/members?a=1&flag=true&many=x&many=y"
    assert request.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert request.headers["User-Agent"].startswith("tightknit-async/")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == key
    assert request.headers["X-Tightknit-Attempt"] == "1"
    assert request.content == b'{"email":"a@b.co","full_name":"Ada Lovelace"}'
    assert response.status_code == 200
    assert response.data == OK
    assert response.idempotency_key == key
    assert response.replayed is False
    assert response.attempts == 1


async def test_get_sends_no_body_and_no_idempotency_key() -> None:
    transport = MockTransport(ok)
    async with client(transport) as tk:
        await tk.request("GET", "admin/v0/feeds")
    (request,) = transport.requests
    assert request.content is None
    assert "Idempotency-Key" not in request.headers
    assert "Content-Type" not in request.headers
    assert request.url.endswith("/admin/v0/feeds")


async def test_response_exposes_request_id_and_server_replay() -> None:
    transport = MockTransport(
        lambda _: json_response(
            200, OK, {"X-Request-Id": "req_abc", "X-Idempotent-Replayed": "true"}
        )
    )
    async with client(transport) as tk:
        response = await tk.request("POST", "/admin/v0/members", json={}, idempotency_key=False)
    assert response.request_id == "req_abc"
    assert response.replayed is True
    assert tk.statistics().replayed == 1


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"json": {"when": object()}}, TypeError, "json"),
        ({"json": {1j}}, TypeError, "json"),
        ({"timeout": -1}, ValueError, "timeout"),
        ({"max_retries": -2}, ValueError, "max_retries"),
        ({"priority": "urgent"}, ValueError, "priority"),
        ({"params": {"x": object()}}, TypeError, "params"),
        ({"idempotency_key": "not-a-uuid"}, IdempotencyKeyError, "UUIDv4"),
        ({"idempotency_key": str(uuid.uuid1())}, IdempotencyKeyError, "UUIDv4"),
    ],
)
async def test_bad_call_arguments_fail_before_sending(
    kwargs: dict[str, object], exc: type[Exception], match: str
) -> None:
    transport = MockTransport(ok)
    async with client(transport) as tk:
        with pytest.raises(exc, match=match):
            await tk.request("POST", "/admin/v0/members", **kwargs)  # type: ignore[arg-type]
    assert transport.requests == []


async def test_per_call_headers_merge_over_the_clients_for_that_call_only() -> None:
    transport = MockTransport(ok)
    async with client(transport, default_headers={"X-Team": "growth"}) as tk:
        await tk.request(
            "GET",
            "/admin/v0/feeds",
            headers={"x-team": "data", "User-Agent": "my-app/2", "X-Trace": "t1"},
        )
        await tk.request(
            "POST", "/admin/v0/members", json={}, headers={"Content-Type": "application/x+json"}
        )
        await tk.request("GET", "/admin/v0/feeds", headers={})
        await tk.request("GET", "/admin/v0/feeds")
    custom, typed, empty, plain = transport.requests
    assert custom.headers.getall("X-Team") == ["data"]
    assert custom.headers.getall("User-Agent") == ["my-app/2"]
    assert custom.headers["X-Trace"] == "t1"
    assert custom.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert custom.headers["X-Tightknit-Attempt"] == "1"
    assert typed.headers.getall("Content-Type") == ["application/x+json"]
    assert "Idempotency-Key" in typed.headers
    for unchanged in (empty, plain):  # the client's own headers were not touched
        assert unchanged.headers["X-Team"] == "growth"
        assert unchanged.headers["User-Agent"].startswith("tightknit-async/")
        assert "X-Trace" not in unchanged.headers


@pytest.mark.parametrize(
    ("headers", "exc", "match"),
    [
        ({"Authorization": "Bearer other"}, ValueError, "must not set Authorization"),
        ({"AUTHORIZATION": "x"}, ValueError, "must not set Authorization"),
        ({"idempotency-key": str(uuid.uuid4())}, ValueError, "must not set Idempotency-Key"),
        ([("X-A", "1")], TypeError, "headers must be a mapping, not list"),
        ({"X-A": 1}, TypeError, "headers must map str to str, got 'X-A': int"),
        ({b"X-A": "1"}, TypeError, "headers must map str to str"),
    ],
)
async def test_bad_per_call_headers_fail_before_sending(
    headers: object, exc: type[Exception], match: str
) -> None:
    transport = MockTransport(ok)
    async with client(transport) as tk:
        with pytest.raises(exc, match=match):
            await tk.request("POST", "/admin/v0/members", json={}, headers=headers)  # type: ignore[arg-type]
    assert transport.requests == []


async def test_request_takes_the_extra_options_of_the_resource_methods() -> None:
    transport = MockTransport(ok)
    async with client(transport) as tk:
        await tk.request(
            "POST",
            "/admin/v0/members",
            params={"a": "1", "b": "1"},
            json={"email": "a@b.co", "full_name": "A"},
            headers={"X-A": "1", "X-B": "1"},
            extra_query={"b": "2", "c": True},
            extra_body={"full_name": "B", "source": "crm"},
            extra_headers={"x-b": "2", "X-C": "3"},
        )
        await tk.request("GET", "/admin/v0/feeds", extra_body={"probe": 1})
    (posted, got) = transport.requests
    assert posted.url == f"{tk.base_url}/admin/v0/members?a=1&b=2&c=true"
    assert posted.content == b'{"email":"a@b.co","full_name":"B","source":"crm"}'
    assert (posted.headers["X-A"], posted.headers.getall("X-B"), posted.headers["X-C"]) == (
        "1",
        ["2"],
        "3",
    )
    assert got.content == b'{"probe":1}'
    assert got.headers["Content-Type"] == "application/json"


async def test_extra_body_needs_a_json_object_to_merge_into() -> None:
    transport = MockTransport(ok)
    async with client(transport) as tk:
        with pytest.raises(TypeError, match=r"extra_body merges into a JSON object.*list"):
            await tk.request("POST", "/admin/v0/members", json=[1], extra_body={"a": 1})
        # a dict body is merged as it is: what cannot be encoded fails as any body would
        with pytest.raises(TypeError, match=r"^json is not JSON-serialisable"):
            await tk.request("POST", "/x", json={"when": object()}, extra_body={"a": 1})
    assert transport.requests == []


async def test_bad_method_and_foreign_absolute_url_are_rejected() -> None:
    transport = MockTransport(ok)
    async with client(transport) as tk:
        with pytest.raises(ValueError, match="method"):
            await tk.request("FETCH", "/x")
        with pytest.raises(ValueError, match="relative to base_url"):
            await tk.request("GET", "https://evil.example/steal")
        same_origin = await tk.request("GET", f"{tk.base_url}/admin/v0/feeds?page=2")
    assert same_origin.status_code == 200
    assert [r.url for r in transport.requests] == [f"{tk.base_url}/admin/v0/feeds?page=2"]


async def test_a_bad_path_is_refused_before_and_after_a_good_one_is_remembered() -> None:
    transport = MockTransport(ok)
    async with client(transport) as tk:
        for _ in range(2):  # the second time round, the good paths' URLs are remembered
            for bad in ("", None, 5, ["/admin/v0/feeds"], {"/admin/v0/feeds": 1}):
                with pytest.raises(ValueError, match="path must be a non-empty str"):
                    await tk.request("GET", bad)  # type: ignore[arg-type]
            await tk.request("GET", "/admin/v0/feeds")
            await tk.request("GET", "admin/v0/members")  # the leading slash is added
            await tk.request("GET", "/admin/v0/feeds", params={"page": 2})
            await tk.request("GET", "/admin/v0/feeds?page=3")
    base = tk.base_url
    assert [(r.url, r.path) for r in transport.requests] == 2 * [
        (f"{base}/admin/v0/feeds", "/admin/v0/feeds"),
        (f"{base}/admin/v0/members", "/admin/v0/members"),
        (f"{base}/admin/v0/feeds?page=2", "/admin/v0/feeds"),
        (f"{base}/admin/v0/feeds?page=3", "/admin/v0/feeds"),
    ]


async def test_paths_with_ids_past_the_remembered_bound_still_get_their_own_urls() -> None:
    transport = MockTransport(ok)
    async with client(transport) as tk:
        for number in range(2_500):  # more plain paths than a client remembers
            await tk.request("GET", f"/admin/v0/members/{number}")
        await tk.request("GET", "/admin/v0/members/7")
        assert 0 < len(tk._plain_urls) <= 1_024
    urls = [r.url for r in transport.requests]
    assert urls[:-1] == [f"{tk.base_url}/admin/v0/members/{n}" for n in range(2_500)]
    assert urls[-1] == f"{tk.base_url}/admin/v0/members/7"


# -- errors --------------------------------------------------------------------------------------


async def test_status_error_carries_body_request_id_and_retry_after() -> None:
    body = {"success": False, "error": "Calendar event not found"}
    transport = MockTransport(lambda _: json_response(404, body, {"X-Request-Id": "req_9"}))
    async with client(transport) as tk:
        with pytest.raises(NotFoundError) as info:
            await tk.request("GET", "/admin/v0/calendar_events/nope")
    err = info.value
    assert err.status_code == 404
    assert err.body == body
    assert err.request_id == "req_9"
    assert str(err) == "GET /admin/v0/calendar_events/nope: 404 Calendar event not found"


async def test_html_502_from_a_proxy_becomes_a_status_error_with_a_snippet() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
    page += b"<p>" + b"x" * 5000 + b"</p></body></html>"
    transport = MockTransport(lambda _: Response(502, {"content-type": "text/html"}, page))
    async with client(transport, max_retries=0) as tk:
        with pytest.raises(InternalServerError) as info:
            await tk.request("GET", "/admin/v0/feeds")
    assert isinstance(info.value.body, str)
    assert info.value.body.startswith("<html><head><title>502 Bad Gateway")
    assert len(info.value.body) <= 500
    assert "non-JSON body" in str(info.value)


async def test_non_json_success_body_is_a_clear_error_on_access() -> None:
    transport = MockTransport(lambda _: Response(200, {"content-type": "text/html"}, b"<html>hi"))
    async with client(transport) as tk:
        response = await tk.request("GET", "/admin/v0/feeds")
    with pytest.raises(APIStatusError, match="not valid JSON"):
        _ = response.data


# -- retries -------------------------------------------------------------------------------------


async def test_get_is_retried_on_503_then_succeeds(fake_clock: FakeClock) -> None:
    transport = MockTransport(
        scripted(json_response(503), json_response(503), json_response(200, OK))
    )
    async with client(transport, fake_clock) as tk:
        response = await tk.request("GET", "/admin/v0/feeds")
    assert response.attempts == 3
    assert [r.headers["X-Tightknit-Attempt"] for r in transport.requests] == ["1", "2", "3"]
    assert len(fake_clock.sleeps) == 2
    assert 0 <= fake_clock.sleeps[0] <= 0.5
    assert 0 <= fake_clock.sleeps[1] <= 1.0
    assert tk.statistics().retries == 2


async def test_retry_after_seconds_and_date_are_honoured(fake_clock: FakeClock) -> None:
    transport = MockTransport(
        scripted(
            json_response(503, None, {"Retry-After": "7"}),
            json_response(503, None, {"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"}),
            json_response(200, OK),
        )
    )
    async with client(transport, fake_clock) as tk:
        await tk.request("GET", "/admin/v0/feeds")
    assert fake_clock.sleeps == [7.0]  # the past date means "now": no sleep at all


async def test_keyed_mutation_keeps_its_key_on_every_attempt(fake_clock: FakeClock) -> None:
    key = str(uuid.uuid4())
    transport = MockTransport(
        scripted(
            APIConnectionError("dropped", request_sent=True),
            json_response(409, {"error": "in flight"}, {"Retry-After": "1"}),
            json_response(500),
            json_response(201, OK),
        )
    )
    async with client(transport, fake_clock) as tk:
        response = await tk.request("POST", "/admin/v0/members", json={}, idempotency_key=key)
    assert response.status_code == 201
    assert [r.headers["Idempotency-Key"] for r in transport.requests] == [key] * 4
    assert [r.headers["X-Tightknit-Attempt"] for r in transport.requests] == ["1", "2", "3", "4"]


@pytest.mark.parametrize("opt_out", [False])
async def test_unkeyed_mutation_is_not_retried_after_it_may_have_arrived(opt_out: bool) -> None:
    transport = MockTransport(scripted(APIConnectionError("reset", request_sent=True)))
    async with client(transport) as tk:
        with pytest.raises(APIConnectionError):
            await tk.request("POST", "/admin/v0/members", json={}, idempotency_key=opt_out)
        transport.handler = lambda _: json_response(409)
        with pytest.raises(ConflictError):
            await tk.request("POST", "/admin/v0/members", json={}, idempotency_key=opt_out)
        transport.handler = lambda _: json_response(503)
        with pytest.raises(InternalServerError):
            await tk.request("POST", "/admin/v0/members", json={}, idempotency_key=opt_out)
    assert len(transport.requests) == 3
    assert all("Idempotency-Key" not in r.headers for r in transport.requests)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_mutations_get_a_minted_key_reused_on_every_retry(
    method: str, fake_clock: FakeClock
) -> None:
    transport = MockTransport(
        scripted(APIConnectionError("reset"), json_response(503), json_response(200, OK))
    )
    async with client(transport, fake_clock) as tk:
        response = await tk.request(method, "/admin/v0/things/1", json={"a": 1})
    keys = {r.headers["Idempotency-Key"] for r in transport.requests}
    assert len(transport.requests) == 3
    assert len(keys) == 1
    (key,) = keys
    assert is_uuid4(key)
    assert response.idempotency_key == key


async def test_each_call_mints_its_own_key() -> None:
    transport = MockTransport(ok)
    async with client(transport) as tk:
        for _ in range(3):
            await tk.request("POST", "/admin/v0/members", json={"same": "body"})
    assert len({r.headers["Idempotency-Key"] for r in transport.requests}) == 3


async def test_unkeyed_mutation_is_retried_when_the_connection_never_opened(
    fake_clock: FakeClock,
) -> None:
    transport = MockTransport(
        scripted(APIConnectionError("refused", request_sent=False), json_response(201, OK))
    )
    async with client(transport, fake_clock) as tk:
        response = await tk.request("POST", "/admin/v0/members", json={})
    assert response.attempts == 2


async def test_429_is_retried_even_for_unkeyed_mutations(fake_clock: FakeClock) -> None:
    transport = MockTransport(
        scripted(json_response(429, None, {"Retry-After": "2"}), json_response(201, OK))
    )
    async with client(transport, fake_clock) as tk:
        await tk.request("POST", "/admin/v0/members", json={})
    assert fake_clock.sleeps == [2.0]
    assert tk.statistics().rate_limited == 1


async def test_final_4xx_is_not_retried() -> None:
    transport = MockTransport(lambda _: json_response(400, {"error": "email is invalid"}))
    async with client(transport) as tk:
        with pytest.raises(BadRequestError, match="email is invalid"):
            await tk.request(
                "POST", "/admin/v0/members", json={}, idempotency_key=str(uuid.uuid4())
            )
    assert len(transport.requests) == 1


async def test_attempt_budget(fake_clock: FakeClock) -> None:
    transport = MockTransport(lambda _: json_response(503))
    async with client(transport, fake_clock, max_retries=2) as tk:
        with pytest.raises(InternalServerError) as info:
            await tk.request("GET", "/admin/v0/feeds")
        assert "gave up after 3 attempts" in (info.value.__notes__ or [""])[0]
        assert len(transport.requests) == 3
        with pytest.raises(InternalServerError):
            await tk.request("GET", "/admin/v0/feeds", max_retries=0)
        assert len(transport.requests) == 4


@pytest.mark.parametrize("setting", ["retry_deadline", "deadline"])
async def test_total_deadline_bounds_the_call(setting: str, fake_clock: FakeClock) -> None:
    transport = MockTransport(lambda _: json_response(503, None, {"Retry-After": "20"}))
    async with client(transport, fake_clock, max_retries=100, **{setting: 45}) as tk:
        with pytest.raises(DeadlineExceededError) as info:
            await tk.request("GET", "/admin/v0/feeds")
    assert len(transport.requests) == 3  # at t=0, 20, 40; a third wait would end past 45 s
    assert fake_clock.sleeps == [20.0, 20.0]
    error = info.value
    assert isinstance(error, TimeoutError)
    assert isinstance(error.__cause__, InternalServerError)  # the last attempt's answer
    assert error.deadline == 45
    assert "deadline of 45s would pass before attempt 4 (after 3 attempts" in str(error)
    assert "deadline=" in str(error)


async def test_deadline_clips_each_attempts_timeout(fake_clock: FakeClock) -> None:
    transport = MockTransport(ok)
    async with client(transport, fake_clock, retry_deadline=5, timeout=30) as tk:
        await tk.request("GET", "/admin/v0/feeds")
    assert transport.requests[0].timeout.total == 5


async def test_retry_after_beyond_the_cap_is_not_waited_for(fake_clock: FakeClock) -> None:
    transport = MockTransport(lambda _: json_response(503, None, {"Retry-After": "3600"}))
    async with client(transport, fake_clock, retry_deadline=None) as tk:
        with pytest.raises(InternalServerError) as info:
            await tk.request("GET", "/admin/v0/feeds")
    assert fake_clock.sleeps == []
    assert "Retry-After" in info.value.__notes__[-1]


async def test_timeouts_are_retried_for_reads(fake_clock: FakeClock) -> None:
    transport = MockTransport(scripted(APITimeoutError("slow"), json_response(200, OK)))
    async with client(transport, fake_clock) as tk:
        response = await tk.request("GET", "/admin/v0/feeds")
    assert response.attempts == 2


async def test_disable_waits_skips_sleeping(fake_clock: FakeClock) -> None:
    transport = MockTransport(
        scripted(json_response(503, None, {"Retry-After": "9"}), json_response(200, OK))
    )
    async with client(transport, fake_clock) as tk:
        with disable_waits():
            response = await tk.request("GET", "/admin/v0/feeds")
    assert response.attempts == 2
    assert fake_clock.sleeps == []


async def test_rate_limit_error_after_budget(fake_clock: FakeClock) -> None:
    transport = MockTransport(lambda _: json_response(429, None, {"Retry-After": "1"}))
    async with client(transport, fake_clock, max_retries=1) as tk:
        with pytest.raises(RateLimitError) as info:
            await tk.request("GET", "/admin/v0/feeds")
    assert info.value.retry_after == 1.0
    assert tk.statistics().rate_limited == 2


# -- the key stays secret ------------------------------------------------------------------------


async def test_key_never_in_repr_errors_or_logs(
    debug_logs: pytest.LogCaptureFixture, fake_clock: FakeClock
) -> None:
    echo = f"<html>request had Authorization: Bearer {TEST_KEY}</html>".encode()
    transport = MockTransport(
        scripted(
            APIConnectionError("reset"),
            Response(502, {"content-type": "text/html"}, echo),
            json_response(401, {"error": "Unauthorized"}),
        )
    )
    seen: list[str] = []
    async with client(transport, fake_clock) as tk:
        seen.append(repr(tk))
        for _ in range(2):
            with pytest.raises(APIStatusError) as info:
                await tk.request("GET", "/admin/v0/api_key/me")
            seen += [str(info.value), repr(info.value), repr(info.value.body)]
            seen.append("".join(traceback.format_exception(info.value)))  # with its chain
            seen += info.value.__notes__ if hasattr(info.value, "__notes__") else []
        seen.append(repr(transport.requests[0]))
    seen += [record.getMessage() for record in debug_logs.records]
    assert any("attempt=1" in line for line in seen)
    for text in seen:
        assert TEST_KEY not in text
        assert "SECRET" not in text
    assert "sha256:" in repr(tk)


async def test_one_debug_line_per_attempt(
    debug_logs: pytest.LogCaptureFixture, fake_clock: FakeClock
) -> None:
    transport = MockTransport(scripted(json_response(503), json_response(200, OK)))
    async with client(transport, fake_clock) as tk:
        await tk.request("GET", "/admin/v0/feeds")
    lines = [r.getMessage() for r in debug_logs.records if "attempt=" in r.getMessage()]
    assert len(lines) == 2
    assert lines[0].startswith("GET /admin/v0/feeds -> 503 attempt=1 elapsed=")
    assert lines[1].startswith("GET /admin/v0/feeds -> 200 attempt=2 elapsed=")
    assert all(r.levelno == logging.DEBUG for r in debug_logs.records)


async def test_a_connection_failure_is_logged_at_debug_too(
    debug_logs: pytest.LogCaptureFixture, fake_clock: FakeClock
) -> None:
    transport = MockTransport(
        scripted(APIConnectionError("refused", request_sent=False), json_response(200, OK))
    )
    async with client(transport, fake_clock) as tk:
        await tk.request("GET", "/admin/v0/feeds")
    lines = [r.getMessage() for r in debug_logs.records if "attempt=" in r.getMessage()]
    assert [line.split(" elapsed=")[0] for line in lines] == [
        "GET /admin/v0/feeds -> APIConnectionError attempt=1",
        "GET /admin/v0/feeds -> 200 attempt=2",
    ]


async def test_a_429_pauses_the_governor_once_per_reply(fake_clock: FakeClock) -> None:
    governor = Governor(1_000_000)
    transport = MockTransport(
        scripted(
            json_response(429, None, {"Retry-After": "0"}),
            json_response(429, None, {"Retry-After": "0"}),
            json_response(200, OK),
        )
    )
    async with client(transport, fake_clock, rate_limit=NOT_GIVEN, governor=governor) as tk:
        response = await tk.request("GET", "/admin/v0/feeds")
        again = await tk.request("GET", "/admin/v0/feeds")  # 200 at once: no report
    assert (response.attempts, again.attempts) == (3, 1)
    assert governor.statistics().rate_limited == 2
    assert tk.statistics().rate_limited == 2
    assert governor.statistics().granted == 4  # every attempt took a slot


async def test_a_redirect_is_an_error_not_a_success() -> None:
    transport = MockTransport(
        lambda _: Response(301, {"location": "https://elsewhere.example/"}, b"")
    )
    async with client(transport) as tk:
        with pytest.raises(APIStatusError) as info:
            await tk.request("GET", "/admin/v0/feeds")
    assert info.value.status_code == 301
    assert len(transport.requests) == 1
