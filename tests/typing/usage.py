"""Type-checked usage of every resource method (``mypy --strict tests/typing/usage.py``).

Never run: the code lives in ``async def`` functions nobody calls. It exists so that mypy checks
the public surface the way a user writes against it: realistic arguments, per-call options, and
the typed results. ``assert_type`` pins exact types, so a result that silently became ``Any`` (or
an ``Optional`` that lost its ``None``) fails the check without any ``# type: ignore``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, assert_type

from tightknit_async import (
    AsyncTightknit,
    NotFoundError,
    PlanRequiredError,
    RequestValidationError,
    Timeout,
)
from tightknit_async.models import (
    ApiKeyCommunity,
    ApiKeyInfo,
    CalendarEvent,
    CalendarEventCreated,
    DeletedRef,
    Feed,
    FeedRef,
    File,
    ListPage,
    Member,
    MemberResult,
    MessageContent,
    Post,
    ProfileSummary,
    PublishedTo,
    SearchHit,
    SlackMessage,
    Tag,
    UserRef,
    UserRefs,
)
from tightknit_async.pagination import AsyncPager
from tightknit_async.resources import RequestOptions

EVENT_ID = "8x38el2x6di9"
FEED_ID = "b7a0df7e-e867-4847-8577-3bed1774ac7c"
POST_ID = "w6sy87nsu78w"
MEMBER_ID = "cfa233f7-a0ac-431e-8f94-27a286f2ac32"
AWARD_ID = "3f0c1f8e-4a57-4c59-9d0b-5a1e6e1f2c10"
GROUP_ID = "123e4567-e89b-12d3-a456-426614174000"
BADGE_ID = "c95e654d-e2fc-44bd-a05a-148355113dfa"


async def api_key(tk: AsyncTightknit) -> None:
    me = await tk.api_key.me(timeout=2.0)
    assert_type(me, ApiKeyInfo)
    assert_type(me.permissions, list[str])
    assert_type(me.community, ApiKeyCommunity | None)
    assert_type(me.created_at, datetime | None)
    if me.community is not None and me.community.plan == "enterprise":
        assert_type(me.has_permission("members:write"), bool)


async def members(tk: AsyncTightknit) -> None:
    result = await tk.members.create(
        email="ada@example.org",
        full_name="Ada Lovelace",
        avatar_url_original="https://example.org/ada.png",
        idempotency_key=str(uuid.uuid4()),
    )
    assert_type(result, MemberResult)
    assert_type(result.member, Member)
    assert_type(result.member.id, str)
    assert_type(result.member.slack_profile_id, str | None)
    assert_type(result.created, bool)
    assert_type(result.message, str | None)
    # avatar left out (not sent) or explicitly null
    await tk.members.create(email="grace@example.org", full_name="Grace Hopper")
    await tk.members.create(
        email="alan@example.org", full_name="Alan Turing", avatar_url_original=None
    )

    # Mutations without a payload return None: pin the coroutine type, then await it.
    await assert_type(
        tk.members.deactivate(result.member.id, max_retries=5), Coroutine[Any, Any, None]
    )
    try:
        await tk.members.deactivate(MEMBER_ID, idempotency_key=False)
    except NotFoundError as exc:
        assert_type(exc.status_code, int)
    except PlanRequiredError:
        pass


async def calendar_events(tk: AsyncTightknit) -> None:
    # A list call is not a coroutine: it returns a pager at once.
    pager = tk.calendar_events.list(
        time_filter="upcoming",
        status="published",
        published_to_site=True,
        is_unlisted=False,
        per_page=50,
        priority="bulk",
    )
    assert_type(pager, AsyncPager[CalendarEvent])

    # await: one page
    page = await pager
    assert_type(page, ListPage[CalendarEvent])
    assert_type(page.records, list[CalendarEvent])
    assert_type(page.records[0].title, str | None)
    assert_type(page.has_next, bool)
    assert_type(page.total_pages, int)
    assert_type(page.next_page, int | None)
    if page.next_page is not None:
        await tk.calendar_events.list(page=page.next_page, per_page=50)

    # async for: every item of every page
    upcoming: list[tuple[datetime, str]] = []
    async for event in tk.calendar_events.list(time_filter="all", max_items=200, concurrency=2):
        assert_type(event, CalendarEvent)
        assert_type(event.start_date, datetime | None)
        if event.start_date is not None and event.title is not None:
            upcoming.append((event.start_date.astimezone(UTC), event.title))
        for host in event.hosts:
            assert_type(host, ProfileSummary)
            assert_type(host.preferred_name, str | None)
        for target in event.published_to:
            assert_type(target, PublishedTo)
            assert_type(target.slack_message_permalink, str | None)
        assert_type(event.tags, list[Tag] | None)
        assert_type(event.attendees_count, int)

    async for one_page in tk.calendar_events.list(status="draft", max_pages=3).pages():
        assert_type(one_page, ListPage[CalendarEvent])
    everything = await tk.calendar_events.list(max_items=20).collect()
    assert_type(everything, list[CalendarEvent])

    event = await tk.calendar_events.retrieve(EVENT_ID, timeout=Timeout(connect=2.0, total=10.0))
    assert_type(event, CalendarEvent)
    assert_type(event.id, str)
    assert_type(event.created_at, datetime | None)
    assert_type(event.description_slack_blocks, list[dict[str, Any]] | None)
    if event.end_date is not None and event.start_date is not None:
        assert_type(event.end_date - event.start_date, timedelta)

    start = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
    created = await tk.calendar_events.create(
        title="Office hours",
        start_date=start,
        end_date=start + timedelta(hours=1),
        description=MessageContent(text="Bring your questions."),
        publish_to_slack_channels=["C08HCRJ9Z7B"],
        hosts=UserRefs(slack_user_ids=["U08FTAZTVJT"]),
        speakers={"emails": ["grace@example.org"]},
        status="needs_approval",
        slug="office-hours",
        recap={"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Notes*"}}]},
        allow_public_guest_list=True,
        enable_registration_button=True,
        use_registration_btn_as_link=False,
        external_speakers="John Doe, Jane Doe",
        is_unlisted=False,
        link="https://example.org/office-hours",
        location=None,
        luma_event_id=None,
        publish_to_site=True,
        triggers_webhooks=True,
        recording_link=None,
        webhook_custom_metadata="crm-42",
        show_end_date=True,
        tags=["c95e654d-e2fc-44bd-a05a-148355113dfa"],
        cover_image_file_id="8c1f4b2e-1d2a-4f5b-9c3d-2e1f0a9b8c7d",
        idempotency_key="0f8fad5b-d9cb-469f-a165-70867728950e",
        max_retries=2,
    )
    assert_type(created, CalendarEventCreated)
    assert_type(created.calendar_event_id, str)
    # ISO strings with an offset are accepted too
    await tk.calendar_events.create(
        title="Town hall",
        start_date="2026-04-01T09:00:00-07:00",
        end_date="2026-04-01T10:00:00-07:00",
        description={"text": "Quarterly update."},
        publish_to_slack_channels=("C08HCRJ9Z7B", "C0123456789"),
        hosts={"slack_user_ids": ("U08FTAZTVJT",)},
    )

    deleted = await tk.calendar_events.delete(created.calendar_event_id, priority="interactive")
    assert_type(deleted, DeletedRef)
    assert_type(deleted.id, str)
    try:
        await tk.calendar_events.create(
            title="x",
            start_date=start,
            end_date=start,
            description={"text": "?"},
            publish_to_slack_channels=[],
            hosts={"slack_user_ids": []},
        )
    except RequestValidationError as exc:
        assert_type(exc, RequestValidationError)


async def feeds_and_posts(tk: AsyncTightknit) -> None:
    feeds = await tk.feeds.list(per_page=100)
    assert_type(feeds, ListPage[Feed])
    assert_type(feeds.records[0].label, str | None)
    async for feed in tk.feeds.list():
        assert_type(feed.slack_channel_num_members, int)
        assert_type(feed.is_archived, bool)

    feed = await tk.feeds.retrieve(FEED_ID, max_retries=0)
    assert_type(feed, Feed)
    assert_type(feed.id, str)

    posts_pager = tk.feeds.list_posts(feed.id, per_page=25, max_items=100)
    assert_type(posts_pager, AsyncPager[Post])
    first = await posts_pager
    assert_type(first.records[0].title, str | None)
    async for post in tk.feeds.list_posts(FEED_ID, priority="bulk"):
        assert_type(post, Post)
        assert_type(post.comments_count, int)
        assert_type(post.feed, FeedRef | None)
        if post.slack_message is not None:
            assert_type(post.slack_message, SlackMessage)
            assert_type(post.slack_message.message_ts, str | float | int | None)

    one = await tk.posts.retrieve(POST_ID, timeout=None)
    assert_type(one, Post)
    assert_type(one.created_at, datetime | None)
    assert_type(one.author, ProfileSummary | None)
    assert_type(one.body_prosemirror, dict[str, Any] | None)
    if one.author is not None:
        assert_type(one.author.profile_id, str)


async def search(tk: AsyncTightknit) -> None:
    hits = tk.search.list(q="onboarding", per_page=10, max_pages=2)
    assert_type(hits, AsyncPager[SearchHit])
    assert_type(hits, AsyncPager[Post])  # a hit is a Post
    page = await hits
    assert_type(page.records, list[Post])
    titles = [hit.title async for hit in tk.search.list(q="welcome", max_items=30)]
    assert_type(titles, list[str | None])


async def _chunks() -> AsyncIterator[bytes]:
    yield b"\x89PNG..."


async def files(tk: AsyncTightknit, cover: Path) -> None:
    from_path = await tk.files.upload(cover, description="Event cover")
    assert_type(from_path, File)
    assert_type(from_path.id, str)
    assert_type(from_path.size, int)
    assert_type(from_path.url, str | None)
    from_bytes = await tk.files.upload(
        b"%PDF-1.7...", filename="agenda.pdf", content_type="application/pdf", timeout=120.0
    )
    assert_type(from_bytes.mimetype, str | None)
    streamed = await tk.files.upload(
        _chunks(), filename="banner.png", size=8, max_size=10 * 1024 * 1024, max_retries=0
    )
    assert_type(streamed, File)
    await tk.calendar_events.create(
        title="With a cover",
        start_date="2026-05-01T18:00:00+00:00",
        end_date="2026-05-01T19:00:00+00:00",
        description={"text": "See the cover."},
        publish_to_slack_channels=["C08HCRJ9Z7B"],
        hosts={"profile_ids": [MEMBER_ID]},
        cover_image_file_id=streamed.id,
    )


async def awards_groups_badges(tk: AsyncTightknit) -> None:
    awarding = tk.awards.assign(
        AWARD_ID,
        recipient={"email": "ada@example.org"},
        sender=UserRef(slack_user_id="U08FTAZTVJT"),
        send_anonymously=True,
        idempotency_key=str(uuid.uuid4()),
    )
    await assert_type(awarding, Coroutine[Any, Any, None])
    await tk.awards.assign(AWARD_ID, recipient=UserRef(profile_id=MEMBER_ID))

    adding = tk.groups.add_members(
        GROUP_ID, users=["U08FTAZTVJT", "U08G5NMP269"], idempotency_key=False, priority="bulk"
    )
    await assert_type(adding, Coroutine[Any, Any, None])

    badging = tk.badges.assign(BADGE_ID, users=("U08FTAZTVJT",), timeout=Timeout(total=5.0))
    await assert_type(badging, Coroutine[Any, Any, None])


async def shared_options(tk: AsyncTightknit) -> None:
    """Options built once as a ``RequestOptions`` and spread into any call."""
    bulk: RequestOptions = {"priority": "bulk", "max_retries": 5, "timeout": 30.0}
    await tk.posts.retrieve(POST_ID, **bulk)
    await tk.members.deactivate(MEMBER_ID, **bulk)
    async for feed in tk.feeds.list(**bulk):
        assert_type(feed, Feed)


async def extra_options(tk: AsyncTightknit, cover: Path) -> None:
    """What the typed arguments do not cover: query parameters, body fields, headers."""
    extras: RequestOptions = {
        "extra_query": {"beta": True, "limit": 5},
        "extra_body": {"source": "crm", "tags": ["a", "b"]},
        "extra_headers": {"X-Trace-Id": "t-1"},
    }
    assert_type(await tk.api_key.me(**extras), ApiKeyInfo)
    assert_type(await tk.feeds.retrieve(FEED_ID, **extras), Feed)
    async for post in tk.feeds.list_posts(FEED_ID, extra_query={"sort": "newest"}):
        assert_type(post, Post)
    await tk.members.create(
        email="ada@example.org", full_name="Ada Lovelace", extra_body={"role": "speaker"}
    )
    await tk.files.upload(cover, extra_body={"public": True}, extra_headers={"X-Trace-Id": "t"})
    response = await tk.request("GET", "/admin/v0/feeds", headers={"X-Trace-Id": "t-2"}, **extras)
    assert_type(response.status_code, int)
