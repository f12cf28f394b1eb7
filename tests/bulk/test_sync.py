"""``import members`` as a sync: only what changed is sent; columns as they come; the summary
adds up to the rows of the file."""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from tightknit_async.bulk._import import ImportOptions, default_job
from tightknit_async.testing import FakeTightknit

from .helpers import MEMBERS_PATH, member_email, member_entries, write_csv
from .test_import import Output, run

ROWS = 2_000
CHANGED = 100


@pytest.fixture
async def fake() -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit(rate_limit=None, seed_data=False) as server:
        yield server


def options(fake: FakeTightknit, file: Path, **changes: object) -> ImportOptions:
    base = ImportOptions(
        file=file, api_key=fake.api_key, base_url=fake.url, rate=5000, concurrency=16
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def edit_rows(path: Path, rows: range, name: str = "Renamed Member") -> None:
    lines = path.read_text().splitlines()
    for i in rows:
        lines[1 + i] = f"{member_email(i)},{name} {i}"
    path.write_text("\n".join(lines) + "\n")


def member_posts(fake: FakeTightknit) -> int:
    return sum(1 for a in fake.arrivals if a.method == "POST" and a.path == MEMBERS_PATH)


def assert_adds_up(output: Output) -> None:
    names = ("created", "updated", "failed", "skipped (done before)")
    optional = ("invalid (not sent)", "not sent (stopped)", "abandoned in flight")
    total = sum(output.count(name) for name in names)
    total += sum(output.count(name) for name in optional if f"  {name} " in output.stdout)
    assert total == output.count("rows in the file"), output.stdout


async def test_a_rerun_over_an_edited_file_sends_only_the_changed_rows(
    fake: FakeTightknit, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "members.csv", ROWS)
    status, output = await run(options(fake, path))
    assert status == 0, output.stderr
    assert f"job {default_job(path)}" in output.stdout
    assert member_posts(fake) == ROWS

    edit_rows(path, range(500, 500 + CHANGED))
    before, applied = member_posts(fake), len(member_entries(fake))
    status, output = await run(options(fake, path))
    assert status == 0, output.stdout + output.stderr
    assert f"job {default_job(path)}" in output.stdout  # the same job: the path, not the bytes
    assert member_posts(fake) - before == CHANGED  # exactly the changed rows reached the server
    assert len(member_entries(fake)) - applied == CHANGED  # ... and each was applied
    assert (output.count("updated"), output.count("created")) == (CHANGED, 0)
    assert output.count("skipped (done before)") == ROWS - CHANGED
    assert output.count("of the sent: changed") == CHANGED
    assert output.count("replayed") == 0  # new keys: applied, not replayed
    assert_adds_up(output)
    member = fake.find_member(member_email(550))
    assert member is not None
    assert member.full_name == "Renamed Member 550"

    # unchanged since: nothing is sent
    before = member_posts(fake)
    status, output = await run(options(fake, path))
    assert status == 0
    assert member_posts(fake) == before
    assert output.count("skipped (done before)") == ROWS


async def test_an_explicit_job_name_sees_the_changes_too(
    fake: FakeTightknit, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "members.csv", 50)
    assert (await run(options(fake, path, job="crm-sync")))[0] == 0
    edit_rows(path, range(3))
    before = member_posts(fake)
    dry_status, dry = await run(options(fake, path, job="crm-sync", dry_run=True))
    assert dry_status == 0
    assert "dry run: would send 3 rows" in dry.stdout
    assert "(0 new, 3 changed, 0 left unfinished by an earlier run)" in dry.stdout
    assert "47 already imported" in dry.stdout
    status, output = await run(options(fake, path, job="crm-sync"))
    assert status == 0
    assert member_posts(fake) - before == 3
    assert output.count("updated") == 3


async def test_all_resends_every_row_and_the_server_applies_each(
    fake: FakeTightknit, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "members.csv", 40)
    assert (await run(options(fake, path)))[0] == 0
    applied = len(member_entries(fake))
    status, output = await run(options(fake, path, resend_all=True))
    assert status == 0, output.stdout
    assert output.count("updated") == 40
    assert output.count("skipped (done before)") == 0
    assert output.count("replayed") == 0  # fresh keys: applied again
    assert len(member_entries(fake)) - applied == 40
    # the journal still has them done with their content: a plain re-run sends nothing
    before = member_posts(fake)
    assert (await run(options(fake, path)))[0] == 0
    assert member_posts(fake) == before


def write_crm_export(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["E-mail", "full_name", "company", "phone"])
        for i in range(count):
            writer.writerow([member_email(i), f"Member Number{i}", "ACME", "+1 555 0100"])
    return path


async def test_unknown_columns_are_ignored_with_one_notice_and_map_renames(
    fake: FakeTightknit, tmp_path: Path
) -> None:
    path = write_crm_export(tmp_path / "crm.csv", 12)
    status, output = await run(options(fake, path))
    assert status == 2  # no e-mail column until it is mapped
    assert "missing column(s) email" in output.stderr
    assert "--map email=COLUMN" in output.stderr

    mapped = options(fake, path, column_map={"email": "E-mail"})
    status, output = await run(mapped)
    assert status == 0, output.stderr
    assert output.stdout.count("ignored column(s): company, phone") == 1
    assert output.count("created") == 12

    status, output = await run(replace(mapped, strict_columns=True))
    assert status == 2
    assert "unknown column(s) company, phone" in output.stderr


async def test_unknown_json_keys_are_ignored_unless_strict(
    fake: FakeTightknit, tmp_path: Path
) -> None:
    path = tmp_path / "m.jsonl"
    rows = [
        {"mail": member_email(i), "full_name": f"Member Number{i}", "company": "ACME", "tier": i}
        for i in range(5)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    mapped = options(fake, path, column_map={"email": "mail"})
    status, output = await run(mapped)
    assert status == 0, output.stderr
    assert "ignored column(s): company, tier" in output.stdout
    assert output.count("created") == 5
    status, output = await run(replace(mapped, strict_columns=True))
    assert status == 2
    assert f"{path}:1: unknown field(s) company, tier" in output.stderr


async def test_the_summary_adds_up_when_the_run_stops_early(
    fake: FakeTightknit, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "members.csv", 400)
    with path.open("a") as f:
        f.write("not-an-address,Bad Row\n")
    fake.faults.script("POST", MEMBERS_PATH, [None] * 20 + [400] * 1000)
    status, output = await run(
        options(fake, path, concurrency=2, max_failures=2, skip_invalid=True)
    )
    assert status == 1
    assert output.count("rows in the file") == 401
    assert output.count("invalid (not sent)") == 1
    not_sent = output.count("not sent (stopped)")
    assert not_sent > 300  # the rows never read from the file are counted too
    assert_adds_up(output)
    failed = output.count("failed")
    done = output.count("created")
    assert f"FAILED: {401 - done:,} of 401 rows not imported ({failed} failed, 1 invalid, " in (
        output.stdout
    )


async def test_the_summary_of_skipped_invalid_rows(fake: FakeTightknit, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("email,full_name\nada@example.com,Ada Lovelace\nnowhere,Nobody\n")
    status, output = await run(options(fake, path, skip_invalid=True))
    assert status == 1
    assert "FAILED: 1 of 2 rows not imported (0 failed, 1 invalid)" in output.stdout
    assert_adds_up(output)


def test_the_commands_client_keeps_a_bounded_store(monkeypatch: pytest.MonkeyPatch) -> None:
    from tightknit_async import MemoryIdempotencyStore
    from tightknit_async.bulk._runner import bounded_store

    monkeypatch.delenv("TIGHTKNIT_REDIS_URL", raising=False)
    store = bounded_store()
    assert isinstance(store, MemoryIdempotencyStore)
    assert (store.max_entries, store.max_bindings) == (1_000, 10_000)
    monkeypatch.setenv("TIGHTKNIT_REDIS_URL", "redis://localhost:6379/0")
    assert bounded_store() is None  # the client's Redis store: its memory is Redis's


def test_the_digest_set_of_the_validation_pass() -> None:
    from tightknit_async.bulk._runner import _DigestSet

    digests = _DigestSet()
    values = [(i * 0x9E3779B97F4A7C15) % 2**64 for i in range(1, 50_001)]
    assert all(digests.add(value) for value in values)  # grows past its first 1,024 slots
    assert not any(digests.add(value) for value in values[::7])
    assert digests.add(0)
    assert not digests.add(0)
