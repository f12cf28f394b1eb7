"""Multi-tenant: one process, 100 API keys, each with its own client and its own 50/s governor.

The fake Tightknit server (``FakeTightknit``, enforcing 50 requests/s per key over a sliding 1 s
window) runs in this same process, on the same event loop as the 100 clients: its arrival
journal (every arrival records the key's id, the server-clock time and the status) is what the
per-key windows are computed from, and reading it needs the server in-process. The server's own
work therefore shares one core with the clients, and caps the aggregate throughput below the
100 x 50 = 5,000 req/s the keys would allow: the aggregate figure is what one process serving
both sides reaches, not the client's ceiling.

Every key's client sends ``GET /admin/v0/api_key/me`` from several looping tasks for the whole
run (saturating its governor), then the run stops and the journal is read:

- aggregate requests/s answered 2xx;
- total 429s the server sent (target: 0);
- per key, the most arrivals in any 1 s window (target: <= 50), reported as the max over keys.

    .venv/bin/python benchmarks/multi_tenant.py [--keys 100] [--rate 50] [--seconds 10]
        [--tasks 4] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import sys
import time
from collections import defaultdict

import aiohttp

from tightknit_async import AsyncTightknit
from tightknit_async.testing import FakeTightknit

PATH = "/admin/v0/api_key/me"


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most of ``times`` in any half-open interval ``[s, s + window)``."""
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def run(keys: int, rate: int, seconds: float, tasks: int) -> dict[str, float]:
    async with FakeTightknit(rate_limit=rate, seed_data=False) as fake:
        secrets = [fake.add_key(name=f"tenant {i}") for i in range(keys)]
        ids = {fake.key_info(secret).id for secret in secrets}
        clients = [AsyncTightknit(api_key=s, base_url=fake.url, rate_limit=rate) for s in secrets]
        errors = 0
        stop = False

        async def loop(tk: AsyncTightknit) -> None:
            nonlocal errors
            while not stop:
                try:
                    await tk.request("GET", PATH)
                except Exception:
                    errors += 1

        try:
            fake.reset_arrivals()
            cpu = time.process_time()
            started = time.monotonic()
            workers = [asyncio.create_task(loop(tk)) for tk in clients for _ in range(tasks)]
            await asyncio.sleep(seconds)
            stop = True
            elapsed = time.monotonic() - started
            cpu = time.process_time() - cpu
            # Let the calls in flight finish (bounded) rather than cancel them mid-request.
            _done, pending = await asyncio.wait(workers, timeout=5)
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)
        finally:
            await asyncio.gather(*(tk.aclose() for tk in clients))
        arrivals = [a for a in fake.arrivals if a.key_id in ids]
    per_key: dict[str, list[float]] = defaultdict(list)
    for arrival in arrivals:
        per_key[arrival.key_id or ""].append(arrival.time)
    windows = [max_in_window(times) for times in per_key.values()]
    # The rate counts 2xx arrivals within the timed span (not the calls finishing after it).
    ok = sum(
        1
        for a in arrivals
        if a.status is not None and 200 <= a.status < 300 and a.time < started + elapsed
    )
    return {
        "elapsed": elapsed,
        "arrivals": len(arrivals),
        "ok": ok,
        "rate": ok / elapsed,
        "429s": sum(1 for a in arrivals if a.status == 429),
        "errors": errors,
        "cpu": cpu / elapsed,
        "keys_seen": len(per_key),
        "max_window": max(windows, default=0),
        "median_window": statistics.median(windows) if windows else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--rate", type=int, default=50, help="per key, client and server")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--tasks", type=int, default=4, help="looping tasks per key")
    parser.add_argument("--quick", action="store_true", help="5 s instead of 10 s")
    args = parser.parse_args()
    if args.quick:
        args.seconds = min(args.seconds, 5.0)
    r = asyncio.run(run(args.keys, args.rate, args.seconds, args.tasks))
    print(
        f"## Multi-tenant: {args.keys} keys x {args.rate}/s, {args.tasks} tasks per key, "
        f"{r['elapsed']:.1f} s; fake server in this process, on the same loop"
        f"{' (--quick)' if args.quick else ''}"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"aiohttp {aiohttp.__version__}"
    )
    print()
    ceiling = args.keys * args.rate
    print("| measure | value | target |")
    print("|---|---:|---|")
    print(
        f"| aggregate 2xx req/s | {r['rate']:,.0f} | keys allow {ceiling:,}; "
        f"in-process server caps it |"
    )
    print(f"| arrivals at the server | {r['arrivals']:,.0f} | |")
    print(
        f"| process CPU (clients + server), share of one core | {r['cpu']:.0%} | "
        f"~100% means the one loop is saturated |"
    )
    print(f"| keys that sent | {r['keys_seen']:.0f} | {args.keys} |")
    print(f"| 429s from the server | {r['429s']:.0f} | 0: {_verdict(r['429s'] == 0)} |")
    print(f"| client errors raised | {r['errors']:.0f} | 0: {_verdict(r['errors'] == 0)} |")
    print(
        f"| per-key max in any 1 s window (max over keys) | {r['max_window']:.0f} | "
        f"<= {args.rate}: {_verdict(r['max_window'] <= args.rate)} |"
    )
    print(f"| per-key max in any 1 s window (median over keys) | {r['median_window']:.0f} | |")


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


if __name__ == "__main__":
    main()
