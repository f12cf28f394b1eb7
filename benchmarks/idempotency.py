"""What the idempotency coordinator costs per mutation, and what a full replay cache holds.

No network: a MockTransport answers at once, so the figures are the client's own work per call.
In one run, medians of several rounds:

- GET, no key (the pipeline without the coordinator's keyed path: the baseline);
- POST with a minted key (the default: single-flight and store skipped, key header added);
- POST with a caller's key, first use (bind + lookup + cache the reply);
- POST with a caller's key again (answered from the replay cache: no transport at all).

Then the memory of a MemoryIdempotencyStore filled past its bounds, measured with tracemalloc.

    .venv/bin/python benchmarks/idempotency.py [--calls 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import time
import tracemalloc
import uuid

from tightknit_async import AsyncTightknit
from tightknit_async.idempotency import CachedReply, Claimed, MemoryIdempotencyStore
from tightknit_async.testing import MockTransport, json_response

BODY = {"email": "ada@example.com", "full_name": "Ada Lovelace"}
REPLY = json_response(
    201,
    {"success": True, "message": "Member created", "data": {"member": {"id": str(uuid.uuid4())}}},
)


async def measure(calls: int) -> dict[str, float]:
    transport = MockTransport(lambda _: REPLY)
    store = MemoryIdempotencyStore(max_entries=calls + 10)
    async with AsyncTightknit(
        api_key="sk_bench", transport=transport, rate_limit=None, idempotency_store=store
    ) as tk:
        keys = [str(uuid.uuid4()) for _ in range(calls)]
        results: dict[str, float] = {}

        async def timed(name: str, make: object) -> None:
            started = time.perf_counter()
            for i in range(calls):
                await make(i)  # type: ignore[operator]
            results[name] = (time.perf_counter() - started) / calls * 1e6

        await timed("GET, no key (baseline)", lambda i: tk.request("GET", "/admin/v0/feeds"))
        await timed(
            "POST, minted key",
            lambda i: tk.request("POST", "/admin/v0/members", json=BODY),
        )
        await timed(
            "POST, caller key, first use",
            lambda i: tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=keys[i]),
        )
        before = len(transport.requests)
        await timed(
            "POST, caller key, replay from cache",
            lambda i: tk.request("POST", "/admin/v0/members", json=BODY, idempotency_key=keys[i]),
        )
        assert len(transport.requests) == before, "a replay must not reach the transport"
    return results


def cache_memory(entries: int, reply_bytes: int) -> tuple[int, int, int]:
    store = MemoryIdempotencyStore(max_entries=entries, max_bytes=entries * (reply_bytes + 200))
    body = b"x" * reply_bytes
    headers = {"content-type": "application/json", "x-request-id": "req_0123456789abcdef"}

    async def fill() -> None:
        for _ in range(entries * 2):  # twice the bound: the LRU must evict
            key = str(uuid.uuid4())
            begun = await store.begin("scope", key, "f" * 64)  # binds, finds nothing, claims
            assert isinstance(begun, Claimed)
            await begun.claim.finish(CachedReply(201, dict(headers), bytes(body), "f" * 64))

    tracemalloc.start()
    asyncio.run(fill())
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stats = store.statistics()
    return stats.replies, stats.bytes, current


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rounds = [asyncio.run(measure(args.calls)) for _ in range(args.rounds)]
    medians = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    base = medians["GET, no key (baseline)"]
    print(
        f"coordinator cost per call: {args.calls} calls x {args.rounds} rounds, medians, "
        f"MockTransport (no network); Python {sys.version.split()[0]} on {platform.machine()}"
    )
    print()
    print("| call | µs per call | vs GET baseline |")
    print("|---|---:|---:|")
    for name, micros in medians.items():
        print(f"| {name} | {micros:.1f} | {micros / base:.2f}x |")
    print()
    entries, reply_bytes = 10_000, 1024
    replies, held, traced = cache_memory(entries, reply_bytes)
    print(
        f"replay cache bounded at {entries:,} entries: after {2 * entries:,} puts of "
        f"{reply_bytes:,}-byte replies it holds {replies:,} replies, {held / 2**20:.1f} MiB "
        f"counted, {traced / 2**20:.1f} MiB traced (bindings included)"
    )


if __name__ == "__main__":
    main()
