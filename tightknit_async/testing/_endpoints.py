"""The API's endpoints: one table row per route, one plain function per handler.

A handler takes a `Call` (the parsed request plus the data) and returns a `Reply`, or raises
`ApiError`; it never sees aiohttp, so each is a few lines over `Dataset`. To add an
endpoint of ``docs/api.md``, write its handler and add an `Endpoint` to `ENDPOINTS` with the
permissions and plan it needs; the server mounts every row under ``/admin/v0`` and runs
authentication, the rate limit, the permission and plan checks and idempotency before the
handler, and decodes the body the row declares (JSON, or a streamed multipart form).

Permissions and plans are not documented per endpoint. The table's choices: every endpoint needs
the ``<resource>:<read|write>`` permission of its URL's resource, and the feed posts list needs
``posts:read`` as well as ``feeds:read``, so a key without ``posts:read`` cannot read posts
through their feed. Member management (add, deactivate) needs the Enterprise plan, as the Studio
documentation suggests for adding members; everything else needs only Growth, the lowest plan,
so no key is refused for a plan requirement nobody has seen.
"""

from __future__ import annotations

import math
import mimetypes
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, get_args
from urllib.parse import quote

from multidict import MultiMapping

from ._calendar_input import new_calendar_event
from ._dataset import Dataset, PersonKey
from ._ids import IdFactory
from ._keys import ApiKey, Plan
from ._multipart import Form
from ._records import (
    AwardAssignment,
    CalendarEvent,
    EventStatus,
    File,
    Member,
    StoredFile,
    iso_timestamp,
)
from ._responses import bad_request, not_found, validation_error
from ._validation import (
    body_bool,
    body_email,
    body_object,
    body_optional_url,
    body_string,
    body_string_list,
    only_key,
    query_bool,
    query_choice,
    query_int,
    query_string,
)

PATH_PREFIX = "/admin/v0"

GROUP_MEMBER_LIMIT = 1000
"""The most members a group managed through the API may have (the Groups guide's figure)."""

TimeFilter = Literal["upcoming", "past", "all"]
BodyKind = Literal["json", "multipart"]

_PERSON_KEYS: Final[tuple[PersonKey, ...]] = get_args(PersonKey)
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{6,14}")
_INTEGER = re.compile(r"[0-9]+")


def _mimetype_table() -> mimetypes.MimeTypes:
    # The standard library's built-in table only (no system files), so guesses are the same on
    # every machine; plus image types it lacks.
    table = mimetypes.MimeTypes()
    table.add_type("image/webp", ".webp")
    table.add_type("image/avif", ".avif")
    return table


_MIMETYPES = _mimetype_table()


@dataclass(frozen=True, slots=True)
class Call:
    """One authorised request as a handler sees it.

    ``body`` is the decoded JSON object for endpoints that take one, else empty; ``form`` the
    parsed multipart form for endpoints that take one, else None; ``now`` is the wall clock when
    the handler runs; ``origin`` is the scheme and host the request was sent to
    (``http://127.0.0.1:PORT``), for URLs the reply hands out.
    """

    data: Dataset
    ids: IdFactory
    key: ApiKey
    params: Mapping[str, str]
    query: MultiMapping[str]
    body: Mapping[str, Any]
    now: datetime
    origin: str
    form: Form | None


