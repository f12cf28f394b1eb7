"""Bad input, fuzzed: arguments, server replies and bulk outcomes (issue 9, item 3).

The promise under test: whatever a caller passes or a server sends, the client answers with a typed
result or a typed error (never an ``AttributeError``, ``KeyError``, ``UnicodeError``...), sends
nothing when it refuses the arguments, and a bulk run accounts for every item.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tightknit_async import AsyncTightknit, TightknitError
from tightknit_async._exceptions import APIStatusError
from tightknit_async.bulk import BulkItem, run_bulk
from tightknit_async.idempotency import MemoryIdempotencyStore, mint_idempotency_key
from tightknit_async.models import UserRef
from tightknit_async.pagination import AsyncPager
from tightknit_async.testing import MockTransport, json_response
from tightknit_async.transport import Multipart, Request, Response

KEY = "sk_test_fuzz_0123456789abcdef"
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]

# A 2xx body every resource method accepts: each envelope's ``data`` type ignores unknown fields,
# so one object carrying every required field fits them all.
VALID_DATA: dict[str, Any] = {
    "id": "x1",
    "calendar_event_id": "ev1",
    "member": {"id": "m1"},
    "records": [],
}
VALID_BODY: dict[str, Any] = {"success": True, "data": VALID_DATA}

ARGUMENT_ERRORS = (TightknitError, ValueError, TypeError)


# -- strategies ----------------------------------------------------------------------------------

texts = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cs", "Zs", "So"])),
    st.sampled_from(["", " ", ".", "..", "/", "a/b", "%2F", "?x=1", "\x00", "\ud800", "é" * 300]),
)
ints = st.one_of(
    st.integers(min_value=-3, max_value=5),
    st.integers(),
    st.sampled_from([-(2**64), 2**64, 10**30]),
)
floats = st.floats(allow_nan=True, allow_infinity=True)
scalars = st.one_of(texts, ints, floats, st.none(), st.booleans(), st.binary(max_size=16))
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(texts, ints), inner, max_size=3),
    ),
    max_leaves=6,
)


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Half plausible, half garbage: the plausible half lets fuzzing reach deeper checks."""
    return st.one_of(valid, anything)


ids = maybe(st.text(alphabet="abc123-_", min_size=1, max_size=8))
emails = maybe(st.sampled_from(["ada@example.com", "x@y.z"]))
slack_ids = maybe(st.lists(st.sampled_from(["U1", "U2", ""]), max_size=3))
user_ref = maybe(
    st.one_of(
        st.just({"email": "ada@example.com"}),
        st.just({"slack_user_id": "U1", "email": "a@b.c"}),
        st.just(UserRef(profile_id="3f0e7d8a-1b2c-4d5e-8f90-123456789abc")),
    )
)
uuid_keys = st.builds(mint_idempotency_key)


@st.composite
def options(draw: st.DrawFn) -> dict[str, Any]:
    """A random subset of the per-call options, fuzzed."""
    pool = {
        "idempotency_key": maybe(st.one_of(uuid_keys, st.none(), st.just(False))),
        "timeout": maybe(st.one_of(st.none(), st.floats(0, 30))),
        "max_retries": maybe(st.integers(0, 2)),
        "priority": maybe(st.sampled_from(["interactive", "bulk"])),
    }
    names = draw(st.lists(st.sampled_from(sorted(pool)), unique=True, max_size=4))
    return {name: draw(pool[name]) for name in names}


paging = {
    "page": maybe(st.integers(0, 3)),
    "per_page": maybe(st.one_of(st.none(), st.integers(1, 100))),
    "max_items": maybe(st.one_of(st.none(), st.integers(1, 5))),
    "max_pages": maybe(st.one_of(st.none(), st.integers(1, 3))),
    "concurrency": maybe(st.integers(1, 4)),
}


