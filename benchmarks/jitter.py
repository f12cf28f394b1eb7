"""Pacing at the 50 req/s cap through a network with jitter: our governor vs aiolimiter.

The server counts requests as they *arrive*. ``FakeTightknit(rate_limit=50, network_delay=(0, J))``
holds every request a random 0 to J ms (uniform, seeded) before its sliding window counts it,
as a network with jitter does, and answers 429 + Retry-After past 50 in any 1-second window.
For J = 0, 10, 25 and 50 ms, each contender keeps the key at full demand (more workers, each
looping GET after GET, than the cap serves) for the same time, on a fresh key:

* ours: ``Governor(50)`` with its default settings; each worker waits for a grant, sends, and
  reports the answer's elapsed time (``on_reply``) and any 429 (``on_rate_limited`` with its
  Retry-After) to the governor;
* ``aiolimiter.AsyncLimiter(50, 1)`` around each send.

Both send bare aiohttp GETs on one pooled session per trial, with no retries: a 429 is counted,
not retried away. The server runs in a subprocess (its own event loop and core), and stamps
arrivals on ``time.monotonic``, the clock the limiters pace on.

    .venv/bin/python benchmarks/jitter.py [--quick] [--seconds S] [--plots DIR]

``--plots DIR`` (default docs/img; '' for none) draws the figure of docs/benchmarks.md into
``DIR/jitter-rate.svg``: achieved rate and 429s per jitter, per contender (needs matplotlib;
without it, a notice and no figure).

Targets (docs/architecture.md, "Speed targets"): ours >= 95% of the cap with 0 x 429 at every
jitter up to 50 ms, and >= 99% at 0 ms (judged on the full run's 20 s trials; a --quick run
reports them as information). Exits 1 if ours misses one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import _plots
import aiohttp
from _common import (
    Arrivals,
    ProcessServer,
    Verdicts,
    machine_line,
    report_verdicts,
    settled_arrivals,
)
from aiolimiter import AsyncLimiter

from tightknit_async.governor import Governor, GovernorSettings, max_in_window

CAP = 50
"""The API's cap: requests per second per key."""
PATH = "/admin/v0/api_key/me"
JITTERS_MS = (0, 10, 25, 50)
OURS = "tightknit_async Governor(50)"
AIOLIMITER = "AsyncLimiter(50, 1)"
CONTENDERS = (OURS, AIOLIMITER)
WORKERS = 40
FULL_SECONDS = 20.0
QUICK_SECONDS = 5.0


# -- one trial ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    ok: int = 0
    rate_limited: int = 0
    errors: int = 0


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


async def run_trial(server: ProcessServer, secret: str, contender: str, seconds: float) -> Outcome:
    """Full demand on the key ``secret`` for ``seconds`` (then the waiters queued by then)."""
    headers = {"Authorization": f"Bearer {secret}"}
    url = server.url + PATH
    outcome = Outcome()
    governor = Governor(CAP) if contender == OURS else None
    limiter = AsyncLimiter(CAP, 1) if contender == AIOLIMITER else None

    async def send(session: aiohttp.ClientSession) -> None:
        started = time.perf_counter()
        async with session.get(url, headers=headers) as response:
            await response.read()
            status = response.status
            retry_after = _retry_after(response)
        if governor is not None:
            governor.on_reply(time.perf_counter() - started)
        if status == 429:
            outcome.rate_limited += 1
            if governor is not None:
                governor.on_rate_limited(retry_after)
        elif status == 200:
            outcome.ok += 1
        else:
            outcome.errors += 1

    async def worker(session: aiohttp.ClientSession, stop: float) -> None:
        while time.monotonic() < stop:
            try:
                if governor is not None:
                    await governor.acquire()
                    await send(session)
                else:
                    assert limiter is not None
                    async with limiter:
                        await send(session)
            except aiohttp.ClientError:
                outcome.errors += 1

    connector = aiohttp.TCPConnector(limit=WORKERS)
    async with aiohttp.ClientSession(connector=connector) as session:
        stop = time.monotonic() + seconds
        await asyncio.gather(*(worker(session, stop) for _ in range(WORKERS)))
    return outcome


@dataclass(frozen=True)
class Row:
    jitter_ms: int
    contender: str
    sent: int
    ok: int
    rate_pct: float
    rate_limited: int
    errors: int
    max_arrived: int
    max_accepted: int


def row_of(
    jitter_ms: int,
    contender: str,
    outcome: Outcome,
    arrivals: Arrivals,
) -> Row:
    accepted = [t for t, status in arrivals if status == 200]
    elapsed = arrivals[-1][0] - arrivals[0][0] + 1 / CAP
    return Row(
        jitter_ms=jitter_ms,
        contender=contender,
        sent=len(arrivals),
        ok=len(accepted),
        rate_pct=100 * len(accepted) / elapsed / CAP,
        rate_limited=sum(1 for _, status in arrivals if status == 429),
        errors=outcome.errors,
        max_arrived=max_in_window((t for t, _ in arrivals), 1.0),
        max_accepted=max_in_window(accepted, 1.0),
    )


