"""Run every benchmark, print each one's tables, and write them all to ``benchmarks/results.json``.

Each script runs in its own process (one at a time, so they don't share the 2 cores); its output
is streamed through and kept, and its markdown tables are parsed into rows. ``--quick`` is passed
to the scripts that accept it (and always to those in ``ALWAYS_QUICK``, none today: measured on 2
cores, the full suite with governor.py's full run (~3.5 min) fits ``make bench``'s 10 minutes;
jitter.py's full run adds about 3 minutes).
overhead.py gets ``--uvloop`` when uvloop is installed. The scripts are
``benchmarks/*.py`` (this one and the ``_``-prefixed helper modules aside): those in ``ORDER``
first, any others after.

The scripts that draw a figure of docs/benchmarks.md (governor.py, jitter.py, bulk_memory.py, with
``benchmarks/_plots.py``) write it into docs/img by default, a ``--quick`` run too; ``--plots DIR``
is passed on to them (``--plots ''``: no figures). Without matplotlib (the ``bench`` extra, which
``make bench`` installs) they print a notice and draw none.

    .venv/bin/python benchmarks/run_all.py [--quick] [--only overhead multi_tenant ...]
        [--output benchmarks/results.json] [--plots DIR]

results.json: ``machine`` (platform, cores, Python, package versions), ``timestamp`` (UTC,
ISO 8601), ``quick``, and ``benchmarks``: per script its ``command``, ``exit_status``,
``elapsed_seconds``, ``tables`` (each ``{"title", "header", "rows"}``, rows as header -> cell
dicts) and the raw ``output``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# The order they run in; any other benchmarks/*.py is run after these (alphabetically).
ORDER = (
    "overhead",
    "instructions",
    "idempotency",
    "decode",
    "bulk_memory",
    "multi_tenant",
    "governor",
    "jitter",
    "redis_governor",
    "soak",
)
# Always given --quick by this runner, for a script whose full run would break make bench's
# 10 minutes on 2 cores. None today: the whole suite, full, fits (timings in results.json).
ALWAYS_QUICK: frozenset[str] = frozenset()


def discover() -> list[str]:
    found = sorted(
        p.stem
        for p in HERE.glob("*.py")
        if p.stem != Path(__file__).stem and not p.stem.startswith("_")
    )
    return [n for n in ORDER if n in found] + [n for n in found if n not in ORDER]


def accepts_quick(name: str) -> bool:
    return '"--quick"' in (HERE / f"{name}.py").read_text()


def draws_figures(name: str) -> bool:
    return "_plots.add_argument(" in (HERE / f"{name}.py").read_text()


PACKAGES = ("tightknit-async", "aiohttp", "httpx", "msgspec", "uvloop", "redis")


def parse_tables(output: str) -> list[dict[str, Any]]:
    """Every markdown table in ``output``: its title (the last non-table line before it, if
    any), its header cells, and its rows as header -> cell dicts."""
    tables: list[dict[str, Any]] = []
    title = ""
    block: list[list[str]] = []

    def flush() -> None:
        if len(block) >= 1:
            header, *body = block
            rows = [
                dict(zip(header, row, strict=False))
                for row in body
                if not all(set(cell) <= set("-: ") for cell in row)
            ]
            tables.append({"title": title, "header": header, "rows": rows})
        block.clear()

    for raw in output.splitlines():
        line = raw.strip()
        if line.startswith("|") and line.endswith("|") and len(line) > 1:
            block.append([cell.strip() for cell in line[1:-1].split("|")])
            continue
        if block:
            flush()
        if line:
            title = line.lstrip("#").strip()
    if block:
        flush()
    return tables


def machine() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": versions,
    }


def run_one(name: str, quick: bool, plots: str | None = None) -> dict[str, Any]:
    command = [sys.executable, str(HERE / f"{name}.py")]
    if accepts_quick(name) and (quick or name in ALWAYS_QUICK):
        command.append("--quick")
    if plots is not None and draws_figures(name):
        command += ["--plots", plots]
    if name == "overhead" and importlib.util.find_spec("uvloop") is not None:
        command.append("--uvloop")
    shown = " ".join([".venv/bin/python", f"benchmarks/{name}.py", *map(shlex.quote, command[2:])])
    print(f"\n$ {shown}", flush=True)
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    status = proc.wait()
    elapsed = time.perf_counter() - started
    output = "".join(lines)
    print(f"[{name}: exit {status}, {elapsed:.1f} s]", flush=True)
    return {
        "command": shown,
        "exit_status": status,
        "elapsed_seconds": round(elapsed, 2),
        "tables": parse_tables(output),
        "output": output,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick where supported")
    names = discover()
    parser.add_argument("--only", nargs="+", choices=names, default=names)
    parser.add_argument("--output", type=Path, default=HERE / "results.json")
    parser.add_argument(
        "--plots",
        metavar="DIR",
        help="passed on to the scripts that draw figures (their default: docs/img; '' for none)",
    )
    args = parser.parse_args()
    timestamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    results = {name: run_one(name, args.quick, args.plots) for name in args.only}
    total = time.perf_counter() - started
    document = {
        "timestamp": timestamp,
        "machine": machine(),
        "quick": args.quick,
        "total_elapsed_seconds": round(total, 2),
        "benchmarks": results,
    }
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    print("\n| benchmark | exit | seconds | tables |\n|---|---:|---:|---:|")
    for name, result in results.items():
        print(
            f"| {name} | {result['exit_status']} | {result['elapsed_seconds']:.1f} | "
            f"{len(result['tables'])} |"
        )
    print(f"\ntotal {total:.1f} s; wrote {args.output}")
    return 1 if any(r["exit_status"] != 0 for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
