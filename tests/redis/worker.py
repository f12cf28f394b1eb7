"""A worker process for the multi-process Redis tests and the benchmark.

    python worker.py '<json config>'

Builds an ``AsyncTightknit`` pacing through a ``RedisGovernor`` (or a private in-process
``Governor`` with ``"governor": "local"``) and a ``RedisIdempotencyStore``, prints
``{"ready": true}``, waits for ``go`` on stdin, runs, and prints one JSON line of results.

Modes: ``paced`` sends ``requests`` GETs from ``concurrency`` tasks in the ``priority`` lane;
``keyed`` sends one ``POST /admin/v0/members`` with the given ``idempotency_key``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys
import time
from collections import Counter
from typing import Any

from tightknit_async import AsyncTightknit, TightknitError
from tightknit_async.governor import Governor, RateGovernor, RedisGovernor
from tightknit_async.idempotency import RedisIdempotencyStore

FEEDS = "/admin/v0/feeds"


async def paced(tk: AsyncTightknit, config: dict[str, Any]) -> dict[str, Any]:
    remaining = int(config["requests"])
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    grants: list[float] = []

    async def one() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            try:
                reply = await tk.request("GET", FEEDS, priority=config.get("priority", "bulk"))
            except TightknitError as exc:
                errors[type(exc).__name__] += 1
                status = getattr(exc, "status_code", None)
                if status is not None:
                    statuses[str(status)] += 1
            else:
                statuses[str(reply.status_code)] += 1
                grants.append(time.monotonic())

    started = time.monotonic()
    await asyncio.gather(*(one() for _ in range(int(config.get("concurrency", 10)))))
    return {
        "statuses": dict(statuses),
        "errors": dict(errors),
        "elapsed": time.monotonic() - started,
    }


async def keyed(tk: AsyncTightknit, config: dict[str, Any]) -> dict[str, Any]:
    reply = await tk.request(
        "POST",
        "/admin/v0/members",
        json={"email": config["email"], "full_name": "Ada Lovelace"},
        idempotency_key=config["idempotency_key"],
    )
    return {
        "status": reply.status_code,
        "replayed": reply.replayed,
        "member_id": reply.data["data"]["member"]["id"],
    }


async def main(config: dict[str, Any]) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    rate = float(config.get("rate", 50))
    governor: RateGovernor
    if config.get("governor") == "local":
        governor = Governor(rate)
    else:
        governor = RedisGovernor(
            config["redis_url"],
            config["api_key"],
            rate,
            fallback_workers=config.get("fallback_workers"),
            probe_interval=float(config.get("probe_interval", 1.0)),
            **config.get("options", {}),
        )
    store = RedisIdempotencyStore(config["redis_url"])
    client = AsyncTightknit(
        api_key=config["api_key"],
        base_url=config["base_url"],
        governor=governor,
        idempotency_store=store,
        max_retries=int(config.get("max_retries", 0)),
    )
    grants: list[float] = []
    if config.get("record_grants"):
        acquire = governor.acquire

        async def recorded(*args: Any, **kwargs: Any) -> None:
            await acquire(*args, **kwargs)
            grants.append(time.monotonic())

        governor.acquire = recorded  # type: ignore[method-assign]
    print(json.dumps({"ready": True}), flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    try:
        async with client as tk:
            run = paced if config["mode"] == "paced" else keyed
            result = await run(tk, config)
            result["governor"] = dataclasses.asdict(governor.statistics())
            if isinstance(governor, RedisGovernor):
                result["redis"] = dataclasses.asdict(governor.redis_statistics())
            result["store"] = dataclasses.asdict(store.statistics())
            if grants:
                result["grants"] = grants
    finally:
        if isinstance(governor, RedisGovernor):
            await governor.aclose()
        await store.aclose()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
