"""The rate governor end to end: the real client, real time, the fake server's 50/s window.

``FakeTightknit(rate_limit=50)`` accepts at most 50 requests of a key in any 1-second sliding
window and answers the rest 429 + Retry-After; it records every arrival on ``time.monotonic``,
the clock the governor paces on. Each test issues its own key, so it gets a fresh governor.
With ``network_delay`` the fake holds every request a random while before it counts it, as a
network with jitter does. No test here asserts how fast anything went: only what the server saw.
"""

from __future__ import annotations

import asyncio
import bisect
import multiprocessing
import time
from multiprocessing.connection import Connection
from typing import cast

import aiohttp
import pytest

from tightknit_async import AsyncTightknit
from tightknit_async.cli import _parser, main
from tightknit_async.governor import Governor
from tightknit_async.testing import FakeTightknit
from tightknit_async.testing._network import NetworkDelay

FEEDS = "/admin/v0/feeds"
CAP = 50


def paced(fake: FakeTightknit, key: str, **kwargs: object) -> AsyncTightknit:
    return AsyncTightknit(api_key=key, base_url=fake.url, rate_limit=CAP, **kwargs)  # type: ignore[arg-type]


def arrival_times(fake: FakeTightknit, key: str) -> list[float]:
    key_id = fake.key_info(key).id
    return sorted(a.time for a in fake.arrivals if a.key_id == key_id)


async def test_a_cold_burst_of_300_earns_no_429_and_never_tops_50_in_a_window() -> None:
    async with FakeTightknit(rate_limit=CAP) as fake:
        key = fake.add_key()
        async with paced(fake, key, max_retries=0) as tk:  # a 429 would raise, not be retried
            replies = await asyncio.gather(*(tk.request("GET", FEEDS) for _ in range(300)))
            assert tk.governor is not None
            stats = tk.governor.statistics()
    assert [r.status_code for r in replies] == [200] * 300
    assert fake.stats.rate_limited == 0
    assert fake.stats.requests == 300
    assert fake.max_in_window(1.0) <= CAP  # every arrival, whatever its status
    # one grant per request, less any left unused by a waiter that woke too late for it
    assert (stats.granted - stats.stale, stats.rate_limited, stats.waiting) == (300, 0, 0)
    times = arrival_times(fake, key)
    assert times[-1] - times[0] >= (300 - CAP) / CAP  # paced over ~6 s, not sent at once


async def test_a_burst_after_idle_earns_no_429() -> None:
    async with FakeTightknit(rate_limit=CAP) as fake:
        key = fake.add_key()
        async with paced(fake, key, max_retries=0) as tk:
            warm = await asyncio.gather(*(tk.request("GET", FEEDS) for _ in range(10)))
            await asyncio.sleep(1.5)
            burst = await asyncio.gather(*(tk.request("GET", FEEDS) for _ in range(100)))
    assert [r.status_code for r in warm + burst] == [200] * 110
    assert fake.stats.rate_limited == 0
    assert fake.max_in_window(1.0) <= CAP


async def test_an_injected_429_pauses_the_key_and_every_call_still_succeeds() -> None:
    async with FakeTightknit(rate_limit=CAP) as fake:
        key = fake.add_key()
        fake.faults.script("GET", FEEDS, [429])  # the first GET /feeds: 429 + Retry-After: 1
        async with paced(fake, key) as tk:  # default retries: the 429 is retried
            replies = await asyncio.gather(*(tk.request("GET", FEEDS) for _ in range(20)))
            assert tk.governor is not None
            stats = tk.governor.statistics()
            client_stats = tk.statistics()
    assert [r.status_code for r in replies] == [200] * 20
    assert fake.stats.rate_limited == 1
    assert (client_stats.rate_limited, client_stats.retries) == (1, 1)
    assert stats.rate_limited == 1
    assert stats.current_rate == CAP  # a single 429 pauses the key; it does not slow it down
    assert stats.granted - stats.stale == 21  # every attempt took a slot, the retry included
    key_id = fake.key_info(key).id
    arrivals = sorted((a for a in fake.arrivals if a.key_id == key_id), key=lambda a: a.time)
    first_429 = next(a for a in arrivals if a.status == 429)
    later = [a.time for a in arrivals if a.time > first_429.time]
    assert later  # the other 19 calls and the retry went after it ...
    assert min(later) - first_429.time >= 1.0  # ... once the Retry-After pause was over


