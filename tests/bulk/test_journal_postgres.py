"""The PostgreSQL journal: one job shared by several workers, a worker killed or frozen mid-job.

The journal tests of test_journal.py run against both backends (``journal_backend``); these
are the PostgreSQL journal's own: choosing the backend, its errors, claims between workers,
and whole jobs run by worker processes (``python -m tests.bulk.test_journal_postgres CONFIG``,
the ``worker`` below) against a fake server in the test process, whose ledger of applied
changes is the judge. The server is a real PostgreSQL (see conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tightknit_async import idempotency_key_for
from tightknit_async.bulk import BulkItem, open_journal, run_bulk
from tightknit_async.bulk._journals import describe_journal, journal_spec
from tightknit_async.journal import Journal, JournalError, PostgresJournal
from tightknit_async.testing import FakeClock, FakeTightknit

from .helpers import (
    REPO,
    applied_per_member,
    assert_exactly_once,
    member_email,
    member_entries,
    wait_until,
)

ROWS = 300
JOB = "shared-import"


# -- the worker process ----------------------------------------------------------------------


async def worker(config: dict[str, Any]) -> int:
    """Import ``rows`` members through a client of its own, journaled in PostgreSQL; print the
    summary and the job's states as one JSON line; exit 0 when the whole job is done."""
    from tightknit_async import AsyncTightknit

    rows = int(config["rows"])
    job = str(config["job"])
    emails = [member_email(i) for i in range(rows)]

    async with (
        AsyncTightknit(
            api_key=config["api_key"], base_url=config["base_url"], rate_limit=400.0
        ) as tk,
        open_journal(config["journal"], lease=float(config["lease"])) as journal,
    ):

        async def send(item: BulkItem[str]) -> int:
            response = await tk.members.with_raw_response.create(
                email=item.value, full_name=f"Member {item.value[:11]}", **item.options
            )
            item.observe(response)
            return response.status_code

        summary = await run_bulk(
            emails, send, job=job, key=str, journal=journal, concurrency=8, batch_size=16
        )
        counts = await journal.counts(job)
    print(
        json.dumps(
            {
                "succeeded": summary.succeeded,
                "failed": summary.failed,
                "skipped": summary.skipped,
                "resumed": summary.resumed,
                "counts": counts,
            }
        ),
        flush=True,
    )
    whole_job_done = counts == {"done": rows} and summary.failed == 0
    return 0 if whole_job_done and summary.succeeded + summary.skipped == rows else 1


class Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def result(self, timeout: float = 60.0) -> tuple[int, dict[str, Any]]:
        stdout, stderr = await asyncio.wait_for(self.process.communicate(), timeout)
        assert self.process.returncode is not None
        lines = stdout.decode().strip().splitlines()
        report: dict[str, Any] = json.loads(lines[-1]) if lines else {}
        if not report:
            report = {"stderr": stderr.decode()}
        return self.process.returncode, report


@pytest.fixture
async def fake() -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit(rate_limit=None, clock=FakeClock(1000.0), seed_data=False) as server:
        server.faults.latency = 0.004  # requests take a moment, so some are in flight at a kill
        yield server


@pytest.fixture
async def start_worker(fake: FakeTightknit, postgres_url: str) -> AsyncIterator[Any]:
    started: list[Worker] = []

    async def start(*, lease: float = 30.0, rows: int = ROWS) -> Worker:
        config = {
            "journal": postgres_url,
            "api_key": fake.api_key,
            "base_url": fake.url,
            "job": JOB,
            "rows": rows,
            "lease": lease,
        }
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name in ("TIGHTKNIT_API_KEY", "TIGHTKNIT_BASE_URL", "TIGHTKNIT_REDIS_URL"):
            env.pop(name, None)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.bulk.test_journal_postgres",
            json.dumps(config),
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        started.append(Worker(process))
        return started[-1]

    yield start
    for worker_ in started:
        if worker_.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker_.process.send_signal(signal.SIGCONT)
                worker_.process.kill()
            await worker_.process.wait()


