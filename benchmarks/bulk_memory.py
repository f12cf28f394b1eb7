"""Peak RSS and time of a 100,000-item bulk run vs a naive ``asyncio.gather`` of every item.

Every variant sends the same requests through the same client (``POST /admin/v0/members`` with a
deterministic idempotency key, ``priority="bulk"``) to a ``MockTransport`` (no network, pacing
off), so the difference is what holding the work costs:

- ``run_bulk``: :func:`tightknit_async.bulk.run_bulk`, concurrency 64, input pulled lazily;
- ``run_bulk, bounded store``: the same, the client given
  ``MemoryIdempotencyStore(max_entries=1_000, max_bindings=10_000)``. The default store keeps a
  binding (key -> request fingerprint, ~450 bytes) for every key sent in the last hour, up to
  200,000, and 10,000 cached replies: in a long bulk run that, not the engine, is what grows
  until the caps;
- ``run_bulk+journal``: the same with a SQLite journal (a temporary file);
- ``gather``: ``asyncio.gather(*(send(row) for row in rows))``: every coroutine at once.

Each variant runs in its own fresh process (so peak RSS is its own), which samples its RSS after
every 10% of the items. Target: ``run_bulk`` under 150 MB peak and flat.

    .venv/bin/python benchmarks/bulk_memory.py [--items 100000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

VARIANTS = ("run_bulk", "run_bulk, bounded store", "run_bulk+journal", "gather")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    """Resident set size now (Linux /proc; else the peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE / 1e6
    except OSError:
        return peak_mb()


def peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1e3


def rows(count: int) -> Iterator[dict[str, str]]:
    for i in range(count):
        yield {"email": f"member{i:07d}@example.com", "full_name": f"Member Number{i}"}


async def child(variant: str, count: int) -> dict[str, object]:
    from tightknit_async import AsyncTightknit, MemoryIdempotencyStore, idempotency_key_for
    from tightknit_async.bulk import BulkItem, run_bulk
    from tightknit_async.journal import Journal
    from tightknit_async.testing import MockTransport, json_response

    reply = json_response(
        201,
        {
            "success": True,
            "data": {"member": {"id": "m", "email": "a@b.co", "full_name": "A B"}},
        },
    )
    transport = MockTransport(lambda request: reply)
    transport.requests = _Discard()  # keep no request log: we measure the client, not the mock
    samples: list[tuple[int, float]] = [(0, rss_mb())]
    step = max(count // 10, 1)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if done % step == 0:
            samples.append((done, rss_mb()))

    started = time.perf_counter()
    store = None
    if variant == "run_bulk, bounded store":
        store = MemoryIdempotencyStore(max_entries=1_000, max_bindings=10_000)
    async with AsyncTightknit(
        api_key="sk_bench_key", transport=transport, rate_limit=None, idempotency_store=store
    ) as tk:
        if variant == "gather":

            async def send_one(row: dict[str, str]) -> None:
                key = idempotency_key_for("bench", row["email"])
                await tk.request(
                    "POST", "/admin/v0/members", json=row, idempotency_key=key, priority="bulk"
                )
                tick()

            await asyncio.gather(*(send_one(row) for row in rows(count)))
        else:

            async def send(item: BulkItem[dict[str, str]]) -> object:
                response = await tk.request(
                    "POST", "/admin/v0/members", json=item.value, **item.options
                )
                tick()
                return response

            if variant != "run_bulk+journal":
                summary = await run_bulk(
                    rows(count), send, job="bench", key=lambda r: r["email"], concurrency=64
                )
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    async with Journal(Path(tmp) / "bench.sqlite3") as journal:
                        summary = await run_bulk(
                            rows(count),
                            send,
                            job="bench",
                            key=lambda r: r["email"],
                            concurrency=64,
                            journal=journal,
                        )
            assert summary.succeeded == count, summary
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "peak_mb": peak_mb(), "samples": samples}


class _Discard(list):  # type: ignore[type-arg]
    def append(self, _: object) -> None:
        return None


def run_child(variant: str, count: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--items", str(count)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1, help="runs per variant (medians)")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.items))))
        return

    print(
        f"# {args.items:,} items per run; MockTransport, pacing off; "
        f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()}"
    )
    results: dict[str, list[dict[str, object]]] = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for variant in VARIANTS:
            results[variant].append(run_child(variant, args.items))

    def median(variant: str, field: str) -> float:
        return statistics.median(float(r[field]) for r in results[variant])  # type: ignore[arg-type]

    base_time, base_peak = median("gather", "elapsed"), median("gather", "peak_mb")
    print()
    print(
        "| variant | time (s) | items/s | peak RSS (MB) | RSS at 10% -> 100% (MB) "
        "| vs gather: time | vs gather: peak |"
    )
    print("|---|---:|---:|---:|---|---:|---:|")
    for variant in VARIANTS:
        elapsed, peak = median(variant, "elapsed"), median(variant, "peak_mb")
        samples = results[variant][-1]["samples"]
        assert isinstance(samples, list)
        curve = [mb for done, mb in samples if done]
        shown = f"{curve[0]:.0f} -> {curve[len(curve) // 2 - 1]:.0f} -> {curve[-1]:.0f}"
        print(
            f"| {variant} | {elapsed:.2f} | {args.items / elapsed:,.0f} | {peak:.0f} | {shown} "
            f"| {elapsed / base_time:.2f}x | {peak / base_peak:.2f}x |"
        )
    print()
    for variant in VARIANTS[:2]:
        curve = results[variant][-1]["samples"]
        assert isinstance(curve, list)
        grew = curve[-1][1] - curve[1][1]
        print(
            f"{variant}: peak {median(variant, 'peak_mb'):.0f} MB (target < 150 MB); RSS grew "
            f"{grew:+.1f} MB from 10% to 100% of the items"
        )


if __name__ == "__main__":
    main()
