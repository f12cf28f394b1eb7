"""``tightknit-async demo``: a bulk member import against the embedded fake server.

It writes a CSV of generated members to a temporary directory and imports it through the same
code as ``tightknit-async import members`` (validation, the bulk engine in the ``bulk`` lane,
the journal, the progress display, the summary), against an in-process :class:`FakeTightknit`
that enforces the real rules (a per-key limit in any 1-second window, idempotency) and injects
faults: 3% 503s, and five connections dropped after the member was saved. Then it shows the
exactly-once evidence from the server's ledger, and runs the same command again: the journal
skips every row and nothing is sent. Last, it edits a few rows and runs it once more: a sync,
only the edited rows are sent.

``--rate`` raises both the fake server's limit and the client's rate (the Makefile passes 400 so
the demo takes seconds); the real API allows 50 requests per second.
"""

from __future__ import annotations

import csv
import io
import sys
import tempfile
from collections import Counter
from pathlib import Path

from .bulk._import import ImportOptions, import_members
from .testing import FakeTightknit

__all__ = ["rename_members", "run_demo", "write_members"]

API_RATE: float = 50.0
_MEMBERS_PATH = "/admin/v0/members"


def write_members(path: Path, count: int) -> None:
    """Write ``count`` generated members as ``email,full_name,avatar_url_original`` CSV."""
    first = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia")
    last = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Perlman")
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("email", "full_name", "avatar_url_original"))
        for i in range(count):
            name = f"{first[i % len(first)]} {last[i % len(last)]}"
            avatar = f"https://avatars.example.com/{i}.png" if i % 3 == 0 else ""
            writer.writerow((f"member{i:05d}@example.com", name, avatar))


def rename_members(path: Path, count: int) -> None:
    """Give the first ``count`` members of a :func:`write_members` file a new name."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    for row in rows[1 : count + 1]:
        row[1] = f"{row[1]} Jr."
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)


async def run_demo(*, members: int = 2000, rate: float = API_RATE, quiet: bool = False) -> int:
    """Run the demo; return 0 when every row was imported exactly once and the re-run sent
    nothing."""
    out = io.StringIO() if quiet else sys.stdout
    err = io.StringIO() if quiet else sys.stderr

    def say(line: str = "") -> None:
        print(line, file=out, flush=True)

    limit = max(1, int(rate))
    at_rate = (
        f"at {rate:g} req/s test rate; the real API allows 50"
        if rate != API_RATE
        else "at the API's 50 req/s cap"
    )
    async with FakeTightknit(rate_limit=limit) as fake:
        fake.faults.error_rate = 0.03
        fake.faults.drop_after_apply = 5
        say(
            f"fake Tightknit server on {fake.url}: {limit} requests per key in any 1 s window, "
            "3% injected 503s, 5 replies dropped after the member was saved"
        )
        with tempfile.TemporaryDirectory(prefix="tightknit-demo-") as tmp:
            path = Path(tmp) / "members.csv"
            write_members(path, members)
            options = ImportOptions(
                file=path,
                concurrency=32,
                rate=rate,
                api_key=fake.api_key,
                base_url=fake.url,
                grace=5.0,
            )
            flag = f" --rate {rate:g}" if rate != API_RATE else ""
            say(f"wrote {members:,} generated members to {path.name}")
            say()
            say(f"run 1: $ tightknit-async import members {path.name}{flag}   ({at_rate})")
            first = await import_members(
                options, stdout=out, stderr=err, log_interval=1.0, note=f"at {rate:g} req/s"
            )
            entries = [e for e in fake.ledger if e.path == _MEMBERS_PATH and e.method == "POST"]
            per_member = Counter(entry.resource_id for entry in entries)
            duplicates = sum(count - 1 for count in per_member.values())
            stats = fake.stats
            window = fake.max_in_window(1.0)
            say()
            say("what the server saw (its ledger of applied changes):")
            say(f"  members applied          {len(per_member):,} of {members:,}")
            say(f"  applied twice            {duplicates}  (exactly once: 0)")
            say(f"  injected faults          {stats.faults_injected} (503s and dropped replies)")
            say(f"  dropped replies          {stats.dropped_connections} (saved, reply lost)")
            say(f"  replays                  {stats.replays} (retries answered from the cache)")
            say(f"  429s                     {stats.rate_limited}")
            say(f"  max in any 1 s window    {window} (limit {limit}; {at_rate})")
            say()
            say(f"run 2: $ tightknit-async import members {path.name}{flag}   (the same again)")
            requests_before = stats.requests
            second = await import_members(options, stdout=out, stderr=err, log_interval=1.0)
            sent = fake.stats.requests - requests_before
            say(f"  requests sent in run 2   {sent}  (the journal skipped every row)")
            edited = min(10, members)
            rename_members(path, edited)
            say()
            say(f"run 3: {edited} rows edited in {path.name}; the same command again (a sync)")
            arrivals_before = len(fake.arrivals)
            third = await import_members(options, stdout=out, stderr=err, log_interval=1.0)
            # rows sent: distinct keys (a 503 is retried with the row's key)
            synced = len({a.idempotency_key for a in fake.arrivals[arrivals_before:]})
            say(f"  rows sent in run 3       {synced}  (the edited rows only, under new keys)")
    ok = (
        first == 0
        and second == 0
        and third == 0
        and synced == edited
        and len(per_member) == members
        and duplicates == 0
        and sent == 0
        and window <= limit
    )
    say()
    say("demo: OK" if ok else "demo: FAILED")
    return 0 if ok else 1