async def job_counts(url: str, job: str = JOB) -> dict[str, int]:
    async with PostgresJournal(url) as journal:
        return await journal.counts(job)


def assert_same_keys(fake: FakeTightknit, rows: int = ROWS) -> None:
    keys = {entry.idempotency_key for entry in member_entries(fake)}
    assert keys == {idempotency_key_for(JOB, member_email(i)) for i in range(rows)}


# -- choosing the backend --------------------------------------------------------------------


def test_open_journal_gives_sqlite_for_a_path_and_postgresql_for_a_url(tmp_path: Path) -> None:
    sqlite = open_journal(tmp_path / "j.sqlite3", synchronous="FULL")
    assert type(sqlite) is Journal
    url = "postgresql://app:s3cret@db.internal:5432/jobs?sslmode=require"
    postgres = open_journal(url, lease=12)
    assert isinstance(postgres, PostgresJournal)
    assert isinstance(postgres, Journal)  # what BulkJob(journal=...) takes
    assert postgres.lease == 12
    assert "s3cret" not in repr(postgres)
    assert postgres.path == "postgresql://app:***@db.internal:5432/jobs?sslmode=require"
    # a URL that went through pathlib.Path (argparse type=Path) still names the database
    folded = open_journal(Path(url))
    assert isinstance(folded, PostgresJournal)
    assert folded.path == postgres.path
    assert isinstance(open_journal("postgres://h/db"), PostgresJournal)
    with pytest.raises(ValueError, match="lease="):
        open_journal(tmp_path / "j.sqlite3", lease=5)
    with pytest.raises(ValueError, match="synchronous="):
        open_journal(url, synchronous="FULL")
    with pytest.raises(ValueError, match="lease must be > 0"):
        open_journal(url, lease=0)
    assert journal_spec(url) == url
    assert journal_spec("runs/j.sqlite3") == Path("runs/j.sqlite3")
    assert describe_journal(url) == postgres.path
    assert describe_journal("postgresql://h/db?password=pw&user=u") == (
        "postgresql://h/db?password=***&user=u"
    )
    assert describe_journal(tmp_path / "j.sqlite3") == str(tmp_path / "j.sqlite3")


def test_every_sqlite_operation_of_the_journal_is_the_postgresql_journals_own() -> None:
    """The public methods are the SQLite journal's, and run their database work through
    ``_call``: an operation of the SQLite journal (one that runs on its worker thread) added
    there and not to PostgresJournal would be inherited, and fail there. A public method that
    PostgresJournal has of its own takes the same parameters, so the engine can call either."""
    import inspect

    seam = {"_call", "_opened", "_enqueue", "open", "aclose"}
    operations = {name for name, member in vars(Journal).items() if hasattr(member, "__wrapped__")}
    assert {"_begin_run", "_barrier", "_counts"} <= operations
    for name in sorted(seam | operations - {"_claim"}):  # its claim waits for other workers
        assert name in vars(PostgresJournal), f"PostgresJournal.{name} is missing"
    assert "claim" in vars(PostgresJournal)
    for name, method in vars(PostgresJournal).items():
        if name.startswith("_") or not callable(method) or name not in vars(Journal):
            continue
        theirs = inspect.signature(vars(Journal)[name])
        assert list(inspect.signature(method).parameters) == list(theirs.parameters), name


async def test_without_the_driver_opening_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now raises ImportError
    journal = open_journal("postgresql://127.0.0.1:1/none")
    with pytest.raises(JournalError, match=r"pip install 'tightknit-async\[postgres\]'"):
        await journal.open()


async def test_an_unreachable_database_is_a_journal_error_without_the_password() -> None:
    pytest.importorskip("psycopg")
    journal = open_journal("postgresql://app:s3cret@127.0.0.1:1/jobs?connect_timeout=2")
    with pytest.raises(JournalError, match="cannot open the journal") as caught:
        await journal.open()
    assert "s3cret" not in str(caught.value)


async def test_a_journal_of_another_schema_version_is_refused(postgres_url: str) -> None:
    import psycopg

    async with PostgresJournal(postgres_url):
        pass
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE tightknit_journal_meta SET value = '99'")
    with pytest.raises(JournalError, match="schema version 99"):
        await PostgresJournal(postgres_url).open()