async def test_an_unpaced_client_on_the_same_key_makes_the_governor_pause() -> None:
    async with FakeTightknit(rate_limit=CAP) as fake:
        key = fake.add_key()
        async with (
            AsyncTightknit(api_key=key, base_url=fake.url, rate_limit=None, max_retries=0) as rogue,
            paced(fake, key) as tk,
        ):
            # The rogue uses up the key's window; our paced client then meets its 429.
            await asyncio.gather(*(rogue.request("GET", FEEDS) for _ in range(CAP)))
            replies = await asyncio.gather(*(tk.request("GET", FEEDS) for _ in range(10)))
            assert tk.governor is not None
            stats = tk.governor.statistics()
            client_stats = tk.statistics()
    assert [r.status_code for r in replies] == [200] * 10
    assert stats.rate_limited >= 1  # it saw the 429 (one, unless a second was already in flight)
    # Every 429 went to our client, and each was fed back to its governor.
    assert fake.stats.rate_limited == client_stats.rate_limited == stats.rate_limited
    key_id = fake.key_info(key).id
    ours = sorted((a for a in fake.arrivals if a.key_id == key_id), key=lambda a: a.time)
    first_429 = next(a for a in ours if a.status == 429)
    retried = [a.time for a in ours if a.time > first_429.time]
    assert not retried or min(retried) - first_429.time >= 1.0  # paused for the Retry-After


# -- a network with jitter --------------------------------------------------------------------


async def test_the_fake_network_holds_each_request_before_the_server_counts_it() -> None:
    async with FakeTightknit(rate_limit=CAP, network_delay=(0.05, 0.05)) as fake:
        assert fake.network_delay == (0.05, 0.05)
        key = fake.add_key()
        async with AsyncTightknit(api_key=key, base_url=fake.url, rate_limit=None) as tk:
            sent = time.monotonic()
            await tk.request("GET", FEEDS)
        (arrival,) = arrival_times(fake, key)
        assert arrival - sent >= 0.05 - 0.001  # timed (and counted) once the delay is over
        fake.network_delay = None  # live: the next requests go straight through
        assert fake.network_delay is None


def test_network_delays_are_uniform_within_bounds_and_repeat_with_the_seed() -> None:
    draws = [NetworkDelay((0.0, 0.05), seed=7).draw() for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]
    network = NetworkDelay((0.01, 0.05), seed=7)
    delays = [network.draw() for _ in range(500)]
    assert all(0.01 <= d <= 0.05 for d in delays)
    assert len(set(delays)) == 500
    again = NetworkDelay((0.01, 0.05), seed=7)
    assert [again.draw() for _ in range(500)] == delays
    assert NetworkDelay().draw() == 0.0
    assert NetworkDelay((0.02, 0.02)).draw() == 0.02


@pytest.mark.parametrize(
    ("bounds", "error"),
    [
        ((0.05, 0.01), ValueError),
        ((-0.01, 0.05), ValueError),
        ((0.0, float("inf")), TypeError),
        ((0.0,), TypeError),
        (("0", "1"), TypeError),
        ((True, 1), TypeError),
        (0.05, TypeError),
    ],
)
def test_network_delay_bounds_are_checked(bounds: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="network_delay"):
        FakeTightknit(network_delay=bounds)  # type: ignore[arg-type]
    fake = FakeTightknit()
    with pytest.raises(error, match="network_delay"):
        fake.network_delay = bounds  # type: ignore[assignment]


