"""Every resource method survives the ways a live API drifts (property-based).

Each recorded real reply and each reply of the fake server is mutated one way at a time: an extra
field at any level, any field set to null, any field removed, a new enum value, the other timestamp
form. Served to the resource method that reads it, the mutated reply must:

- by default, always give a result, whose fields other than the mutated one keep their values;
- with ``strict_responses=True``, raise ``ResponseValidationError`` exactly when the mutation breaks
  a declared type (a null where the model does not allow one, a required field removed), and give
  the same result as the tolerant client otherwise.

The oracle for "breaks a declared type" reads the model's annotations along the mutated path, not
the decoder: it would catch a strict mode that raised too often or too seldom.
"""

from __future__ import annotations

import asyncio
import copy
import json
import types
import typing
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tightknit_async import AsyncTightknit, ResponseValidationError
from tightknit_async.idempotency import MemoryIdempotencyStore
from tightknit_async.models import (
    Ack,
    ApiKeyInfo,
    CalendarEvent,
    CalendarEventCreated,
    DeletedRef,
    Envelope,
    Feed,
    File,
    ListPage,
    MemberUpsert,
    Post,
)
from tightknit_async.models._scalars import Timestamp
from tightknit_async.models._tolerant import reset_warnings
from tightknit_async.testing import FakeTightknit, MockTransport, json_response
from tightknit_async.transport import Request, Response

RECORDED = Path(__file__).parent / "recorded"
KEY = "sk_test_drift_0123456789abcdef"
UUID = "3f1c2b9e-8d4a-4c1e-9b7a-2e5f6a7b8c9d"
EVENT_ID = "abcdefghijkl"

Call = Callable[[AsyncTightknit], Awaitable[Any]]

CREATE_EVENT: dict[str, Any] = {
    "title": "Drift check",
    "start_date": "2026-01-07T15:00:00-07:00",
    "end_date": "2026-01-07T16:00:00-07:00",
    "description": {"text": "x"},
    "publish_to_slack_channels": ["C012345"],
    "hosts": {"slack_user_ids": ["U012345"]},
}

# resource method -> (how to call it, the model of its reply, how the result maps to the JSON)
CALLS: dict[str, tuple[Call, Any]] = {
    "api_key.me": (lambda tk: tk.api_key.me(), Envelope[ApiKeyInfo]),
    "calendar_events.list": (
        lambda tk: tk.calendar_events.list(),  # type: ignore[arg-type,return-value]
        Envelope[ListPage[CalendarEvent]],
    ),
    "calendar_events.retrieve": (
        lambda tk: tk.calendar_events.retrieve(EVENT_ID),
        Envelope[CalendarEvent],
    ),
    "calendar_events.create": (
        lambda tk: tk.calendar_events.create(**CREATE_EVENT),
        Envelope[CalendarEventCreated],
    ),
    "calendar_events.delete": (
        lambda tk: tk.calendar_events.delete(EVENT_ID),
        Envelope[DeletedRef],
    ),
    "feeds.list": (lambda tk: tk.feeds.list(), Envelope[ListPage[Feed]]),  # type: ignore[arg-type,return-value]
    "feeds.retrieve": (lambda tk: tk.feeds.retrieve(UUID), Envelope[Feed]),
    "feeds.list_posts": (
        lambda tk: tk.feeds.list_posts(UUID),  # type: ignore[arg-type,return-value]
        Envelope[ListPage[Post]],
    ),
    "posts.retrieve": (lambda tk: tk.posts.retrieve("w6sy87nsu78w"), Envelope[Post]),
    "search.list": (lambda tk: tk.search.list(q="a"), Envelope[ListPage[Post]]),  # type: ignore[arg-type,return-value]
    "members.create": (
        lambda tk: tk.members.create(email="ada@example.com", full_name="Ada Lovelace"),
        Envelope[MemberUpsert],
    ),
    "files.upload": (
        lambda tk: tk.files.upload(b"hello", filename="a.txt"),
        Envelope[File],
    ),
    "awards.assign": (
        lambda tk: tk.awards.assign(UUID, recipient={"slack_user_id": "U012345"}),
        Ack,
    ),
    "groups.add_members": (lambda tk: tk.groups.add_members(UUID, users=["U012345"]), Ack),
}