# -- claims between workers ------------------------------------------------------------------


async def test_an_item_held_by_a_live_worker_is_waited_for_not_sent_again(
    postgres_url: str,
) -> None:
    async with PostgresJournal(postgres_url) as a, PostgresJournal(postgres_url) as b:
        run_a = await a.begin_run("j")
        run_b = await b.begin_run("j")
        assert [c.action for c in await a.claim("j", run_a.run_id, [("x", "kx"), ("y", "ky")])] == [
            "send",
            "send",
        ]
        # b's batch overlaps a's claim: b claims none of it (not even "z") until a is done
        waiting = asyncio.create_task(
            b.claim("j", run_b.run_id, [("x", "kx"), ("y", "ky"), ("z", "kz")])
        )
        await asyncio.sleep(0.3)
        assert not waiting.done()
        assert "z" not in {e.item_id for e in await b.entries("j")}
        a.record("j", run_a.run_id, "x", ok=True)
        a.record("j", run_a.run_id, "y", ok=False, error=RuntimeError("boom"), maybe_applied=True)
        await a.flush()
        claims = await asyncio.wait_for(waiting, 10)
    # done by a: skipped; failed by a: b retries it (with the same key); new: sent
    assert [(c.item_id, c.action, c.resumed) for c in claims] == [
        ("x", "skip", False),
        ("y", "send", True),
        ("z", "send", False),
    ]


async def test_items_of_a_worker_whose_connection_closed_are_taken_over_at_once(
    postgres_url: str,
) -> None:
    """No wait for the lease (an hour here): the run's lock went with its connection."""
    a = await PostgresJournal(postgres_url, lease=3600).open()
    run_a = await a.begin_run("j")
    await a.claim("j", run_a.run_id, [("x", "kx")])
    await a.aclose()  # as a killed process: no end_run, the connection just goes
    async with PostgresJournal(postgres_url, lease=3600) as b:
        run_b = await b.begin_run("j")
        [claim] = await asyncio.wait_for(b.claim("j", run_b.run_id, [("x", "kx")]), 10)
    assert (claim.action, claim.resumed, claim.prior_state) == ("send", True, "in_flight")
    assert claim.prior_run_id == run_a.run_id


