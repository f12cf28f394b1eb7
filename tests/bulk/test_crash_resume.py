"""Kill an import mid-way (SIGKILL, Ctrl-C, SIGTERM), run it again: every row applied once.

The fake server runs in the test process on a fake clock (so its 1-hour replay window can be
jumped over); ``python -m tightknit_async import members`` runs in a subprocess pointed at it
through ``TIGHTKNIT_API_KEY`` / ``TIGHTKNIT_BASE_URL``. The server's ledger of applied changes is
the judge.
"""

from __future__ import annotations

import re
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tightknit_async.testing import FakeClock, FakeTightknit

from .helpers import (
    CLI,
    MEMBERS_PATH,
    age_journal,
    applied_per_member,
    assert_exactly_once,
    journal_rows,
    journal_states,
    member_email,
    member_entries,
    member_key,
    wait_until,
    write_csv,
)

ROWS = 300
JOB = "crash-test"
KILL_AFTER = 100
HOUR = 3600.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit(rate_limit=None, clock=clock, seed_data=False) as server:
        server.faults.latency = 0.004  # requests take a moment, so some are in flight at the kill
        yield server


@pytest.fixture
def cli(fake: FakeTightknit, tmp_path: Path) -> CLI:
    return CLI(fake, tmp_path)


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "import.sqlite3"


@pytest.fixture
def args(tmp_path: Path, journal: Path) -> list[str]:
    path = write_csv(tmp_path / "members.csv", ROWS)
    return [
        str(path),
        "--journal",
        str(journal),
        "--job",
        JOB,
        "--concurrency",
        "8",
        "--rate",
        "300",
    ]


def count(stdout: str, name: str) -> int:
    match = re.search(rf"^  {re.escape(name)}\s+([\d,]+)$", stdout, re.MULTILINE)
    assert match, stdout
    return int(match.group(1).replace(",", ""))


async def test_sigkill_then_rerun_while_the_server_still_replays(
    fake: FakeTightknit, cli: CLI, args: list[str], journal: Path
) -> None:
    process = await cli.start(*args)
    await wait_until(lambda: len(member_entries(fake)) >= KILL_AFTER)
    process.kill()
    killed = await cli.finish(process)
    assert killed.returncode == -signal.SIGKILL
    applied = len(member_entries(fake))
    states = journal_states(journal, JOB)
    assert KILL_AFTER <= applied < ROWS
    applied_not_journaled = applied - states["done"]

    rerun = await cli.run(*args)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_exactly_once(fake, ROWS)
    assert count(rerun.stdout, "skipped (done before)") == states["done"]
    # rows applied but not yet journaled when the process died were replayed, not re-applied
    assert fake.stats.replays >= applied_not_journaled
    keys = {entry.idempotency_key for entry in member_entries(fake)}
    assert keys == {member_key(JOB, i) for i in range(ROWS)}
    assert journal_states(journal, JOB) == Counter(done=ROWS)


async def test_sigkill_then_rerun_after_the_server_forgot_every_key(
    fake: FakeTightknit, clock: FakeClock, cli: CLI, args: list[str], journal: Path
) -> None:
    """The journal alone prevents duplicates: every row it recorded done is skipped.

    The kill is placed where every row the server applied is journaled (the server refuses
    new work until the journal has caught up), so any duplicate would be the journal's fault.
    The next test kills at an arbitrary moment.
    """
    process = await cli.start(*args)
    await wait_until(lambda: len(member_entries(fake)) >= KILL_AFTER)
    fake.faults.script("POST", MEMBERS_PATH, [503] * 100_000)  # nothing more is applied
    await wait_until(lambda: journal_states(journal, JOB)["done"] == len(member_entries(fake)))
    process.kill()
    assert (await cli.finish(process)).returncode == -signal.SIGKILL
    applied = len(member_entries(fake))
    unfinished = ROWS - applied
    fake.faults.reset()
    clock.advance(HOUR + 1)  # the server's replay cache has expired
    age_journal(journal, HOUR + 1)  # ... and so has the journal's last run
    replays = fake.stats.replays

    rerun = await cli.run(*args)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_exactly_once(fake, ROWS)
    assert fake.stats.replays == replays  # the server replayed nothing: the journal skipped
    assert count(rerun.stdout, "skipped (done before)") == applied
    assert count(rerun.stdout, "created") == unfinished
    # the rows sent but never answered are flagged: a WARNING and a note in the summary
    assert "WARNING tightknit_async.bulk" in rerun.stderr
    assert "longer than the server's 3600 s idempotency replay window" in rerun.stderr
    assert "note:" in rerun.stdout
    assert "replay window" in rerun.stdout


