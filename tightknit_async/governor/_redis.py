"""The Redis rate governor: one slot book per API key in Redis, shared by every process and host.

Booking
-------

The slot book lives in Redis (see :mod:`._lua`) and is only ever touched by one Lua script at a
time, on Redis's own clock (``TIME``), so processes on hosts with different clocks share one
schedule. The script is the in-process core's arithmetic (:mod:`._gcra`): GCRA spacing, and a
log of the most recent booked slots that books no slot sooner than ``1 s + margin`` after the
slot ``limit`` places back, so no 1-second window of booked slots ever holds more than
``limit``, whoever booked them. It answers each booking with the slot's time; the process maps
it onto its own clock as ``received + (slot - redis_now)`` (never earlier than Redis meant: the
error is at most one round trip late) and sleeps until then on one ``loop.call_at`` timer. No
polling: one script call per batch of waiters, then local timers.

A process keeps its booked slots in a local pool that its waiters draw from in lane order
(interactive first, bulk one in ``round(1 / bulk_share)`` while both wait, FIFO within a lane),
and books only what its waiters lack, in batches of up to 64 per round trip. So:

* a waiter cancelled (or timed out) before its slot hands the slot to the next waiter of the
  process; with nobody left, the surplus slot is handed back to Redis, where it is undone if it
  is still the latest booking of the key (else it stays unused, as does a slot that came due
  with nobody to take it);
* a slot that comes due more than ``margin / 2`` late (a blocked event loop) is not used: its
  sender would no longer be ``1 s + margin`` after the slot ``limit`` places before it; the
  waiter books again. The other half of the margin covers the mapping error (one round trip)
  and the way to the server.

``margin`` defaults to 20 ms here (5 ms in process), as the send times of several processes
jitter more than one's: throughput ``limit / (1 + margin)``, 49.0/s at 50/s (98 %). The core's
cold-start allowance applies too (slots of a first window are logged ``cold_margin`` later),
for the key's cold start and for each process's own: a process that sent nothing for a window
opens new connections even while the others keep the key busy.

Lanes across processes
----------------------

Slots are booked when a process needs them, so a booked slot cannot be taken back for a later,
more urgent request. Hence:

* **interactive** bookings go at the end of the shared schedule at once, however far ahead
  (``max_wait`` bounds that: a slot beyond it is refused, not booked);
* **bulk** bookings are only made for slots within ``bulk_horizon`` (50 ms) of now. Beyond
  that the script books nothing and names a time to ask again, so bulk keeps at most the
  horizon's worth of slots booked ahead, and an interactive request in any process waits
  behind at most that much bulk: about ``bulk_horizon`` plus one interval while bulk
  saturates the key (60-70 ms at the defaults; ``bulk_horizon=0.025`` keeps it under 50 ms for
  about half a percent of bulk throughput). Refused bulk bookers are told to come back one interval
  apart, so N processes cost about one refusal per booking rather than N;
* bulk is not starved: after ``bulk_every - 1`` interactive bookings in a row the next bulk
  booking is made at the end of the schedule whatever the horizon (bulk's share), and a refused
  bulk booker asks again after at most ``bulk_every`` intervals to claim it. The share goes
  round robin between processes: to the bulk booker refused longest ago (a sorted set of
  refused bookers; one silent for three re-check periods is dropped), not to whichever asks
  first, which would let one process's timing win it every time.

429s across processes
---------------------

:meth:`RedisGovernor.on_rate_limited` pauses this process at once (its booked slots inside the
pause are dropped and booked again), and has a script set the pause in Redis (``paused_until``,
the lowered rate: the core's AIMD) and publish it on ``tightknit:{tag}:gov:pause``. Every
process listens there: it drops its own booked slots that fall inside the pause and books them
again (after it, at the lowered rate). A request already on its way when the 429 lands cannot be
recalled; everything granted later waits.

When Redis fails
----------------

A booking that fails (unreachable, refused, or slower than ``timeout``) raises
:class:`GovernorUnavailableError` in every waiter that had no slot yet (slots already booked
are still used). With ``fallback_workers=N`` instead, the process logs a WARNING and paces itself
with a local :class:`~tightknit_async.governor.Governor` at ``rate / N`` (N processes stay under
the cap together), probes Redis every ``probe_interval`` seconds, and when Redis answers again
writes the sends it made meanwhile into the shared log and goes back to it (another WARNING).

The switch costs about a second: slots already booked in Redis (by every process) are still
sent, so the fallback grants nothing until ``1 s + margin`` after the later of the failure and
the process's own last booked slot. That keeps the cap through the switch as long as no process
had booked much further ahead than the others (bulk never books more than ``bulk_horizon``
ahead; a process with a deep interactive queue may). Going back, the cap holds once every
worker is back on Redis; while some still pace on their fallback (for up to
``probe_interval``), the 429 feedback catches an overshoot.

Caveats
-------

* Every process of one key must use the same settings (rate, margin, burst, ...): each script
  call carries the caller's.
* ``TIME`` is Redis's wall clock: a slewed clock is harmless, a clock *stepped* forward by ``s``
  lets slots booked around the step come up to ``s`` closer together.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import heapq
import itertools
import logging
import math
import random
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple, Self, TypeAlias, Unpack

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from .._exceptions import (
    GovernorTimeoutError,
    GovernorUnavailableError,
    WrongEventLoopError,
)
from .._redis_base import (
    DEFAULT_REDIS_TIMEOUT,
    REDIS_ERRORS,
    Listener,
    connect,
    key_prefix,
    key_tag,
)
from .._types import Priority
from . import _lua
from ._gcra import MIN_RATE, WINDOW
from ._local import Governor
from ._protocol import GovernorStatistics
from ._settings import GovernorOptions, GovernorSettings

__all__ = [
    "DEFAULT_BULK_HORIZON",
    "DEFAULT_PROBE_INTERVAL",
    "DEFAULT_REDIS_MARGIN",
    "GovernorUnavailableError",
    "RedisGovernor",
    "RedisGovernorStatistics",
]

logger: Final = logging.getLogger("tightknit_async")

DEFAULT_REDIS_MARGIN: Final = 0.02
"""Seconds of slack per window: covers the mapping of Redis's clock (a round trip), timer
lateness and the way to the server, which differ from process to process (measured: up to
about 10 ms together on one loaded host)."""

DEFAULT_BULK_HORIZON: Final = 0.05
"""Bulk bookings reach at most this many seconds ahead; interactive ones wait behind no more."""

DEFAULT_PROBE_INTERVAL: Final = 1.0
"""Seconds between checks whether Redis answers again, while on the local fallback."""

_MAX_BATCH: Final = 64
"""Slots booked per script call at most."""

_WAIT_SAMPLE: Final = 1024
_CLOCK_RESOLUTION: Final = time.get_clock_info("monotonic").resolution
_RELEASE_LEAD: Final = 0.002
"""A surplus slot due sooner than this is left to pass rather than handed back."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisGovernorStatistics:
    """What one :class:`RedisGovernor` did in Redis, since creation.

    Attributes:
        mode: ``"redis"``, or ``"fallback"`` while pacing on the local fallback.
        round_trips: script calls and probes sent to Redis.
        booked: slots booked in Redis.
        refused: bookings refused because the slot lay beyond the waiter's ``max_wait``
            (nothing was booked for them).
        released: surplus slots handed back to Redis and undone there.
        unused: booked slots that came due with nobody to take them, or were handed back but
            could not be undone.
        stale: booked slots not used because they came due more than ``margin / 2`` late.
        dropped: booked slots dropped because a 429 pause covered them.
        failures: Redis calls that failed.
        fallback_grants: grants made by the local fallback.
        mean_lateness: mean seconds from a booked slot's local time to its grant (recent).
        p99_lateness: the 99th percentile of the same.
    """

    mode: Literal["redis", "fallback"]
    round_trips: int
    booked: int
    refused: int
    released: int
    unused: int
    stale: int
    dropped: int
    failures: int
    fallback_grants: int
    mean_lateness: float
    p99_lateness: float


