"""Sync members from a CSV file into Tightknit: resumable, each row applied once.

The CSV has the header ``email,full_name`` (and optionally ``avatar_url_original``). Each row
becomes ``tk.members.create(...)`` (an upsert by e-mail) through ``run_bulk``: 16 rows in flight,
paced to the key's 50 requests per second in the governor's bulk lane, each row with an
idempotency key derived from the job and its e-mail. The journal (SQLite) records every row, so
after Ctrl-C or a crash the same command skips what is done and resends the rest with the same
keys.

    export TIGHTKNIT_API_KEY=sk_...            # TIGHTKNIT_BASE_URL too, for another server
    python examples/sync_job.py people.csv [--journal people.journal.sqlite3] [--job NAME]

Exit status 0 when every row is in Tightknit, 1 when some failed (listed on stderr), 2 for
unusable settings. ``tightknit-async import members people.csv`` is the same job as a command,
with validation up front and a file of the failed rows.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import anyio.to_thread
import msgspec

from tightknit_async import AsyncTightknit
from tightknit_async.bulk import BulkItem, ProgressDisplay, run_bulk
from tightknit_async.journal import Journal
from tightknit_async.models import MemberResult

COLUMNS = ("email", "full_name", "avatar_url_original")


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """The CSV's rows, read lazily (``run_bulk`` takes a few at a time), blanks stripped."""
    with path.open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            yield {name: (row.get(name) or "").strip() for name in COLUMNS}


def file_digest(path: Path) -> str:
    """The file's SHA-256: the same file resumes its job, an edited one is new work."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("csv", type=Path, help="email,full_name[,avatar_url_original]")
    parser.add_argument("--journal", type=Path, help="default: CSV + .journal.sqlite3")
    parser.add_argument("--job", help="names the idempotency keys; default: from the file")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)

    api_key = os.environ.get("TIGHTKNIT_API_KEY")
    if not api_key:
        print("set TIGHTKNIT_API_KEY (and TIGHTKNIT_BASE_URL for another server)", file=sys.stderr)
        return 2
    job = args.job or "members-sync-" + (await anyio.to_thread.run_sync(file_digest, args.csv))[:16]
    journal_path = args.journal or args.csv.with_name(args.csv.name + ".journal.sqlite3")

    async with (
        AsyncTightknit(api_key) as tk,  # TIGHTKNIT_BASE_URL from the environment
        Journal(journal_path, owner=api_key, redact=[api_key]) as journal,
    ):

        async def send(item: BulkItem[dict[str, str]]) -> MemberResult:
            row = item.value
            return await tk.members.create(
                email=row["email"],
                full_name=row["full_name"],
                avatar_url_original=row["avatar_url_original"] or msgspec.UNSET,  # empty: unsent
                **item.options,  # the row's idempotency key (the same in every run), bulk lane
            )

        summary = await run_bulk(
            read_rows(args.csv),
            send,
            job=job,
            key=lambda row: row["email"].lower(),
            concurrency=args.concurrency,
            journal=journal,
            on_progress=ProgressDisplay("members"),
        )

    for failure in summary.failures:
        print(f"{failure.item_id}: {failure.error}", file=sys.stderr)
    print(
        f"{summary.succeeded} synced ({summary.created} new, {summary.updated} updated), "
        f"{summary.skipped} done before, {summary.failed} failed, in {summary.elapsed:.1f}s"
    )
    return 0 if summary.failed == 0 and summary.stopped == "completed" else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