async def test_sigkill_at_any_moment_after_the_window_only_uncertain_rows_can_repeat(
    fake: FakeTightknit, clock: FakeClock, cli: CLI, args: list[str], journal: Path
) -> None:
    """The documented limit: a row in flight when the process died more than an hour ago may
    be applied again (the server forgot its key). Only such rows, and as an update."""
    process = await cli.start(*args)
    await wait_until(lambda: len(member_entries(fake)) >= KILL_AFTER)
    process.kill()
    await cli.finish(process)
    before = journal_rows(journal, JOB)
    done = {item for item, (state, _) in before.items() if state == "done"}
    unknown = {item for item, (state, maybe) in before.items() if state != "done" and maybe}
    clock.advance(HOUR + 1)
    age_journal(journal, HOUR + 1)

    rerun = await cli.run(*args)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    entries = member_entries(fake)
    email_of = {member_id: member.email.lower() for member_id, member in fake.members.items()}
    applied = Counter(email_of[entry.resource_id] for entry in entries)
    assert set(applied) == {member_email(i) for i in range(ROWS)}
    twice = {email for email, n in applied.items() if n > 1}
    assert twice <= unknown, "a row of known outcome was applied twice"
    assert not twice & done
    assert all(n <= 2 for n in applied.values())
    second = [e for e in entries if email_of[e.resource_id] in twice][len(twice) :]
    assert all(entry.status == 200 for entry in second)  # an update, harmless for an upsert
    if unknown:
        assert "WARNING" in rerun.stderr


@pytest.mark.parametrize(
    ("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"]
)
async def test_interrupt_stops_cleanly_then_rerun_completes(
    fake: FakeTightknit,
    cli: CLI,
    args: list[str],
    journal: Path,
    sig: signal.Signals,
    status: int,
) -> None:
    process = await cli.start(*args)
    await wait_until(lambda: len(member_entries(fake)) >= KILL_AFTER)
    process.send_signal(sig)
    stopped = await cli.finish(process)
    assert stopped.returncode == status, stopped.stdout + stopped.stderr
    assert "INTERRUPTED: re-run the same command to resume" in stopped.stdout
    assert count(stopped.stdout, "failed") == 0
    created = count(stopped.stdout, "created")
    assert "Traceback" not in stopped.stderr
    # consistent: nothing left in flight, every row the server applied is journaled done
    states = journal_states(journal, JOB)
    assert states["in_flight"] == 0
    assert states["done"] == len(member_entries(fake)) == created
    assert sum(states.values()) - states["done"] == states["pending"]
    assert "cancelled" in stopped.stderr  # the engine's WARNING says where it stopped

    rerun = await cli.run(*args)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_exactly_once(fake, ROWS)
    assert fake.stats.replays == 0  # nothing was left half-done to replay
    assert count(rerun.stdout, "skipped (done before)") == created


async def test_without_a_journal_a_rerun_after_the_window_applies_rows_again(
    fake: FakeTightknit, clock: FakeClock, cli: CLI, args: list[str], journal: Path
) -> None:
    """What the journal prevents: with keys alone, the server's memory is all there is."""
    args = [arg for arg in args if arg not in ("--journal", str(journal))] + ["--no-journal"]
    process = await cli.start(*args)
    await wait_until(lambda: len(member_entries(fake)) >= KILL_AFTER)
    process.kill()
    await cli.finish(process)
    applied = len(member_entries(fake))
    clock.advance(HOUR + 1)
    rerun = await cli.run(*args)
    assert rerun.returncode == 0
    twice = [n for n in applied_per_member(fake).values() if n == 2]
    assert len(twice) == applied  # every row applied before the kill was applied again
    assert not journal.exists()