RECORDINGS = {
    "calendar_events_get": "calendar_events.retrieve",
    "calendar_events_list": "calendar_events.list",
    "calendar_events_list_upcoming": "calendar_events.list",
    "feeds_get": "feeds.retrieve",
    "feeds_list": "feeds.list",
    "feeds_posts": "feeds.list_posts",
}


async def _fake_replies() -> list[tuple[str, dict[str, Any]]]:
    """One real reply of the fake server for every call above."""
    async with (
        FakeTightknit(rate_limit=None) as fake,
        AsyncTightknit(
            api_key=fake.api_key,
            base_url=fake.url,
            rate_limit=None,
            idempotency_store=MemoryIdempotencyStore(),
        ) as tk,
    ):
        user = next(iter(fake.profiles.values())).slack_user_id
        feed = next(iter(fake.feeds.values()))
        event = next(iter(fake.calendar_events.values()))
        post = next(iter(fake.posts.values()))
        body = {
            **CREATE_EVENT,
            "publish_to_slack_channels": [feed.slack_channel_id],
            "hosts": {"slack_user_ids": [user]},
        }
        created = await tk.request("POST", "/admin/v0/calendar_events", json=body)
        new_id = created.data["data"]["calendar_event_id"]
        requests: dict[str, tuple[str, str, Any]] = {
            "api_key.me": ("GET", "/admin/v0/api_key/me", None),
            "calendar_events.list": ("GET", "/admin/v0/calendar_events?time_filter=all", None),
            "calendar_events.retrieve": ("GET", f"/admin/v0/calendar_events/{event.id}", None),
            "calendar_events.delete": ("DELETE", f"/admin/v0/calendar_events/{new_id}", None),
            "feeds.list": ("GET", "/admin/v0/feeds", None),
            "feeds.retrieve": ("GET", f"/admin/v0/feeds/{feed.id}", None),
            "feeds.list_posts": ("GET", f"/admin/v0/feeds/{feed.id}/posts", None),
            "posts.retrieve": ("GET", f"/admin/v0/posts/{post.id}", None),
            "search.list": ("GET", "/admin/v0/search?q=the", None),
            "members.create": (
                "POST",
                "/admin/v0/members",
                {"email": "ada@example.com", "full_name": "Ada Lovelace"},
            ),
        }
        replies = [("calendar_events.create", created.data)]
        for name, (method, path, json_body) in requests.items():
            if json_body is None:
                response = await tk.request(method, path)
            else:
                response = await tk.request(method, path, json=json_body)
            replies.append((name, response.data))
        file = await tk.files.upload(b"hello", filename="a.txt")
        replies.append(("files.upload", {"success": True, "data": msgspec.to_builtins(file)}))
        award = next(iter(fake.awards.values()))
        assigned = await tk.request(
            "POST",
            f"/admin/v0/awards/{award.id}/assign",
            json={"recipient": {"slack_user_id": user}},
        )
        replies.append(("awards.assign", assigned.data))
        group = next(iter(fake.groups.values()))
        added = await tk.request(
            "PUT", f"/admin/v0/groups/{group.id}/members", json={"users": [user]}
        )
        replies.append(("groups.add_members", added.data))
    return replies


def _recorded_replies() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, call in RECORDINGS.items():
        recording = json.loads((RECORDED / f"{name}.json").read_text())
        out.append((call, recording["response"]["body"]))
    return out


@pytest.fixture(scope="module")
def replies() -> list[tuple[str, dict[str, Any]]]:
    return _recorded_replies() + asyncio.run(_fake_replies())


