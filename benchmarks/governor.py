"""Pacing at the 50 req/s cap: tightknit_async's governor vs aiolimiter vs no limiter.

Every contender sends GETs through ``AsyncTightknit`` with ``max_retries=0`` (a 429 is counted, not
retried away) to ``FakeTightknit(rate_limit=50)``, which accepts at most 50 requests of a key in any
1-second sliding window and answers the rest 429 + Retry-After:

* ours: ``AsyncTightknit(rate_limit=50)``, i.e. the key's governor from ``governor_for(key, 50)``
  (wrapped only to timestamp each grant);
* ``aiolimiter.AsyncLimiter(50, 1)`` and ``AsyncLimiter(1, 1/50)`` around each call
  (``async with limiter: await tk.request(...)``) of a client with ``rate_limit=None``;
* no limiter at all.

Scenarios: (a) a cold burst fired at once; (b) a steady stream from more workers than the cap
serves; (c) a burst after idle (a few requests, an idle gap, then the burst); (d) interactive
requests every 100 ms while hundreds of bulk requests keep the key saturated; (e) ours alone, from
a cold start many times over (a rare late first send shows only over many). Every contender and
scenario gets a fresh API key (``add_key()``), so server windows never interact and ours gets a
fresh governor; a fresh client too, so every trial starts with a cold connection pool.

By default the server runs in a subprocess (its own event loop and core; the real API is remote
and does not share the client's loop either); ``--server inline`` runs it on the benchmark's own
loop instead. Both stamp arrivals with ``time.monotonic``, the clock the limiters pace on, so
client and server times compare directly.

    .venv/bin/python benchmarks/governor.py [--quick] [--server process|inline] [--plots DIR]

``--plots DIR`` (default docs/img; '' for none) draws the figure of docs/benchmarks.md into
``DIR/governor-per-100ms.svg``: requests per 100 ms at the server over the steady stream (b), one
trial per contender but "no limiter" (needs matplotlib; without it, a notice and no figure).

Targets (docs/architecture.md, "Speed targets"):
ours >= 99% of the cap, 0 x 429, never more than 50 sent in
any 1 s window; interactive-lane wait p95 <= 50 ms while bulk saturates the key. Exits 1 if ours
misses one.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import math
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import _plots
from _common import (
    Arrivals,
    ProcessServer,
    Server,
    Verdicts,
    arrivals_of,
    machine_line,
    new_key,
    report_verdicts,
    settled_arrivals,
)
from aiolimiter import AsyncLimiter

from tightknit_async import AsyncTightknit, Priority, RateLimitError, TightknitError
from tightknit_async.governor import (
    GovernorSettings,
    GovernorStatistics,
    RateGovernor,
    governor_for,
    max_in_window,
)
from tightknit_async.testing import FakeTightknit

CAP = 50
"""The API's cap: requests per second per key."""
PATH = "/admin/v0/api_key/me"
OURS = "tightknit_async governor"
CONTENDERS = (OURS, "AsyncLimiter(50, 1)", "AsyncLimiter(1, 1/50)", "no limiter")
LANE_CONTENDERS = (OURS, "AsyncLimiter(1, 1/50)")  # no lanes elsewhere: one FIFO baseline
FIGURE_CONTENDERS = CONTENDERS[:3]  # per 100 ms over the steady stream (b): no "no limiter"


@dataclass(frozen=True)
class Plan:
    burst: int  # (a) requests in the cold burst
    stream_seconds: float  # (b) how long the workers keep starting requests
    stream_workers: int  # (b) workers, each looping request after request
    warmup: int  # (c) requests sent one by one before the idle gap
    idle: float  # (c) seconds of idle
    idle_burst: int  # (c) requests in the burst after idle
    lane_seconds: float  # (d) how long interactive requests keep arriving
    lane_every: float  # (d) seconds between interactive requests
    bulk_workers: int  # (d) bulk workers, each looping (so about this many queued)
    cold_starts: int  # (e) cold bursts of CAP + 5 requests, each on a fresh key and client


FULL = Plan(500, 20.0, 60, 5, 5.0, 200, 10.0, 0.1, 300, 25)
QUICK = Plan(100, 3.0, 60, 3, 1.5, 60, 3.0, 0.1, 100, 5)


