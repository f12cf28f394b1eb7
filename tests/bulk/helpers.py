"""Shared helpers for the bulk tests: member files, the CLI in a subprocess, ledger checks."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tightknit_async.bulk import hash_content, item_idempotency_key
from tightknit_async.testing import FakeTightknit, LedgerEntry

MEMBERS_PATH = "/admin/v0/members"
REPO = Path(__file__).resolve().parents[2]


def member_email(i: int) -> str:
    return f"member{i:05d}@example.com"


def member_key(job: str, i: int, *, avatar: str | None = None) -> str:
    """The idempotency key ``import members`` sends for generated member ``i``: derived from
    the job, the e-mail and the content hash of the row."""
    body = {"email": member_email(i), "full_name": f"Member Number{i}"}
    if avatar is not None:
        body["avatar_url_original"] = avatar
    return item_idempotency_key(job, member_email(i), hash_content(body))


def write_csv(path: Path, count: int, *, start: int = 0) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "full_name"])
        for i in range(start, start + count):
            writer.writerow([member_email(i), f"Member Number{i}"])
    return path


def write_jsonl(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i in range(count):
            row = {"email": member_email(i), "full_name": f"Member Number{i}"}
            if i % 2:
                row["avatar_url_original"] = f"https://img.example.com/{i}.png"
            f.write(json.dumps(row) + "\n")
    return path


def member_entries(fake: FakeTightknit) -> list[LedgerEntry]:
    return [e for e in fake.ledger if e.path == MEMBERS_PATH and e.method == "POST"]


def applied_per_member(fake: FakeTightknit) -> Counter[str]:
    """How many times the server applied a change to each member (by member id)."""
    return Counter(entry.resource_id for entry in member_entries(fake))


def assert_exactly_once(fake: FakeTightknit, count: int) -> None:
    per_member = applied_per_member(fake)
    twice = {member: n for member, n in per_member.items() if n > 1}
    assert not twice, f"applied more than once: {twice}"
    assert len(per_member) == count
    for i in range(count):
        assert fake.find_member(member_email(i)) is not None, member_email(i)


def journal_states(path: Path, job: str) -> Counter[str]:
    """The journal's item states, read straight from the file (another process may write)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT state, count(*) FROM items WHERE job = ? GROUP BY state", (job,)
        ).fetchall()
    conn.close()
    return Counter(dict(rows))


def journal_rows(path: Path, job: str) -> dict[str, tuple[str, int]]:
    """item_id -> (state, maybe_applied)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT item_id, state, maybe_applied FROM items WHERE job = ?", (job,)
        ).fetchall()
    conn.close()
    return {item_id: (state, maybe) for item_id, state, maybe in rows}


def age_journal(path: Path, seconds: float) -> None:
    """Move every timestamp of the journal ``seconds`` into the past: as if its runs had
    happened that long ago."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "UPDATE items SET last_sent_at = last_sent_at - ?, first_seen_at = first_seen_at - ?,"
            " updated_at = updated_at - ?",
            (seconds, seconds, seconds),
        )
        conn.execute("UPDATE runs SET started_at = started_at - ?", (seconds,))
    conn.close()


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


class CLI:
    """``python -m tightknit_async import members ...`` in a subprocess, pointed at a fake."""

    def __init__(self, fake: FakeTightknit, tmp_path: Path) -> None:
        self.fake = fake
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "TIGHTKNIT_API_KEY": fake.api_key,
            "TIGHTKNIT_BASE_URL": fake.url,
            "CI": "true",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("TIGHTKNIT_REDIS_URL", None)

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tightknit_async",
            "import",
            "members",
            *args,
            cwd=REPO,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def run(self, *args: str, timeout: float = 30.0) -> Finished:
        process = await self.start(*args)
        return await self.finish(process, timeout=timeout)

    @staticmethod
    async def finish(process: asyncio.subprocess.Process, *, timeout: float = 30.0) -> Finished:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
        assert process.returncode is not None
        return Finished(process.returncode, stdout.decode(), stderr.decode())


async def wait_until(condition: Callable[[], bool], *, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)
