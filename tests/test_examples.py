"""Every program in examples/ runs against the embedded fake server and does what it says.

Each example reads its settings from ``TIGHTKNIT_API_KEY`` / ``TIGHTKNIT_BASE_URL``; these tests
point them at a `FakeTightknit`, call the example's ``main`` (or drive the web app through
httpx's ASGI transport / aiohttp's test client), and check the server's state afterwards.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tightknit_async.testing import FakeTightknit

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` afresh (module-level state such as a FastAPI app included)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pydantic look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit() as server:
        monkeypatch.setenv("TIGHTKNIT_API_KEY", server.api_key)
        monkeypatch.setenv("TIGHTKNIT_BASE_URL", server.url)
        yield server


def test_every_example_is_tested() -> None:
    tested = {"fastapi_app", "aiohttp_app", "sync_job", "export_events", "migrate_events"}
    assert {path.stem for path in EXAMPLES.glob("*.py")} == tested


# --- web apps -----------------------------------------------------------------------------------


async def test_fastapi_app(fake: FakeTightknit, monkeypatch: pytest.MonkeyPatch) -> None:
    example = load("fastapi_app")
    app = example.app
    event_id = next(iter(fake.calendar_events))
    transport = httpx.ASGITransport(app=app)
    # httpx's ASGI transport does not run the lifespan: enter it as a server would.
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://app") as http,
    ):
        tk = app.state.tightknit
        assert not tk.is_closed

        found = await http.get(f"/events/{event_id}")
        assert found.status_code == 200
        assert found.json()["id"] == event_id

        upcoming = await http.get("/events")
        assert upcoming.status_code == 200
        assert upcoming.json()
        assert all(event["start_date"] for event in upcoming.json())

        missing = await http.get("/events/zzzzzzzzzzzz")
        assert missing.status_code == 404

        key = "9b2f0c1e-8a4d-4f6b-a1c3-5d7e9f0a2b4c"
        member = {"email": "ada@example.com", "full_name": "Ada Lovelace"}
        first = await http.post("/members", json=member, headers={"Idempotency-Key": key})
        again = await http.post("/members", json=member, headers={"Idempotency-Key": key})
        assert first.status_code == 201
        assert again.json() == first.json()
        assert len(fake.ledger) == 1  # the retried web request did not add the member twice
        bad_key = await http.post("/members", json=member, headers={"Idempotency-Key": "nope"})
        assert bad_key.status_code == 422

        # Tightknit slower than the request's budget: a 503 within the deadline, not a hang.
        monkeypatch.setattr(example, "DEADLINE", 0.2)
        fake.faults.latency = 1.0
        busy = await http.get(f"/events/{event_id}")
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        fake.faults.latency = 0.0

        fake.revoke_key(fake.api_key)  # Tightknit answers 401: the app's 502 names the request
        failed = await http.get(f"/events/{event_id}")
        assert failed.status_code == 502
        assert failed.json()["request_id"].startswith("req_")
    assert tk.is_closed  # the lifespan closed the client


async def test_aiohttp_app(fake: FakeTightknit, monkeypatch: pytest.MonkeyPatch) -> None:
    example = load("aiohttp_app")
    app = example.create_app()
    event_id = next(iter(fake.calendar_events))
    async with TestClient(TestServer(app)) as http:
        tk = app[example.TIGHTKNIT]
        assert not tk.is_closed

        found = await http.get(f"/events/{event_id}")
        assert found.status == 200
        assert (await found.json())["id"] == event_id

        upcoming = await http.get("/events")
        assert upcoming.status == 200
        assert await upcoming.json()

        missing = await http.get("/events/zzzzzzzzzzzz")
        assert missing.status == 404

        monkeypatch.setattr(example, "DEADLINE", 0.2)
        fake.faults.latency = 1.0
        busy = await http.get(f"/events/{event_id}")
        assert busy.status == 503
    assert tk.is_closed  # the cleanup context closed the client


# --- jobs ---------------------------------------------------------------------------------------


async def test_sync_job_imports_each_row_once_and_resumes(
    fake: FakeTightknit, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load("sync_job")
    people = tmp_path / "people.csv"
    with people.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "full_name"])
        for n in range(30):
            writer.writerow([f"member{n}@example.com", f"Member {n}"])
    fake.faults.drop_after_apply = 3  # three replies lost after the member was saved

    assert await example.main([str(people)]) == 0
    assert "30 synced (30 new, 0 updated), 0 done before, 0 failed" in capsys.readouterr().out
    assert len(fake.ledger) == 30  # every lost reply was retried as a replay, not a second add
    assert {f"member{n}@example.com" for n in range(30)} <= {
        member.email for member in fake.members.values()
    }
    assert (tmp_path / "people.csv.journal.sqlite3").exists()

    assert await example.main([str(people)]) == 0  # the same again: the journal skips every row
    assert "0 synced (0 new, 0 updated), 30 done before" in capsys.readouterr().out
    assert len(fake.ledger) == 30


async def test_sync_job_reports_bad_rows(
    fake: FakeTightknit, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load("sync_job")
    people = tmp_path / "people.csv"
    people.write_text("email,full_name\nada@example.com,Ada Lovelace\nnot-an-email,Nobody\n")
    assert await example.main([str(people), "--journal", str(tmp_path / "j.sqlite3")]) == 1
    output = capsys.readouterr()
    assert "1 synced" in output.out
    assert "1 failed" in output.out
    assert "not-an-email" in output.err
    assert len(fake.ledger) == 1


async def test_sync_job_needs_a_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = load("sync_job")
    assert await example.main([str(tmp_path / "people.csv")]) == 2
    assert "TIGHTKNIT_API_KEY" in capsys.readouterr().err


async def test_export_events_writes_every_event(fake: FakeTightknit, tmp_path: Path) -> None:
    example = load("export_events")
    out = tmp_path / "events.jsonl"
    assert await example.main([str(out)]) == 0
    lines = out.read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) == len(fake.calendar_events)  # drafts and those awaiting approval too
    assert {event["id"] for event in events} == set(fake.calendar_events)
    assert {event["status"] for event in events} == {"published", "needs_approval", "draft"}


async def test_migrate_events_copies_each_event_once(
    fake: FakeTightknit,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = load("migrate_events")
    async with FakeTightknit(seed=1) as destination:
        monkeypatch.setenv("TIGHTKNIT_DEST_API_KEY", destination.api_key)
        monkeypatch.setenv("TIGHTKNIT_DEST_BASE_URL", destination.url)
        host = next(p.slack_user_id for p in destination.profiles.values() if p.slack_user_id)
        source_events = [e for e in fake.calendar_events.values() if e.status != "draft"]
        drafts = len(fake.calendar_events) - len(source_events)
        before = set(destination.calendar_events)
        args = ["--channel", "C0MIGRATE1", "--host", host, "--journal", str(tmp_path / "j")]
        destination.faults.drop_after_apply = 2  # two replies lost after the event was created

        assert await example.main(args) == 0
        out = capsys.readouterr().out
        assert f"{len(source_events)} copied, 0 done before, 0 failed" in out
        assert f"{drafts} drafts left out" in out
        copies = [e for i, e in destination.calendar_events.items() if i not in before]
        assert len(copies) == len(source_events)  # each once, lost replies included
        assert sorted(e.title for e in copies) == sorted(e.title for e in source_events)
        assert {e.status for e in copies} == {"needs_approval"}

        assert await example.main(args) == 0  # the same again: nothing is created twice
        assert f"0 copied, {len(source_events)} done before" in capsys.readouterr().out
        assert len(destination.calendar_events) == len(before) + len(source_events)


async def test_migrate_events_needs_both_keys(
    fake: FakeTightknit, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load("migrate_events")
    assert await example.main(["--channel", "C0MIGRATE1", "--host", "U0123456789"]) == 2
    assert "TIGHTKNIT_DEST_API_KEY" in capsys.readouterr().err