class GcPauses:
    """Every garbage collection in this process while active: (start, end, generation)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float, int]] = []
        self._started = 0.0

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.monotonic()
        else:
            self.pauses.append((self._started, time.monotonic(), info["generation"]))

    def longest(self, start: float, end: float) -> tuple[float, int]:
        """The longest pause overlapping [start, end]: (milliseconds, generation), or (0, -1)."""
        inside = [(b - a, g) for a, b, g in self.pauses if a <= end and b >= start]
        if not inside:
            return 0.0, -1
        length, generation = max(inside)
        return 1e3 * length, generation


# -- the server: _common.ProcessServer (default) or on this loop ----------------------------------


class InlineServer:
    def __init__(self, fake: FakeTightknit) -> None:
        self.fake, self.url = fake, fake.url

    def add_key(self) -> tuple[str, str]:
        return new_key(self.fake)

    def arrivals(self, key_id: str) -> Arrivals:
        return arrivals_of(self.fake, key_id)


# -- one contender on one fresh key ---------------------------------------------------------------


class _Recorder:
    """Delegates to the key's governor and timestamps every grant (the RateGovernor protocol)."""

    def __init__(self, inner: RateGovernor, trial: Trial) -> None:
        self.inner, self.trial = inner, trial

    async def acquire(
        self, priority: Priority = "interactive", *, max_wait: float | None = None
    ) -> None:
        started = time.monotonic()
        await self.inner.acquire(priority, max_wait=max_wait)
        self.trial.released(priority, started)

    def try_acquire_nowait(self, priority: Priority = "interactive") -> bool:
        return self.inner.try_acquire_nowait(priority)

    def on_reply(self, elapsed: float) -> None:
        self.inner.on_reply(elapsed)

    def on_rate_limited(self, retry_after: float | None = None) -> None:
        self.inner.on_rate_limited(retry_after)

    def statistics(self) -> GovernorStatistics:
        return self.inner.statistics()


@dataclass
class Trial:
    """One contender's run of one scenario: what the client did and what the server saw."""

    contender: str
    releases: list[tuple[float, Priority]] = field(default_factory=list)  # (time, lane)
    waits: dict[Priority, list[float]] = field(
        default_factory=lambda: {"interactive": [], "bulk": []}
    )
    ok: int = 0
    rate_limited: int = 0
    errors: int = 0
    arrivals: Arrivals = field(default_factory=list)
    phase_start: float = 0.0  # client and server times from here on are "the scenario"
    phase_end: float = math.inf

    def released(self, lane: Priority, since: float) -> None:
        now = time.monotonic()
        self.releases.append((now, lane))
        self.waits[lane].append(now - since)


class Driver:
    """Sends one GET the way its contender does, counting outcomes into ``trial``."""

    def __init__(self, contender: str, server: Server, trial: Trial) -> None:
        key, self.key_id = server.add_key()
        self.trial = trial
        self.limiter: AsyncLimiter | None = None
        if contender == OURS:
            recorder = _Recorder(governor_for(key, CAP), trial)
            self.tk = AsyncTightknit(
                api_key=key, base_url=server.url, governor=recorder, max_retries=0
            )
        else:
            self.tk = AsyncTightknit(
                api_key=key, base_url=server.url, rate_limit=None, max_retries=0
            )
            if contender == "AsyncLimiter(50, 1)":
                self.limiter = AsyncLimiter(CAP, 1)
            elif contender == "AsyncLimiter(1, 1/50)":
                self.limiter = AsyncLimiter(1, 1 / CAP)
        self.paced_by_us = contender == OURS

    async def call(self, lane: Priority = "interactive") -> None:
        trial, started = self.trial, time.monotonic()
        try:
            if self.paced_by_us:
                await self.tk.request("GET", PATH, priority=lane)
            elif self.limiter is not None:
                async with self.limiter:
                    trial.released(lane, started)
                    await self.tk.request("GET", PATH)
            else:
                trial.released(lane, started)
                await self.tk.request("GET", PATH)
        except RateLimitError:
            trial.rate_limited += 1
        except TightknitError:
            trial.errors += 1
        else:
            trial.ok += 1


# -- the scenarios ------------------------------------------------------------------------------


async def cold_burst(driver: Driver, plan: Plan) -> None:
    driver.trial.phase_start = time.monotonic()
    await asyncio.gather(*(driver.call() for _ in range(plan.burst)))


async def steady_stream(driver: Driver, plan: Plan) -> None:
    start = driver.trial.phase_start = time.monotonic()
    stop = start + plan.stream_seconds

    async def worker() -> None:
        while time.monotonic() < stop:
            await driver.call()

    await asyncio.gather(*(worker() for _ in range(plan.stream_workers)))


