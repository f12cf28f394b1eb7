"""Exports against the fake server: every record exactly once, exact JSON, neutralised CSV,
resumable after a failure or a cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tightknit_async import AsyncTightknit
from tightknit_async.bulk import ExportError, export_file, export_records, neutralise_cell
from tightknit_async.bulk._export import state_path_for
from tightknit_async.cli import main
from tightknit_async.testing import DRIFT_FIELD, FakeTightknit, disable_waits

EVENTS_PATH = "/admin/v0/calendar_events"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit(rate_limit=None) as server:
        yield server


@pytest.fixture
async def tk(fake: FakeTightknit) -> AsyncIterator[AsyncTightknit]:
    async with AsyncTightknit(api_key=fake.api_key, base_url=fake.url, rate_limit=None) as client:
        yield client


async def add_events(tk: AsyncTightknit, fake: FakeTightknit, count: int, **fields: Any) -> None:
    host = next(p.slack_user_id for p in fake.profiles.values() if p.slack_user_id)
    for i in range(count):
        await tk.calendar_events.create(
            title=fields.get("title", f"Added event {i:03d}"),
            start_date="2031-01-01T10:00:00+00:00",
            end_date="2031-01-01T11:00:00+00:00",
            description={"text": "hello"},
            publish_to_slack_channels=["C0123456"],
            hosts={"slack_user_ids": [host]},
            status="needs_approval" if i % 2 else "published",
        )


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def event_json(tk: AsyncTightknit, event_id: str) -> Any:
    response = await tk.request("GET", f"{EVENTS_PATH}/{event_id}")
    return response.data["data"]


def list_calls(fake: FakeTightknit) -> int:
    return sum(1 for a in fake.arrivals if a.method == "GET" and a.path == EVENTS_PATH)


async def test_every_event_of_every_status_exactly_once(
    fake: FakeTightknit, tk: AsyncTightknit, tmp_path: Path
) -> None:
    await add_events(tk, fake, 41)
    statuses = Counter(event.status for event in fake.calendar_events.values())
    assert set(statuses) == {"draft", "needs_approval", "published"}
    out = tmp_path / "events.jsonl"
    summary = await export_file(tk, "calendar-events", out, status="all", per_page=7)
    records = read_jsonl(out)
    ids = [record["id"] for record in records]
    assert len(ids) == len(set(ids)) == len(fake.calendar_events)  # exactly once
    assert set(ids) == set(fake.calendar_events)
    assert Counter(record["status"] for record in records) == statuses
    assert summary.written == len(ids)
    assert summary.total == len(ids)
    assert summary.pages >= len(ids) // 7
    # each line is the record as the server sends it
    for record in records[::9]:
        assert record == await event_json(tk, record["id"])
    # the same from Python, as dicts
    streamed = [record async for record in export_records(tk, "calendar-events", status="all")]
    assert streamed == records


async def test_jsonl_keeps_fields_the_models_do_not_know(
    fake: FakeTightknit, tk: AsyncTightknit, tmp_path: Path
) -> None:
    fake.drift.enabled = True
    out = tmp_path / "feeds.jsonl"
    await export_file(tk, "feeds", out)
    records = read_jsonl(out)
    assert len(records) == len(fake.feeds)
    assert all(record[DRIFT_FIELD] == {"added": "by drift"} for record in records)


async def test_csv_cells_a_spreadsheet_would_run_are_neutralised(
    fake: FakeTightknit, tk: AsyncTightknit, tmp_path: Path
) -> None:
    await add_events(tk, fake, 1, title="=HYPERLINK(evil)")
    out = tmp_path / "events.csv"
    await export_file(tk, "calendar-events", out, status="all")
    rows = read_csv(out)
    assert len(rows) == len(fake.calendar_events)
    titles = {row["title"] for row in rows}
    assert "'=HYPERLINK(evil)" in titles
    assert "=HYPERLINK(evil)" not in titles
    first = rows[0]
    assert list(first)[:2] == ["id", "created_at"]  # the model's order
    assert list(first)[-1] == "extra"
    assert json.loads(first["hosts"])[0]["profile_id"]  # nested values as JSON
    assert first["show_end_date"] in ("true", "false")

    raw = tmp_path / "raw.csv"
    await export_file(tk, "calendar-events", raw, status="all", raw_csv=True)
    assert "=HYPERLINK(evil)" in {row["title"] for row in read_csv(raw)}


def test_neutralise_cell() -> None:
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise_cell(text) == "'" + text
    for text in ("plain", "", " =not first", "'quoted"):
        assert neutralise_cell(text) == text


async def test_a_failed_export_goes_on_from_the_last_page_written(
    fake: FakeTightknit, tk: AsyncTightknit, tmp_path: Path
) -> None:
    await add_events(tk, fake, 30)
    out = tmp_path / "events.jsonl"
    # 3 probes for the totals, then 4 pages; then the server fails every list call
    fake.faults.script("GET", EVENTS_PATH, [None] * 7 + [503] * 1000)
    with disable_waits(), pytest.raises(Exception, match="503"):
        await export_file(tk, "calendar-events", out, status="all", per_page=5)
    state = json.loads(state_path_for(out).read_text())
    written = state["written"]
    assert 0 < written < len(fake.calendar_events)
    assert not state["complete"]
    assert len(read_jsonl(out)) == written  # 4 pages: the drafts' one, then 3 of 5
    # a torn page after the last state is cut back on resume
    with out.open("ab") as f:
        f.write(b'{"id": "half a rec')
    fake.faults.reset()
    calls = list_calls(fake)
    summary = await export_file(tk, "calendar-events", out, status="all", per_page=5)
    assert summary.resumed
    assert summary.written == len(fake.calendar_events)
    assert summary.written_now == len(fake.calendar_events) - written
    ids = [record["id"] for record in read_jsonl(out)]
    assert len(ids) == len(set(ids)) == len(fake.calendar_events)
    assert list_calls(fake) - calls == summary.pages  # no probe, no page fetched twice

    # complete: another run fetches nothing
    calls = list_calls(fake)
    again = await export_file(tk, "calendar-events", out, status="all", per_page=5)
    assert (again.complete, again.written_now, list_calls(fake)) == (True, 0, calls)


async def test_a_cancelled_export_resumes(
    fake: FakeTightknit, tk: AsyncTightknit, tmp_path: Path
) -> None:
    await add_events(tk, fake, 30)
    fake.faults.latency = 0.01
    out = tmp_path / "events.csv"
    task = asyncio.ensure_future(export_file(tk, "calendar-events", out, status="all", per_page=3))
    while not state_path_for(out).exists():
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    fake.faults.latency = 0
    summary = await export_file(tk, "calendar-events", out, status="all", per_page=3)
    assert summary.resumed
    ids = [row["id"] for row in read_csv(out)]
    assert len(ids) == len(set(ids)) == len(fake.calendar_events)


async def test_feed_posts_and_search(
    fake: FakeTightknit, tk: AsyncTightknit, tmp_path: Path
) -> None:
    for feed_id in fake.feeds:
        out = tmp_path / f"{feed_id}.jsonl"
        await export_file(tk, "feed-posts", out, feed=feed_id, per_page=2)
        expected = {post.id for post in fake.posts.values() if post.feed_id == feed_id}
        assert {record["id"] for record in read_jsonl(out)} == expected
    term = next(iter(fake.posts.values())).title.split()[0]
    found = [record async for record in export_records(tk, "search", q=term, per_page=1)]
    assert found
    assert all(term.casefold() in json.dumps(record).casefold() for record in found)


async def test_bad_requests_are_refused_before_anything_is_sent(
    fake: FakeTightknit, tk: AsyncTightknit, tmp_path: Path
) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("members", {}, "unknown resource"),
        ("feed-posts", {}, "needs a feed id"),
        ("search", {}, "needs a search term"),
        ("feeds", {"status": "all"}, "for calendar-events"),
        ("feeds", {"per_page": 500}, "per_page"),
    ]
    for resource, options, message in cases:
        with pytest.raises(ExportError, match=message):
            await export_file(tk, resource, tmp_path / "x.jsonl", **options)
    with pytest.raises(ExportError, match=r"jsonl or \.csv"):
        await export_file(tk, "feeds", tmp_path / "x.txt")
    existing = tmp_path / "mine.jsonl"
    existing.write_text("precious\n")
    with pytest.raises(ExportError, match="pass --restart"):
        await export_file(tk, "feeds", existing)
    assert existing.read_text() == "precious\n"
    assert fake.stats.requests == 0


async def test_the_command_line(
    fake: FakeTightknit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIGHTKNIT_API_KEY", fake.api_key)
    monkeypatch.setenv("TIGHTKNIT_BASE_URL", fake.url)
    out = tmp_path / "events.jsonl"
    buffer = io.StringIO()

    def run(*args: str) -> int:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            return main(["export", *args])

    base = ("calendar-events", "--out", str(out), "--status", "all", "--no-progress")
    assert await asyncio.to_thread(run, *base) == 0, buffer.getvalue()
    assert f"OK: {len(fake.calendar_events)} records in {out}" in buffer.getvalue()
    assert await asyncio.to_thread(run, *base) == 0
    assert "export already complete" in buffer.getvalue()
    assert await asyncio.to_thread(run, "calendar-events", "--out", str(out)) == 2
    assert "state of another export" in buffer.getvalue()
    assert await asyncio.to_thread(run, "calendar-events", "--out", str(out), "--restart") == 0
    assert len(read_jsonl(out)) == sum(
        1 for event in fake.calendar_events.values() if event.status == "published"
    )
    assert await asyncio.to_thread(run, "feed-posts", "--out", str(out)) == 2
    assert "needs a feed id" in buffer.getvalue()
