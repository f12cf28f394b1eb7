"""Soak: 200,000 calls through one client against a faulty fake server; memory, sockets, tasks flat.

One ``AsyncTightknit(rate_limit=None, max_retries=5)`` sends a mix of calls from ``--concurrency``
workers (default 50) to ``FakeTightknit(rate_limit=None)`` with faults on:

* 2% of requests answered 503 (``error_rate``), 1-3 ms of latency on every request;
* every 1,000 requests the server answered, the next mutation is applied and then its connection
  dropped unanswered (``drop_after_apply``), and the next 3 keyed mutations get 409
  ``IDEMPOTENCY_IN_FLIGHT`` with ``Retry-After: 0`` (``conflict_next``); a task in the server
  re-arms both counters.

The mix, per 10 calls: 5 GETs (``/api_key/me``, ``/feeds``), 3 ``POST /members`` with a minted
idempotency key (these skip the process-wide idempotency store), 2 ``POST /members`` with a
caller's key, the k-th such call using ``idempotency_key_for("soak", k % --key-pool)`` (bound in
the store, bounded by its LRU; a key seen again is replayed from the store or by the server).

By default the server runs in a subprocess (started by a small runner that sets the faults), so
the RSS, sockets and tasks sampled are the client's alone; ``--inline`` runs it on this loop
(then they include the server's, and the RSS check is expected to fail: the fake keeps every
arrival, every applied mutation and every reply for an hour, so its memory grows with each
request). Every ``requests / 100`` calls the client samples: RSS
(``VmRSS`` of ``/proc/self/status``), sockets (entries of ``/proc/self/fd`` that are sockets),
asyncio tasks, the aiohttp connector's acquired connections and the idempotency store's size.

    .venv/bin/python benchmarks/soak.py [--quick] [--requests N] [--concurrency N] [--inline]

Verdict (exits 1 if one fails): RSS growth from the 25% sample to the 100% sample under 10 MB;
in every sample, open sockets at most the concurrency + 8 (one per pooled connection), asyncio
tasks at most twice the concurrency + 8 (a worker, plus the single-flight task a call with the
caller's key runs in), acquired connections at most the concurrency (``--inline`` adds the
server's sockets and handler tasks: one more concurrency each); 0 lost calls (every call returned
or raised a typed ``TightknitError``, each counted); 0 mutations applied twice (no idempotency key
twice in the server's ledger).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Protocol, cast

import aiohttp

from tightknit_async import AsyncTightknit, TightknitError, __version__
from tightknit_async.idempotency import default_store, idempotency_key_for
from tightknit_async.testing import FakeTightknit

FULL_REQUESTS = 200_000
QUICK_REQUESTS = 20_000
ERROR_RATE = 0.02
LATENCY = 0.001
LATENCY_JITTER = 0.002
REARM_EVERY = 1000  # requests between re-arming one drop-after-apply and a 409 storm
CONFLICTS = 3
RSS_GROWTH_LIMIT_MB = 10.0
SLACK = 8  # sockets/tasks beyond the bound: the main task, the runner's pipe, the listener
REPORT_AT = (10, 25, 50, 75, 100)
KINDS = 3 * ("GET /api_key/me",) + 2 * ("GET /feeds",) + 3 * ("minted POST",) + 2 * ("keyed POST",)


# -- the server: a subprocess (default) or on this loop -------------------------------------------


def _arm(fake: FakeTightknit) -> None:
    faults = fake.faults
    faults.latency, faults.latency_jitter = LATENCY, LATENCY_JITTER
    faults.error_rate, faults.error_status = ERROR_RATE, 503
    faults.retry_after = 0


async def _rearm(fake: FakeTightknit) -> None:
    """Re-arm a drop and a 409 storm every REARM_EVERY requests the server answered.

    Counted in requests, not seconds, so the faults keep pace with the load: timed re-arming
    would pile them on the last few calls in flight as a run winds down.
    """
    armed_at = 0
    while True:
        requests = fake.stats.requests
        if requests - armed_at >= REARM_EVERY:
            armed_at = requests
            fake.faults.drop_after_apply = max(fake.faults.drop_after_apply, 1)
            fake.faults.conflict_next = max(fake.faults.conflict_next, CONFLICTS)
        await asyncio.sleep(0.01)


def _report(fake: FakeTightknit) -> dict[str, int]:
    stats = fake.stats
    keys = [entry.idempotency_key for entry in fake.ledger if entry.idempotency_key is not None]
    return {
        "requests": stats.requests,
        "faults_injected": stats.faults_injected,
        "dropped_connections": stats.dropped_connections,
        "conflicts": stats.conflicts,
        "replays": stats.replays,
        "ledger": len(fake.ledger),
        "duplicate_mutations": len(keys) - len(set(keys)),
    }


class Server(Protocol):
    url: str
    api_key: str

    def report(self) -> dict[str, int]: ...


class InlineServer:
    def __init__(self, fake: FakeTightknit) -> None:
        self.fake, self.url, self.api_key = fake, fake.url, fake.api_key

    def report(self) -> dict[str, int]:
        return _report(self.fake)


def _serve(conn: Connection) -> None:
    asyncio.run(_serve_commands(conn))


async def _serve_commands(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    async with FakeTightknit(rate_limit=None) as fake:
        _arm(fake)
        rearm = asyncio.create_task(_rearm(fake))
        conn.send((fake.url, fake.api_key))
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "report":
                conn.send(_report(fake))
            else:
                rearm.cancel()
                return


class ProcessServer:
    """FakeTightknit with faults in a subprocess, asked for its counters over a pipe at the end."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        self.url, self.api_key = cast(tuple[str, str], self._conn.recv())

    def report(self) -> dict[str, int]:
        self._conn.send("report")
        return cast(dict[str, int], self._conn.recv())

    def close(self) -> None:
        self._conn.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()