async def burst_after_idle(driver: Driver, plan: Plan) -> None:
    for _ in range(plan.warmup):
        await driver.call()
    await asyncio.sleep(plan.idle)
    driver.trial.phase_start = time.monotonic()
    await asyncio.gather(*(driver.call() for _ in range(plan.idle_burst)))


async def lanes(driver: Driver, plan: Plan) -> None:
    """Bulk workers saturate the key; interactive calls arrive every ``lane_every`` seconds."""
    stop = False

    async def bulk_worker() -> None:
        while not stop:
            await driver.call("bulk")

    bulk = [asyncio.create_task(bulk_worker()) for _ in range(plan.bulk_workers)]
    await asyncio.sleep(1.0)  # the queue builds up and the key's window fills
    start = driver.trial.phase_start = time.monotonic()
    interactive: list[asyncio.Task[None]] = []
    for i in range(round(plan.lane_seconds / plan.lane_every)):
        interactive.append(asyncio.create_task(driver.call("interactive")))
        await asyncio.sleep(max(0.0, start + (i + 1) * plan.lane_every - time.monotonic()))
    await asyncio.gather(*interactive)
    driver.trial.phase_end = time.monotonic()
    stop = True
    for task in bulk:
        task.cancel()
    await asyncio.gather(*bulk, return_exceptions=True)


Scenario = Callable[[Driver, Plan], Awaitable[None]]


async def run_trial(server: Server, contender: str, scenario: Scenario, plan: Plan) -> Trial:
    trial = Trial(contender)
    driver = Driver(contender, server, trial)
    async with driver.tk:
        await scenario(driver, plan)
    trial.arrivals = await settled_arrivals(server, driver.key_id, 0.2)
    return trial


# -- measures -------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan


@dataclass(frozen=True)
class Row:
    contender: str
    sent: int
    ok: int
    rate_pct: float
    rate_limited: int
    errors: int
    max_sent: int
    max_accepted: int
    pacing_p99_ms: float | None
    jitter_p99_ms: float | None
    tightest_span: float | None


