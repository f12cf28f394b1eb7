"""``import members`` in-process against the fake server: formats, validation, failures, summary."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from tightknit_async import idempotency_key_for
from tightknit_async.bulk._import import ImportOptions, import_members
from tightknit_async.cli import main
from tightknit_async.testing import FakeTightknit, disable_waits

from .helpers import (
    MEMBERS_PATH,
    assert_exactly_once,
    member_email,
    member_entries,
    member_key,
    write_csv,
    write_jsonl,
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit(rate_limit=None, seed_data=False) as server:
        yield server


def options(fake: FakeTightknit, file: Path, **changes: object) -> ImportOptions:
    # A job of its own per test: the client's reply cache is per process and per key.
    base = ImportOptions(
        file=file,
        api_key=fake.api_key,
        base_url=fake.url,
        rate=2000,
        job=f"test-{uuid.uuid4().hex[:8]}",
        concurrency=8,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class Output:
    def __init__(self) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()

    @property
    def stdout(self) -> str:
        return self.out.getvalue()

    @property
    def stderr(self) -> str:
        return self.err.getvalue()

    def count(self, name: str) -> int:
        match = re.search(rf"^  {re.escape(name)}\s+([\d,]+)$", self.stdout, re.MULTILINE)
        assert match, f"no {name!r} in {self.stdout}"
        return int(match.group(1).replace(",", ""))


async def run(opts: ImportOptions) -> tuple[int, Output]:
    output = Output()
    status = await import_members(opts, stdout=output.out, stderr=output.err, interactive=False)
    return status, output


async def test_a_csv_file_is_imported_exactly_once(fake: FakeTightknit, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "members.csv", 60)
    status, output = await run(options(fake, path))
    assert status == 0, output.stderr
    assert_exactly_once(fake, 60)
    assert output.count("created") == 60
    assert output.count("failed") == 0
    assert "OK: all 60 rows imported" in output.stdout
    assert re.search(r"rate\s+[\d,.]+ rows/s", output.stdout)
    assert "import members" in output.stderr  # the progress lines
    assert (tmp_path / "members.csv.journal.sqlite3").exists()


async def test_jsonl_and_updates(fake: FakeTightknit, tmp_path: Path) -> None:
    status, output = await run(options(fake, write_jsonl(tmp_path / "m.jsonl", 20)))
    assert status == 0
    assert output.count("created") == 20
    member = fake.find_member(member_email(1))
    assert member is not None
    assert member.avatar_url_original == "https://img.example.com/1.png"
    status, output = await run(options(fake, write_csv(tmp_path / "again.csv", 20)))
    assert status == 0
    assert (output.count("created"), output.count("updated")) == (0, 20)


def journal_replies(path: Path, job: str) -> set[tuple[int, str, int, int]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT status, outcome, attempts, replayed FROM items WHERE job = ?", (job,)
        ).fetchall()
    conn.close()
    return set(rows)


async def test_rows_carry_their_job_keys_and_the_journal_records_each_reply(
    fake: FakeTightknit, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", 6)
    first = options(fake, path, journal=tmp_path / "first.sqlite3")
    assert first.job is not None
    status, output = await run(first)
    assert status == 0, output.stderr
    keys = [entry.idempotency_key for entry in member_entries(fake)]
    avatar = "https://img.example.com/{}.png".format
    expected = [member_key(first.job, i, avatar=avatar(i) if i % 2 else None) for i in range(6)]
    assert sorted(keys) == sorted(expected)  # type: ignore[type-var]
    assert idempotency_key_for(first.job, member_email(0)) not in keys  # the content counts
    for i in range(6):
        member = fake.find_member(member_email(i))
        assert member is not None
        assert member.full_name == f"Member Number{i}"
        assert member.avatar_url_original == (f"https://img.example.com/{i}.png" if i % 2 else None)
    assert journal_replies(tmp_path / "first.sqlite3", first.job) == {(201, "created", 1, 0)}

    # The same job with a fresh journal sends every row again with the same keys: all replays.
    again = replace(first, journal=tmp_path / "again.sqlite3")
    status, output = await run(again)
    assert status == 0, output.stderr
    assert output.count("replayed") == 6
    assert len(member_entries(fake)) == 6  # nothing applied twice
    assert journal_replies(tmp_path / "again.sqlite3", first.job) == {(201, "created", 1, 1)}


async def test_invalid_rows_are_listed_by_line_and_nothing_is_sent(
    fake: FakeTightknit, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "email,full_name\n"
        "ada@example.com,Ada Lovelace\n"
        "not-an-address,Bad Email\n"
        "\n"
        "grace@example.com,\n"
        "alan@example.com,Alan Turing,extra\n"
        '"multi@example.com","Multi\nLine"\n'
        "ADA@example.com,Ada Again\n"
    )
    status, output = await run(options(fake, path))
    assert status == 2
    assert f"{path}:3: email: must be an e-mail address, got 'not-an-address'" in output.stderr
    assert f"{path}:5: full_name: must not be empty" in output.stderr
    assert f"{path}:6: expected 2 fields (email,full_name), got 3" in output.stderr
    assert f"{path}:9: email: 'ADA@example.com' is on an earlier line too" in output.stderr
    assert f"{path}:7:" not in output.stderr  # a quoted line break is a valid row
    assert "nothing sent" in output.stderr
    assert "6 rows, 2 valid, 4 invalid" in output.stdout
    assert fake.stats.requests == 0


async def test_skip_invalid_imports_the_rest_and_writes_them_to_the_failed_file(
    fake: FakeTightknit, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "full_name,email\nAda Lovelace,ada@example.com\nNobody,nowhere\nGrace Hopper,grace@x.io\n"
    )
    opts = options(fake, path, skip_invalid=True)
    status, output = await run(opts)
    assert status == 1
    assert output.count("created") == 2
    assert output.count("invalid (not sent)") == 1
    failed = tmp_path / "mixed.failed.csv"
    assert failed.read_text().splitlines() == ["full_name,email", "Nobody,nowhere"]
    assert f"1 rows not imported are in {failed}" in output.stdout
    # fixed, the failed file is imported by the same command
    failed.write_text(failed.read_text().replace("nowhere", "nobody@example.com"))
    status, output = await run(options(fake, failed))
    assert status == 0
    assert output.count("created") == 1


async def test_jsonl_failed_rows_keep_their_lines(fake: FakeTightknit, tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    good = json.dumps({"email": "a@example.com", "full_name": "A B"})
    path.write_text(f'{good}\n{{"email": "b@example.com"}}\n[1, 2]\n{{broken\n')
    status, output = await run(options(fake, path, skip_invalid=True))
    assert status == 1
    assert f"{path}:2: full_name: is required" in output.stderr
    assert f"{path}:3: must be a JSON object, got list" in output.stderr
    assert f"{path}:4: not valid JSON" in output.stderr
    failed = (tmp_path / "m.failed.jsonl").read_text().splitlines()
    assert failed == ['{"email": "b@example.com"}', "[1, 2]", "{broken"]


async def test_failed_rows_are_retried_by_the_same_command(
    fake: FakeTightknit, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "members.csv", 30)
    opts = options(fake, path, concurrency=1)
    fake.faults.script("POST", MEMBERS_PATH, [503] * 4)  # every attempt of the first row
    with disable_waits():
        status, output = await run(opts)
    assert status == 1
    assert output.count("created") == 29
    assert output.count("failed") == 1
    assert f"{path}:2: {member_email(0)}: InternalServerError" in output.stderr
    assert "FAILED: 1 of 30 rows not imported (1 failed)" in output.stdout
    failed_file = tmp_path / "members.failed.csv"
    assert failed_file.read_text().splitlines()[1] == f"{member_email(0)},Member Number0"
    requests = fake.stats.requests
    status, output = await run(opts)
    assert status == 0
    assert output.count("skipped (done before)") == 29
    assert output.count("created") == 1
    assert fake.stats.requests == requests + 1
    assert not failed_file.exists()  # this run had no failed rows
    assert_exactly_once(fake, 30)


async def test_dry_run_sends_nothing(fake: FakeTightknit, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "members.csv", 30)
    opts = options(fake, path)
    status, output = await run(replace(opts, dry_run=True))
    assert status == 0
    assert "dry run: would send 30 rows" in output.stdout
    assert fake.stats.requests == 0
    assert (await run(opts))[0] == 0
    status, output = await run(replace(opts, dry_run=True))
    assert "would send 0 rows" in output.stdout
    assert "30 already imported" in output.stdout


async def test_the_error_budget_stops_the_import(fake: FakeTightknit, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "members.csv", 200)
    fake.faults.script("POST", MEMBERS_PATH, [400] * 200)
    status, output = await run(options(fake, path, concurrency=2, max_failures=3))
    assert status == 1
    assert "over the error budget" in output.stdout
    # the fourth failure is over the budget; the other row in flight may still finish
    assert 4 <= output.count("failed") <= 5
    assert fake.stats.requests <= 5
    assert len(member_entries(fake)) == 0


async def test_a_refused_key_stops_at_once(fake: FakeTightknit, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "members.csv", 200)
    fake.revoke_key(fake.api_key)
    status, output = await run(options(fake, path, concurrency=4))
    assert status == 1
    assert "stopped early: AuthenticationError" in output.stdout
    assert fake.stats.requests <= 8
    assert fake.api_key not in output.stdout + output.stderr


async def test_unusable_files(fake: FakeTightknit, tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("mail,name\nx,y\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "m.txt").write_text("")
    cases = {
        "h.csv": "missing column(s) email, full_name (the command takes email, full_name, "
        "avatar_url_original; the file has mail, name: map one with --map email=COLUMN)",
        "empty.csv": "empty file",
        "m.txt": "expected a .csv or .jsonl file",
        "absent.csv": "No such file",
    }
    for name, message in cases.items():
        status, output = await run(options(fake, tmp_path / name))
        assert status == 2, name
        assert message in output.stderr, (name, output.stderr)
    assert fake.stats.requests == 0


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "members.csv", 3)
    assert main(["import", "members", str(path), "--concurrency", "0"]) == 2
    assert "--concurrency must be >= 1" in capsys.readouterr().err
    assert main(["import", "members", str(path), "--journal", "j", "--no-journal"]) == 2
    assert main(["import", "members", str(path)]) == 2  # no TIGHTKNIT_API_KEY
    assert "No API key" in capsys.readouterr().err
    assert main(["import", "members", str(path), "--dry-run", "--no-journal"]) == 0
    assert "dry run: would send 3 rows" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["import", "members", "--help"])
    usage = capsys.readouterr().out
    for flag in ("--journal", "--concurrency", "--dry-run", "--skip-invalid", "--failed-out"):
        assert flag in usage


async def test_an_unusable_journal_is_refused(fake: FakeTightknit, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "members.csv", 5)
    status, output = await run(options(fake, path, journal=tmp_path / "no" / "such" / "dir.db"))
    assert status == 2
    assert "cannot use the journal" in output.stderr
    assert fake.stats.requests == 0


def test_the_failed_file_default_names(tmp_path: Path) -> None:
    opts = ImportOptions(file=tmp_path / "people.jsonl")
    assert opts.failed_path == tmp_path / "people.failed.jsonl"
    assert opts.journal_path == tmp_path / "people.jsonl.journal.sqlite3"
    assert replace(opts, use_journal=False).journal_path is None
    assert "sk_secret" not in repr(replace(opts, api_key="sk_secret"))


async def test_a_postgresql_journal_url_is_used_as_given(
    fake: FakeTightknit, tmp_path: Path, postgres_url: str
) -> None:
    """``--journal postgresql://...``: the import journals there, and a re-run sends nothing."""
    from tightknit_async.bulk._journals import journal_spec

    path = write_csv(tmp_path / "members.csv", 12)
    journal = journal_spec(postgres_url)
    assert journal == postgres_url  # stays a URL: a Path would fold its "//"
    opts = options(fake, path, journal=journal)
    status, output = await run(opts)
    assert status == 0, output.stderr
    assert_exactly_once(fake, 12)
    assert not (tmp_path / "members.csv.journal.sqlite3").exists()
    shown = postgres_url.split("@")[-1]
    assert shown in output.stdout
    status, again = await run(opts)
    assert status == 0, again.stderr
    assert again.count("skipped (done before)") == 12
    assert_exactly_once(fake, 12)