class _UseFallback(Exception):
    """Tells a waiter that Redis failed and the local fallback serves it now."""


@dataclass(eq=False, slots=True)
class _Waiter:
    future: asyncio.Future[None]
    priority: Priority
    since: float
    max_wait: float | None


class _Slot(NamedTuple):
    local: float
    """Loop time to send at."""
    redis: float
    """Microseconds on Redis's clock."""
    text: str
    """The slot as the log holds it (later for a cold start), to hand it back."""


_Lane: TypeAlias = OrderedDict[asyncio.Future[None], _Waiter]
_Deadline: TypeAlias = tuple[float, int, _Waiter]


class RedisGovernor:
    """Paces the requests of one API key across processes and hosts through Redis.

    The guarantee is the in-process governor's, for every process booking through the same
    Redis with the same settings: of the grants they make, no window of one second holds more
    than ``limit = max(1, floor(rate))`` (each send made within ``margin / 2`` of its slot).
    The module docstring explains the scheme: bookings, lanes, 429s and Redis failures.

    Use one per API key per process and event loop, and close it (``await gov.aclose()`` or
    ``async with``). Pass it to clients as ``AsyncTightknit(governor=gov)``.

    Args:
        redis: a ``redis://`` URL (the governor owns the connection pool it creates), or a
            redis-py asyncio client (closed by :meth:`aclose` only if ``owns_client``).
        api_key: the key paced; Redis only sees ``sha256(api_key)[:16]``.
        rate: requests per second across every process (> 0).
        fallback_workers: opt-in local fallback when Redis fails: pace this process at
            ``rate / fallback_workers``. ``None`` raises :class:`GovernorUnavailableError`.
        probe_interval: seconds between checks for Redis while on the fallback.
        bulk_horizon: how far ahead bulk bookings may reach (seconds, >= 0).
        timeout: seconds a Redis call may take (only when ``redis`` is a URL).
        owns_client: close a client passed as ``redis`` in :meth:`aclose`.
        **options: the :class:`GovernorSettings` fields; ``margin`` defaults to 0.02 here.

    Raises:
        ValueError: a setting out of range.
    """

    def __init__(
        self,
        redis: str | aioredis.Redis,
        api_key: str,
        rate: float,
        *,
        fallback_workers: int | None = None,
        probe_interval: float = DEFAULT_PROBE_INTERVAL,
        bulk_horizon: float = DEFAULT_BULK_HORIZON,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
        owns_client: bool = False,
        **options: Unpack[GovernorOptions],
    ) -> None:
        options.setdefault("margin", DEFAULT_REDIS_MARGIN)
        self.settings = GovernorSettings(rate=rate, **options)
        core = self.settings.new_core()
        if not (math.isfinite(bulk_horizon) and bulk_horizon >= 0):
            raise ValueError(f"bulk_horizon must be a finite number >= 0, got {bulk_horizon!r}")
        if not (math.isfinite(probe_interval) and probe_interval > 0):
            raise ValueError(f"probe_interval must be a finite number > 0, got {probe_interval!r}")
        self._fallback: Governor | None = None
        if fallback_workers is not None:
            if isinstance(fallback_workers, bool) or not (
                isinstance(fallback_workers, int) and fallback_workers >= 1
            ):
                raise ValueError(f"fallback_workers must be an int >= 1, got {fallback_workers!r}")
            share = rate / fallback_workers
            burst = min(self.settings.burst, max(1, math.floor(share)))
            fallback_options: GovernorOptions = {**options, "burst": burst}
            self._fallback = Governor(share, **fallback_options)
        self.fallback_workers = fallback_workers
        self.probe_interval = float(probe_interval)
        self.bulk_horizon = float(bulk_horizon)
        if isinstance(redis, str):
            self._client = connect(redis, timeout=timeout)
            self._owns_client = True
        else:
            self._client = redis
            self._owns_client = owns_client
        self.tag = key_tag(api_key)
        prefix = key_prefix(self.tag)
        self._keys = (f"{prefix}:gov", f"{prefix}:gov:log")
        self._book_keys = (*self._keys, f"{prefix}:gov:bulkq", f"{prefix}:gov:bulks")
        self._booker_id = secrets.token_hex(8)  # names this governor in bulk's share queue
        self._channel = f"{prefix}:gov:pause"
        self._book_script: AsyncScript = self._client.register_script(_lua.BOOK)
        self._pause_script: AsyncScript = self._client.register_script(_lua.PAUSE)
        self._release_script: AsyncScript = self._client.register_script(_lua.RELEASE)
        self._merge_script: AsyncScript = self._client.register_script(_lua.MERGE)

        settings = self.settings
        self._limit = core.limit
        span = 1.0 + settings.margin
        self._span_us = span * 1e6
        self._tau_us = (settings.burst - 1) * max(1.0 / settings.rate, span / core.limit) * 1e6
        self._tolerance = settings.margin / 2
        self._bulk_every = settings.bulk_every

        self._loop: asyncio.AbstractEventLoop | None = None
        self._interactive: _Lane = OrderedDict()
        self._bulk: _Lane = OrderedDict()
        self._lanes: dict[Priority, _Lane] = {"interactive": self._interactive, "bulk": self._bulk}
        self._streak = 0
        self._held: list[_Slot] = []
        self._deadlines: list[_Deadline] = []
        self._sequence = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._booker: asyncio.Task[None] | None = None
        self._kick_future: asyncio.Future[None] | None = None
        self._bulk_wake = -math.inf
        self._reports: list[float] = []
        self._listener: Listener | None = None
        self._subscriber: asyncio.Task[None] | None = None
        self._prober: asyncio.Task[None] | None = None
        self._back: asyncio.Future[None] | None = None
        self._fallback_from = -math.inf  # the fallback grants nothing before this loop time
        self._closed = False

        self._last_slot = -math.inf  # loop time of this process's latest booked slot
        self._cold_until = -math.inf  # this process's slots before then open new connections
        self._pause_local = -math.inf  # nothing is granted before this loop time
        self._pause_redis = -math.inf  # the pause known from Redis, on Redis's clock (µs)
        self._rate_in_force = float(rate)
        self._recent: deque[float] = deque(maxlen=2 * core.limit)  # loop times of grants

        self._granted: dict[Priority, int] = {"interactive": 0, "bulk": 0}
        self._timed_out = self._rate_limited = 0
        self._round_trips = self._booked = self._refused = self._released = 0
        self._unused = self._stale = self._dropped = self._failures = self._fallback_grants = 0
        self._waits: deque[float] = deque(maxlen=_WAIT_SAMPLE)
        self._lateness: deque[float] = deque(maxlen=_WAIT_SAMPLE)

    # -- the RateGovernor protocol ---------------------------------------------------------------

    async def acquire(
        self, priority: Priority = "interactive", *, max_wait: float | None = None
    ) -> None:
        """Wait in the ``priority`` lane until one request may be sent.

        Args:
            priority: ``"interactive"`` (served first) or ``"bulk"``.
            max_wait: the longest the caller will wait, in seconds (``None``: no bound; negative
                counts as 0). A slot further off than this is not booked: the call raises as
                soon as Redis says so (one round trip), and otherwise at ``max_wait``.

        Raises:
            GovernorTimeoutError: no slot within ``max_wait``.
            GovernorUnavailableError: Redis failed and no fallback is configured (or the
                governor is closed).
            WrongEventLoopError: the governor belongs to another event loop.
            ValueError: an unknown ``priority``.

        Cancelling the caller withdraws it: its booked slot goes to the next waiter of this
        process, or back to Redis.
        """
        loop = self._bind()
        lane = self._lane(priority)
        self._check_open()
        started = loop.time()
        if max_wait is not None:
            max_wait = max(0.0, max_wait)
        if self._fallback_active() and await self._acquire_fallback(priority, max_wait, started):
            return
        self._start_listener(loop)
        if self._grant_now(loop.time(), priority):
            return
        waiter = _Waiter(loop.create_future(), priority, started, max_wait)
        lane[waiter.future] = waiter
        if max_wait is not None:
            entry = (started + max_wait, next(self._sequence), waiter)
            heapq.heappush(self._deadlines, entry)
        self._kick()
        self._arm(loop)
        try:
            await waiter.future
        except _UseFallback:
            remaining = None if max_wait is None else max_wait - (loop.time() - started)
            if await self._acquire_fallback(priority, remaining, loop.time()):
                return
            await self.acquire(priority, max_wait=remaining)  # Redis is back
        except BaseException:
            self._withdraw(loop, waiter, lane)
            raise

    def try_acquire_nowait(self, priority: Priority = "interactive") -> bool:
        """Take a slot if this process holds a spare one due now; never waits or calls Redis.

        Booking needs a round trip, so this succeeds only with a slot already booked and left
        spare (a waiter went away), or on the local fallback when it has one free.

        Raises:
            WrongEventLoopError: the governor belongs to another event loop.
            RuntimeError: called outside a running event loop.
            ValueError: an unknown ``priority``.
        """
        loop = self._bind()
        self._lane(priority)
        if self._fallback_active():
            assert self._fallback is not None
            if self._fallback.try_acquire_nowait(priority):
                self._record_grant(priority, 0.0, loop.time(), fallback=True)
                return True
            return False
        return self._grant_now(loop.time(), priority)

    def on_rate_limited(self, retry_after: float | None = None) -> None:
        """Report a 429: pause every process of this key and lower the shared rate for a while.

        This process stops at once; a script then sets the pause and the lowered rate in Redis
        and publishes the pause to the other processes (see the module docstring). The pause is
        ``retry_after`` seconds (``default_pause`` when ``None``) stretched by a random
        ``[0, pause_jitter)`` fraction.

        Raises:
            WrongEventLoopError: the governor belongs to another event loop.
            RuntimeError: called outside a running event loop.
        """
        loop = self._bind()
        now = loop.time()
        settings = self.settings
        pause = settings.default_pause if retry_after is None else max(0.0, retry_after)
        pause *= 1.0 + settings.pause_jitter * random.random()
        self._rate_limited += 1
        if self._fallback is not None and self._fallback_active():
            self._fallback.on_rate_limited(retry_after)
        self._pause_local = max(self._pause_local, now + pause)
        self._drop_held(lambda slot: slot.local < self._pause_local)
        if not self._closed:
            self._reports.append(pause)
            self._kick()
        self._arm(loop)

    def statistics(self) -> GovernorStatistics:
        """A snapshot: grants and waiters of this process, the shared rate and pause it knows."""
        now = self._loop.time() if self._loop is not None else 0.0
        waits = sorted(self._waits)
        return GovernorStatistics(
            rate=self.settings.rate,
            current_rate=self._rate_in_force,
            granted_interactive=self._granted["interactive"],
            granted_bulk=self._granted["bulk"],
            waiting_interactive=len(self._interactive),
            waiting_bulk=len(self._bulk),
            timed_out=self._timed_out,
            rate_limited=self._rate_limited,
            paused_for=max(0.0, self._pause_local - now),
            mean_wait=math.fsum(waits) / len(waits) if waits else 0.0,
            p99_wait=_p99(waits),
        )

    def redis_statistics(self) -> RedisGovernorStatistics:
        """What this governor did in Redis: round trips, bookings, slots unused, failures."""
        lateness = sorted(self._lateness)
        return RedisGovernorStatistics(
            mode="fallback" if self._fallback_active() else "redis",
            round_trips=self._round_trips,
            booked=self._booked,
            refused=self._refused,
            released=self._released,
            unused=self._unused,
            stale=self._stale,
            dropped=self._dropped,
            failures=self._failures,
            fallback_grants=self._fallback_grants,
            mean_lateness=math.fsum(lateness) / len(lateness) if lateness else 0.0,
            p99_lateness=_p99(lateness),
        )

    def __repr__(self) -> str:
        stats = self.statistics()
        mode = "fallback" if self._fallback_active() else "redis"
        return (
            f"<RedisGovernor key=tightknit:{{{self.tag}}} rate={stats.rate:g}/s "
            f"current_rate={stats.current_rate:.4g}/s mode={mode} "
            f"waiting={stats.waiting_interactive}+{stats.waiting_bulk} held={len(self._held)} "
            f"granted={stats.granted} paused_for={stats.paused_for:.3f}s"
            f"{' closed' if self._closed else ''}>"
        )

    # -- lifecycle ---------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop the background tasks, fail the waiters, close the Redis client if owned.

        Idempotent. Waiters still queued raise :class:`GovernorUnavailableError`.
        """
        if self._closed:
            return
        self._closed = True
        for task in (self._booker, self._prober, self._subscriber):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._booker = self._prober = self._subscriber = None
        if self._listener is not None:
            await self._listener.aclose()
            self._listener = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for lane in (self._interactive, self._bulk):
            for waiter in list(lane.values()):
                self._fail(waiter, GovernorUnavailableError("the RedisGovernor was closed"))
        self._held.clear()
        self._deadlines.clear()
        if self._back is not None and not self._back.done():
            self._back.set_result(None)
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- local state -------------------------------------------------------------------------------

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise WrongEventLoopError(
                "this RedisGovernor belongs to another event loop: use one per event loop"
            )
        return loop

    def _check_open(self) -> None:
        if self._closed:
            raise GovernorUnavailableError("this RedisGovernor is closed")

    def _lane(self, priority: Priority) -> _Lane:
        lane = self._lanes.get(priority)
        if lane is None:
            raise ValueError(f"priority must be 'interactive' or 'bulk', got {priority!r}")
        return lane

    def _fallback_active(self) -> bool:
        return self._back is not None

    def _grant_now(self, now: float, priority: Priority) -> bool:
        """Serve the queue first; then grant the caller a spare held slot due now, if any."""
        return self._grant_due(now, priority)

    def _record_grant(
        self, priority: Priority, wait: float, now: float, *, fallback: bool = False
    ) -> None:
        self._granted[priority] += 1
        self._waits.append(wait)
        self._recent.append(now)
        self._fallback_grants += fallback

    def _hold(self, slot: _Slot) -> None:
        if not self._held or self._held[-1].local <= slot.local:
            self._held.append(slot)
        else:
            bisect.insort(self._held, slot)

    def _drop_held(self, covered: Callable[[_Slot], bool]) -> None:
        """Drop the held slots for which ``covered(slot)`` holds (inside a pause)."""
        kept = [slot for slot in self._held if not covered(slot)]
        self._dropped += len(self._held) - len(kept)
        self._held = kept

    def _pop_next(self) -> _Waiter | None:
        """The waiter to serve next: interactive first, bulk one in ``bulk_every``."""
        interactive, bulk = self._interactive, self._bulk
        while interactive or bulk:
            take_bulk = bool(bulk) and (not interactive or self._streak >= self._bulk_every - 1)
            lane = bulk if take_bulk else interactive
            _, waiter = lane.popitem(last=False)
            if waiter.future.done():
                continue
            self._streak = self._streak + 1 if bulk and not take_bulk else 0
            return waiter
        return None

    def _grant_due(self, now: float, caller: Priority | None = None) -> bool:
        """Hand the held slots that are due to the waiters, in lane order; a slot left over
        goes to ``caller`` (not queued: it asks right now), if given. Returns whether it did."""
        if now < self._pause_local:
            return False
        held = self._held
        while held and held[0].local <= now + _CLOCK_RESOLUTION:
            slot = held.pop(0)
            if now - slot.local > self._tolerance:
                self._stale += 1
                continue
            self._lateness.append(max(0.0, now - slot.local))
            waiter = self._pop_next()
            if waiter is not None:
                self._record_grant(waiter.priority, now - waiter.since, now)
                waiter.future.set_result(None)
            elif caller is not None:
                self._record_grant(caller, 0.0, now)
                return True
            else:
                self._lateness.pop()
                self._unused += 1
        return False

    def _expire(self, now: float) -> None:
        """Fail the waiters whose ``max_wait`` has run out."""
        heap = self._deadlines
        while heap and heap[0][0] <= now + _CLOCK_RESOLUTION:
            _, _, waiter = heapq.heappop(heap)
            if waiter.future.done():
                continue
            assert waiter.max_wait is not None
            self._lanes[waiter.priority].pop(waiter.future, None)
            self._timed_out += 1
            waiter.future.set_exception(
                GovernorTimeoutError(
                    f"rate governor (Redis): no send slot within max_wait="
                    f"{waiter.max_wait:.3f}s for a {waiter.priority} request "
                    f"({self._rate_note(now)})",
                    wait=now - waiter.since,
                    deadline=waiter.max_wait,
                )
            )

    def _rate_note(self, now: float) -> str:
        note = f"shared rate {self._rate_in_force:.4g}/s"
        paused_for = self._pause_local - now
        return f"{note}, paused for {paused_for:.3f}s after a 429" if paused_for > 0 else note

    def _fail(self, waiter: _Waiter, error: BaseException) -> None:
        self._lanes[waiter.priority].pop(waiter.future, None)
        if not waiter.future.done():
            waiter.future.set_exception(error)

    def _withdraw(self, loop: asyncio.AbstractEventLoop, waiter: _Waiter, lane: _Lane) -> None:
        """Clean up after a waiter that raised (cancelled, timed out, or failed)."""
        if loop.is_closed():
            return
        if lane.pop(waiter.future, None) is not None:
            waiter.future.cancel()
        elif not waiter.future.cancelled() and waiter.future.exception() is None:
            # Granted, then cancelled before it could run: the slot is due now, pass it on.
            heir = self._pop_next()
            if heir is not None:
                self._record_grant(heir.priority, loop.time() - heir.since, loop.time())
                heir.future.set_result(None)
            else:
                self._unused += 1
        self._kick()
        self._arm(loop)

    def _uncovered(self) -> tuple[list[_Waiter], list[_Waiter]]:
        """The waiters, per lane, that the held slots do not cover (in lane order: interactive
        waiters are covered first); the latest arrivals of each lane."""
        held = len(self._held)
        interactive = len(self._interactive) - held
        bulk = len(self._bulk) - max(0, held - len(self._interactive))
        return (
            list(self._interactive.values())[-interactive:] if interactive > 0 else [],
            list(self._bulk.values())[-bulk:] if bulk > 0 else [],
        )

    def _surplus(self, now: float) -> list[_Slot]:
        """Take the latest held slots that no waiter needs, if they are still ahead."""
        excess = len(self._held) - len(self._interactive) - len(self._bulk)
        spare: list[_Slot] = []
        while excess > 0 and self._held and self._held[-1].local > now + _RELEASE_LEAD:
            spare.append(self._held.pop())
            excess -= 1
        return spare

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Aim the one timer at the next held slot or waiter deadline."""
        when: float | None = None
        if self._held:
            when = max(self._held[0].local, self._pause_local)
        heap = self._deadlines
        while heap and heap[0][2].future.done():
            heapq.heappop(heap)
        if heap:
            when = heap[0][0] if when is None else min(when, heap[0][0])
        timer = self._timer
        if timer is not None:
            if timer.when() == when:
                return
            timer.cancel()
            self._timer = None
        if when is not None and not self._closed:
            self._timer = loop.call_at(when, self._on_timer, loop)

    def _on_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        self._grant_due(now)
        self._expire(now)
        if len(self._held) != len(self._interactive) + len(self._bulk):
            self._kick()  # waiters to book for, or spare slots to hand back
        self._arm(loop)

    # -- the booker: the one task that talks to Redis for bookings -------------------------------

    def _kick(self) -> None:
        """Make sure the booker looks at the waiters (starting it if it is idle)."""
        if self._closed or self._loop is None:
            return
        if self._booker is None or self._booker.done():
            self._booker = self._loop.create_task(self._book_loop(), name="tightknit-booker")
        elif self._kick_future is not None and not self._kick_future.done():
            self._kick_future.set_result(None)

    async def _book_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            try:
                if self._reports:
                    await self._report()
                    continue
                if self._fallback_active():
                    self._evacuate()
                    return
                interactive, bulk = self._uncovered()
                now = loop.time()
                if interactive:
                    await self._book("i", interactive)
                    continue
                if bulk and now >= self._bulk_wake:
                    await self._book("b", bulk)
                    continue
                spare = self._surplus(now)
                if spare:
                    await self._release(spare)
                    continue
            except REDIS_ERRORS as exc:
                self._redis_failed(loop, exc)
                return  # the next acquire (or the probe, on the fallback) starts over
            if not bulk:
                return
            self._kick_future = loop.create_future()
            try:
                async with asyncio.timeout_at(self._bulk_wake):
                    await self._kick_future
            except TimeoutError:
                pass
            finally:
                self._kick_future = None

    async def _call(self, script: AsyncScript, args: list[str | int | float]) -> object:
        self._round_trips += 1
        keys = self._book_keys if script is self._book_script else self._keys
        return await script(keys=keys, args=args)

    async def _book(self, lane: Literal["i", "b"], waiters: list[_Waiter]) -> None:
        loop = asyncio.get_running_loop()
        batch = waiters[:_MAX_BATCH]
        sent_at = loop.time()
        max_waits = [
            None if waiter.max_wait is None else waiter.max_wait - (sent_at - waiter.since)
            for waiter in batch
        ]
        if sent_at - self._last_slot >= WINDOW:  # nothing sent for a window: new connections
            self._cold_until = sent_at + WINDOW
        args = self._book_args(lane, max_waits, self._cold_until - sent_at)
        reply = await self._call(self._book_script, args)
        received = loop.time()
        assert isinstance(reply, list)
        redis_now = self._learn(received, reply)
        wake = reply[3]
        for waiter, item in zip(batch, reply[4:], strict=False):
            text = item.decode()
            at = float(text[1:].partition("|")[0])
            if text[0] == "s":
                self._booked += 1
                slot = _Slot(received + (at - redis_now) / 1e6, at, text.partition("|")[2])
                self._last_slot = max(self._last_slot, slot.local)
                if slot.local < self._pause_local or at < self._pause_redis:
                    self._dropped += 1
                else:
                    self._hold(slot)
                continue
            self._refused += 1
            if waiter.future.done():
                continue
            assert waiter.max_wait is not None
            self._timed_out += 1
            wait = waiter.max_wait - (sent_at - waiter.since) + (at - redis_now) / 1e6
            self._fail(
                waiter,
                GovernorTimeoutError(
                    f"rate governor (Redis): a {waiter.priority} request would wait "
                    f"{(at - redis_now) / 1e6:.3f}s more for a send slot, longer than "
                    f"max_wait={waiter.max_wait:.3f}s ({self._rate_note(received)})",
                    wait=wait,
                    deadline=waiter.max_wait,
                ),
            )
        if lane == "b":
            self._bulk_wake = received + (float(wake) - redis_now) / 1e6 if wake else -math.inf
        self._grant_due(received)
        self._arm(loop)

    def _book_args(
        self, lane: Literal["i", "b"], max_waits: list[float | None], cold_for: float = 0.0
    ) -> list[str | int | float]:
        """The BOOK script's arguments: one slot per entry of ``max_waits`` (seconds); slots
        sooner than ``cold_for`` seconds from now are this process's cold start."""
        settings = self.settings
        return [
            lane,
            repr(settings.rate),
            self._limit,
            repr(self._span_us),
            repr(self._tau_us),
            repr(settings.recovery),
            repr(self.bulk_horizon * 1e6),
            self._bulk_every,
            repr(settings.cold_margin * 1e6),
            repr(max(0.0, cold_for) * 1e6),
            self._booker_id,
            *(-1 if wait is None else repr(max(0.0, wait) * 1e6) for wait in max_waits),
        ]

    def _pause_args(self, pause: float) -> list[str | int | float]:
        """The PAUSE script's arguments for a pause of ``pause`` seconds."""
        settings = self.settings
        return [
            repr(pause * 1e6),
            repr(settings.rate),
            repr(settings.decrease),
            repr(MIN_RATE),
            repr(settings.recovery),
            repr(self._tau_us),
            self._channel,
        ]

    def _release_args(self, texts: list[str]) -> list[str | int | float]:
        """The RELEASE script's arguments for the slots ``texts`` (latest first)."""
        settings = self.settings
        head: list[str | int | float] = [self._limit, repr(settings.rate), repr(self._span_us)]
        return [*head, repr(settings.recovery), *texts]

    def _learn(self, received: float, reply: list[bytes]) -> float:
        """Take the shared pause and rate from a script's reply; return Redis's ``now``."""
        redis_now, paused = float(reply[0]), float(reply[1])
        self._rate_in_force = float(reply[2])
        if paused > redis_now:
            self._pause_redis = max(self._pause_redis, paused)
            self._pause_local = max(self._pause_local, received + (paused - redis_now) / 1e6)
        return redis_now

    async def _report(self) -> None:
        pause, self._reports = max(self._reports), []
        try:
            reply = await self._call(self._pause_script, self._pause_args(pause))
        except BaseException:
            self._reports.append(pause)  # report it once Redis answers
            raise
        assert isinstance(reply, list)
        self._learn(asyncio.get_running_loop().time(), reply)
        self._drop_held(lambda slot: slot.redis < self._pause_redis)

    async def _release(self, spare: list[_Slot]) -> None:
        args = self._release_args([slot.text for slot in spare])
        undone = await self._call(self._release_script, args)
        assert isinstance(undone, int)
        self._released += undone
        self._unused += len(spare) - undone

    # -- pause notices from the other processes ------------------------------------------------

    def _start_listener(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._listener is not None or self._closed:
            return
        listener = self._listener = Listener(
            self._client,
            channel=self._channel,
            on_message=self._on_pause_notice,
            retry_after=self.probe_interval,
            name="tightknit-pause-listener",
        )

        async def start() -> None:
            # Subscribing runs in the background: a missed notice only means this process
            # learns of the pause from its next booking instead.
            with contextlib.suppress(*REDIS_ERRORS):
                await listener.start()
                return
            await asyncio.sleep(self.probe_interval)
            if self._listener is listener:
                self._listener = None

        self._subscriber = loop.create_task(start(), name="tightknit-pause-subscribe")

    def _on_pause_notice(self, channel: bytes, data: bytes) -> None:
        loop = self._loop
        if loop is None or self._closed:
            return
        try:
            paused_text, now_text = data.split()
            paused, redis_now = float(paused_text), float(now_text)
        except ValueError:
            return
        if paused <= self._pause_redis:
            return
        self._pause_redis = paused
        self._pause_local = max(self._pause_local, loop.time() + (paused - redis_now) / 1e6)
        self._drop_held(lambda slot: slot.redis < paused)
        if self._interactive or self._bulk:
            self._kick()
        self._arm(loop)

    # -- Redis failures and the local fallback ---------------------------------------------------

    def _redis_failed(self, loop: asyncio.AbstractEventLoop, exc: BaseException) -> None:
        self._failures += 1
        interactive, bulk = self._uncovered()
        if self._fallback is None:
            for waiter in interactive + bulk:
                error = GovernorUnavailableError(
                    f"rate governor: Redis is unavailable ({type(exc).__name__}: {exc}); no send "
                    "slot can be booked (pass fallback_workers=N to pace locally meanwhile)"
                )
                error.__cause__ = exc
                self._fail(waiter, error)
            return
        if self._fallback_active():
            return
        self._back = loop.create_future()
        # The slots booked in Redis, by every process, are still being sent: the fallback starts
        # one window after them (as far as this process knows: its own last booked slot).
        last = max(loop.time(), self._held[-1].local if self._held else -math.inf)
        self._fallback_from = last + self._span_us / 1e6
        logger.warning(
            "rate governor: Redis is unavailable (%s: %s); pacing this process alone with a "
            "local governor at %.4g/s (rate %g / %d workers) until Redis answers again",
            type(exc).__name__,
            exc,
            self.settings.rate / (self.fallback_workers or 1),
            self.settings.rate,
            self.fallback_workers,
        )
        self._prober = loop.create_task(self._probe(), name="tightknit-redis-probe")
        self._evacuate()

    def _evacuate(self) -> None:
        """Send the waiters that hold no slot to the local fallback."""
        interactive, bulk = self._uncovered()
        for waiter in interactive + bulk:
            self._fail(waiter, _UseFallback())

    async def _acquire_fallback(
        self, priority: Priority, max_wait: float | None, started: float
    ) -> bool:
        """Wait on the local fallback until granted (True) or Redis is back (False)."""
        loop = asyncio.get_running_loop()
        fallback = self._fallback
        assert fallback is not None
        while (back := self._back) is not None:
            self._check_open()
            now = loop.time()
            remaining = None if max_wait is None else max_wait - (now - started)
            blackout = self._fallback_from - now
            if blackout > 0:
                if remaining is not None and blackout > remaining:
                    self._timed_out += 1
                    raise GovernorTimeoutError(
                        f"rate governor (local fallback): no send slot for {blackout:.3f}s "
                        f"while the slots booked in Redis pass, longer than "
                        f"max_wait={max_wait:.3f}s",
                        wait=blackout,
                        deadline=max_wait if max_wait is not None else 0.0,
                    )
                await asyncio.wait((back,), timeout=blackout)
                continue
            task = loop.create_task(fallback.acquire(priority, max_wait=remaining))
            try:
                await asyncio.wait((task, back), return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not task.done():
                    task.cancel()
                    await asyncio.wait((task,))
            if task.cancelled():
                continue  # Redis is back: book there
            task.result()  # GovernorTimeoutError
            now = loop.time()
            self._record_grant(priority, now - started, now, fallback=True)
            return True
        return False

    async def _probe(self) -> None:
        """While on the fallback: ping Redis until it answers, then go back to it."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.probe_interval)
            try:
                self._round_trips += 1
                await self._client.ping()
                now = loop.time()
                span = self._span_us / 1e6
                ages = [repr((now - t) * 1e6) for t in self._recent if now - t < span]
                if ages:
                    await self._call(self._merge_script, [self._limit, *ages])
            except REDIS_ERRORS:
                self._failures += 1
                continue
            break
        logger.warning(
            "rate governor: Redis answers again; leaving the local fallback for the shared "
            "governor (%d grants were made locally meanwhile)",
            self._fallback_grants,
        )
        back, self._back = self._back, None
        self._prober = None
        if back is not None and not back.done():
            back.set_result(None)
        self._kick()


def _p99(ordered: list[float]) -> float:
    return ordered[math.ceil(0.99 * len(ordered)) - 1] if ordered else 0.0
