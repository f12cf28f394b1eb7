"""Migrating calendar events between two workspaces (two fake servers): exactly once, resumable
after a cancellation, with the source -> destination id map from the journal."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tightknit_async import AsyncTightknit
from tightknit_async.bulk import (
    BulkItem,
    calendar_event_from_record,
    event_create_args,
    export_records,
    migrate_calendar_events,
    run_bulk,
    summary_of,
)
from tightknit_async.journal import Journal
from tightknit_async.models import CalendarEvent, CalendarEventCreated
from tightknit_async.testing import FakeTightknit

EVENTS_PATH = "/admin/v0/calendar_events"
CHANNEL = "C0DESTINATION"


@pytest.fixture
async def source() -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit(rate_limit=None, seed=1) as server:
        yield server


@pytest.fixture
async def destination() -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit(rate_limit=None, seed=2) as server:
        yield server


def client(fake: FakeTightknit, *, max_retries: int = 2) -> AsyncTightknit:
    return AsyncTightknit(
        api_key=fake.api_key, base_url=fake.url, rate_limit=None, max_retries=max_retries
    )


def host_of(fake: FakeTightknit) -> str:
    return next(p.slack_user_id for p in fake.profiles.values() if p.slack_user_id)


def created(fake: FakeTightknit) -> list[str]:
    return [e.resource_id for e in fake.ledger if e.method == "POST" and e.path == EVENTS_PATH]


async def migrate(
    source: FakeTightknit,
    destination: FakeTightknit,
    journal_path: Path,
    *,
    max_retries: int = 2,
    **options: object,
) -> object:
    async with (
        client(source) as src,
        client(destination, max_retries=max_retries) as dst,
        Journal(journal_path, owner=destination.api_key) as journal,
    ):
        return await migrate_calendar_events(
            src,
            dst,
            job="events",
            journal=journal,
            channels=[CHANNEL],
            hosts={"slack_user_ids": [host_of(destination)]},
            keep_slug=False,
            **options,  # type: ignore[arg-type]
        )


async def test_events_are_copied_exactly_once_across_a_cancel_and_a_resume(
    source: FakeTightknit, destination: FakeTightknit, tmp_path: Path
) -> None:
    journal_path = tmp_path / "migrate.sqlite3"
    before = set(destination.calendar_events)
    # Three creates are applied and their answers lost (the connection drops), and with no
    # retry their outcome stays unknown to this run.
    destination.faults.drop_after_apply = 3
    done = 0

    def on_result(result: object) -> None:
        nonlocal done
        done += 1
        if done == 8:  # from now on the server holds each create a while before applying it
            destination.faults.latency = 0.3

    task = asyncio.ensure_future(
        migrate(
            source,
            destination,
            journal_path,
            concurrency=4,
            cancel_grace=0,
            on_result=on_result,
            max_retries=0,
        )
    )
    while not (destination.faults.latency and destination.in_flight >= 2):
        await asyncio.sleep(0.002)
    task.cancel()  # as Ctrl-C or a kill would: requests are at the server, unanswered
    with pytest.raises(asyncio.CancelledError) as caught:
        await task
    stopped = summary_of(caught.value)
    assert stopped is not None
    assert stopped.stopped == "cancelled"
    assert len(stopped.abandoned) >= 2  # in flight when cancelled: sent, outcome unknown
    assert stopped.failed == 3  # the dropped answers
    while destination.in_flight:
        await asyncio.sleep(0.01)
    applied_unanswered = len(created(destination)) - stopped.succeeded
    assert applied_unanswered == 3
    assert len(created(destination)) < len(source.calendar_events)

    destination.faults.latency = 0
    summary = await migrate(source, destination, journal_path)
    assert summary.ok  # type: ignore[attr-defined]

    total = len(source.calendar_events)
    new_ids = created(destination)
    assert len(new_ids) == total  # exactly once: a resent create was replayed, not applied
    assert Counter(new_ids).most_common(1)[0][1] == 1
    assert summary.resumed >= len(stopped.abandoned)  # type: ignore[attr-defined]
    assert destination.stats.replays >= applied_unanswered  # their resends were replays
    assert summary.replayed >= applied_unanswered  # type: ignore[attr-defined]
    async with Journal(journal_path) as journal:
        id_map = await journal.results("events")
    assert set(id_map) == set(source.calendar_events)
    assert set(id_map.values()) == set(new_ids) == set(destination.calendar_events) - before
    for source_id, new_id in id_map.items():
        old, new = source.calendar_events[source_id], destination.calendar_events[new_id]
        assert (new.title, new.start_date, new.end_date) == (
            old.title,
            old.start_date,
            old.end_date,
        )
        assert new.description_slack_blocks == old.description_slack_blocks
        assert new.is_unlisted == old.is_unlisted
        assert new.status == ("published" if old.status == "published" else "needs_approval")

    # done: another run sends nothing
    posts = len(created(destination))
    again = await migrate(source, destination, journal_path)
    assert again.skipped == total  # type: ignore[attr-defined]
    assert len(created(destination)) == posts


async def test_the_recipe_by_hand(
    source: FakeTightknit, destination: FakeTightknit, tmp_path: Path
) -> None:
    """What docs/migrations.md shows: export_records + event_create_args + run_bulk."""
    host = host_of(destination)
    async with (
        client(source) as src,
        client(destination) as dst,
        Journal(tmp_path / "j.sqlite3") as journal,
    ):

        async def create(item: BulkItem[CalendarEvent]) -> CalendarEventCreated:
            args = event_create_args(
                item.value,
                channels=[CHANNEL],
                hosts={"slack_user_ids": [host]},
                keep_slug=False,
            )
            return await dst.calendar_events.create(**args.kwargs, **item.options)

        events = (
            calendar_event_from_record(record)
            async for record in export_records(src, "calendar-events", status="published")
        )
        summary = await run_bulk(
            events,
            create,
            job="published-events",
            key=lambda event: event.id,
            journal=journal,
            uncertain="skip",
            result_id=lambda result: result.calendar_event_id,
        )
        id_map = await journal.results("published-events")
    published = {i for i, e in source.calendar_events.items() if e.status == "published"}
    assert summary.succeeded == len(published)
    assert set(id_map) == published


def test_event_create_args_says_what_cannot_be_copied(source: FakeTightknit) -> None:
    draft = next(e for e in source.calendar_events.values() if e.status == "draft")
    record = {**_as_record(draft), "unknown_field": 1}
    args = event_create_args(
        record,
        channels={draft.published_to[0].slack_channel_id: CHANNEL}
        if draft.published_to
        else [CHANNEL],
        hosts={"emails": ["host@example.com"]},
    )
    assert args.kwargs["status"] == "needs_approval"
    assert args.kwargs["publish_to_slack_channels"] == [CHANNEL]
    assert args.kwargs["hosts"] == {"emails": ["host@example.com"]}
    assert args.kwargs["title"] == draft.title
    notes = " ".join(args.unmapped)
    assert "'draft' cannot be created" in notes
    if draft.cover_image_url:
        assert "cover image: not copied" in notes
    with pytest.raises(ValueError, match="hosts have no e-mail"):
        event_create_args(record, channels=[CHANNEL])
    with pytest.raises(ValueError, match="no destination Slack channel"):
        event_create_args(record, channels=[], hosts={"emails": ["a@b.co"]})


def _as_record(event: object) -> dict[str, object]:
    import msgspec

    return msgspec.to_builtins(event)  # type: ignore[no-any-return]