@dataclass(frozen=True, slots=True)
class Reply:
    """A handler's answer: status and JSON body. ``applied_to`` names the resource a mutation
    changed, and is set only when the request applied one (the server then writes the ledger)."""

    status: int
    body: object
    applied_to: str | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A route: method, path under `PATH_PREFIX`, handler, what a key needs to call it (every
    one of ``permissions``, and ``plan`` or above), and the body it takes: ``"json"`` (an
    object), ``"multipart"`` (a form whose ``file_fields`` are streamed), or None."""

    method: str
    path: str
    handler: Callable[[Call], Reply]
    permissions: tuple[str, ...]
    plan: Plan = "growth"
    body: BodyKind | None = None
    file_fields: tuple[str, ...] = ()


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


def deactivate_member(call: Call) -> Reply:
    """``POST /members/{id}/deactivate``: deactivate a member who is not linked to Slack.

    Deactivating a deactivated member succeeds again (and is a ledger entry again: the request
    ran). A Slack-linked member is a 400 ``MEMBER_SLACK_LINKED``: Slack is their source of truth.
    """
    member = call.data.members.get(call.params["member_id"])
    if member is None:
        raise not_found("Member not found")
    if member.slack_profile_id is not None:
        raise bad_request(
            "This member is linked to a Slack profile and cannot be deactivated through the "
            "API; deactivate them in Slack",
            "MEMBER_SLACK_LINKED",
        )
    call.data.deactivate_member(member.id)
    return Reply(
        200, {"success": True, "data": {"id": member.id, "deactivated": True}}, applied_to=member.id
    )


def create_calendar_event(call: Call) -> Reply:
    """``POST /calendar_events``: check the body (see ``_calendar_input``), store the event, and
    answer 200 with its id."""
    event = new_calendar_event(call.body, call.data, call.ids, call.now)
    call.data.calendar_events[event.id] = event
    return Reply(
        200, {"success": True, "data": {"calendar_event_id": event.id}}, applied_to=event.id
    )


def delete_calendar_event(call: Call) -> Reply:
    """``DELETE /calendar_events/{id}``: remove an event of any status, or 404."""
    event = call.data.calendar_events.pop(call.params["calendar_event_id"], None)
    if event is None:
        raise not_found("Calendar event not found")
    return Reply(200, {"success": True, "data": {"id": event.id}}, applied_to=event.id)


def list_feed_posts(call: Call) -> Reply:
    """``GET /feeds/{id}/posts``: a page of the feed's posts, newest content first; 404 for an
    unknown feed."""
    feed = call.data.feeds.get(call.params["feed_id"])
    if feed is None:
        raise not_found("Feed not found")
    return _page(call.data.posts_newest_first(feed.id), call)


def get_post(call: Call) -> Reply:
    """``GET /posts/{id}``: one post, or 404."""
    post = call.data.posts.get(call.params["post_id"])
    if post is None:
        raise not_found("Post not found")
    return Reply(200, {"success": True, "data": post})


def search(call: Call) -> Reply:
    """``GET /search?q=``: a page of the posts matching ``q``, newest content first.

    ``q`` is required and not blank. A post matches when every whitespace-separated term of
    ``q`` occurs, ignoring case, in its title or plain-text body.
    """
    terms = query_string(call.query, "q").casefold().split()
    hits = [
        post
        for post in call.data.posts_newest_first()
        if all(term in f"{post.title}\n{post.body_plaintext}".casefold() for term in terms)
    ]
    return _page(hits, call)


def upload_file(call: Call) -> Reply:
    """``POST /files`` (multipart): store the ``file`` part and answer 201 with its `File`.

    Fields: ``file`` (required), ``filename`` (required, 1-255 characters, no ``/`` or ``\\``),
    ``size`` (required, an integer >= 1 equal to the bytes received) and ``description``
    (optional). The mimetype is guessed from the filename, else taken from the part's
    ``Content-Type``. Uploads over the server's maximum were already refused with 413 while
    streaming.
    """
    form = call.form if call.form is not None else Form({}, {})
    received = form.files.get("file")
    if received is None:
        raise validation_error("file is required")
    filename = body_string(form.fields, "filename", max_length=255)
    if "/" in filename or "\\" in filename:
        raise validation_error("filename must not contain path separators")
    size = form.fields.get("size")
    if size is None:
        raise validation_error("size is required")
    if not _INTEGER.fullmatch(size.strip()) or int(size) < 1:
        raise validation_error("size must be an integer >= 1")
    if int(size) != received.size:
        raise validation_error(
            f"size must equal the number of bytes received ({received.size})",
            received=received.size,
        )
    description = form.fields.get("description") or None
    file_id = call.ids.uuid4()
    record = File(
        id=file_id,
        created_at=iso_timestamp(call.now),
        name=filename,
        title=filename,
        size=received.size,
        mimetype=(
            _MIMETYPES.guess_type(filename)[0]
            or received.content_type
            or "application/octet-stream"
        ),
        url=f"{call.origin}/files/{file_id}/{quote(filename)}",
    )
    call.data.files[file_id] = StoredFile(
        file=record, description=description, sha256=received.sha256, content=received.content
    )
    return Reply(201, {"success": True, "data": record}, applied_to=file_id)


def _person(call: Call, name: str) -> Member | None:
    """The active member an award's ``recipient`` or ``sender`` object names (400 otherwise),
    or None when the field is absent or null."""
    person = body_object(call.body, name, required=False)
    if person is None:
        return None
    key = only_key(person, name, _PERSON_KEYS)
    value = body_string(person, key, max_length=254, strip=True, prefix=f"{name}.")
    member = call.data.find_person(key, value)
    if member is None:
        raise validation_error(f"{name}.{key} names no community member: {value}")
    if member.id in call.data.deactivated_member_ids:
        raise validation_error(f"{name} is a deactivated member")
    return member


def assign_award(call: Call) -> Reply:
    """``POST /awards/{id}/assign``: give the award to ``recipient``, optionally from ``sender``
    and ``send_anonymously``; 404 for an unknown award.

    ``recipient`` (required) and ``sender`` are objects with exactly one of ``slack_user_id``,
    ``email`` or ``profile_id`` naming an active member; any member can receive one, Slack-linked
    or not. Every call is one more assignment: an award can be given again.
    """
    award = call.data.awards.get(call.params["award_id"])
    if award is None:
        raise not_found("Award not found")
    recipient = _person(call, "recipient")
    if recipient is None:
        raise validation_error("recipient is required")
    sender = _person(call, "sender")
    anonymous = body_bool(call.body, "send_anonymously", default=False)
    call.data.award_assignments.append(
        AwardAssignment(
            award_id=award.id,
            recipient_id=recipient.id,
            sender_id=None if sender is None else sender.id,
            send_anonymously=anonymous,
            assigned_at=iso_timestamp(call.now),
        )
    )
    return Reply(200, {"success": True}, applied_to=award.id)


def _slack_users(call: Call) -> list[str]:
    """The ``users`` field: one or more Slack user ids (duplicates dropped).

    Checked for form only: the fake's Slack workspace is larger than its set of profiles.
    """
    return body_string_list(
        call.body,
        "users",
        min_items=1,
        max_items=None,
        pattern=_SLACK_USER,
        pattern_label="a Slack user id",
    )


def assign_badge(call: Call) -> Reply:
    """``POST /badges/{id}/assign`` (legacy): give the badge to ``users``; users who hold it
    already are left as they are. 404 for an unknown badge."""
    badge = call.data.badges.get(call.params["badge_id"])
    if badge is None:
        raise not_found("Badge not found")
    call.data.give_badge(badge.id, _slack_users(call), call.now)
    return Reply(200, {"success": True}, applied_to=badge.id)


def add_group_members(call: Call) -> Reply:
    """``PUT /groups/{id}/members``: add ``users`` to the group; members already in it are left
    as they are. 404 for an unknown group; 400 ``GROUP_MEMBER_LIMIT`` (nothing added) when the
    group would pass `GROUP_MEMBER_LIMIT` members."""
    group = call.data.groups.get(call.params["group_id"])
    if group is None:
        raise not_found("Group not found")
    users = _slack_users(call)
    current = set(group.slack_user_ids)
    total = len(current) + sum(user not in current for user in users)
    if total > GROUP_MEMBER_LIMIT:
        raise bad_request(
            f"users would bring the group to {total} members; "
            f"a group can have at most {GROUP_MEMBER_LIMIT}",
            "GROUP_MEMBER_LIMIT",
        )
    call.data.add_group_members(group.id, users)
    return Reply(200, {"success": True}, applied_to=group.id)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/api_key/me", api_key_me, ()),
    Endpoint("POST", "/members", add_member, ("members:write",), "enterprise", "json"),
    Endpoint(
        "POST",
        "/members/{member_id}/deactivate",
        deactivate_member,
        ("members:write",),
        "enterprise",
    ),
    Endpoint("GET", "/calendar_events", list_calendar_events, ("calendar_events:read",)),
    Endpoint(
        "POST", "/calendar_events", create_calendar_event, ("calendar_events:write",), body="json"
    ),
    Endpoint(
        "GET",
        "/calendar_events/{calendar_event_id}",
        get_calendar_event,
        ("calendar_events:read",),
    ),
    Endpoint(
        "DELETE",
        "/calendar_events/{calendar_event_id}",
        delete_calendar_event,
        ("calendar_events:write",),
    ),
    Endpoint("GET", "/feeds", list_feeds, ("feeds:read",)),
    Endpoint("GET", "/feeds/{feed_id}", get_feed, ("feeds:read",)),
    Endpoint("GET", "/feeds/{feed_id}/posts", list_feed_posts, ("feeds:read", "posts:read")),
    Endpoint("GET", "/posts/{post_id}", get_post, ("posts:read",)),
    Endpoint("GET", "/search", search, ("search:read",)),
    Endpoint(
        "POST", "/files", upload_file, ("files:write",), body="multipart", file_fields=("file",)
    ),
    Endpoint("POST", "/awards/{award_id}/assign", assign_award, ("awards:write",), body="json"),
    Endpoint("POST", "/badges/{badge_id}/assign", assign_badge, ("badges:write",), body="json"),
    Endpoint(
        "PUT", "/groups/{group_id}/members", add_group_members, ("groups:write",), body="json"
    ),
)
"""Every endpoint the fake serves: the 16 of ``docs/api.md``."""