def some_of(pool: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    if not pool:
        return st.just({})

    @st.composite
    def draw_some(draw: st.DrawFn) -> dict[str, Any]:
        names = draw(st.lists(st.sampled_from(sorted(pool)), unique=True))
        return {name: draw(pool[name]) for name in names}

    return draw_some()


Call = Callable[[AsyncTightknit], Any]


def call(name: str, positional: st.SearchStrategy[tuple[Any, ...]], **kw: Any) -> Any:
    """A strategy of (label, call) for resource method ``name`` (dotted) with fuzzed arguments."""
    required = {k: v for k, v in kw.items() if not k.startswith("opt_")}
    optional = {k[4:]: v for k, v in kw.items() if k.startswith("opt_")}

    @st.composite
    def draw_call(draw: st.DrawFn) -> tuple[str, Call, tuple[Any, ...], dict[str, Any]]:
        args = draw(positional)
        kwargs = {k: draw(v) for k, v in required.items()}
        kwargs.update(draw(some_of(optional)))
        kwargs.update(draw(options()))
        resource_name, method_name = name.split(".")

        def invoke(tk: AsyncTightknit) -> Any:
            return getattr(getattr(tk, resource_name), method_name)(*args, **kwargs)

        return name, invoke, args, kwargs

    return draw_call()


no_args = st.just(())
one_id = st.tuples(ids)
create_event = {
    "title": maybe(st.text(min_size=3, max_size=20)),
    "start_date": maybe(st.sampled_from(["2030-01-01T10:00:00Z", "2030-01-01"])),
    "end_date": maybe(st.sampled_from(["2030-01-01T11:00:00Z", "2029-01-01T11:00:00Z"])),
    "description": maybe(st.sampled_from([{"text": "hi"}, {"blocks": []}, {}])),
    "publish_to_slack_channels": maybe(st.lists(st.sampled_from(["C1", "C2"]), max_size=2)),
    "hosts": maybe(st.sampled_from([{"emails": ["a@b.c"]}, {"slack_user_ids": ["U1"]}, {}])),
}
create_event_optional = {
    f"opt_{name}": anything
    for name in (
        "speakers",
        "status",
        "slug",
        "recap",
        "allow_public_guest_list",
        "is_unlisted",
        "link",
        "location",
        "tags",
        "show_end_date",
        "cover_image_file_id",
        "webhook_custom_metadata",
    )
}

resource_calls = st.one_of(
    call("api_key.me", no_args),
    call(
        "members.create",
        no_args,
        email=emails,
        full_name=maybe(st.text(max_size=5)),
        opt_avatar_url_original=maybe(st.just("https://example.com/a.png")),
    ),
    call("members.deactivate", one_id),
    call("calendar_events.retrieve", one_id),
    call("calendar_events.delete", one_id),
    call("calendar_events.create", no_args, **create_event, **create_event_optional),
    call(
        "calendar_events.list",
        no_args,
        opt_time_filter=maybe(st.sampled_from(["upcoming", "past", "all"])),
        opt_status=maybe(st.sampled_from(["draft", "published"])),
        opt_published_to_site=anything,
        opt_is_unlisted=anything,
        **{f"opt_{k}": v for k, v in paging.items()},
    ),
    call("feeds.list", no_args, **{f"opt_{k}": v for k, v in paging.items()}),
    call("feeds.retrieve", one_id),
    call("feeds.list_posts", one_id, **{f"opt_{k}": v for k, v in paging.items()}),
    call("posts.retrieve", one_id),
    call(
        "search.list",
        no_args,
        q=maybe(st.text(max_size=5)),
        **{f"opt_{k}": v for k, v in paging.items()},
    ),
    call(
        "files.upload",
        st.tuples(maybe(st.binary(min_size=1, max_size=32))),
        opt_filename=maybe(st.sampled_from(["a.txt", "b.png", ""])),
        opt_size=maybe(st.integers(0, 40)),
        opt_description=anything,
        opt_content_type=maybe(st.sampled_from(["text/plain", "image/png"])),
        opt_max_size=maybe(st.integers(1, 64)),
    ),
    call(
        "awards.assign",
        one_id,
        recipient=user_ref,
        opt_sender=user_ref,
        opt_send_anonymously=anything,
    ),
    call("groups.add_members", one_id, users=slack_ids),
    call("badges.assign", one_id, users=slack_ids),
)


# -- helpers -------------------------------------------------------------------------------------


def client_for(transport: MockTransport, **kwargs: Any) -> AsyncTightknit:
    return AsyncTightknit(
        api_key=KEY,
        transport=transport,
        rate_limit=None,
        idempotency_store=MemoryIdempotencyStore(),
        **kwargs,
    )


async def run_call(tk: AsyncTightknit, invoke: Call) -> object:
    """Call, then drive what it returns: await a coroutine; for a pager, one page and all items."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # tk.badges is legacy on purpose
        result = invoke(tk)
        if isinstance(result, AsyncPager):
            first = await result
            items = [item async for item in result]
            return first, items
        if isinstance(result, Awaitable):
            return await result
        return result


def assert_well_formed(request: Request) -> None:
    """What a real transport needs from a request the client chose to send."""
    assert isinstance(request.method, str)
    assert isinstance(request.url, str)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in request.headers.items())
    if isinstance(request.content, bytes):
        msgspec.json.decode(request.content)
    elif isinstance(request.content, Multipart):
        body = request.content
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in body.fields.items())
        assert isinstance(body.file.filename, str)
        assert isinstance(body.file.content_type, str)
        assert isinstance(body.file.size, int)
    else:
        assert request.content is None


# -- 1. fuzzed arguments -------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=HEALTH)
@given(case=resource_calls)
async def test_resource_methods_accept_or_refuse_any_arguments(
    case: tuple[str, Call, tuple[Any, ...], dict[str, Any]],
) -> None:
    name, invoke, _args, _kwargs = case
    transport = MockTransport(lambda request: json_response(200, VALID_BODY))
    async with client_for(transport) as tk:
        try:
            await run_call(tk, invoke)
        except ARGUMENT_ERRORS:
            assert transport.requests == [], f"{name} raised after sending"
    for request in transport.requests:
        assert_well_formed(request)


request_args = st.fixed_dictionaries(
    {
        "method": maybe(st.sampled_from(["GET", "post", "DELETE", "PATCH", "TRACE"])),
        "path": maybe(st.sampled_from(["/admin/v0/x", "x", "https://evil.example/x", "/a?b=1"])),
    },
    optional={
        # a mapping (a non-mapping is a known bug: test_request_params_not_a_mapping)
        "params": st.dictionaries(texts, maybe(st.lists(scalars, max_size=3)), max_size=3),
        "json": anything,
        "multipart": anything,
        "idempotency_key": maybe(st.one_of(uuid_keys, st.none(), st.just(False))),
        "timeout": anything,
        "max_retries": maybe(st.integers(0, 2)),
        "priority": maybe(st.sampled_from(["interactive", "bulk"])),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=HEALTH)
@given(kwargs=request_args)
async def test_request_accepts_or_refuses_any_arguments(kwargs: dict[str, Any]) -> None:
    transport = MockTransport(lambda request: json_response(200, VALID_BODY))
    async with client_for(transport) as tk:
        try:
            response = await tk.request(kwargs.pop("method"), kwargs.pop("path"), **kwargs)
        except ARGUMENT_ERRORS:
            assert transport.requests == []
        else:
            assert response.status_code == 200
            assert len(transport.requests) == 1
            assert_well_formed(transport.requests[0])
            assert transport.requests[0].url.startswith(tk.base_url + "/")


@settings(max_examples=100, deadline=None, suppress_health_check=HEALTH)
@given(
    kwargs=some_of(
        {
            "api_key": maybe(st.text(min_size=1)),
            "base_url": maybe(
                st.sampled_from(["https://api.example.com", "http://127.0.0.1:1", "ftp:x"])
            ),
            "rate_limit": maybe(st.floats(0.1, 100)),
            "max_retries": maybe(st.integers(0, 5)),
            "retry_deadline": maybe(st.floats(0, 60)),
            "timeout": maybe(st.floats(0, 60)),
            # str -> str (anything else is a known bug: test_default_headers_not_str_to_str)
            "default_headers": st.dictionaries(texts, texts, max_size=2),
            "allow_insecure_http": anything,
            "redis_fallback_workers": anything,
        }
    )
)
async def test_constructor_accepts_or_refuses_any_arguments(kwargs: dict[str, Any]) -> None:
    transport = MockTransport(lambda request: json_response(200, VALID_BODY))
    kwargs.setdefault("api_key", KEY)
    try:
        tk = AsyncTightknit(transport=transport, redis_url=None, **kwargs)
    except ARGUMENT_ERRORS:
        return
    await tk.aclose()
    assert transport.requests == []


# -- 2. malformed server replies -----------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([10**400, -(10**400)]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _json(value: object) -> bytes:
    try:
        return msgspec.json.encode(value)
    except (OverflowError, msgspec.EncodeError, TypeError):
        return repr(value).encode()


def nested(depth: int) -> bytes:
    return b'{"success":true,"data":' + b"[" * depth + b"]" * depth + b"}"


# Shapes near the real one: the envelope with the wrong things inside.
near_miss = st.one_of(
    st.builds(lambda v: {"success": True, "data": v}, json_values),
    st.builds(
        lambda k, v: {"success": True, "data": {**VALID_DATA, k: v}},
        st.sampled_from(sorted(VALID_DATA)),
        json_values,
    ),
    st.builds(
        lambda k, v: {"success": True, "data": {**VALID_DATA, k: v}},
        st.sampled_from(["created_at", "start_date", "permissions", "tags", "hosts", "page"]),
        json_values,
    ),
    json_values,
)
bodies = st.one_of(
    st.binary(max_size=64),
    st.builds(_json, near_miss),
    st.builds(_json, json_values),
    st.sampled_from(
        [
            b"",
            b"   ",
            b"null",
            b"\xff\xfe\xfd",
            b'{"success":true,"data":"\xff"}',
            b'{"success":true,"data":{"id":"\xc3\x28"}}',
            b"<html><body>502</body></html>",
            b'{"success":true,"data":{"id":"x"',
            b'{"data":{"id":1e99999}}',
            b"NaN",
        ]
    ),
    st.builds(nested, st.sampled_from([50, 500, 5000])),
)
content_types = st.sampled_from(
    [None, "application/json", "text/html", "text/plain; charset=latin-1", "application/x+json", ""]
)
statuses = st.one_of(st.just(200), st.sampled_from([201, 204, 206, 299]), st.integers(100, 599))

# Every resource method with arguments that pass the client's own checks.
valid_calls: list[tuple[str, Call]] = [
    ("api_key.me", lambda tk: tk.api_key.me()),
    ("members.create", lambda tk: tk.members.create(email="a@b.co", full_name="Ada")),
    ("members.deactivate", lambda tk: tk.members.deactivate("m1")),
    ("calendar_events.retrieve", lambda tk: tk.calendar_events.retrieve("e1")),
    ("calendar_events.delete", lambda tk: tk.calendar_events.delete("e1")),
    (
        "calendar_events.create",
        lambda tk: tk.calendar_events.create(
            title="Town hall",
            start_date="2030-01-01T10:00:00Z",
            end_date="2030-01-01T11:00:00Z",
            description={"text": "hi"},
            publish_to_slack_channels=["C1"],
            hosts={"emails": ["a@b.co"]},
        ),
    ),
    ("calendar_events.list", lambda tk: tk.calendar_events.list(max_pages=2)),
    ("feeds.list", lambda tk: tk.feeds.list(max_pages=2)),
    ("feeds.retrieve", lambda tk: tk.feeds.retrieve("f1")),
    ("feeds.list_posts", lambda tk: tk.feeds.list_posts("f1", max_pages=2)),
    ("posts.retrieve", lambda tk: tk.posts.retrieve("p1")),
    ("search.list", lambda tk: tk.search.list(q="x", max_pages=2)),
    ("files.upload", lambda tk: tk.files.upload(b"abc", filename="a.txt")),
    ("awards.assign", lambda tk: tk.awards.assign("a1", recipient={"email": "a@b.co"})),
    ("groups.add_members", lambda tk: tk.groups.add_members("g1", users=["U1"])),
    ("badges.assign", lambda tk: tk.badges.assign("b1", users=["U1"])),
]
valid_call = st.sampled_from(valid_calls)


def _crashes_msgspec(content: bytes) -> bool:
    """Bodies on which msgspec raises neither ``DecodeError`` nor a value (known bugs)."""
    try:
        msgspec.json.decode(content)
    except (UnicodeDecodeError, RecursionError):
        return True
    except msgspec.DecodeError:
        return False
    return False


def _is_valid_json(content: bytes) -> bool:
    try:
        msgspec.json.decode(content)
    except msgspec.DecodeError:
        return False
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=HEALTH)
@given(case=valid_call, status=statuses, body=bodies, content_type=content_types)
async def test_malformed_replies_give_a_typed_result_or_a_typed_error(
    case: tuple[str, Call], status: int, body: bytes, content_type: str | None
) -> None:
    """The documented contract (``APIResponse.parse``): a non-2xx status raises an
    ``APIStatusError``; a 2xx body that is not JSON raises ``APIStatusError``; JSON of another
    shape raises ``msgspec.ValidationError`` (let through as is, not wrapped). Nothing else."""
    name, invoke = case
    assume(not _crashes_msgspec(body))  # known bugs, pinned below
    headers = {} if content_type is None else {"content-type": content_type}
    transport = MockTransport(lambda request: Response(status, headers, body))
    async with client_for(transport, max_retries=0) as tk:
        try:
            await run_call(tk, invoke)
        except APIStatusError as exc:
            error: APIStatusError | None = exc
        except msgspec.ValidationError:
            # Only for 2xx. Usually JSON of another shape, but also for some invalid JSON: the
            # typed decoder checks the first value's type before it sees trailing garbage
            # (b'""\x00' gives "Expected `object`, got `str`").
            assert 200 <= status < 300, (name, status)
            error = None
        else:
            error = None
        if error is not None:
            assert error.status_code == status
            if 200 <= status < 300:  # a 2xx is an APIStatusError only for a body that is not JSON
                assert not _is_valid_json(body), (name, body)
    assert len(transport.requests) >= 1


@settings(max_examples=200, deadline=None, suppress_health_check=HEALTH)
@given(status=statuses, body=bodies, content_type=content_types)
async def test_request_never_crashes_on_a_malformed_reply(
    status: int, body: bytes, content_type: str | None
) -> None:
    """``request()`` itself never decodes a 2xx body: it returns it, and ``data`` decodes lazily
    (``None`` for blank, ``APIStatusError`` for non-JSON). Errors come back as ``APIStatusError``
    with a body that never raises to read."""
    assume(not _crashes_msgspec(body))  # known bugs, pinned below
    headers = {} if content_type is None else {"content-type": content_type}
    transport = MockTransport(lambda request: Response(status, headers, body))
    async with client_for(transport, max_retries=0) as tk:
        try:
            response = await tk.request("GET", "/admin/v0/x")
        except APIStatusError as exc:
            error: APIStatusError | None = exc
        else:
            error = None
        if error is not None:
            assert not 200 <= status < 300
            assert error.status_code == status
            assert repr(error)
            assert str(error)
            assert error.code is None or isinstance(error.code, str)
            return
        assert 200 <= status < 300
        assert response.content == body
        try:
            data = response.data
        except APIStatusError:
            assert body.strip()
            assert not _is_valid_json(body)
        else:
            assert data is None if not body.strip() else _is_valid_json(body)


# -- 3. bulk runs lose nothing -------------------------------------------------------------------

outcomes = st.sampled_from(
    [
        "ok",
        ValueError,
        KeyError,
        RuntimeError,
        TypeError,
        AttributeError,
        ZeroDivisionError,
        UnicodeDecodeError,
        TightknitError,
        APIStatusError,
        msgspec.ValidationError,
        OSError,
        TimeoutError,
    ]
)


def _raise(kind: type[BaseException]) -> None:
    if kind is UnicodeDecodeError:
        b"\xff".decode()
    if kind is APIStatusError:
        raise APIStatusError("boom", status_code=500)
    raise kind("boom")


@settings(max_examples=25, deadline=None, suppress_health_check=HEALTH)
@given(plan=st.lists(outcomes, min_size=200, max_size=200), concurrency=st.integers(1, 16))
async def test_bulk_run_accounts_for_every_item(plan: list[Any], concurrency: int) -> None:
    calls: list[int] = []

    async def fn(item: BulkItem[int]) -> int:
        calls.append(item.index)
        outcome = plan[item.value]
        if outcome == "ok":
            return item.value
        _raise(outcome)
        raise AssertionError("unreachable")

    summary = await run_bulk(range(200), fn, job="fuzz", concurrency=concurrency)
    assert summary.stopped == "completed"
    assert summary.succeeded + summary.failed + summary.skipped == 200
    assert summary.succeeded == plan.count("ok")
    assert summary.failed == 200 - plan.count("ok")
    assert summary.not_started == 0
    assert summary.abandoned == ()
    assert sorted(calls) == list(range(200))


@pytest.mark.parametrize("name", [name for name, _ in valid_calls])
async def test_every_valid_call_succeeds_on_the_valid_body(name: str) -> None:
    """The control: the universal valid body really is valid for every method."""
    invoke = dict(valid_calls)[name]
    transport = MockTransport(lambda request: json_response(200, VALID_BODY))
    async with client_for(transport) as tk:
        await run_call(tk, invoke)
    assert transport.requests


# -- hostile bodies and arguments that once escaped untyped (fixed; kept as regressions) --------

INVALID_UTF8_IN_STRING = b'{"success":true,"data":{"id":"\xc3\x28"}}'
DEEPLY_NESTED = nested(5000)


@pytest.mark.parametrize("name", ["api_key.me", "posts.retrieve", "feeds.retrieve"])
async def test_invalid_utf8_in_a_2xx_body_is_a_typed_error(name: str) -> None:
    transport = MockTransport(lambda request: Response(200, {}, INVALID_UTF8_IN_STRING))
    async with client_for(transport) as tk:
        with pytest.raises((APIStatusError, msgspec.DecodeError)):
            await run_call(tk, dict(valid_calls)[name])


async def test_invalid_utf8_in_an_error_body_is_a_typed_error() -> None:
    transport = MockTransport(lambda request: Response(500, {}, INVALID_UTF8_IN_STRING))
    async with client_for(transport, max_retries=0) as tk:
        with pytest.raises(APIStatusError):
            await tk.request("GET", "/admin/v0/x")


async def test_deeply_nested_2xx_body_data_is_a_typed_error() -> None:
    transport = MockTransport(lambda request: Response(200, {}, DEEPLY_NESTED))
    async with client_for(transport) as tk:
        response = await tk.request("GET", "/admin/v0/x")
        with pytest.raises((APIStatusError, msgspec.DecodeError)):
            response.data  # noqa: B018


async def test_deeply_nested_json_in_a_2xx_model_field_is_a_typed_error() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    body = b'{"success":true,"data":{"id":"e1","description_slack_blocks":[{"x":' + deep + b"}]}}"
    transport = MockTransport(lambda request: Response(200, {}, body))
    async with client_for(transport) as tk:
        with pytest.raises((APIStatusError, msgspec.DecodeError)):
            await tk.calendar_events.retrieve("e1")


async def test_deeply_nested_error_body_is_a_typed_error() -> None:
    transport = MockTransport(lambda request: Response(500, {}, DEEPLY_NESTED))
    async with client_for(transport, max_retries=0) as tk:
        with pytest.raises(APIStatusError):
            await tk.api_key.me()


@pytest.mark.parametrize("params", ["0", [("a", "b")], 1])
async def test_request_params_not_a_mapping(params: Any) -> None:
    transport = MockTransport(lambda request: json_response(200, VALID_BODY))
    async with client_for(transport) as tk:
        with pytest.raises((TypeError, ValueError)):
            await tk.request("GET", "/admin/v0/x", params=params)
    assert transport.requests == []


@pytest.mark.parametrize("headers", ["0", {0: "x"}])
async def test_default_headers_not_str_to_str(headers: Any) -> None:
    transport = MockTransport(lambda request: json_response(200, VALID_BODY))
    with pytest.raises((TypeError, ValueError)):
        AsyncTightknit(api_key=KEY, transport=transport, default_headers=headers)