def test_serve_fake_takes_jitter_ms(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _parser().parse_args(["serve-fake"]).jitter_ms == 0.0
    assert _parser().parse_args(["serve-fake", "--jitter-ms", "50"]).jitter_ms == 50.0
    calls: list[tuple[int, tuple[float, float] | None]] = []

    async def serve(port: int, host: str = "127.0.0.1", **options: object) -> None:
        calls.append((port, cast("tuple[float, float] | None", options.get("network_delay"))))

    monkeypatch.setattr("tightknit_async.testing.serve_forever", serve)
    assert main(["serve-fake", "--jitter-ms", "50", "--port", "9"]) == 0
    assert main(["serve-fake"]) == 0
    assert calls == [(9, (0.0, 0.05)), (8040, None)]
    assert main(["serve-fake", "--jitter-ms", "-1"]) == 2
    assert main(["serve-fake", "--jitter-ms", "nan"]) == 2


async def test_serve_forever_says_the_requests_are_delayed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tightknit_async.testing import serve_forever

    task = asyncio.create_task(serve_forever(0, network_delay=(0.0, 0.025)))
    printed = ""
    for _ in range(200):
        await asyncio.sleep(0.01)
        printed += capsys.readouterr().out
        if "TIGHTKNIT_API_KEY=" in printed:
            break
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert "Every request is delayed 0 to 25 ms before the server sees it" in printed


async def test_the_client_through_50_ms_of_jitter_earns_no_429() -> None:
    """The governor allows 50 ms of delay between grant and arrival. The fake shares this event
    loop, so its own sleeps end late when the loop is busy (a loaded CI machine: several ms),
    and that lateness counts at the server as delay just as the network's does: the network
    draws up to 40 ms and leaves the rest of the 50 to the loop. `benchmarks/jitter.py` runs
    the full 50 ms with the fake in a process of its own."""
    async with FakeTightknit(rate_limit=CAP, network_delay=(0.0, 0.04)) as fake:
        key = fake.add_key()
        async with paced(fake, key, max_retries=0) as tk:  # a 429 would raise, not be retried
            replies = await asyncio.gather(*(tk.request("GET", FEEDS) for _ in range(160)))
    assert [r.status_code for r in replies] == [200] * 160
    assert fake.stats.rate_limited == 0
    assert fake.max_in_window(1.0) <= CAP  # at the server's arrival times, after the delays


# -- many keys on one saturated event loop --------------------------------------------------------

KEYS = 50
LOAD_SECONDS = 2.0
JITTER = 0.25


def _serve_keys(conn: Connection) -> None:
    """A fake with ``KEYS`` keys and 0 to 30 ms of network delay, in a process of its own.

    The rest of the governor's budget is left to the fake's own queue: it shares this machine's
    cores with the client and gets busy too, and it times a request only once its loop gets to
    it, which counts as delay on the way in just as the network's does. It sends back every
    arrival as (time, key's index, status, the request's tag).
    """

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        fake = FakeTightknit(rate_limit=CAP, network_delay=(0.0, 0.03), seed_data=False)
        async with fake:
            keys = [fake.add_key() for _ in range(KEYS)]
            index = {fake.key_info(key).id: i for i, key in enumerate(keys)}
            conn.send((fake.url, keys))
            await loop.run_in_executor(None, conn.recv)
            conn.send(
                [(a.time, index[a.key_id], a.status, a.idempotency_key) for a in fake.arrivals]
            )

    asyncio.run(serve())


_Arrival = tuple[float, bool, bool]
"""One arrival of a key at the server: (time, answered 429, arrived more than the jitter after
its grant)."""


def _unexplained(arrivals: list[_Arrival]) -> list[str]:
    """What the governor's guarantee forbids among one key's ``arrivals`` (sorted by time): a
    window ``[t, t + 1 s)`` holding more than ``CAP``, or a 429, with no request that broke the
    assumption (arrived more than the jitter after its grant) within a second of that window.

    A late request is excused beyond its own window: its answer, matched to the wrong grant,
    can take the bound of a request granted after it was sent off the book, and that request
    arrives within about a round trip and the jitter of it.
    """
    times = [at for at, _, _ in arrivals]
    late = [at for at, _, broke in arrivals if broke]

    def excused(start: float, end: float) -> bool:  # a late arrival in [start - 1, end + 1)
        return bisect.bisect_left(late, end + 1.0) > bisect.bisect_left(late, start - 1.0)

    found: list[str] = []
    for first, start in enumerate(times):
        last = bisect.bisect_left(times, start + 1.0)
        if last - first > CAP and not excused(start, start + 1.0):
            found.append(f"{last - first} arrivals in [{start:.3f}, {start + 1:.3f})")
    found += [
        f"a 429 at {at:.3f}" for at, limited, _ in arrivals if limited and not excused(at - 1.0, at)
    ]
    return found


def test_unexplained_finds_windows_over_the_cap_and_429s_without_a_late_request() -> None:
    on_time = [(i / (CAP + 1), False, False) for i in range(CAP + 1)]  # 51 in one second
    assert _unexplained(on_time) == ["51 arrivals in [0.000, 1.000)"]
    one_late = [*on_time[:-1], (on_time[-1][0], False, True)]
    assert _unexplained(one_late) == []
    late_before = [(-0.9, False, True), *on_time]  # within a second before the window
    assert _unexplained(late_before) == []
    late_after = [*on_time, (1.95, False, True)]  # within a second after it
    assert _unexplained(late_after) == []
    long_before = [(-1.1, False, True), *on_time]
    assert _unexplained(long_before) == ["51 arrivals in [0.000, 1.000)"]
    spread = [(i * 1.01 / CAP, False, False) for i in range(3 * CAP)]  # at most 50 a second
    assert _unexplained(spread) == []
    limited = [(0.0, False, True), (0.5, False, False), (2.2, True, False)]
    assert _unexplained(limited) == ["a 429 at 2.200"]  # the late one is two seconds before
    assert _unexplained([(0.0, False, True), (1.5, True, False)]) == []


async def test_fifty_keys_on_one_saturated_loop_earn_no_429_the_assumption_allows() -> None:
    """Every key kept at full demand, all on this one event loop, far more than it can serve:
    grants wait on a late loop, sends bunch. Each request is answered through the governor as
    the client does: the answer's elapsed time to ``on_reply``, a 429 to ``on_rate_limited``.

    What is asserted is the guarantee as documented: no window holds more than the cap, and no
    429 comes, unless a request of that key broke the assumption within a second of it,
    arriving more than the jitter after its grant (the host stalled the client between a task's
    turn and its bytes leaving, or stalled the fake). Each request is tagged, so its arrival is
    matched to its grant. On a quiet host no request breaks it; on a shared one a stall can,
    and then only the seconds around it are excused.
    """
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(target=_serve_keys, args=(theirs,), daemon=True)
    server.start()
    try:
        url, keys = cast(tuple[str, list[str]], await asyncio.to_thread(ours.recv))
        loop = asyncio.get_running_loop()
        stop = time.monotonic() + LOAD_SECONDS
        granted: dict[str, float] = {}  # a request's tag -> when its sender got its turn
        limited = 0

        async def key_load(session: aiohttp.ClientSession, key: str) -> None:
            nonlocal limited
            # 200 workers at full demand (2,500 req/s asked of a loop that serves far fewer) on
            # two shared cores: this loop starts woken tasks' sends later than the default's
            # 50 ms assumes (up to ~130 ms beside two CPU hogs). What is tested is the mechanism
            # (timer lateness and replies fed back) with a budget that covers this load, as
            # docs/governor.md advises.
            governor = Governor(CAP, jitter=JITTER)
            headers = {"Authorization": f"Bearer {key}"}

            async def worker() -> None:
                nonlocal limited
                while time.monotonic() < stop:
                    await governor.acquire()
                    tag = str(len(granted))
                    granted[tag] = loop.time()
                    started = time.perf_counter()
                    # A GET ignores an Idempotency-Key; the fake records it: the request's tag.
                    tagged = {**headers, "Idempotency-Key": tag}
                    async with session.get(url + FEEDS, headers=tagged) as response:
                        await response.read()
                    governor.on_reply(time.perf_counter() - started)
                    if response.status == 429:
                        limited += 1
                        governor.on_rate_limited(float(response.headers["Retry-After"]))

            await asyncio.gather(*(worker() for _ in range(4)))

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            await asyncio.gather(*(key_load(session, key) for key in keys))
        ours.send(None)
        arrivals = cast(list[tuple[float, int, int, str]], await asyncio.to_thread(ours.recv))
    finally:
        server.join(10)
        if server.is_alive():
            server.terminate()
    assert sorted(tag for *_, tag in arrivals) == sorted(granted)  # every request, once
    assert len({index for _, index, _, _ in arrivals}) == KEYS  # every key got through
    assert sum(status == 429 for _, _, status, _ in arrivals) == limited
    by_key: dict[int, list[_Arrival]] = {}
    late = 0
    for at, index, status, tag in sorted(arrivals):
        broke = at - granted[tag] > JITTER
        late += broke
        by_key.setdefault(index, []).append((at, status == 429, broke))
    # A host stalled through most of the run would excuse everything: this run tests nothing.
    assert late <= len(arrivals) // 4, f"{late} of {len(arrivals)} requests arrived late"
    unexplained = {index: found for index, ks in by_key.items() if (found := _unexplained(ks))}
    assert unexplained == {}