# -- sampling -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    done: int
    seconds: float
    rss_mb: float
    sockets: int
    tasks: int
    acquired: int
    store_replies: int
    store_bindings: int


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        # An fd may close between listdir and readlink (the listdir's own fd does).
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def acquired_connections(tk: AsyncTightknit) -> int:
    session = getattr(tk._transport, "_session", None)
    if session is None:
        return 0
    return len(session.connector._acquired)


def sample(tk: AsyncTightknit, done: int, started: float) -> Sample:
    store = default_store().statistics()
    return Sample(
        done,
        time.monotonic() - started,
        rss_mb(),
        open_sockets(),
        len(asyncio.all_tasks()),
        acquired_connections(tk),
        store.replies,
        store.bindings,
    )


# -- the load -------------------------------------------------------------------------------------


@dataclass
class Run:
    requests: int
    every: int
    samples: list[Sample]
    outcomes: Counter[str]
    examples: dict[str, str] = field(default_factory=dict)  # the first message of each failure
    started: float = 0.0
    issued: int = 0
    done: int = 0
    slowest: tuple[float, int] = (0.0, -1)  # (seconds, call number) of the longest call


async def one_call(tk: AsyncTightknit, n: int, key_pool: int) -> None:
    kind = n % 10
    if kind < 3:
        await tk.request("GET", "/admin/v0/api_key/me")
    elif kind < 5:
        await tk.request("GET", "/admin/v0/feeds")
    elif kind < 8:  # minted key: never enters the process-wide store
        member = (n // 10 * 3 + kind - 5) % key_pool
        await tk.request(
            "POST",
            "/admin/v0/members",
            json={"email": f"minted{member}@soak.example", "full_name": f"Minted {member}"},
        )
    else:  # the caller's key, each used again after key_pool such calls: bound in the store
        member = (n // 10 * 2 + kind - 8) % key_pool
        await tk.request(
            "POST",
            "/admin/v0/members",
            json={"email": f"keyed{member}@soak.example", "full_name": f"Keyed {member}"},
            idempotency_key=idempotency_key_for("soak", member),
        )


async def worker(tk: AsyncTightknit, run: Run, key_pool: int) -> None:
    while run.issued < run.requests:
        n = run.issued
        run.issued += 1
        began = time.monotonic()
        try:
            await one_call(tk, n, key_pool)
        except TightknitError as exc:
            name = f"typed error: {type(exc).__name__}"
            run.outcomes[name] += 1
            run.examples.setdefault(name, str(exc)[:160])
        except Exception as exc:  # a lost call: neither an answer nor a typed error
            name = f"LOST: {type(exc).__name__}"
            run.outcomes[name] += 1
            run.examples.setdefault(name, repr(exc)[:160])
        else:
            run.outcomes["ok"] += 1
        run.slowest = max(run.slowest, (time.monotonic() - began, n))
        run.done += 1
        if run.done % run.every == 0 or run.done == run.requests:
            run.samples.append(sample(tk, run.done, run.started))


async def soak(
    server: Server, requests: int, concurrency: int, key_pool: int
) -> tuple[Run, dict[str, int], float]:
    run = Run(requests, max(1, requests // 100), [], Counter())
    async with AsyncTightknit(
        api_key=server.api_key, base_url=server.url, rate_limit=None, max_retries=5
    ) as tk:
        run.started = time.monotonic()
        cpu = time.process_time()
        await asyncio.gather(*(worker(tk, run, key_pool) for _ in range(concurrency)))
        stats = tk.statistics()
        client = {
            "calls": stats.calls,
            "attempts": stats.attempts,
            "retries": stats.retries,
            "failures": stats.failures,
            "replayed": stats.replayed,
            "rate_limited": stats.rate_limited,
        }
        seconds = time.monotonic() - run.started
        client["cpu_ms"] = round(1e3 * (time.process_time() - cpu))
    return run, client, seconds


async def soak_inline(
    requests: int, concurrency: int, key_pool: int
) -> tuple[Run, dict[str, int], float, dict[str, int]]:
    async with FakeTightknit(rate_limit=None) as fake:
        _arm(fake)
        rearm = asyncio.create_task(_rearm(fake))
        try:
            run, client, seconds = await soak(InlineServer(fake), requests, concurrency, key_pool)
        finally:
            rearm.cancel()
        return run, client, seconds, _report(fake)


# -- the report -----------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def at_percent(samples: list[Sample], requests: int, percent: int) -> Sample:
    target = requests * percent / 100
    return min(samples, key=lambda s: abs(s.done - target))


def report(
    args: argparse.Namespace,
    run: Run,
    client: dict[str, int],
    seconds: float,
    server: dict[str, int],
) -> bool:
    where = "on this loop (--inline)" if args.inline else "in another process on loopback"
    print(
        f"soak: {args.requests:,} calls, concurrency {args.concurrency}, server {where}; faults: "
        f"{ERROR_RATE:.0%} 503, {1e3 * LATENCY:g}-{1e3 * (LATENCY + LATENCY_JITTER):g} ms "
        f"latency, 1 drop-after-apply and {CONFLICTS} x 409 every {REARM_EVERY:,} requests"
        f"{' (--quick)' if args.quick else ''}"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}, "
        f"tightknit_async {__version__}"
    )
    print(
        f"took {seconds:.1f} s ({args.requests / seconds:,.0f} calls/s, client CPU "
        f"{client['cpu_ms'] / 1e3:.1f} s); slowest call {run.slowest[0]:.2f} s "
        f"(call #{run.slowest[1]:,}, a {KINDS[run.slowest[1] % 10]})"
    )
    print()
    print(
        "| progress | calls | seconds | client RSS MB | open sockets | asyncio tasks | "
        "acquired conns | store replies | store bindings |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for percent in REPORT_AT:
        s = at_percent(run.samples, args.requests, percent)
        print(
            f"| {percent}% | {s.done:,} | {s.seconds:.1f} | {s.rss_mb:.1f} | {s.sockets} | "
            f"{s.tasks} | {s.acquired} | {s.store_replies:,} | {s.store_bindings:,} |"
        )
    print()

    # A socket per connection (and the server's end with --inline); a task per worker plus the
    # single-flight task of a call with the caller's key (and a handler per connection inline).
    inline = 1 if args.inline else 0
    socket_bound = (1 + inline) * args.concurrency + SLACK
    task_bound = (2 + inline) * args.concurrency + SLACK
    quarter, half, three_quarters, last = (
        at_percent(run.samples, args.requests, p) for p in (25, 50, 75, 100)
    )
    growth = last.rss_mb - quarter.rss_mb
    peak_sockets = max(s.sockets for s in run.samples)
    peak_tasks = max(s.tasks for s in run.samples)
    peak_acquired = max(s.acquired for s in run.samples)
    typed = sum(n for name, n in run.outcomes.items() if name.startswith("typed"))
    lost = sum(n for name, n in run.outcomes.items() if name.startswith("LOST"))
    accounted = run.outcomes["ok"] + typed
    checks = [
        (
            f"RSS growth 25% -> 100% < {RSS_GROWTH_LIMIT_MB:g} MB",
            f"{growth:+.1f} MB (from 50%: {last.rss_mb - half.rss_mb:+.1f}, from 75%: "
            f"{last.rss_mb - three_quarters.rss_mb:+.1f})",
            growth < RSS_GROWTH_LIMIT_MB,
        ),
        (
            f"open sockets <= {socket_bound} (all samples)",
            f"max {peak_sockets}, {last.sockets} at the end",
            peak_sockets <= socket_bound,
        ),
        (
            f"asyncio tasks <= {task_bound} (all samples)",
            f"max {peak_tasks}, {last.tasks} at the end",
            peak_tasks <= task_bound,
        ),
        (
            f"acquired connections <= {args.concurrency}",
            f"max {peak_acquired}, {last.acquired} at the end",
            peak_acquired <= args.concurrency,
        ),
        (
            "0 lost calls (every call answered or a typed error)",
            f"{accounted:,} of {args.requests:,} accounted, {lost} lost",
            lost == 0 and accounted == args.requests == client["calls"],
        ),
        (
            "0 mutations applied twice (server ledger)",
            f"{server['duplicate_mutations']} of {server['ledger']:,}",
            server["duplicate_mutations"] == 0,
        ),
    ]
    print("| target | measured | result |")
    print("|---|---:|---|")
    for target, measured, ok in checks:
        print(f"| {target} | {measured} | {_verdict(ok)} |")
    print()
    print("| outcome | calls | first message |")
    print("|---|---:|---|")
    for name, n in sorted(run.outcomes.items()):
        print(f"| {name} | {n:,} | {run.examples.get(name, '')} |")
    print()
    print(
        f"client statistics: {client['calls']:,} calls, {client['attempts']:,} attempts, "
        f"{client['retries']:,} retries, {client['failures']:,} failures, "
        f"{client['replayed']:,} replayed, {client['rate_limited']:,} x 429"
    )
    print(
        f"server: {server['requests']:,} requests, {server['faults_injected']:,} faults injected "
        f"({server['dropped_connections']:,} dropped after apply, {server['conflicts']:,} x 409), "
        f"{server['replays']:,} replays, {server['ledger']:,} mutations applied"
    )
    store = default_store()
    stats = store.statistics()
    print(
        f"process-wide idempotency store at the end: {stats.replies:,} replies "
        f"(max {store.max_entries:,}), {stats.bindings:,} key bindings (max "
        f"{store.max_bindings:,}), {stats.bytes / 1024:,.0f} KiB, {stats.evictions:,} evicted; "
        f"minted keys never enter it; {args.key_pool:,} distinct caller keys, each bound once"
    )
    return all(ok for _, _, ok in checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=FULL_REQUESTS)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--key-pool", type=int, default=20_000, help="distinct caller keys (and e-mails) cycled"
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_REQUESTS:,} calls")
    parser.add_argument("--inline", action="store_true", help="run the server on this loop")
    args = parser.parse_args()
    if args.quick:
        args.requests = min(args.requests, QUICK_REQUESTS)
    if args.requests < 100 or args.concurrency < 1 or args.key_pool < 1:
        parser.error("--requests must be >= 100, --concurrency and --key-pool >= 1")
    result: tuple[Any, ...]
    if args.inline:
        result = asyncio.run(soak_inline(args.requests, args.concurrency, args.key_pool))
    else:
        server = ProcessServer()
        try:
            run, client, seconds = asyncio.run(
                soak(server, args.requests, args.concurrency, args.key_pool)
            )
            result = (run, client, seconds, server.report())
        finally:
            server.close()
    if not report(args, *result):
        sys.exit(1)


if __name__ == "__main__":
    main()