async def test_items_of_a_worker_that_stopped_renewing_its_lease_are_taken_over(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker frozen with its connection open (a paused VM): its lease runs out."""
    a = await PostgresJournal(postgres_url, lease=0.6).open()
    run_a = await a.begin_run("j")
    await a.claim("j", run_a.run_id, [("x", "kx"), ("y", "ky")])
    assert a._heartbeat is not None
    a._heartbeat.cancel()  # frozen: the connection (and its lock) stays, the lease lapses
    try:
        async with PostgresJournal(postgres_url) as b:
            run_b = await b.begin_run("j")
            claims = await asyncio.wait_for(b.claim("j", run_b.run_id, [("x", "kx")]), 10)
            assert [(c.action, c.prior_run_id) for c in claims] == [("send", run_a.run_id)]
            # the frozen worker comes back: its outcome for the taken item is not written
            a.record("j", run_a.run_id, "x", ok=False, error=RuntimeError("late"))
            a.record("j", run_a.run_id, "y", ok=True)
            await a.flush()
            b.record("j", run_b.run_id, "x", ok=True)
            entries = {e.item_id: e for e in await b.entries("j")}
    finally:
        await a.aclose()
    assert (entries["x"].state, entries["x"].run_id, entries["x"].sends) == (
        "done",
        run_b.run_id,
        2,
    )
    assert entries["x"].error_class is None
    assert (entries["y"].state, entries["y"].run_id) == ("done", run_a.run_id)


async def test_two_claims_at_once_never_share_an_item(postgres_url: str) -> None:
    ids = [f"i{n:03d}" for n in range(200)]
    sent: dict[str, list[str]] = {}

    async def worker_(name: str) -> None:
        async with PostgresJournal(postgres_url) as journal:
            run = await journal.begin_run("j")
            for start in range(0, len(ids), 20):
                batch = [(i, f"k-{i}") for i in ids[start : start + 20]]
                for claim in await journal.claim("j", run.run_id, batch):
                    if claim.action == "send":
                        sent.setdefault(claim.item_id, []).append(name)
                        journal.record("j", run.run_id, claim.item_id, ok=True)
            await journal.end_run(run.run_id, "completed", succeeded=0, failed=0, skipped=0)

    await asyncio.wait_for(asyncio.gather(*(worker_(f"w{n}") for n in range(4))), 60)
    assert sorted(sent) == ids
    assert all(len(names) == 1 for names in sent.values()), sent


# -- whole jobs, worker processes ------------------------------------------------------------


async def test_sigkill_mid_job_then_a_second_process_resumes_it(
    fake: FakeTightknit, start_worker: Any, postgres_url: str
) -> None:
    """The lease is an hour: the second process does not wait for it, because the killed
    process's connection (and so its run's lock) went with it."""
    first = await start_worker(lease=3600)
    await wait_until(lambda: len(member_entries(fake)) >= 100, timeout=60)
    first.process.kill()
    assert await first.process.wait() == -signal.SIGKILL
    applied = len(member_entries(fake))
    counts = await job_counts(postgres_url)
    assert 100 <= applied < ROWS
    assert counts["done"] <= applied

    second = await start_worker(lease=3600)
    status, report = await second.result()
    assert status == 0, report
    assert_exactly_once(fake, ROWS)
    assert_same_keys(fake)
    assert report["skipped"] == counts["done"]
    assert report["counts"] == {"done": ROWS}
    # what the first applied but had not journaled was replayed by the server, not re-applied
    assert fake.stats.replays >= applied - counts["done"]


async def test_two_workers_share_one_job_each_item_applied_once(
    fake: FakeTightknit, start_worker: Any, postgres_url: str
) -> None:
    workers = [await start_worker(), await start_worker()]
    results = await asyncio.gather(*(w.result() for w in workers))
    for status, report in results:
        assert status == 0, report
        assert report["counts"] == {"done": ROWS}  # each reports the whole job
        assert report["succeeded"] + report["skipped"] == ROWS
    assert_exactly_once(fake, ROWS)
    assert_same_keys(fake)
    assert sum(report["succeeded"] for _, report in results) == ROWS
    assert await job_counts(postgres_url) == {"done": ROWS}


async def test_a_frozen_worker_is_taken_over_after_its_lease_and_nothing_applies_twice(
    fake: FakeTightknit, start_worker: Any, postgres_url: str
) -> None:
    """SIGSTOP: the process neither works nor closes its connection, as a paused or lost
    machine. A second worker takes its items over once its lease (1 s) runs out, resends them
    with the same keys and finishes the job; the first, resumed, finds its items taken."""
    frozen = await start_worker(lease=1.0)
    await wait_until(lambda: len(member_entries(fake)) >= 100, timeout=60)
    frozen.process.send_signal(signal.SIGSTOP)
    applied = len(member_entries(fake))

    second = await start_worker()
    status, report = await second.result()
    assert status == 0, report
    assert report["counts"] == {"done": ROWS}
    assert report["resumed"] >= 1  # the frozen worker's items in flight, taken over
    assert report["succeeded"] + report["skipped"] == ROWS
    assert_exactly_once(fake, ROWS)
    assert_same_keys(fake)
    assert applied < ROWS

    frozen.process.send_signal(signal.SIGCONT)
    status, late = await frozen.result()
    # It either finishes (its resends replayed, its claims found done) or, if it was frozen
    # inside a transaction that the database cut off, stops on the journal's error.
    assert status in (0, 1), late
    if status == 0:
        assert late["counts"] == {"done": ROWS}
    assert_exactly_once(fake, ROWS)  # the frozen worker's late sends applied nothing again
    assert max(applied_per_member(fake).values()) == 1
    assert await job_counts(postgres_url) == {"done": ROWS}


if __name__ == "__main__":
    sys.exit(asyncio.run(worker(json.loads(sys.argv[1]))))
