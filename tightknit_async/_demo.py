"""``tightknit-async demo``: concurrent creates and reads against the embedded fake server.

The fake server enforces the real rules (50 requests per key in any 1-second window, idempotency)
and injects faults: some 503s, and connections dropped after a member was already created. The
demo shows the client pacing itself, retrying, and creating every member exactly once.
"""

from __future__ import annotations

import asyncio
import time

from ._client import AsyncTightknit
from ._exceptions import TightknitError
from .idempotency import idempotency_key_for
from .testing import FakeTightknit

__all__ = ["run_demo"]


async def run_demo(*, creates: int = 200, reads: int = 150, quiet: bool = False) -> int:
    """Run the demo; return 0 when every call succeeded and every member exists exactly once."""

    def say(line: str) -> None:
        if not quiet:
            print(line, flush=True)

    async with FakeTightknit() as fake:
        fake.faults.error_rate = 0.03
        fake.faults.drop_after_apply = 5
        say(f"fake Tightknit server on {fake.url} (50 req/s per key, 3% 503s, 5 dropped replies)")
        failures: list[str] = []
        replays = 0
        async with AsyncTightknit(api_key=fake.api_key, base_url=fake.url) as tk:
            me = await tk.request("GET", "/admin/v0/api_key/me")
            say(f"key belongs to community {me.data['data']['community']['name']!r}")
            feeds = await tk.request("GET", "/admin/v0/feeds", params={"per_page": 100})
            feed_ids = [feed["id"] for feed in feeds.data["data"]["records"]]
            events = await tk.request(
                "GET", "/admin/v0/calendar_events", params={"time_filter": "all", "per_page": 100}
            )
            event_ids = [event["id"] for event in events.data["data"]["records"]]

            async def create(i: int) -> None:
                nonlocal replays
                body = {"email": f"member{i}@example.com", "full_name": f"Demo Member{i}"}
                try:
                    response = await tk.request(
                        "POST",
                        "/admin/v0/members",
                        json=body,
                        idempotency_key=idempotency_key_for("demo-members", i),
                    )
                except TightknitError as exc:
                    failures.append(f"create {i}: {exc}")
                else:
                    replays += response.replayed

            async def read(i: int) -> None:
                if i % 2 and event_ids:
                    path = f"/admin/v0/calendar_events/{event_ids[i % len(event_ids)]}"
                else:
                    path = f"/admin/v0/feeds/{feed_ids[i % len(feed_ids)]}"
                try:
                    await tk.request("GET", path)
                except TightknitError as exc:
                    failures.append(f"read {path}: {exc}")

            say(f"sending {creates} creates and {reads} reads at once ...")
            started = time.perf_counter()
            await asyncio.gather(
                *(create(i) for i in range(creates)), *(read(i) for i in range(reads))
            )
            elapsed = time.perf_counter() - started
            stats = tk.statistics()

        created = {entry.resource_id for entry in fake.ledger if entry.path == "/admin/v0/members"}
        duplicates = len([e for e in fake.ledger if e.path == "/admin/v0/members"]) - len(created)
        rate = stats.attempts / elapsed if elapsed else 0.0
        say("")
        say(f"  calls                {stats.calls}")
        say(f"  HTTP attempts        {stats.attempts}")
        say(f"  retries              {stats.retries}")
        say(f"  replays (exactly-once after a dropped reply)  {replays}")
        say(f"  429s seen            {stats.rate_limited}")
        say(f"  time                 {elapsed:.2f} s")
        say(f"  achieved rate        {rate:.1f} req/s ({rate / 50:.0%} of the 50 req/s cap)")
        say(f"  max in any 1 s window at the server  {fake.max_in_window(1.0)}")
        say(f"  members created      {len(created)} of {creates}, duplicates {duplicates}")
        for line in failures[:10]:
            say(f"  FAILED {line}")
        ok = not failures and len(created) == creates and duplicates == 0
        say("demo: OK" if ok else "demo: FAILED")
        return 0 if ok else 1
