"""Client cost in CPU instructions per request, counted by valgrind: the noise-free companion of
overhead.py's CPU microseconds.

On a shared machine the CPU time of one request moves by +-30% from run to run (other tenants,
frequency changes); the number of instructions the client executes for it does not. Each
contender runs in a child process under ``valgrind --tool=cachegrind --cache-sim=no`` twice, with
N1 and N2 requests against the same aiohttp server (in its own process, not under valgrind); the
difference divided by N2 - N1 is the cost of one request, with start-up, imports and warm-up
cancelled out. The contenders are overhead.py's (same server, same bodies, concurrency 20).

    .venv/bin/python benchmarks/instructions.py [--quick]

With ``--cache``, cachegrind also simulates the CPU's caches and a second table gives each
contender's first-level cache misses per request (instruction fetches, data reads and writes):
the code and data a request touches that aiohttp's own work between two of its steps has pushed
out. That is why interpreted Python costs more time per instruction in this setting than in a
loop of its own, and what a change that removes a kind of operation from the path saves.

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
import tempfile
from pathlib import Path

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


EVENTS = ("Ir", "I1mr", "D1mr", "D1mw")
"""What ``--cache`` reports: instructions, and first-level misses (instruction, data read, data
write)."""


def count(
    valgrind: str, name: str, requests: int, port: int, cache: bool = False
) -> dict[str, int]:
    """Instructions (and, with ``cache``, first-level cache misses) of a child process running
    ``requests`` requests of ``name``."""
    with tempfile.NamedTemporaryFile(suffix=".cachegrind") as out:
        proc = subprocess.run(
            [
                valgrind,
                "--tool=cachegrind",
                f"--cache-sim={'yes' if cache else 'no'}",
                f"--cachegrind-out-file={out.name}",
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
            env={**os.environ, "PYTHONHASHSEED": "0"},  # the same dict layouts in every child
        )
        found = _REFS.search(proc.stderr)
        if proc.returncode != 0 or found is None:
            raise RuntimeError(
                f"{name}: valgrind run failed ({proc.returncode}):\n{proc.stderr[-2000:]}"
            )
        counts = {"Ir": int(found.group(1).replace(",", ""))}
        if cache:
            counts.update(_summary(Path(out.name).read_text()))
        return counts


def _summary(report: str) -> dict[str, int]:
    """The totals of a cachegrind output file, by event name."""
    events = summary = None
    for line in report.splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("summary:"):
            summary = [int(value) for value in line.split()[1:]]
    if events is None or summary is None:
        raise RuntimeError("no summary in cachegrind's output")
    return dict(zip(events, summary, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="200 and 600 requests")
    parser.add_argument(
        "--cache", action="store_true", help="also simulate the caches: L1 misses per request"
    )
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
                (name, n): pool.submit(count, valgrind, name, n, port, args.cache)
                for name in CONTENDERS
                for n in (low, high)
            }
            per_event = {
                name: {
                    event: (counts[name, high].result()[event] - counts[name, low].result()[event])
                    / (high - low)
                    for event in counts[name, low].result()
                }
                for name in CONTENDERS
            }
            per_request = {name: events["Ir"] for name, events in per_event.items()}
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
    if args.cache:
        print()
        print(
            "| contender | L1 instruction misses/request | L1 data misses/request | "
            "all L1 misses vs bare aiohttp |"
        )
        print("|---|---:|---:|---:|")
        for name, events in per_event.items():
            base = per_event[BARE_POST] if "POST" in name else per_event[BARE_GET]
            data = events["D1mr"] + events["D1mw"]
            misses = (events["I1mr"] + data) / (base["I1mr"] + base["D1mr"] + base["D1mw"])
            print(f"| {name} | {events['I1mr']:,.0f} | {data:,.0f} | {misses:.2f}x |")
    print()
    print("| target | measured | result |")
    print("|---|---:|---|")
    for what, name, baseline, bound in (
        ("GET instructions/request <= 1.10x bare aiohttp", OURS_GET, BARE_GET, 1.10),
        ("caller-keyed POST <= 1.25x bare aiohttp POST", CALLER, BARE_POST, 1.25),
    ):
        ratio = per_request[name] / per_request[baseline]
        print(f"| {what} | {ratio:.2f}x | {'PASS' if ratio <= bound else 'FAIL'} |")


if __name__ == "__main__":
    main()
