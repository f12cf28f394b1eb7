"""The journal: states, resume, uncertainty past the replay window, batching, secrets, threads.

The tests that take ``journal_backend`` run against both backends: the SQLite file and
PostgreSQL (a real server: see conftest.py)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from tightknit_async import (
    APIConnectionError,
    BadRequestError,
    TightknitError,
    idempotency_key_for,
)
from tightknit_async.bulk import (
    BulkItem,
    BulkSummary,
    DuplicateItemError,
    UncertainItemError,
    hash_content,
    item_idempotency_key,
    run_bulk,
)
from tightknit_async.journal import Journal, JournalError

from .conftest import JournalBackend


class WallClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> WallClock:
    return WallClock()


async def test_the_file_is_wal_with_a_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with Journal(path):
        pass
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match="schema version 99"):
        await Journal(path).open()


async def test_all_database_work_runs_on_one_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[int] = set()
    real_connect = sqlite3.connect

    def connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        threads.add(threading.get_ident())
        conn = real_connect(*args, **kwargs)  # type: ignore[call-overload]
        conn.set_trace_callback(lambda _: threads.add(threading.get_ident()))
        return conn  # type: ignore[no-any-return]

    monkeypatch.setattr(sqlite3, "connect", connect)

    async def fn(item: BulkItem[int]) -> int:
        return item.value

    async with Journal(tmp_path / "j.sqlite3") as journal:
        await run_bulk(range(300), fn, job="t", journal=journal)
        await journal.counts("t")
    assert len(threads) == 1
    assert threading.get_ident() not in threads


async def test_a_rerun_skips_done_items_and_resends_the_rest_with_the_same_key(
    journal_backend: JournalBackend,
    tmp_path: Path,
) -> None:
    keys: dict[str, list[str]] = {}

    async def flaky(item: BulkItem[int]) -> int:
        keys.setdefault(item.id, []).append(item.idempotency_key)
        if item.value % 10 == 0:
            raise APIConnectionError("connection reset")
        return item.value

    async def fine(item: BulkItem[int]) -> int:
        keys.setdefault(item.id, []).append(item.idempotency_key)
        assert item.resumed
        return item.value

    async with journal_backend(tmp_path / "j.sqlite3") as journal:
        first = await run_bulk(range(100), flaky, job="resume", journal=journal)
        assert (first.succeeded, first.failed, first.skipped) == (90, 10, 0)
        assert await journal.counts("resume") == {"done": 90, "failed": 10}
        second = await run_bulk(range(100), fine, job="resume", journal=journal)
        assert (second.succeeded, second.failed, second.skipped) == (10, 0, 90)
        assert second.resumed == 10
        assert second.ok
        third = await run_bulk(range(100), fine, job="resume", journal=journal)
        assert (third.succeeded, third.skipped) == (0, 100)
        entry = await journal.entry("resume", "10")
        runs = await journal.runs("resume")
    assert entry is not None
    assert (entry.state, entry.sends, entry.outcome, entry.error_class) == ("done", 2, "ok", None)
    assert entry.idempotency_key == idempotency_key_for("resume", "10")
    # an item is sent with one key in every run
    assert all(len(set(sent)) == 1 for sent in keys.values())
    assert [len(keys[str(i)]) for i in (0, 1)] == [2, 1]
    assert [run.stopped for run in runs] == ["completed"] * 3
    assert [(run.succeeded, run.failed, run.skipped) for run in runs] == [
        (90, 10, 0),
        (10, 0, 90),
        (0, 0, 100),
    ]


async def test_other_jobs_are_separate(journal_backend: JournalBackend, tmp_path: Path) -> None:
    async def fn(item: BulkItem[int]) -> int:
        return item.value

    async with journal_backend(tmp_path / "j.sqlite3") as journal:
        await run_bulk(range(5), fn, job="a", journal=journal)
        summary = await run_bulk(range(5), fn, job="b", journal=journal)
    assert (summary.succeeded, summary.skipped) == (5, 0)


async def test_outcomes_are_written_in_batches(
    journal_backend: JournalBackend, tmp_path: Path
) -> None:
    async def fn(item: BulkItem[int]) -> int:
        return item.value

    async with journal_backend(tmp_path / "j.sqlite3") as journal:
        await run_bulk(range(2000), fn, job="batch", journal=journal, concurrency=16)
        stats = journal.statistics()
    assert stats.outcomes_written == 2000
    assert stats.claims == 2000
    # claims: one transaction per batch of 32; outcomes: far fewer transactions than items
    assert stats.transactions < 2000 / 4


async def test_duplicate_ids_in_one_run_are_not_sent_twice(
    journal_backend: JournalBackend, tmp_path: Path
) -> None:
    sent: list[str] = []

    async def fn(item: BulkItem[str]) -> str:
        sent.append(item.id)
        return item.value

    async with journal_backend(tmp_path / "j.sqlite3") as journal:
        summary = await run_bulk(
            ["a", "b", "a", "c"] + ["b"] * 40,
            fn,
            job="dups",
            key=lambda v: v,
            journal=journal,
            batch_size=2,
            keep_results=True,
        )
    assert sorted(sent) == ["a", "b", "c"]
    assert summary.failed == 41
    assert summary.results is not None
    assert all(isinstance(r.error, DuplicateItemError) for r in summary.results if not r.ok)


async def test_items_never_sent_are_released_when_the_run_stops(
    journal_backend: JournalBackend, tmp_path: Path
) -> None:
    async def fn(item: BulkItem[int]) -> int:
        if item.value == 3:
            raise BadRequestError("400", status_code=400)
        return item.value

    async with journal_backend(tmp_path / "j.sqlite3") as journal:
        with pytest.raises(Exception, match="error budget"):
            await run_bulk(
                range(100), fn, job="rel", journal=journal, concurrency=1, error_budget=0
            )
        counts = await journal.counts("rel")
        failed = await journal.entry("rel", "3")
    # 0-2 done, 3 failed; the rest of the claimed batch is back to pending (never sent)
    assert counts == {"done": 3, "failed": 1, "pending": 12}
    assert failed is not None
    assert not failed.maybe_applied
    assert failed.status == 400


async def test_unknown_outcomes_past_the_replay_window_are_uncertain(
    journal_backend: JournalBackend,
    tmp_path: Path,
    clock: WallClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def flaky(item: BulkItem[int]) -> int:
        if item.value < 3:
            raise APIConnectionError("no answer")  # might have been applied
        if item.value < 5:
            raise BadRequestError("400", status_code=400)  # certainly not applied
        return item.value

    async def fine(item: BulkItem[int]) -> int:
        return item.value

    path = tmp_path / "j.sqlite3"
    async with journal_backend(path, clock=clock) as journal:
        await run_bulk(range(10), flaky, job="old", journal=journal)
        # within the window: a rerun is exactly-once thanks to the server's replay cache
        clock.now += 3599
        with caplog.at_level(logging.WARNING, logger="tightknit_async.bulk"):
            soon = await run_bulk(range(10), flaky, job="old", journal=journal)
        assert not soon.replay_window_expired
        assert soon.uncertain == 0
        assert "replay window" not in caplog.text
        clock.now += 3601
        with caplog.at_level(logging.WARNING, logger="tightknit_async.bulk"):
            late = await run_bulk(range(10), fine, job="old", journal=journal, keep_results=True)
    assert late.replay_window_expired
    assert late.uncertain == 3
    assert late.resumed == 5
    assert late.succeeded == 5
    assert late.results is not None
    assert sorted(r.item for r in late.results if r.uncertain) == [0, 1, 2]
    assert "3 item(s) of an earlier run have an unknown outcome" in caplog.text
    assert "may be applied twice" in caplog.text


async def test_uncertain_items_can_be_held_instead(
    journal_backend: JournalBackend, tmp_path: Path, clock: WallClock
) -> None:
    async def lost(item: BulkItem[int]) -> int:
        raise APIConnectionError("no answer")

    async def fine(item: BulkItem[int]) -> int:
        return item.value

    async with journal_backend(tmp_path / "j.sqlite3", clock=clock) as journal:
        await run_bulk(range(4), lost, job="hold", journal=journal)
        clock.now += 7200
        held = await run_bulk(
            range(4), fine, job="hold", journal=journal, uncertain="skip", keep_results=True
        )
        counts = await journal.counts("hold")
        resent = await run_bulk(range(4), fine, job="hold", journal=journal)
    assert held.succeeded == 0
    assert held.failed == 4
    assert held.uncertain == 4
    assert held.results is not None
    assert all(isinstance(r.error, UncertainItemError) for r in held.results)
    assert counts == {"uncertain": 4}
    assert resent.succeeded == 4


async def test_error_messages_are_stored_without_secrets(
    journal_backend: JournalBackend, tmp_path: Path
) -> None:
    secret = "sk_live_0123456789abcdefSECRET"

    async def fn(item: BulkItem[int]) -> int:
        raise RuntimeError(f"proxy echoed Authorization: Bearer {secret} and {secret} " + "x" * 900)

    async with journal_backend(tmp_path / "j.sqlite3", redact=[secret]) as journal:
        await run_bulk(range(1), fn, job="secret", journal=journal)
        entry = await journal.entry("secret", "0")
    assert entry is not None
    assert entry.error_message is not None
    assert secret not in entry.error_message
    assert "Bearer <redacted>" in entry.error_message
    assert "and <redacted>" in entry.error_message
    assert len(entry.error_message) <= 500
    assert entry.error_class == "RuntimeError"
    assert entry.maybe_applied
    assert secret.encode() not in journal_backend.raw(tmp_path / "j.sqlite3")


async def test_use_before_open_and_after_close(
    journal_backend: JournalBackend, tmp_path: Path
) -> None:
    journal = journal_backend(tmp_path / "j.sqlite3")
    with pytest.raises(JournalError, match="open the Journal first"):
        await journal.counts("x")
    async with journal:
        assert "open" in repr(journal)
    with pytest.raises(JournalError, match="closed") as caught:
        await journal.counts("x")
    assert isinstance(caught.value, TightknitError)
    with pytest.raises(ValueError):
        journal_backend(tmp_path / "x", replay_window=0)


async def test_a_job_is_never_resumed_under_another_api_key(
    journal_backend: JournalBackend, tmp_path: Path
) -> None:
    path = tmp_path / "j.sqlite3"
    async with journal_backend(path, owner="sk_tenant_a") as journal:
        await journal.begin_run("import")
    async with journal_backend(path, owner="sk_tenant_a") as journal:
        await journal.begin_run("import")  # the same key resumes
    async with journal_backend(path, owner="sk_tenant_b") as journal:
        with pytest.raises(JournalError, match="another API key"):
            await journal.begin_run("import")
        await journal.begin_run("another-job")  # its own jobs are fine
    raw = journal_backend.raw(path)
    assert b"sk_tenant_a" not in raw  # only a digest is stored


_V1_ITEMS = """
CREATE TABLE items (
    job TEXT NOT NULL, item_id TEXT NOT NULL, idempotency_key TEXT NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('pending', 'in_flight', 'done', 'failed', 'uncertain')),
    run_id TEXT, sends INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    maybe_applied INTEGER NOT NULL DEFAULT 0, last_sent_at REAL, status INTEGER, outcome TEXT,
    replayed INTEGER NOT NULL DEFAULT 0, error_class TEXT, error_message TEXT,
    first_seen_at REAL NOT NULL, updated_at REAL NOT NULL, finished_at REAL,
    PRIMARY KEY (job, item_id)
) WITHOUT ROWID
"""


async def test_a_version_1_journal_is_upgraded_and_its_done_rows_taken_as_unchanged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(_V1_ITEMS)
    conn.execute(
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, job TEXT NOT NULL, started_at REAL NOT NULL,"
        " ended_at REAL, stopped TEXT, succeeded INTEGER, failed INTEGER, skipped INTEGER)"
    )
    conn.execute(
        "INSERT INTO items (job, item_id, idempotency_key, state, run_id, sends, first_seen_at,"
        " updated_at) VALUES ('old', 'a', 'k', 'done', 'r0', 1, 1, 1)"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    sent: list[str] = []

    async def fn(item: BulkItem[str]) -> str:
        sent.append(item.id)
        return item.value

    async with Journal(path) as journal:
        first = await run_bulk(["a", "b"], fn, job="old", key=str, content_hash=str.upper)
        first = await run_bulk(
            ["a", "b"], fn, job="old", key=str, content_hash=str.upper, journal=journal
        )
        entry = await journal.entry("old", "a")
    assert sent == ["a", "b", "b"]  # without the journal, then with it: "a" was done
    assert (first.succeeded, first.skipped) == (1, 1)
    assert entry is not None
    assert entry.content_hash == "A"  # recorded now, compared next time
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()


async def test_a_changed_item_is_sent_again_with_the_key_of_its_new_content(
    journal_backend: JournalBackend,
    tmp_path: Path,
) -> None:
    sent: list[tuple[str, str, str]] = []

    async def fn(item: BulkItem[dict[str, str]]) -> str:
        sent.append((item.id, item.value["name"], item.idempotency_key))
        assert item.content_hash == hash_content(item.value)
        return "r-" + item.value["name"]

    def rows(names: dict[str, str]) -> list[dict[str, str]]:
        return [{"id": key, "name": name} for key, name in names.items()]

    async def sync(names: dict[str, str], journal: Journal) -> BulkSummary[dict[str, str], str]:
        sent.clear()
        return await run_bulk(
            rows(names),
            fn,
            job="sync",
            key=lambda row: row["id"],
            content_hash=hash_content,
            result_id=lambda result: result,
            journal=journal,
        )

    async with journal_backend(tmp_path / "j.sqlite3") as journal:
        first = await sync({"1": "ada", "2": "grace", "3": "alan"}, journal)
        assert (first.succeeded, first.changed) == (3, 0)
        second = await sync({"1": "ada", "2": "grace hopper", "3": "alan", "4": "edsger"}, journal)
        assert sorted((item, name) for item, name, _ in sent) == [
            ("2", "grace hopper"),
            ("4", "edsger"),
        ]
        assert (second.succeeded, second.skipped, second.changed, second.resumed) == (2, 2, 1, 0)
        key_of = {item: key for item, _, key in sent}
        value = {"id": "2", "name": "grace hopper"}
        assert key_of["2"] == item_idempotency_key("sync", "2", hash_content(value))
        assert key_of["2"] != idempotency_key_for("sync", "2")
        third = await sync({"1": "ada", "2": "grace hopper", "3": "alan", "4": "edsger"}, journal)
        assert sent == []
        assert third.skipped == 4
        assert await journal.results("sync") == {
            "1": "r-ada",
            "2": "r-grace hopper",
            "3": "r-alan",
            "4": "r-edsger",
        }
        found = await journal.lookup("sync", ["2", "9"])
    assert set(found) == {"2"}
    assert found["2"].content_hash == hash_content({"id": "2", "name": "grace hopper"})
    assert found["2"].result_id == "r-grace hopper"
    assert found["2"].sends == 2


async def test_a_changed_item_claimed_but_never_sent_stays_changed(
    journal_backend: JournalBackend, tmp_path: Path
) -> None:
    async with journal_backend(tmp_path / "j.sqlite3") as journal:
        run = await journal.begin_run("j")
        [claim] = await journal.claim("j", run.run_id, [("a", "k1", "h1")])
        journal.record("j", run.run_id, "a", ok=True, result_id="x")
        await journal.end_run(run.run_id, "completed", succeeded=1, failed=0, skipped=0)

        run = await journal.begin_run("j")
        [claim] = await journal.claim("j", run.run_id, [("a", "k2", "h2")])
        assert (claim.action, claim.changed, claim.resumed) == ("send", True, False)
        await journal.release("j", run.run_id, [claim])  # the run stopped before sending it
        entry = await journal.entry("j", "a")
        assert entry is not None
        assert (entry.state, entry.idempotency_key, entry.content_hash) == ("done", "k1", "h1")
        assert entry.result_id == "x"

        run = await journal.begin_run("j")
        claims = await journal.claim("j", run.run_id, [("a", "k2", "h2")])
        assert [(c.action, c.changed) for c in claims] == [("send", True)]
        same = await journal.claim("j", run.run_id, [("a", "k2", "h2")])
        assert same[0].action == "duplicate"
        journal.record("j", run.run_id, "a", ok=True)
        # a request without a hash never counts as a change
        run = await journal.begin_run("j")
        assert [c.action for c in await journal.claim("j", run.run_id, [("a", "k3")])] == ["skip"]
