"""Client cost in CPU instructions per request, counted by valgrind: the noise-free companion of
overhead.py's CPU microseconds.

On a shared machine the CPU time of one request moves by +-30% from run to run (other tenants,
frequency changes); the number of instructions the client executes for it does not. Each
contender runs in a child process under ``valgrind --tool=cachegrind --cache-sim=no`` twice, with
N1 and N2 requests against the same aiohttp server (in its own process, not under valgrind); the
difference divided by N2 - N1 is the cost of one request, with start-up, imports and warm-up
cancelled out. The contenders are overhead.py's (same server, same bodies, concurrency 20).

    .venv/bin/python benchmarks/instructions.py [--quick]

Needs valgrind (``apt-get install valgrind``; ``make bench`` installs it when it can); without
it the script says so and exits 0. Targets: tightknit_async's GET within 1.10x of the bare aiohttp
loop's instructions, and a POST with the caller's idempotency key within 1.25x of a bare aiohttp
POST of the same request (same body, a fresh ``Idempotency-Key``).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import multiprocessing
import os
import platform
import re
import shutil
import subprocess
import sys

import aiohttp
import overhead  # the contenders and the server are overhead.py's (same directory)

BARE_GET = overhead.BARE
BARE_POST = overhead.BARE_POST
OURS_GET = overhead.OURS
CALLER = overhead.CALLER
CONTENDERS = (
    BARE_GET,
    OURS_GET,
    overhead.TRANSPORT,
    overhead.TELEMETRY_NOOP,
    overhead.TELEMETRY_SDK,
    "ours + governor (rate_limit=1_000_000)",
    "ours + decode: tk.feeds.retrieve()",
    BARE_POST,
    overhead.MINTED,
    CALLER,
)
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def child(name: str, requests: int, port: int) -> None:
    """Run ``requests`` requests (after overhead.py's 50 warm-up ones) of contender ``name``."""
    base = f"http://127.0.0.1:{port}"
    asyncio.run(overhead.run_once(name, base, requests, 20))


def count(valgrind: str, name: str, requests: int, port: int) -> int:
    """Instructions executed by a child process running ``requests`` requests of ``name``."""
    proc = subprocess.run(
        [
            valgrind,
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--child",
            name,
            str(requests),
            str(port),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    found = _REFS.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(
            f"{name}: valgrind run failed ({proc.returncode}):\n{proc.stderr[-2000:]}"
        )
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="200 and 600 requests")
    parser.add_argument(
        "--child", nargs=3, metavar=("NAME", "REQUESTS", "PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        name, requests, port = args.child
        child(name, int(requests), int(port))
        return
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print(
            "instructions per request: skipped, valgrind is not installed "
            "(apt-get install valgrind)"
        )
        return
    low, high = (200, 600) if args.quick else (300, 900)
    port = overhead._free_port()
    server = multiprocessing.Process(target=overhead._serve, args=(port,), daemon=True)
    server.start()
    try:
        overhead._wait_for(port)
        # Two children at a time (the server, idle next to a client under valgrind, needs
        # little): a count is the same whatever runs beside it.
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            counts = {
                (name, n): pool.submit(count, valgrind, name, n, port)
                for name in CONTENDERS
                for n in (low, high)
            }
            per_request = {
                name: (counts[name, high].result() - counts[name, low].result()) / (high - low)
                for name in CONTENDERS
            }
    finally:
        server.terminate()
        server.join()
    print(
        f"instructions per request: valgrind cachegrind, {high} - {low} requests per contender, "
        "concurrency 20, server (a bare asyncio protocol) in another process on loopback"
        f"{' (--quick)' if args.quick else ''}"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"aiohttp {aiohttp.__version__}"
    )
    print()
    print("| contender | instructions/request | vs bare aiohttp |")
    print("|---|---:|---:|")
    for name, value in per_request.items():
        reference = per_request[BARE_POST] if "POST" in name else per_request[BARE_GET]
        print(f"| {name} | {value:,.0f} | {value / reference:.2f}x |")
    print()
    print("(POST rows are compared with the bare aiohttp POST; the others with the bare GET.)")
    print()
    print("| target | measured | result |")
    print("|---|---:|---|")
    for what, name, reference, bound in (
        ("GET instructions/request <= 1.10x bare aiohttp", OURS_GET, BARE_GET, 1.10),
        ("caller-keyed POST <= 1.25x bare aiohttp POST", CALLER, BARE_POST, 1.25),
    ):
        ratio = per_request[name] / per_request[reference]
        print(f"| {what} | {ratio:.2f}x | {'PASS' if ratio <= bound else 'FAIL'} |")


if __name__ == "__main__":
    main()
