"""The slot book against a simulated network and server: what the server counts is arrivals.

A discrete-event simulation on plain floats. A client at full demand (a waiter is always ready)
is granted slots by the book as the async driver grants them (when a slot is free, the timer up
to ``lateness`` late). Each granted request starts its send up to ``max_lag`` after its grant,
is held a random delay on its way (``[0, max_delay]``), and reaches a server that admits at most
``limit`` arrivals of the key in any 1-second sliding window (the fake server's own
`SlidingWindow`), answering 429 + Retry-After past that. A busy loop can hold the send back
further (``loop_late``), by as much as the driver reports to the book with the grant. The answer
is read a random reply latency later, unless it is lost, and reported to the book
(``answered``), a 429 to ``rate_limited`` as well, as the client does. The delays of any two
requests from grant (plus what was reported) to arrival differ by at most ``max_lag +
max_delay <= jitter``: the book's one assumption.

Checked: no window at the server ever holds more than ``limit`` arrivals (every arrival counts,
whatever its status), so no 429 is ever earned; and the rate achieved.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tightknit_async.governor import GCRA, max_in_window
from tightknit_async.testing._rate_window import SlidingWindow

KEY = "key"


@dataclass(frozen=True)
class Network:
    """How requests travel: every duration is drawn uniformly from ``[0, its maximum]``."""

    max_delay: float  # grant (or send) to arrival, on the way in
    max_lag: float = 0.0  # grant to the start of the send (a busy event loop), unreported
    loop_late: float = 0.0  # more lag, that the driver sees (its timer late) and reports
    max_reply: float = 0.002  # arrival to the answer being read
    lateness: float = 0.001  # how late the driver's timer may grant a free slot
    lost: float = 0.0  # the share of answers never read (timeouts, dropped connections)
    slow: float = 0.0  # the share of answers read 0.5 to 3 s late
    spurious: float = 0.0  # the share of admitted requests answered 429 anyway
    server_limit: int | None = None  # the server's cap, when it is not the book's


@dataclass
class Run:
    grants: list[float] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    accepted: list[float] = field(default_factory=list)
    refused: int = 0  # 429s the server's window gave
    spurious: int = 0  # 429s injected
    rates: list[tuple[float, float]] = field(default_factory=list)  # (time, rate in force)

    def rate(self, start: float, end: float) -> float:
        """Accepted arrivals per second within ``[start, end)``."""
        return sum(1 for t in self.accepted if start <= t < end) / (end - start)


def simulate(core: GCRA, requests: int, network: Network, rng: random.Random) -> Run:
    """Grant ``requests`` slots at full demand and play them through ``network``."""
    server = SlidingWindow(network.server_limit or core.limit, 1.0)
    events: list[tuple[float, int, str, float, int]] = []  # (time, seq, kind, sent, retry)
    seq = 0
    run = Run()
    now = 0.0
    lateness = rng.uniform(0.0, network.lateness)
    while len(run.grants) < requests or events:
        grant_at = max(now, core.earliest()) + lateness
        if events and (events[0][0] <= grant_at or len(run.grants) >= requests):
            at, _, kind, sent, status = heapq.heappop(events)  # status: Retry-After or 0
            now = max(now, at)
            if kind == "arrive":
                run.arrivals.append(at)
                # An answer's "status" slot: 0 for a 200, else the 429's Retry-After seconds.
                retry_after = server.admit(KEY, at)
                if retry_after is not None:
                    run.refused += 1
                elif rng.random() < network.spurious:
                    run.spurious += 1
                    retry_after = 1
                else:
                    run.accepted.append(at)
                if rng.random() >= network.lost:
                    reply = at + rng.uniform(0.0, network.max_reply)
                    if rng.random() < network.slow:
                        reply += rng.uniform(0.5, 3.0)
                    seq += 1
                    heapq.heappush(events, (reply, seq, "answer", sent, retry_after or 0))
            else:
                core.answered(at, sent)  # every answer, whatever its status
                if status:
                    core.rate_limited(at, status * (1.0 + 0.1 * rng.random()))
                run.rates.append((at, core.rate_at(at)))
            continue
        now = grant_at
        late = rng.uniform(0.0, network.loop_late)
        slot = core.book(now, 0.0, late)
        assert slot == pytest.approx(now, abs=1e-9)  # the driver only grants free slots
        run.grants.append(slot)
        sent = slot + late + rng.uniform(0.0, network.max_lag)
        arrival = sent + rng.uniform(0.0, network.max_delay)
        seq += 1
        heapq.heappush(events, (arrival, seq, "arrive", sent, 0))
        lateness = rng.uniform(0.0, network.lateness)
    return run


def steady_rate(run: Run, limit: int) -> float:
    """The accepted rate from 2 s in to the last accepted arrival, as a share of ``limit``."""
    start, end = 2.0, run.accepted[-1]
    return run.rate(start, end) / limit


# -- a table: the jitter the brief measured, and a calm loopback ------------------------------


@pytest.mark.parametrize(
    ("network", "floor"),
    [
        (Network(max_delay=0.0005, max_reply=0.001), 0.99),  # a calm loopback
        (Network(max_delay=0.010), 0.98),
        (Network(max_delay=0.025), 0.97),
        (Network(max_delay=0.050), 0.95),
        (Network(max_delay=0.045, max_lag=0.005, max_reply=0.020, lateness=0.002), 0.95),
    ],
    ids=["loopback", "0-10ms", "0-25ms", "0-50ms", "0-50ms-with-lag-and-slow-replies"],
)
@pytest.mark.parametrize("seed", range(3))
def test_thousands_of_requests_through_jitter_never_top_the_cap(
    network: Network, floor: float, seed: int
) -> None:
    core = GCRA(50, jitter=0.05)
    run = simulate(core, 3000, network, random.Random(seed))
    assert max_in_window(run.arrivals) <= 50  # at the server's arrival times
    assert run.refused == 0
    assert steady_rate(run, 50) >= floor


def test_without_answers_the_book_paces_at_limit_over_span_plus_jitter() -> None:
    run = simulate(GCRA(50, jitter=0.05), 2000, Network(max_delay=0.05, lost=1.0), random.Random(1))
    assert max_in_window(run.arrivals) <= 50
    assert steady_rate(run, 50) == pytest.approx(1 / (1.002 + 0.05), rel=0.01)


# -- the property: any pattern of delays within jitter -----------------------------------------

networks = st.builds(
    Network,
    max_delay=st.floats(0.0, 0.05),
    max_lag=st.floats(0.0, 0.0),
    max_reply=st.one_of(st.floats(0.0, 0.02), st.floats(0.0, 0.5)),
    lateness=st.sampled_from([0.0, 0.001, 0.02, 0.2]),
    loop_late=st.sampled_from([0.0, 0.0, 0.05, 0.3]),
    lost=st.sampled_from([0.0, 0.0, 0.01, 0.3]),
    slow=st.sampled_from([0.0, 0.0, 0.05]),
    spurious=st.sampled_from([0.0, 0.0, 0.01]),
)


@settings(deadline=None, max_examples=60)
@given(
    network=networks,
    lag_share=st.floats(0.0, 0.5),
    rate=st.sampled_from([1.0, 7.5, 10.0, 50.0, 50.0, 120.0]),
    burst_share=st.floats(0.0, 1.0),
    jitter=st.sampled_from([0.0, 0.01, 0.05, 0.1]),
    margin=st.sampled_from([1e-6, 0.002]),  # 0 would leave the server's float rounding
    cold_margin=st.sampled_from([0.0, 0.05]),
    seed=st.integers(0, 2**32 - 1),
)
def test_no_window_at_the_server_ever_holds_more_than_limit_arrivals(
    network: Network,
    lag_share: float,
    rate: float,
    burst_share: float,
    jitter: float,
    margin: float,
    cold_margin: float,
    seed: int,
) -> None:
    """Whatever the delays (spread within ``jitter``, part of it before the send, plus a busy
    loop's lateness the driver reports), the reply latencies, lost and slow answers, 429s and
    timer lateness."""
    limit = max(1, math.floor(rate))
    core = GCRA(
        rate,
        burst=max(1, round(burst_share * limit)),
        jitter=jitter,
        margin=margin,
        cold_margin=cold_margin,
    )
    spread = jitter * network.max_delay / 0.05  # within jitter, as the assumption asks
    scaled = Network(
        max_delay=spread * (1 - lag_share),
        max_lag=spread * lag_share,
        max_reply=network.max_reply,
        lateness=network.lateness,
        loop_late=network.loop_late,
        lost=network.lost,
        slow=network.slow,
        spurious=network.spurious,
    )
    run = simulate(core, min(2000, 40 * limit + 50), scaled, random.Random(seed))
    assert max_in_window(run.arrivals) <= limit
    assert run.refused == 0
    assert max_in_window(run.grants, 1.0 + margin) <= limit  # and the grants themselves


@settings(deadline=None, max_examples=25)
@given(
    max_delay=st.floats(0.0, 0.05),
    max_reply=st.floats(0.0, 0.02),
    lateness=st.sampled_from([0.0, 0.001, 0.002]),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_rate_stays_at_95_percent_of_the_cap_or_more(
    max_delay: float, max_reply: float, lateness: float, seed: int
) -> None:
    """Random per-request delays in [0, 50 ms] and reply latencies in [0, 20 ms]."""
    network = Network(max_delay=max_delay, max_reply=max_reply, lateness=lateness)
    run = simulate(GCRA(50, jitter=0.05), 3000, network, random.Random(seed))
    assert max_in_window(run.arrivals) <= 50
    assert steady_rate(run, 50) >= 0.95


# -- 429s: a signal, not a collapse -------------------------------------------------------------


def test_one_spurious_429_per_thousand_keeps_90_percent_of_the_cap() -> None:
    network = Network(max_delay=0.02, spurious=0.001)
    run = simulate(GCRA(50, jitter=0.05), 20_000, network, random.Random(3))
    assert run.spurious >= 10  # enough of them to tell
    assert run.refused == 0
    assert max_in_window(run.arrivals) <= 50
    assert steady_rate(run, 50) >= 0.90
    rates = [rate for _, rate in run.rates]
    lowerings = sum(1 for was, now in itertools.pairwise(rates) if now < was)
    assert lowerings <= run.spurious / 4  # mostly isolated: a pause, and the rate as it was


def test_a_server_with_a_lower_cap_makes_the_429s_repeat_and_the_rate_come_down() -> None:
    """The book thinks the key allows 50/s; the server allows 30 (another client uses the rest):
    the first 429 only pauses, the repeats lower the rate, and 429s stay rare."""
    network = Network(max_delay=0.01, server_limit=30)
    run = simulate(GCRA(50, jitter=0.05), 3000, network, random.Random(4))
    lowest = min(rate for _, rate in run.rates)
    assert lowest <= 30.0
    assert run.refused <= 0.03 * len(run.arrivals)
    assert run.rate(10.0, run.accepted[-1]) >= 0.6 * 30  # and still most of what there is