def test_every_resource_method_is_covered(replies: list[tuple[str, dict[str, Any]]]) -> None:
    assert {name for name, _ in replies} == set(CALLS)
    assert len(replies) == len(RECORDINGS) + len(CALLS)


def test_every_reply_decodes_in_strict_mode(replies: list[tuple[str, dict[str, Any]]]) -> None:
    """The models fit every recorded real reply and every fake-server reply exactly."""
    for call, body in replies:
        result = asyncio.run(serve(call, body, strict=True))
        if CALLS[call][1] is not Ack:
            assert result is not None, call


# -- mutations ----------------------------------------------------------------------------------

Path_ = tuple[str | int, ...]


def field_paths(value: Any, prefix: Path_ = ()) -> list[Path_]:
    """The path of every object member, at every depth (list items are walked, not mutated)."""
    paths: list[Path_] = []
    if isinstance(value, dict):
        for key, item in value.items():
            paths.append((*prefix, key))
            paths += field_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += field_paths(item, (*prefix, index))
    return paths


def object_paths(value: Any, prefix: Path_ = ()) -> list[Path_]:
    paths: list[Path_] = [prefix] if isinstance(value, dict) else []
    if isinstance(value, dict):
        for key, item in value.items():
            paths += object_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += object_paths(item, (*prefix, index))
    return paths


def get(value: Any, path: Path_) -> Any:
    for step in path:
        value = value[step]
    return value


def other_timestamp_form(text: str) -> str | None:
    """``2025-03-11T13:06:35.55+00:00`` <-> ``2025-03-11 13:06:35.55+00``; None if no timestamp."""
    if len(text) < 19 or text[4] != "-" or text[10] not in "T ":
        return None
    if "T" in text[10]:
        head = text.replace("T", " ", 1)
        return head[:-3] if head.endswith("+00:00") else head
    iso = text.replace(" ", "T", 1)
    return iso + ":00" if iso.endswith("+00") else iso


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)


@st.composite
def mutation(draw: st.DrawFn, body: dict[str, Any]) -> tuple[str, Path_, dict[str, Any]]:
    """(kind, path, mutated body)."""
    mutated = copy.deepcopy(body)
    fields = field_paths(body)
    kinds = ["extra", "null", "remove"]
    enum_paths = [p for p in fields if p[-1] == "status" and isinstance(get(body, p), str)]
    stamp_paths = [
        p for p in fields if isinstance(get(body, p), str) and other_timestamp_form(get(body, p))
    ]
    if enum_paths:
        kinds.append("enum")
    if stamp_paths:
        kinds.append("timestamp")
    kind = draw(st.sampled_from(kinds))
    if kind == "extra":
        owner = draw(st.sampled_from(object_paths(body)))
        name = "zz_" + draw(st.text("abcdefgh_", min_size=1, max_size=8))
        get(mutated, owner)[name] = draw(JSON_VALUES)
        return kind, (*owner, name), mutated
    if kind == "enum":
        path = draw(st.sampled_from(enum_paths))
        get(mutated, path[:-1])[path[-1]] = "zz_" + draw(st.sampled_from(["cancelled", "archived"]))
        return kind, path, mutated
    if kind == "timestamp":
        path = draw(st.sampled_from(stamp_paths))
        get(mutated, path[:-1])[path[-1]] = other_timestamp_form(get(body, path))
        return kind, path, mutated
    path = draw(st.sampled_from(fields))
    if kind == "null":
        get(mutated, path[:-1])[path[-1]] = None
    else:
        del get(mutated, path[:-1])[path[-1]]
    return kind, path, mutated


# -- the oracle: what the model declares along a path -------------------------------------------


