"""Client overhead with pacing off: tightknit_async vs a bare aiohttp loop vs an httpx client.

A small aiohttp.web server in a separate process answers a Tightknit-shaped JSON body; each client
sends the same number of GETs with the same concurrency. Rounds alternate between clients and the
median requests/s is reported, with ratios against the bare aiohttp loop measured in the same run.

    .venv/bin/python benchmarks/overhead.py [--requests 3000] [--concurrency 20] [--rounds 5]

Targets (DESIGN.md): tightknit_async >= 85% of bare aiohttp, >= 1.5x httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
from aiohttp import web

from tightknit_async import AsyncTightknit

BODY = {
    "success": True,
    "data": {"id": "b7a0df7e-e867-4847-8577-3bed1774ac7c", "label": "Announcements", "slug": "a"},
}
PATH = "/admin/v0/feeds/b7a0df7e-e867-4847-8577-3bed1774ac7c"
KEY = "sk_bench_key"


def _serve(port: int) -> None:
    async def handler(_: web.Request) -> web.Response:
        return web.json_response(BODY)

    app = web.Application()
    app.router.add_get(PATH, handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _drive(n: int, concurrency: int, one: Callable[[], Awaitable[object]]) -> float:
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - started)


async def bare_aiohttp(base: str, n: int, concurrency: int) -> float:
    headers = {"Authorization": f"Bearer {KEY}", "Accept": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:

        async def one() -> object:
            async with session.get(base + PATH, headers=headers) as resp:
                body = await resp.read()
                resp.raise_for_status()
                return body

        await _drive(50, concurrency, one)  # warm the pool
        return await _drive(n, concurrency, one)


async def ours(base: str, n: int, concurrency: int) -> float:
    async with AsyncTightknit(api_key=KEY, base_url=base, rate_limit=None) as tk:

        async def one() -> object:
            return (await tk.request("GET", PATH)).content

        await _drive(50, concurrency, one)
        return await _drive(n, concurrency, one)


async def httpx_client(base: str, n: int, concurrency: int) -> float:
    headers = {"Authorization": f"Bearer {KEY}", "Accept": "application/json"}
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:

        async def one() -> object:
            resp = await client.get(PATH)
            resp.raise_for_status()
            return resp.content

        await _drive(50, concurrency, one)
        return await _drive(n, concurrency, one)


CONTENDERS: dict[str, Callable[[str, int, int], Awaitable[float]]] = {
    "bare aiohttp loop": bare_aiohttp,
    "tightknit_async (pacing off)": ours,
    "httpx.AsyncClient": httpx_client,
}


async def run(requests: int, concurrency: int, rounds: int) -> dict[str, list[float]]:
    port = _free_port()
    server = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                    break
            except OSError:
                await asyncio.sleep(0.05)
        results: dict[str, list[float]] = {name: [] for name in CONTENDERS}
        for _ in range(rounds):
            for name, contender in CONTENDERS.items():
                results[name].append(await contender(base, requests, concurrency))
        return results
    finally:
        server.terminate()
        server.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(run(args.requests, args.concurrency, args.rounds))
    medians = {name: statistics.median(values) for name, values in results.items()}
    base = medians["bare aiohttp loop"]
    ours_rate = medians["tightknit_async (pacing off)"]
    print(
        f"client overhead: {args.requests} GETs x {args.rounds} rounds, concurrency "
        f"{args.concurrency}, server in another process on loopback"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"aiohttp {aiohttp.__version__}, httpx {httpx.__version__}"
    )
    print()
    print("| client | median req/s | vs bare aiohttp | tightknit_async vs it |")
    print("|---|---:|---:|---:|")
    for name, rate in medians.items():
        print(f"| {name} | {rate:,.0f} | {rate / base:.2f}x | {ours_rate / rate:.2f}x |")
    print()
    print(
        f"targets: tightknit_async >= 0.85x bare aiohttp: {ours_rate / base:.2f}x "
        f"({'met' if ours_rate / base >= 0.85 else 'NOT met'}); >= 1.5x httpx: "
        f"{ours_rate / medians['httpx.AsyncClient']:.2f}x "
        f"({'met' if ours_rate / medians['httpx.AsyncClient'] >= 1.5 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
