"""Every resource method against the fake server, checking the typed result."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tightknit_async import AsyncTightknit, BadRequestError, NotFoundError
from tightknit_async.models import (
    ApiKeyInfo,
    CalendarEvent,
    CalendarEventCreated,
    DeletedRef,
    Feed,
    File,
    ListPage,
    MemberResult,
    Post,
)
from tightknit_async.testing import FakeTightknit


def member_without_slack(fake: FakeTightknit) -> str:
    return next(m.id for m in fake.members.values() if m.slack_profile_id is None)


def a_slack_user(fake: FakeTightknit) -> str:
    return next(iter(fake.profiles.values())).slack_user_id


async def test_api_key_me(tk: AsyncTightknit, fake: FakeTightknit) -> None:
    me = await tk.api_key.me()
    assert isinstance(me, ApiKeyInfo)
    assert me.community is not None
    assert me.community.name == fake.community.name
    assert "members:write" in me.permissions
    assert me.created_at is not None
    assert me.created_at.tzinfo is not None


async def test_members_create_then_update(tk: AsyncTightknit, fake: FakeTightknit) -> None:
    created = await tk.members.create(email="grace@example.com", full_name="Grace Hopper")
    assert isinstance(created, MemberResult)
    assert created.created is True
    assert created.member.email == "grace@example.com"
    updated = await tk.members.create(
        email="GRACE@example.com",
        full_name="Grace B. Hopper",
        avatar_url_original="https://example.com/g.png",
    )
    assert updated.created is False
    assert updated.member.id == created.member.id
    assert updated.member.full_name == "Grace B. Hopper"
    assert fake.find_member("grace@example.com") is not None


async def test_members_deactivate(tk: AsyncTightknit, fake: FakeTightknit) -> None:
    member_id = member_without_slack(fake)
    await tk.members.deactivate(member_id)
    await tk.members.deactivate(member_id)  # again: still a success
    assert member_id in fake.deactivated_member_ids
    with pytest.raises(NotFoundError):
        await tk.members.deactivate(str(uuid.uuid4()))


async def test_calendar_events_list_one_page_and_all(
    tk: AsyncTightknit, fake: FakeTightknit
) -> None:
    page = await tk.calendar_events.list(time_filter="all", per_page=5)
    assert isinstance(page, ListPage)
    assert page.page == 0
    assert page.per_page == 5
    assert len(page.records) == 5
    assert all(isinstance(e, CalendarEvent) for e in page.records)
    assert page.records[0].start_date is not None
    assert page.records[0].start_date.tzinfo is not None
    everything = [e async for e in tk.calendar_events.list(time_filter="all", per_page=4)]
    assert len(everything) == page.total_records
    assert len({e.id for e in everything}) == len(everything)
    published = [e.id for e in fake.calendar_events.values() if e.status == "published"]
    assert {e.id for e in everything} == set(published)
    drafts = await tk.calendar_events.list(status="draft", time_filter="all")
    assert drafts.records
    assert {e.status for e in drafts.records} == {"draft"}
    assert len(await tk.calendar_events.list(time_filter="all").collect()) == len(published)
    limited = [e async for e in tk.calendar_events.list(time_filter="all", max_items=3)]
    assert len(limited) == 3


async def test_calendar_events_retrieve(tk: AsyncTightknit, fake: FakeTightknit) -> None:
    seeded = next(iter(fake.calendar_events.values()))
    event = await tk.calendar_events.retrieve(seeded.id)
    assert event.id == seeded.id
    assert event.title == seeded.title
    with pytest.raises(NotFoundError):
        await tk.calendar_events.retrieve("zzzzzzzzzzzz")


async def test_calendar_events_create_and_delete(tk: AsyncTightknit, fake: FakeTightknit) -> None:
    start = datetime.now(UTC) + timedelta(days=7)
    host = a_slack_user(fake)
    created = await tk.calendar_events.create(
        title="Async Python office hours",
        start_date=start,
        end_date=start + timedelta(hours=1),
        description={"text": "Bring your event loops."},
        publish_to_slack_channels=[next(iter(fake.feeds.values())).slack_channel_id],
        hosts={"slack_user_ids": [host]},
        status="needs_approval",
        location="Online",
    )
    assert isinstance(created, CalendarEventCreated)
    event = await tk.calendar_events.retrieve(created.calendar_event_id)
    assert event.title == "Async Python office hours"
    assert event.status == "needs_approval"
    assert [h.slack_user_id for h in event.hosts] == [host]
    deleted = await tk.calendar_events.delete(created.calendar_event_id)
    assert isinstance(deleted, DeletedRef)
    assert deleted.id == created.calendar_event_id
    with pytest.raises(NotFoundError):
        await tk.calendar_events.retrieve(created.calendar_event_id)


async def test_feeds_list_retrieve_and_posts(tk: AsyncTightknit, fake: FakeTightknit) -> None:
    feeds = await tk.feeds.list()
    assert all(isinstance(f, Feed) for f in feeds.records)
    assert feeds.total_records == len(fake.feeds)
    feed = await tk.feeds.retrieve(feeds.records[0].id)
    assert feed.label == feeds.records[0].label
    posts = [p async for p in tk.feeds.list_posts(feed.id, per_page=2)]
    expected = [p.id for p in fake.posts.values() if p.feed_id == feed.id]
    assert sorted(p.id for p in posts) == sorted(expected)
    assert all(isinstance(p, Post) and p.feed_id == feed.id for p in posts)
    with pytest.raises(NotFoundError):
        await tk.feeds.retrieve(str(uuid.uuid4()))


async def test_posts_retrieve(tk: AsyncTightknit, fake: FakeTightknit) -> None:
    seeded = next(iter(fake.posts.values()))
    post = await tk.posts.retrieve(seeded.id)
    assert post.id == seeded.id
    assert post.created_at is not None
    assert post.created_at.tzinfo is not None  # the Postgres "+00" form decoded
    assert post.author is not None


async def test_search_list(tk: AsyncTightknit, fake: FakeTightknit) -> None:
    word = next(iter(fake.posts.values())).title.split()[0]
    hits = [h async for h in tk.search.list(q=word)]
    assert hits
    assert all(
        word.lower() in (h.title or "").lower() + (h.body_plaintext or "").lower() for h in hits
    )
    with pytest.raises(BadRequestError, match="q must not be empty"):
        await tk.search.list(q="  ")  # blank: the server's call (sent, refused there)


async def test_files_upload_from_bytes_path_and_stream(
    tk: AsyncTightknit, fake: FakeTightknit, tmp_path: Path
) -> None:
    from_bytes = await tk.files.upload(
        b"\x89PNG fake image", filename="cover.png", description="A cover"
    )
    assert isinstance(from_bytes, File)
    assert (from_bytes.name, from_bytes.size, from_bytes.mimetype) == ("cover.png", 15, "image/png")
    path = tmp_path / "notes.txt"
    path.write_bytes(b"x" * 300_000)
    from_path = await tk.files.upload(path)
    assert (from_path.name, from_path.size) == ("notes.txt", 300_000)

    async def chunks() -> object:
        for _ in range(10):
            yield b"y" * 1000

    from_stream = await tk.files.upload(chunks(), filename="stream.bin", size=10_000)  # type: ignore[arg-type]
    assert from_stream.size == 10_000
    assert fake.files[from_stream.id].file.size == 10_000


async def test_files_upload_guards(tk: AsyncTightknit, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="over the 10-byte limit"):
        await tk.files.upload(b"x" * 11, filename="a.bin", max_size=10)
    with pytest.raises(ValueError, match="no such file"):
        await tk.files.upload(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="filename"):
        await tk.files.upload(b"abc")
    with pytest.raises(ValueError, match="size is 4"):
        await tk.files.upload(b"abc", filename="a.txt", size=4)


async def test_awards_assign(tk: AsyncTightknit, fake: FakeTightknit) -> None:
    award = next(iter(fake.awards.values()))
    recipient = a_slack_user(fake)
    await tk.awards.assign(award.id, recipient={"slack_user_id": recipient}, send_anonymously=True)
    (assignment,) = fake.award_assignments
    assert assignment.award_id == award.id
    assert assignment.send_anonymously is True
    with pytest.raises(NotFoundError):
        await tk.awards.assign(str(uuid.uuid4()), recipient={"slack_user_id": recipient})


async def test_groups_add_members(tk: AsyncTightknit, fake: FakeTightknit) -> None:
    group = next(iter(fake.groups.values()))
    user = a_slack_user(fake)
    await tk.groups.add_members(group.id, users=[user])
    assert user in fake.groups[group.id].slack_user_ids
    await tk.groups.add_members(group.id, users=[user])  # already a member: harmless
    with pytest.raises(NotFoundError):
        await tk.groups.add_members(str(uuid.uuid4()), users=[user])


async def test_badges_assign_warns_and_works(tk: AsyncTightknit, fake: FakeTightknit) -> None:
    badge = next(iter(fake.badges.values()))
    user = a_slack_user(fake)
    with pytest.warns(DeprecationWarning, match="awards.assign"):
        await tk.badges.assign(badge.id, users=[user])
    assert [a.slack_user_id for a in fake.badge_assignments] == [user]


async def test_server_side_validation_still_surfaces(
    tk: AsyncTightknit, fake: FakeTightknit
) -> None:
    """Rules only the server knows (an unknown Slack channel host) come back as BadRequestError."""
    start = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(BadRequestError):
        await tk.calendar_events.create(
            title="Unknown host",
            start_date=start,
            end_date=start + timedelta(hours=1),
            description={"text": "x"},
            publish_to_slack_channels=["C0000000000"],
            hosts={"slack_user_ids": ["U_NOBODY_HERE"]},
        )
