"""100,000 items: memory stays flat (bounded by the concurrency, not by the input)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import tracemalloc

from tightknit_async.bulk import BulkItem, run_bulk

from .helpers import REPO

ITEMS = 100_000


def rows(count: int) -> object:
    return ({"email": f"member{i}@example.com", "full_name": "Member N"} for i in range(count))


async def test_the_engine_keeps_nothing_per_item() -> None:
    """The engine alone: allocated blocks after 10% of the items equal those after 100%."""
    samples: list[int] = []
    done = 0

    async def fn(item: BulkItem[dict[str, str]]) -> dict[str, str]:
        nonlocal done
        await asyncio.sleep(0)
        done += 1
        if done % (ITEMS // 10) == 0:
            samples.append(sys.getallocatedblocks())
        return {"id": item.id}

    summary = await run_bulk(
        rows(ITEMS),  # type: ignore[arg-type]
        fn,
        job="memory",
        key=lambda row: row["email"],
        concurrency=64,
    )
    assert summary.succeeded == ITEMS
    # any per-item leftover would add >= 90,000 blocks between the first and last sample
    assert max(samples) - min(samples) < 3_000, samples


async def test_peak_traced_memory_is_bounded_by_the_concurrency() -> None:
    async def fn(item: BulkItem[dict[str, str]]) -> str:
        await asyncio.sleep(0)
        return item.id

    peaks = []
    for count in (2_000, 20_000):
        tracemalloc.start()
        try:
            await run_bulk(
                rows(count),  # type: ignore[arg-type]
                fn,
                job=f"peak-{count}",
                key=lambda row: row["email"],
                concurrency=64,
            )
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert peaks[1] < 3_000_000, peaks  # a few hundred bytes per slot, not per item
    assert peaks[1] < peaks[0] * 1.5, peaks  # ten times the items, the same peak


_CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    from tightknit_async import AsyncTightknit, MemoryIdempotencyStore
    from tightknit_async.bulk import run_bulk
    from tightknit_async.testing import MockTransport, json_response

    ITEMS = int(sys.argv[1])
    REPLY = json_response(201, {"success": True, "data": {"member": {"id": "m"}}})

    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 1e6

    class Quiet(MockTransport):
        async def send(self, request):
            return REPLY

    async def main():
        samples, done = [], 0
        store = MemoryIdempotencyStore(max_entries=1_000, max_bindings=10_000)
        async with AsyncTightknit(
            api_key="sk_test_memory", transport=Quiet(lambda r: REPLY), rate_limit=None,
            idempotency_store=store,
        ) as tk:
            async def send(item):
                nonlocal done
                response = await tk.request(
                    "POST", "/admin/v0/members", json=item.value, **item.options
                )
                done += 1
                if done % (ITEMS // 10) == 0:
                    samples.append(rss_mb())
                return response

            rows = ({"email": f"m{i}@example.com", "full_name": "M N"} for i in range(ITEMS))
            summary = await run_bulk(
                rows, send, job="memory", key=lambda row: row["email"], concurrency=64
            )
        # This process's own high-water mark: ru_maxrss would carry over the parent's peak
        # through fork and exec (Linux keeps it across execve), and the parent is pytest.
        with open("/proc/self/status") as f:
            hwm = next(line for line in f if line.startswith("VmHWM:"))
        peak = int(hwm.split()[1]) / 1e3
        print(json.dumps({"ok": summary.succeeded, "samples": samples, "peak": peak}))

    asyncio.run(main())
    """
)


def test_100k_requests_through_the_client_keep_rss_flat() -> None:
    """The whole path (engine, client pipeline, idempotency, MockTransport) in a fresh process,
    so its RSS is its own. The client's key bindings are bounded here: by default it keeps one
    per key for the hour (up to 200,000), which benchmarks/bulk_memory.py measures."""
    if not sys.platform.startswith("linux"):
        return
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ITEMS)],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ok"] == ITEMS
    samples = result["samples"]
    assert result["peak"] < 150, result
    assert samples[-1] - samples[0] < 15, samples  # flat from 10% to 100% of the items
