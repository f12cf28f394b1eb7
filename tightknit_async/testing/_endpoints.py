"""The API's endpoints: one table row per route, one plain function per handler.

A handler takes a `Call` (the parsed request plus the data) and returns a `Reply`, or raises
`ApiError`; it never sees aiohttp, so each is a few lines over `Dataset`. To add an endpoint of
``API.md``, write its handler and add an `Endpoint` to `ENDPOINTS` with the permission and plan it
needs; the server mounts every row under ``/admin/v0`` and runs authentication, the rate limit,
the permission and plan checks and idempotency before the handler.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from multidict import MultiMapping

from ._dataset import Dataset
from ._ids import IdFactory
from ._keys import ApiKey, Plan
from ._records import CalendarEvent, EventStatus, iso_timestamp
from ._responses import not_found
from ._validation import (
    body_email,
    body_optional_url,
    body_string,
    query_bool,
    query_choice,
    query_int,
)

PATH_PREFIX = "/admin/v0"

TimeFilter = Literal["upcoming", "past", "all"]


@dataclass(frozen=True, slots=True)
class Call:
    """One authorised request as a handler sees it.

    ``body`` is the decoded JSON object for endpoints that take one, else empty; ``now`` is the
    wall clock when the handler runs.
    """

    data: Dataset
    ids: IdFactory
    key: ApiKey
    params: Mapping[str, str]
    query: MultiMapping[str]
    body: Mapping[str, Any]
    now: datetime


@dataclass(frozen=True, slots=True)
class Reply:
    """A handler's answer: status and JSON body. ``applied_to`` names the resource a mutation
    changed, and is set only when the request applied one (the server then writes the ledger)."""

    status: int
    body: object
    applied_to: str | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A route: method, path under `PATH_PREFIX`, handler, and what a key needs to call it."""

    method: str
    path: str
    handler: Callable[[Call], Reply]
    permission: str | None
    plan: Plan = "growth"
    json_body: bool = False


def _page(records: Sequence[object], call: Call) -> Reply:
    """The list envelope of one page of ``records`` (``page`` 0-based, ``per_page`` 1-100)."""
    page = query_int(call.query, "page", default=0, minimum=0)
    per_page = query_int(call.query, "per_page", default=10, minimum=1, maximum=100)
    start = page * per_page
    chunk = records[start : start + per_page]
    return Reply(
        200,
        {
            "success": True,
            "data": {
                "page": page,
                "per_page": per_page,
                "count": len(chunk),
                "total_records": len(records),
                "total_pages": math.ceil(len(records) / per_page),
                "has_next": start + per_page < len(records),
                "records": chunk,
            },
        },
    )


def api_key_me(call: Call) -> Reply:
    """``GET /api_key/me``: the calling key's id, name, community, plan and permissions."""
    key = call.key
    community = call.data.community
    return Reply(
        200,
        {
            "success": True,
            "data": {
                "id": key.id,
                "type": "developer",
                "name": key.name,
                "community": {"id": community.id, "name": community.name, "plan": key.plan},
                "permissions": list(key.permissions),
                "created_at": iso_timestamp(key.created_at),
            },
        },
    )


def add_member(call: Call) -> Reply:
    """``POST /members``: create the member with this e-mail (201) or update it (200).

    Body: ``email`` (required, 1-254, an address), ``full_name`` (required, 1-100 after
    stripping), ``avatar_url_original`` (optional, null or an http(s) URL of at most 2048).
    """
    email = body_email(call.body, "email")
    full_name = body_string(call.body, "full_name", max_length=100, strip=True)
    avatar = body_optional_url(call.body, "avatar_url_original", max_length=2048)
    member, created = call.data.upsert_member(
        call.ids, email=email, full_name=full_name, avatar_url_original=avatar
    )
    return Reply(
        201 if created else 200,
        {
            "success": True,
            "message": "Member created" if created else "Member updated",
            "data": {"member": member},
        },
        applied_to=member.id,
    )


def _in_time_window(event: CalendarEvent, time_filter: TimeFilter, now: datetime) -> bool:
    # An event matches when its span lies fully or partly in the window, so a running event is
    # both upcoming and past.
    if time_filter == "upcoming":
        return datetime.fromisoformat(event.end_date) >= now
    if time_filter == "past":
        return datetime.fromisoformat(event.start_date) < now
    return True


def list_calendar_events(call: Call) -> Reply:
    """``GET /calendar_events``: a page of events by start date, filtered.

    Filters: ``time_filter`` (upcoming, past or all; default all), ``status`` (draft,
    needs_approval or published; default published), ``published_to_site`` and ``is_unlisted``
    ('true' or 'false'; both kinds when absent).
    """
    # The legacy spec says time_filter defaults to upcoming, but the recorded live list without
    # it (recorded/calendar_events_list.json) returned past events too: the real default is all.
    time_filter: TimeFilter = query_choice(
        call.query, "time_filter", get_args(TimeFilter), default="all"
    )
    status: EventStatus = query_choice(
        call.query, "status", get_args(EventStatus), default="published"
    )
    published_to_site = query_bool(call.query, "published_to_site")
    is_unlisted = query_bool(call.query, "is_unlisted")
    events = [
        event
        for event in call.data.calendar_events.values()
        if event.status == status
        and (published_to_site is None or event.publish_to_site == published_to_site)
        and (is_unlisted is None or event.is_unlisted == is_unlisted)
        and _in_time_window(event, time_filter, call.now)
    ]
    events.sort(key=lambda event: datetime.fromisoformat(event.start_date))
    return _page(events, call)


def get_calendar_event(call: Call) -> Reply:
    """``GET /calendar_events/{id}``: one event of any status, or 404."""
    event = call.data.calendar_events.get(call.params["calendar_event_id"])
    if event is None:
        raise not_found("Calendar event not found")
    return Reply(200, {"success": True, "data": event})


def list_feeds(call: Call) -> Reply:
    """``GET /feeds``: a page of feeds."""
    return _page(list(call.data.feeds.values()), call)


def get_feed(call: Call) -> Reply:
    """``GET /feeds/{id}``: one feed, or 404."""
    feed = call.data.feeds.get(call.params["feed_id"])
    if feed is None:
        raise not_found("Feed not found")
    return Reply(200, {"success": True, "data": feed})


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/api_key/me", api_key_me, permission=None),
    Endpoint("POST", "/members", add_member, "members:write", plan="enterprise", json_body=True),
    Endpoint("GET", "/calendar_events", list_calendar_events, "calendar_events:read"),
    Endpoint(
        "GET", "/calendar_events/{calendar_event_id}", get_calendar_event, "calendar_events:read"
    ),
    Endpoint("GET", "/feeds", list_feeds, "feeds:read"),
    Endpoint("GET", "/feeds/{feed_id}", get_feed, "feeds:read"),
)
"""Every endpoint the fake serves."""