HEADER = (
    "| jitter (ms) | contender | ok / sent | achieved rate | 429s | max arrived in any 1 s "
    "| max accepted in any 1 s |"
)


def print_row(r: Row) -> None:
    errors = f" (+{r.errors} other errors)" if r.errors else ""
    print(
        f"| {r.jitter_ms} | {r.contender} | {r.ok} / {r.sent}{errors} | {r.rate_pct:.1f}% | "
        f"{r.rate_limited} | {r.max_arrived} | {r.max_accepted} |"
    )


def draw_figure(plots: Path, rows: list[Row], seconds: float, quick: bool) -> None:
    path = _plots.jitter_rate(
        plots / _plots.JITTER_FIGURE,
        list(JITTERS_MS),
        {c: [r.rate_pct for r in rows if r.contender == c] for c in CONTENDERS},
        {c: [r.rate_limited for r in rows if r.contender == c] for c in CONTENDERS},
        cap=CAP,
        note=(
            f"benchmarks/jitter.py{' --quick' if quick else ''}: {WORKERS} workers looping GETs "
            f"for {seconds:g} s per cell against FakeTightknit(rate_limit={CAP}, "
            "network_delay=(0, J)), no retries; one run"
        ),
    )
    print(f"figure: {path}")
    print()


async def run(seconds: float, judged: bool, plots: Path | None, quick: bool) -> bool:
    server = ProcessServer(CAP)
    rows: list[Row] = []
    started = time.monotonic()
    print(f"### Full demand for {seconds:g} s per cell, requests delayed 0 to J ms on their way in")
    print()
    print(HEADER)
    print("|---:|---|---:|---:|---:|---:|---:|")
    sys.stdout.flush()
    try:
        for jitter_ms in JITTERS_MS:
            server.network_delay(jitter_ms)
            for contender in CONTENDERS:
                secret, key_id = server.add_key()  # a key of its own: windows never interact
                outcome = await run_trial(server, secret, contender, seconds)
                arrivals = await settled_arrivals(server, key_id, 0.3)  # the last answers recorded
                rows.append(row_of(jitter_ms, contender, outcome, arrivals))
                print_row(rows[-1])
                sys.stdout.flush()
    finally:
        server.close()
    print()
    if plots is not None:
        draw_figure(plots, rows, seconds, quick)
    print(f"total benchmark time: {time.monotonic() - started:.0f} s")
    print()
    verdicts: Verdicts = []
    for r in rows:
        if r.contender != OURS:
            continue
        floor = 99.0 if r.jitter_ms == 0 else 95.0
        verdicts += [
            (
                r.rate_pct >= floor if judged else None,
                f"ours at {r.jitter_ms} ms jitter: {r.rate_pct:.1f}% of the cap (target "
                f">= {floor:g}%{'' if judged else ', judged on the full run'})",
            ),
            (r.rate_limited == 0, f"ours at {r.jitter_ms} ms jitter: {r.rate_limited} x 429"),
            (
                r.max_arrived <= CAP,
                f"ours at {r.jitter_ms} ms jitter: at most {r.max_arrived} arrivals in any 1 s",
            ),
        ]
    return report_verdicts(verdicts)


DEFINITIONS = """\
Definitions (times are time.monotonic on one machine, shared by client and server):
- ok / sent: requests of the trial answered 200 / that reached the server.
- achieved rate: accepted / (last arrival - first arrival + 1/50 s) at the server, as % of 50/s
  (as in governor.py: a schedule exactly 20 ms apart scores 100%). The trial includes its cold
  start.
- 429s: answered 429 (no retries, so each is a failed request).
- max arrived / accepted in any 1 s: the most arrivals (any status / 200 only) in any half-open
  1-second window [t, t + 1) at the server, timed after the network's delay. The server refuses
  the 51st, so accepted never passes 50; "arrived" shows what the client made the server see.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="5 s per cell, for a smoke run")
    parser.add_argument("--seconds", type=float, help="seconds per cell (default 20, quick 5)")
    _plots.add_argument(parser)
    args = parser.parse_args()
    plots = _plots.figure_dir(args.plots)
    seconds = args.seconds or (QUICK_SECONDS if args.quick else FULL_SECONDS)
    quick = " (--quick)" if args.quick else ""
    print(f"## Rate at the {CAP} req/s cap through a network with jitter{quick}")
    print()
    print(machine_line())
    print(
        f"server: FakeTightknit(rate_limit={CAP}, network_delay=(0, J)) on 127.0.0.1 in a "
        f"subprocess; GET {PATH}; {WORKERS} workers looping; a fresh key per cell; one run"
    )
    print(f"ours: {GovernorSettings(rate=CAP)}")
    print()
    print(DEFINITIONS)
    sys.stdout.flush()
    ok = asyncio.run(run(seconds, seconds >= FULL_SECONDS, plots, args.quick))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