def _strip(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _members(tp: Any) -> tuple[Any, ...]:
    tp = _strip(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return tuple(_strip(m) for m in typing.get_args(tp))
    return (tp,)


def declared(root: Any, path: Path_) -> tuple[Any, bool] | None:
    """(annotation, required) of the field at ``path``; None when the path leaves the models
    (an unknown field, or inside opaque JSON such as Slack blocks)."""
    tp: Any = root
    required = True
    for step in path:
        structs = [m for m in _members(tp) if _is_struct(m)]
        if isinstance(step, int):
            lists = [m for m in _members(tp) if typing.get_origin(m) is list]
            if not lists:
                return None
            tp, required = typing.get_args(lists[0])[0], True
            continue
        if not structs:
            return None
        info = {f.encode_name: f for f in msgspec.structs.fields(structs[0])}.get(step)
        if info is None:
            return None
        tp = info.type
        required = info.default is msgspec.NODEFAULT and info.default_factory is msgspec.NODEFAULT
    return tp, required


def _is_struct(tp: Any) -> bool:
    cls = typing.get_origin(tp) or tp
    return isinstance(cls, type) and issubclass(cls, msgspec.Struct)


def breaks_declared_type(root: Any, kind: str, path: Path_) -> bool:
    field = declared(root, path)
    if field is None:
        return False
    tp, required = field
    if kind == "remove":
        return required
    if kind == "null":
        members = _members(tp)
        return type(None) not in members and Any not in members
    return False


def is_typed_timestamp(root: Any, path: Path_) -> bool:
    field = declared(root, path)
    return field is not None and Timestamp in _members(field[0])


# -- comparing results ----------------------------------------------------------------------------


def result_path(call: str, path: Path_) -> Path_ | None:
    """Where a JSON path lands in the method's result (builtins); None: outside the result."""
    if call in ("awards.assign", "groups.add_members"):
        return None
    if call == "members.create":  # MemberResult(member, created, message)
        if path[:1] == ("message",):
            return ("message",)
        return path[1:] if path[:1] == ("data",) else None
    return path[1:] if path[:1] == ("data",) else None


def without(value: Any, path: Path_) -> Any:
    """``value`` (builtins) without the member at ``path`` (nothing at all if ``path`` is ())."""
    if not path:
        return None
    value = copy.deepcopy(value)
    owner = value
    for step in path[:-1]:
        try:
            owner = owner[step]
        except (KeyError, IndexError, TypeError):
            return value
    if isinstance(owner, dict):
        owner.pop(path[-1], None)
    return value


async def serve(call: str, body: dict[str, Any], *, strict: bool) -> Any:
    def answer(request: Request) -> Response:
        status = 201 if call == "members.create" else 200
        return json_response(status, body, {"x-request-id": "req_drift"})

    async with AsyncTightknit(
        api_key=KEY,
        transport=MockTransport(answer),
        rate_limit=None,
        max_retries=0,
        idempotency_store=MemoryIdempotencyStore(),
        strict_responses=strict,
    ) as tk:
        return await CALLS[call][0](tk)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_drifted_reply_never_breaks_a_call(
    replies: list[tuple[str, dict[str, Any]]], data: st.DataObject
) -> None:
    reset_warnings()
    call, body = data.draw(st.sampled_from(replies))
    kind, path, mutated = data.draw(mutation(body))
    model = CALLS[call][1]

    original = msgspec.to_builtins(asyncio.run(serve(call, body, strict=True)))
    tolerant = msgspec.to_builtins(asyncio.run(serve(call, mutated, strict=False)))
    where = result_path(call, path)
    if kind == "timestamp" and is_typed_timestamp(model, path):
        assert tolerant == original  # the same instant, whichever form
    elif where is not None:
        assert without(tolerant, where) == without(original, where)
    else:
        assert tolerant == original

    if breaks_declared_type(model, kind, path):
        with pytest.raises(ResponseValidationError) as caught:
            asyncio.run(serve(call, mutated, strict=True))
        assert caught.value.request_id == "req_drift"
        assert caught.value.json_path.startswith("$")
    else:
        strict = msgspec.to_builtins(asyncio.run(serve(call, mutated, strict=True)))
        assert strict == tolerant