def measure(trial: Trial, *, paced: bool) -> Row:
    phase = [(t, s) for t, s in trial.arrivals if t >= trial.phase_start]
    accepted = [t for t, s in phase if s == 200]
    elapsed = (phase[-1][0] - phase[0][0] + 1 / CAP) if phase else math.nan
    sends = sorted(t for t, _ in trial.releases if t >= trial.phase_start)
    pacing = jitter = None
    if paced and len(sends) > 1:
        first, n = sends[0], len(sends)
        slope = (sends[-1] - first) / (n - 1)
        pacing = 1e3 * percentile([abs(t - first - i / CAP) for i, t in enumerate(sends)], 0.99)
        jitter = 1e3 * percentile([abs(t - first - i * slope) for i, t in enumerate(sends)], 0.99)
    every = [t for t, _ in trial.arrivals]
    spans = [every[i + CAP] - every[i] for i in range(len(every) - CAP)]
    return Row(
        contender=trial.contender,
        sent=len(phase),
        ok=len(accepted),
        rate_pct=100 * len(accepted) / elapsed / CAP,
        rate_limited=sum(1 for _, s in trial.arrivals if s == 429),
        errors=trial.errors,
        max_sent=max_in_window(every, 1.0),
        max_accepted=max_in_window((t for t, s in trial.arrivals if s == 200), 1.0),
        pacing_p99_ms=pacing,
        jitter_p99_ms=jitter,
        tightest_span=min(spans) if spans else None,
    )


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def print_table(title: str, rows: list[Row]) -> None:
    print(f"### {title}")
    print()
    print(
        "| contender | ok / sent | achieved rate | 429s | max sent in any 1 s | "
        "max accepted in any 1 s | p99 pacing error (ms) | p99 jitter (ms) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        errors = f" (+{r.errors} other errors)" if r.errors else ""
        print(
            f"| {r.contender} | {r.ok} / {r.sent}{errors} | {r.rate_pct:.1f}% | {r.rate_limited} "
            f"| {r.max_sent} | {r.max_accepted} | {_ms(r.pacing_p99_ms)} | "
            f"{_ms(r.jitter_p99_ms)} |"
        )
    print()


@dataclass(frozen=True)
class Lag:
    """Client grant -> server arrival for one trial, pairing the k-th grant with the k-th arrival
    (both in time order: FIFO, and paced requests do not overtake each other on loopback)."""

    first_ms: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    tightest_span: float | None  # min over i of arrival[i + 50] - arrival[i], every status
    gc_ms: float  # the longest GC pause in this process during the trial
    gc_generation: int

    @classmethod
    def of(cls, trial: Trial, pauses: GcPauses) -> Lag | None:
        sends = sorted(t for t, _ in trial.releases)
        arrivals = [t for t, _ in trial.arrivals]
        lags = [1e3 * (a - s) for s, a in zip(sends, arrivals, strict=False)]
        if not lags:
            return None
        spans = [arrivals[i + CAP] - arrivals[i] for i in range(len(arrivals) - CAP)]
        gc_ms, generation = pauses.longest(sends[0], arrivals[-1])
        return cls(
            first_ms=lags[0],
            p50_ms=percentile(lags, 0.5),
            p99_ms=percentile(lags, 0.99),
            max_ms=max(lags),
            tightest_span=min(spans) if spans else None,
            gc_ms=gc_ms,
            gc_generation=generation,
        )

    def cells(self) -> str:
        tight = "—" if self.tightest_span is None else f"{self.tightest_span:.4f}"
        collected = f"{self.gc_ms:.1f} (gen {self.gc_generation})" if self.gc_ms else "none"
        return (
            f"{self.first_ms:.2f} | {self.p50_ms:.2f} | {self.p99_ms:.2f} | {self.max_ms:.2f} "
            f"| {tight} | {collected}"
        )


LAG_HEADER = (
    "| first request lag (ms) | lag p50 (ms) | lag p99 (ms) | lag max (ms) "
    "| tightest span of 51 consecutive arrivals (s) | longest GC pause in the trial (ms) |"
)


# -- the run --------------------------------------------------------------------------------------

SCENARIOS: tuple[tuple[str, str, Scenario], ...] = (
    ("a", "cold burst", cold_burst),
    ("b", "steady stream", steady_stream),
    ("c", "burst after idle", burst_after_idle),
)


async def paced_scenarios(
    server: Server,
    plan: Plan,
    pauses: GcPauses,
    verdicts: Verdicts,
    figure: dict[str, Arrivals],
) -> list[str]:
    """(a), (b), (c): a table each; returns the diagnostics rows of the paced trials. Fills
    ``figure`` with the (b) arrivals of the contenders in ``FIGURE_CONTENDERS``, in seconds since
    the stream started."""
    describe = {
        "a": f"a cold burst of {plan.burst} GETs fired at once",
        "b": f"a steady stream for {plan.stream_seconds:g} s from {plan.stream_workers} workers "
        "looping (none starts a request after that; those already queued still go)",
        "c": f"{plan.warmup} requests one by one, {plan.idle:g} s idle, then a burst of "
        f"{plan.idle_burst} (rate and pacing over the burst)",
    }
    diagnostics: list[str] = []
    for letter, name, scenario in SCENARIOS:
        rows = []
        for contender in CONTENDERS:
            trial = await run_trial(server, contender, scenario, plan)
            rows.append(measure(trial, paced=contender != "no limiter"))
            if letter == "b" and contender in FIGURE_CONTENDERS:
                figure[contender] = [(t - trial.phase_start, s) for t, s in trial.arrivals]
            lag = Lag.of(trial, pauses)
            if contender in (OURS, "AsyncLimiter(1, 1/50)") and lag is not None:
                diagnostics.append(f"| ({letter}) {contender} | {lag.cells()} |")
        print_table(f"({letter}) {name}: {describe[letter]}", rows)
        ours = rows[0]
        if letter == "b" and plan.stream_seconds >= 20:  # DESIGN's target: a 20 s stream
            verdicts.append(
                (ours.rate_pct >= 99.0, f"(b) ours achieved {ours.rate_pct:.2f}% >= 99%")
            )
        else:  # a burst pays the one-off cold-start allowance on a few seconds' work
            why = "the 99% target is for a 20 s stream" if letter == "b" else "no target"
            verdicts.append((None, f"({letter}) ours achieved {ours.rate_pct:.2f}% ({why})"))
        verdicts += [
            (ours.rate_limited == 0, f"({letter}) ours 429s = {ours.rate_limited} (want 0)"),
            (ours.max_sent <= CAP, f"({letter}) ours max sent in any 1 s = {ours.max_sent}"),
            (ours.errors == 0, f"({letter}) ours other errors = {ours.errors} (want 0)"),
        ]
        sys.stdout.flush()
    return diagnostics


async def interactive_lane(server: Server, plan: Plan, verdicts: Verdicts) -> None:
    """(d): interactive waits while bulk saturates the key."""
    print(
        f"### (d) interactive lane: {plan.bulk_workers} bulk workers keep the key saturated "
        f"while an interactive GET arrives every {1e3 * plan.lane_every:.0f} ms for "
        f"{plan.lane_seconds:g} s"
    )
    print()
    print(
        "| contender | interactive calls | wait p50 (ms) | wait p95 (ms) | wait max (ms) "
        "| bulk throughput (req/s) | 429s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for contender in LANE_CONTENDERS:
        trial = await run_trial(server, contender, lanes, plan)
        waits = [1e3 * w for w in trial.waits["interactive"]]
        start, end = trial.phase_start, trial.phase_end
        bulk = sum(1 for t, lane in trial.releases if lane == "bulk" and start <= t < end)
        limited = sum(1 for _, s in trial.arrivals if s == 429)
        p95 = percentile(waits, 0.95)
        print(
            f"| {contender} | {len(waits)} | {percentile(waits, 0.5):.1f} | {p95:.1f} | "
            f"{max(waits):.1f} | {bulk / (end - start):.1f} | {limited} |"
        )
        if contender == OURS:
            verdicts += [
                (p95 <= 50.0, f"(d) ours interactive wait p95 = {p95:.1f} ms <= 50 ms"),
                (limited == 0, f"(d) ours 429s = {limited} (want 0)"),
            ]
    print()
    sys.stdout.flush()


async def cold_starts(server: Server, plan: Plan, pauses: GcPauses, verdicts: Verdicts) -> None:
    """(e): ours from a cold start, many times: a fresh key, client and pool each time."""
    burst = CAP + 5
    one = dataclasses.replace(plan, burst=burst)
    lags: list[Lag] = []
    limited: list[int] = []
    for _ in range(plan.cold_starts):
        trial = await run_trial(server, OURS, cold_burst, one)
        lag = Lag.of(trial, pauses)
        if lag is not None:
            lags.append(lag)
            limited.append(sum(1 for _, s in trial.arrivals if s == 429))
    hit = sum(1 for n in limited if n)
    firsts = [lag.first_ms for lag in lags]
    spans = [lag.tightest_span for lag in lags if lag.tightest_span is not None]
    print(
        f"### (e) ours from a cold start, {len(lags)} times: a fresh key, client and connection "
        f"pool, {burst} GETs at once (the first lap of the window)"
    )
    print()
    print(
        "| cold starts | with a 429 | first request lag p50 / p95 / max (ms) | tightest span of "
        "51 arrivals min / median (s) | GC pauses over 5 ms |"
    )
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {len(lags)} | {hit} | {percentile(firsts, 0.5):.2f} / {percentile(firsts, 0.95):.2f}"
        f" / {max(firsts):.2f} | {min(spans):.4f} / {percentile(spans, 0.5):.4f} "
        f"| {sum(1 for lag in lags if lag.gc_ms > 5)} |"
    )
    print()
    odd = [
        (i, lag, n)
        for i, (lag, n) in enumerate(zip(lags, limited, strict=True))
        if n or (lag.tightest_span is not None and lag.tightest_span < 1.0 + 0.002)
    ]
    if odd:
        print(f"| cold start | 429s {LAG_HEADER}")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for i, lag, n in odd:
            print(f"| #{i + 1} | {n} | {lag.cells()} |")
        print()
    verdicts.append((hit == 0, f"(e) ours cold starts with a 429: {hit} of {len(lags)} (want 0)"))
    sys.stdout.flush()


def draw_figure(plots: Path, plan: Plan, quick: bool, figure: dict[str, Arrivals]) -> None:
    path = _plots.governor_per_100ms(
        plots / _plots.GOVERNOR_FIGURE,
        figure,
        cap=CAP,
        note=(
            f"benchmarks/governor.py{' --quick' if quick else ''}, scenario (b): "
            f"{plan.stream_workers} workers looping GETs for {plan.stream_seconds:g} s against "
            f"FakeTightknit(rate_limit={CAP}), max_retries=0; one trial per contender"
        ),
    )
    print(f"figure: {path}")
    print()


async def run(plan: Plan, server_mode: str, plots: Path | None, quick: bool) -> bool:
    fake: FakeTightknit | None = None
    process: ProcessServer | None = None
    server: Server
    if server_mode == "inline":
        fake = FakeTightknit(rate_limit=CAP)
        await fake.start()
        server = InlineServer(fake)
    else:
        process = ProcessServer(CAP)
        server = process
    verdicts: Verdicts = []
    figure: dict[str, Arrivals] = {}
    started = time.monotonic()
    try:
        with GcPauses() as pauses:
            diagnostics = await paced_scenarios(server, plan, pauses, verdicts, figure)
            await interactive_lane(server, plan, verdicts)
            await cold_starts(server, plan, pauses, verdicts)
        print("### diagnostics: client grant -> server arrival, paced trials of (a) to (c)")
        print()
        print(f"| trial {LAG_HEADER}")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for line in diagnostics:
            print(line)
        print()
    finally:
        if fake is not None:
            await fake.close()
        if process is not None:
            process.close()
    if plots is not None:
        draw_figure(plots, plan, quick, figure)
    print(f"total benchmark time: {time.monotonic() - started:.0f} s")
    print()
    return report_verdicts(verdicts)


DEFINITIONS = """\
Definitions (times are time.monotonic on one machine, shared by client and server):
- ok / sent: requests of the scenario's phase answered 200 / that reached the server.
- achieved rate: accepted / (last arrival - first arrival + 1/50 s), arrivals at the server within
  the phase (for (c) the burst only), as % of 50/s. The 1/50 s counts the last request's own slot,
  so a schedule exactly 20 ms apart scores 100%. An unpaced client can score over 100% on a
  sub-second burst: the cap holds per 1 s window, not over shorter spans.
- 429s: answered 429 over the whole trial (max_retries=0, so each is a failed call).
- max sent / accepted in any 1 s: the most arrivals (any status / 200 only) in any half-open
  1-second window [t, t + 1) at the server, whole trial. The server refuses the 51st, so accepted
  can never pass 50; "sent" shows what the client attempted.
- p99 pacing error: for request i of the phase in the order the limiter released it (the client
  clock right after `async with limiter:` is entered, or our governor grants), |release_i -
  (release_0 + i/50 s)|; the 99th percentile (nearest rank). It includes drift: ours spaces
  grants T = (1 s + margin) / 50 = 20.04 ms apart, and each window of 50 waits for the answer
  (or, unanswered, 50 ms of jitter) of the request 50 places back, so it falls behind the ideal
  schedule a little every window.
- p99 jitter: the same against the contender's own mean interval instead of 20 ms,
  |release_i - (release_0 + i * (release_last - release_0) / (n - 1))|: irregularity without
  the drift. A burst shows up in both.
- interactive wait: from calling tk.request to the limiter letting it go (our governor's lane
  grant; entering `async with limiter` for aiolimiter). Bulk throughput: bulk releases per second
  while interactive calls arrive.
- lag (diagnostics, (e)): server arrival - client release, the k-th release paired with the k-th
  arrival. Our governor books request i + 50 no sooner than 1 s + margin after the time request
  i is known to have arrived by: when its answer was read, or 50 ms (jitter) after its release
  while it is unanswered. The server counts arrivals: a "tightest span" (the least arrival[i +
  50] - arrival[i]) under 1 s would show a window it counted 51 in. The first request of a
  fresh pool also opens its TCP connection; a GC pause in the client between a release and its
  send delays that send too (pauses recorded with gc.callbacks, this process).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="short durations, for a smoke run")
    parser.add_argument(
        "--server",
        choices=("process", "inline"),
        default="process",
        help="FakeTightknit in a subprocess (default) or on the benchmark's own event loop",
    )
    _plots.add_argument(parser)
    args = parser.parse_args()
    plots = _plots.figure_dir(args.plots)
    plan = QUICK if args.quick else FULL
    where = (
        "in a subprocess (its own event loop)"
        if args.server == "process"
        else "on the benchmark's own event loop"
    )
    print(f"## Rate governor at the {CAP} req/s cap{' (--quick)' if args.quick else ''}")
    print()
    print(machine_line())
    print(
        f"server: FakeTightknit(rate_limit={CAP}) on 127.0.0.1 {where}; GET {PATH}; every "
        "contender and scenario on a fresh key and a fresh client; one run, one trial per cell"
    )
    print(f"ours: {GovernorSettings(rate=CAP)}")
    print()
    print(DEFINITIONS)
    sys.stdout.flush()
    ok = asyncio.run(run(plan, args.server, plots, args.quick))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
