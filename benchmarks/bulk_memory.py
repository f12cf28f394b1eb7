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

Then the command users run, with its default settings: ``tightknit-async import members FILE``
(validation pass, journal, progress, the bounded idempotency store of bulk commands) over a
generated CSV of ``--cli-rows`` rows, against ``tightknit-async serve-fake --rate 0`` in another
process (so the server's memory is not counted). ``--rate 2000`` is for the fake server (the
real API's 50/s would take hours), nothing else is changed. The importer's RSS is read from
``/proc`` every 0.5 s and its peak (``VmHWM``) at the end. Target: under 100 MB and flat, at any
number of rows (``docs/bulk.md`` records a 1,000,000-row run).

    .venv/bin/python benchmarks/bulk_memory.py [--items 100000] [--rounds 1] [--cli-rows 100000]
    .venv/bin/python benchmarks/bulk_memory.py --cli-only --cli-rows 1000000

``--plots DIR`` (default docs/img; '' for none) draws the figure of docs/benchmarks.md into
``DIR/bulk-rss.svg``: each variant's RSS sampled every 1% of the items, and the import's RSS
over time (needs matplotlib; without it, a notice and no figure; none with ``--cli-only``).
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

import _plots

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
    samples: list[tuple[int, float]] = [(0, rss_mb())]  # every 10%: the table
    series: list[tuple[int, float]] = [(0, samples[0][1])]  # every 1%: the figure
    step = max(count // 10, 1)
    fine = max(count // 100, 1)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if done % step == 0:
            samples.append((done, rss_mb()))
        if done % fine == 0:
            series.append((done, rss_mb()))

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
    return {"elapsed": elapsed, "peak_mb": peak_mb(), "samples": samples, "series": series}


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


def write_members_csv(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("email,full_name\n")
        for i in range(count):
            f.write(f"member{i:07d}@example.com,Member Number{i}\n")


def _proc_kb(pid: int, field: str) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1e3
    except OSError:
        return None
    return None


def run_cli_import(rows: int) -> dict[str, object]:
    """``import members`` over ``rows`` generated rows against ``serve-fake`` in another process;
    the importer's RSS curve and peak."""
    with tempfile.TemporaryDirectory(prefix="bulk-memory-") as tmp:
        path = Path(tmp) / "members.csv"
        write_members_csv(path, rows)
        server = subprocess.Popen(
            [sys.executable, "-m", "tightknit_async", "serve-fake", "--port", "0", "--rate", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert server.stdout is not None
            env = dict(os.environ)
            env.pop("TIGHTKNIT_REDIS_URL", None)
            while "TIGHTKNIT_API_KEY" not in env:
                line = server.stdout.readline()
                if not line:
                    raise RuntimeError("serve-fake did not start")
                name, sep, value = line.strip().partition("=")
                if sep and name in ("TIGHTKNIT_BASE_URL", "TIGHTKNIT_API_KEY"):
                    env[name] = value
            env["CI"] = "true"  # progress as plain lines, like any log
            command = [
                sys.executable, "-m", "tightknit_async", "import", "members", str(path),
                "--rate", "2000",
            ]  # fmt: skip
            started = time.perf_counter()
            importer = subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
            samples: list[tuple[float, float]] = []
            peak = 0.0
            while importer.poll() is None:
                rss = _proc_kb(importer.pid, "VmRSS")
                hwm = _proc_kb(importer.pid, "VmHWM")
                if rss is not None:
                    samples.append((time.perf_counter() - started, rss))
                if hwm is not None:
                    peak = max(peak, hwm)
                time.sleep(0.5)
            elapsed = time.perf_counter() - started
            output = importer.stdout.read() if importer.stdout else ""
            if importer.returncode != 0:
                raise RuntimeError(f"the import failed ({importer.returncode}):\n{output}")
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {"rows": rows, "elapsed": elapsed, "peak_mb": peak, "samples": samples}


def report_cli(result: dict[str, object]) -> None:
    rows = int(result["rows"])  # type: ignore[call-overload]
    elapsed = float(result["elapsed"])  # type: ignore[arg-type]
    samples = result["samples"]
    assert isinstance(samples, list)
    mbs = [mb for _, mb in samples]
    tenth = mbs[max(len(mbs) // 10, 1) - 1] if mbs else 0.0
    print()
    print(
        "| command | rows | time (s) | rows/s | peak RSS (MB) "
        "| RSS at 10% -> 50% -> 100% of the time (MB) |"
    )
    print("|---|---:|---:|---:|---:|---|")
    middle = mbs[len(mbs) // 2] if mbs else 0.0
    last = mbs[-1] if mbs else 0.0
    print(
        f"| import members, default settings, vs serve-fake | {rows:,} | {elapsed:.0f} "
        f"| {rows / elapsed:,.0f} | {result['peak_mb']:.0f} "
        f"| {tenth:.0f} -> {middle:.0f} -> {last:.0f} |"
    )
    print()
    print(
        f"import members: peak {result['peak_mb']:.0f} MB (target < 100 MB); RSS from 10% to "
        f"100% of the run: {last - tenth:+.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1, help="runs per variant (medians)")
    parser.add_argument(
        "--cli-rows",
        type=int,
        default=100_000,
        help="rows of the import members run against serve-fake (0: skip it)",
    )
    parser.add_argument("--cli-only", action="store_true", help="only the import members run")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    _plots.add_argument(parser)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, args.items))))
        return
    plots = _plots.figure_dir(None if args.cli_only else args.plots)
    if args.cli_only:
        print(f"# {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}")
        report_cli(run_cli_import(args.cli_rows))
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
        tenths = results[variant][-1]["samples"]
        assert isinstance(tenths, list)
        grew = tenths[-1][1] - tenths[1][1]
        print(
            f"{variant}: peak {median(variant, 'peak_mb'):.0f} MB (target < 150 MB); RSS grew "
            f"{grew:+.1f} MB from 10% to 100% of the items"
        )
    cli = None
    if args.cli_rows > 0 and sys.platform.startswith("linux"):
        cli = run_cli_import(args.cli_rows)
        report_cli(cli)
    if plots is not None:
        draw_figure(plots, args.items, results, cli)


def draw_figure(
    plots: Path,
    items: int,
    results: dict[str, list[dict[str, object]]],
    cli: dict[str, object] | None,
) -> None:
    """RSS against items processed, the last run of each variant (and the import's RSS against
    time, if it ran)."""
    variants = {}
    for variant in VARIANTS:
        series = results[variant][-1]["series"]
        assert isinstance(series, list)
        variants[variant] = [(float(done), float(mb)) for done, mb in series]
    cli_samples = None
    cli_rows = 0
    if cli is not None:
        samples = cli["samples"]
        assert isinstance(samples, list)
        cli_samples = [(float(t), float(mb)) for t, mb in samples]
        cli_rows = int(cli["rows"])  # type: ignore[call-overload]
    path = _plots.bulk_rss(
        plots / _plots.BULK_FIGURE,
        variants,
        items=items,
        target_mb=150,
        cli=cli_samples,
        cli_rows=cli_rows,
        cli_target_mb=100,
        note=(
            f"benchmarks/bulk_memory.py --items {items}"
            + (f" --cli-rows {cli_rows}" if cli is not None else "")
            + ": left, MockTransport, pacing off, each variant in a fresh process, RSS every 1% "
            "of the items"
            + ("; right, vs serve-fake in another process, RSS every 0.5 s" if cli else "")
        ),
    )
    print()
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
