"""The Redis rate governor: one schedule per API key in Redis, shared by every process and host.

The guarantee is the in-process governor's, for every process booking through the same Redis
with the same settings: of the grants they make, no window of one second holds more than
``limit = max(1, floor(rate))``. :class:`RedisGovernor` drives three parts, each in a module of
its own::

    _redis_schedule.py   SharedSchedule   the key's schedule in Redis: booking on Redis's clock,
                                          the lanes across processes, 429 pauses for everyone
    _redis_lanes.py      Lanes            this process's waiters in two lanes, and the slots
                                          it holds for them
    _redis_fallback.py   Fallback         the process's own pacing of the key while Redis is
                                          unreachable (opt-in), shared by all its governors

and three things that run: one ``loop.call_at`` timer, aimed at the next held slot or waiter
deadline, grants the slots as they come due (no polling); one booker task books in Redis what
the waiters lack, in batches of up to 64 slots per round trip, reports 429s and hands surplus
slots back; and, on the fallback only, a probe task that checks for Redis. A call that finds a
spare slot due costs no round trip; a call that queues costs its share of one booking.

A 429 (:meth:`RedisGovernor.on_rate_limited`) pauses this process at once (its held slots
inside the pause are dropped and booked again) and is reported to Redis, which lowers the
shared rate and tells every process. A request already on its way when the 429 lands cannot be
recalled; everything granted later waits.

When Redis fails
----------------

A booking that fails (unreachable, refused, slower than ``timeout``, or no free pooled
connection in time) raises :class:`GovernorUnavailableError` in every waiter that had no slot
yet (slots already held are still used). With ``fallback_workers=N`` the process paces the key
on its local fallback instead (:mod:`._redis_fallback`) until Redis answers again.

Caveats
-------

* Every process of one key must use the same settings (rate, margin, burst, ...): each script
  call carries the caller's.
* ``TIME`` is Redis's wall clock: a slewed clock is harmless, a clock *stepped* forward by ``s``
  lets slots booked around the step come up to ``s`` closer together.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from dataclasses import dataclass
from typing import Final, Literal, Self, Unpack

import redis.asyncio as aioredis

from .._exceptions import (
    GovernorTimeoutError,
    GovernorUnavailableError,
    WrongEventLoopError,
)
from .._redis_base import (
    DEFAULT_REDIS_MAX_CONNECTIONS,
    DEFAULT_REDIS_TIMEOUT,
    REDIS_ERRORS,
    connect,
    describe_failure,
    key_tag,
    redis_address,
)
from .._types import Priority
from ._protocol import GovernorStatistics
from ._redis_fallback import Fallback, fallback_for
from ._redis_lanes import Lanes, Slot, Waiter
from ._redis_schedule import Pause, SharedSchedule
from ._settings import GovernorOptions, GovernorSettings

__all__ = [
    "DEFAULT_BULK_HORIZON",
    "DEFAULT_PROBE_INTERVAL",
    "DEFAULT_REDIS_MARGIN",
    "GovernorUnavailableError",
    "RedisGovernor",
    "RedisGovernorStatistics",
]

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


class RedisGovernor:
    """Paces the requests of one API key across processes and hosts through Redis.

    The guarantee is the in-process governor's, for every process booking through the same
    Redis with the same settings: of the grants they make, no window of one second holds more
    than ``limit = max(1, floor(rate))`` (each send made within ``margin / 2`` of its slot).
    The module docstrings explain the scheme: this one the parts, :mod:`._redis_schedule` the
    bookings, lanes and 429s, :mod:`._redis_fallback` the local fallback.

    Use one per API key per process and event loop, and close it (``await gov.aclose()`` or
    ``async with``). Pass it to clients as ``AsyncTightknit(governor=gov)``.

    Args:
        redis: a ``redis://`` URL (the governor owns the connection pool it creates), or a
            redis-py asyncio client (closed by :meth:`aclose` only if ``owns_client``).
        api_key: the key paced; Redis only sees ``sha256(api_key)[:16]``.
        rate: requests per second across every process (> 0).
        fallback_workers: opt-in local fallback when Redis fails: this process (all its
            governors of the key together) paces at ``rate / fallback_workers``. ``None``
            raises :class:`GovernorUnavailableError`.
        probe_interval: seconds between checks for Redis while on the fallback.
        bulk_horizon: how far ahead bulk bookings may reach (seconds, >= 0).
        timeout: seconds a Redis call may take (only when ``redis`` is a URL).
        max_connections: connections the pool opens for commands (only when ``redis`` is a
            URL; the governor sends one command at a time).
        owns_client: close a client passed as ``redis`` in :meth:`aclose`.
        **options: the :class:`GovernorSettings` fields; ``margin`` defaults to 0.02 here.

    Raises:
        ValueError: a setting out of range, or (with ``fallback_workers``) other settings than
            another governor of the key in this process has.
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
        max_connections: int = DEFAULT_REDIS_MAX_CONNECTIONS,
        owns_client: bool = False,
        **options: Unpack[GovernorOptions],
    ) -> None:
        options.setdefault("margin", DEFAULT_REDIS_MARGIN)
        self.settings = settings = GovernorSettings(rate=rate, **options)
        if not (math.isfinite(bulk_horizon) and bulk_horizon >= 0):
            raise ValueError(f"bulk_horizon must be a finite number >= 0, got {bulk_horizon!r}")
        if not (math.isfinite(probe_interval) and probe_interval > 0):
            raise ValueError(f"probe_interval must be a finite number > 0, got {probe_interval!r}")
        self.tag = key_tag(api_key)
        self._fallback: Fallback | None = None
        if fallback_workers is not None:
            if isinstance(fallback_workers, bool) or not (
                isinstance(fallback_workers, int) and fallback_workers >= 1
            ):
                raise ValueError(f"fallback_workers must be an int >= 1, got {fallback_workers!r}")
            self._fallback = fallback_for(self.tag, settings, fallback_workers)
        self.fallback_workers = fallback_workers
        self.probe_interval = float(probe_interval)
        self.bulk_horizon = float(bulk_horizon)
        if isinstance(redis, str):
            client = connect(redis, timeout=timeout, max_connections=max_connections)
            self._owns_client = True
        else:
            client = redis
            self._owns_client = owns_client
        self._schedule = SharedSchedule(client, self.tag, settings, bulk_horizon=self.bulk_horizon)
        limit = self._schedule.limit
        self._lanes = Lanes(
            bulk_every=settings.bulk_every, tolerance=settings.margin / 2, recent=2 * limit
        )

        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._booker: asyncio.Task[None] | None = None
        self._kick_future: asyncio.Future[None] | None = None
        self._bulk_wake = -math.inf
        self._reports: list[float] = []  # 429 pauses not yet reported to Redis
        self._on_fallback = False
        self._prober: asyncio.Task[None] | None = None
        self._probe_now: asyncio.Event | None = None
        self._closed = False
        self._rate_limited = self._failures = 0

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
        lanes = self._lanes
        lanes.queue.check(priority)
        self._check_open()
        now = loop.time()
        if max_wait is not None:
            max_wait = max(0.0, max_wait)
        if not self._on_fallback:
            self._schedule.listen(self._on_pause, retry_after=self.probe_interval)
        if self._grant_now(now, priority):
            return
        if self._on_fallback and max_wait is not None:
            self._fail_fast_on_fallback(priority, max_wait)
        waiter = lanes.enqueue(loop.create_future(), priority, now, max_wait)
        self._kick()
        self._arm(loop)
        try:
            await waiter.future
        except BaseException:
            self._withdraw(loop, waiter)
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
        self._lanes.queue.check(priority)
        return self._grant_now(loop.time(), priority)

    def on_reply(self, elapsed: float) -> None:
        """Report an answer (see :meth:`RateGovernor.on_reply`); ignored here.

        The shared schedule keeps any ``limit + 1`` grants of the key at least ``1 s + margin``
        apart on grant times, in every process, and does not use answers: one process's answers
        say nothing about the requests the others have in flight.
        """

    def on_rate_limited(self, retry_after: float | None = None) -> None:
        """Report a 429: pause every process of this key and lower the shared rate for a while.

        This process stops at once; a script then sets the pause and the lowered rate in Redis
        and publishes the pause to the other processes. The pause is ``retry_after`` seconds
        (``default_pause`` when ``None``) stretched by a random ``[0, pause_jitter)`` fraction.
        On the local fallback it pauses and slows the fallback too.

        Raises:
            WrongEventLoopError: the governor belongs to another event loop.
            RuntimeError: called outside a running event loop.
        """
        loop = self._bind()
        settings = self.settings
        pause = settings.default_pause if retry_after is None else max(0.0, retry_after)
        pause *= 1.0 + settings.pause_jitter * random.random()
        self._rate_limited += 1
        if self._fallback is not None and self._on_fallback:
            self._fallback.rate_limited(time.monotonic(), pause)
        self._lanes.pause(loop.time() + pause)
        if not self._closed:
            self._reports.append(pause)
            self._kick()
        self._arm(loop)

    def statistics(self) -> GovernorStatistics:
        """A snapshot: grants and waiters of this process, the shared rate and pause it knows."""
        now = self._loop.time() if self._loop is not None else 0.0
        lanes = self._lanes
        waits = sorted(lanes.waits)
        return GovernorStatistics(
            rate=self.settings.rate,
            current_rate=self._schedule.rate_in_force,
            granted_interactive=lanes.queue.granted["interactive"],
            granted_bulk=lanes.queue.granted["bulk"],
            waiting_interactive=lanes.queue.count("interactive"),
            waiting_bulk=lanes.queue.count("bulk"),
            timed_out=lanes.timed_out,
            rate_limited=self._rate_limited,
            paused_for=max(0.0, lanes.pause_local - now),
            mean_wait=math.fsum(waits) / len(waits) if waits else 0.0,
            p99_wait=_p99(waits),
        )

    def redis_statistics(self) -> RedisGovernorStatistics:
        """What this governor did in Redis: round trips, bookings, slots unused, failures."""
        lanes, schedule = self._lanes, self._schedule
        lateness = sorted(lanes.lateness)
        return RedisGovernorStatistics(
            mode="fallback" if self._on_fallback else "redis",
            round_trips=schedule.round_trips,
            booked=schedule.booked,
            refused=schedule.refused,
            released=schedule.released,
            unused=lanes.unused + schedule.unreleased,
            stale=lanes.stale,
            dropped=lanes.dropped,
            failures=self._failures,
            fallback_grants=lanes.fallback_grants,
            mean_lateness=math.fsum(lateness) / len(lateness) if lateness else 0.0,
            p99_lateness=_p99(lateness),
        )

    def __repr__(self) -> str:
        stats = self.statistics()
        mode = "fallback" if self._on_fallback else "redis"
        return (
            f"<RedisGovernor key=tightknit:{{{self.tag}}} rate={stats.rate:g}/s "
            f"current_rate={stats.current_rate:.4g}/s mode={mode} "
            f"waiting={stats.waiting_interactive}+{stats.waiting_bulk} "
            f"held={len(self._lanes.held)} granted={stats.granted} "
            f"paused_for={stats.paused_for:.3f}s{' closed' if self._closed else ''}>"
        )

    # -- lifecycle ---------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop the background tasks, fail the waiters, close the Redis client if owned.

        Idempotent. Waiters still queued raise :class:`GovernorUnavailableError`.
        """
        if self._closed:
            return
        self._closed = True
        for task in (self._booker, self._prober):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._booker = self._prober = None
        await self._schedule.aclose()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._lanes.close(lambda: GovernorUnavailableError("the RedisGovernor was closed"))
        if self._on_fallback and self._fallback is not None:
            self._fallback.leave(self, back=False)
        self._on_fallback = False
        if self._owns_client:
            await self._schedule.client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- waiters and grants ----------------------------------------------------------------------

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

    def _grant_now(self, now: float, priority: Priority) -> bool:
        """Serve the queue first; then grant the caller a spare held slot due now, or on the
        fallback a free slot of its own, if any."""
        if self._lanes.grant_due(now, priority):
            return True
        self._grant_fallback(now)
        fallback = self._fallback
        if not self._on_fallback or fallback is None or self._lanes.waiting:
            return False
        if now < self._lanes.pause_local or not fallback.take(time.monotonic()):
            return False
        self._lanes.record_grant(priority, 0.0, now, fallback=True)
        return True

    def _grant_due(self, now: float) -> None:
        """Grant the held slots that are due, then (on the fallback) the free fallback slots."""
        self._lanes.grant_due(now)
        self._grant_fallback(now)

    def _grant_fallback(self, now: float) -> None:
        """On the fallback, grant its free slots to the waiters no held slot covers."""
        fallback, lanes = self._fallback, self._lanes
        if not self._on_fallback or fallback is None or now < lanes.pause_local:
            return
        while lanes.waiting > len(lanes.held) and fallback.take(time.monotonic()):
            if not lanes.grant_next(now, fallback=True):
                lanes.unused += 1  # the waiters left were all cancelled ones
                return

    def _fail_fast_on_fallback(self, priority: Priority, max_wait: float) -> None:
        """Raise at once when the fallback cannot grant within ``max_wait`` at the earliest."""
        assert self._fallback is not None
        lanes = self._lanes
        now = time.monotonic()
        ahead = max(0, lanes.waiting - len(lanes.held))
        wait = self._fallback.projected(now, ahead) - now
        if wait > max_wait:
            lanes.timed_out += 1
            raise GovernorTimeoutError(
                f"rate governor (local fallback): a {priority} request would wait at least "
                f"{wait:.3f}s for a send slot ({ahead} queued ahead), longer than "
                f"max_wait={max_wait:.3f}s",
                wait=wait,
                deadline=max_wait,
            )

    def _withdraw(self, loop: asyncio.AbstractEventLoop, waiter: Waiter) -> None:
        """Clean up after a waiter that raised (cancelled, timed out, or failed)."""
        if loop.is_closed():
            return
        self._lanes.withdraw(waiter, loop.time())
        self._kick()
        self._arm(loop)

    def _rate_note(self) -> str:
        now = self._loop.time() if self._loop is not None else 0.0
        if self._on_fallback and self._fallback is not None:
            note = f"local fallback at {self._fallback.rate:.4g}/s"
        else:
            note = f"shared rate {self._schedule.rate_in_force:.4g}/s"
        paused_for = self._lanes.pause_local - now
        return f"{note}, paused for {paused_for:.3f}s after a 429" if paused_for > 0 else note

    # -- the timer ---------------------------------------------------------------------------------

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Aim the one timer at the next held slot, waiter deadline, or free fallback slot."""
        lanes = self._lanes
        when = lanes.next_event()
        if self._on_fallback and self._fallback is not None and lanes.waiting > len(lanes.held):
            free = self._fallback.next_free() + (loop.time() - time.monotonic())
            free = max(free, lanes.pause_local)
            when = free if when is None else min(when, free)
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
        self._lanes.expire(now, self._rate_note)
        if len(self._lanes.held) != self._lanes.waiting:
            self._kick()  # waiters to book for, or spare slots to hand back
        self._arm(loop)

    # -- the booker: the one task that talks to Redis for bookings -------------------------------

    def _kick(self) -> None:
        """Make sure the booker looks at the waiters (starting it if it is idle); not while on
        the fallback (the probe kicks it once Redis is back)."""
        if self._closed or self._loop is None or self._on_fallback:
            return
        if self._booker is None or self._booker.done():
            self._booker = self._loop.create_task(self._book_loop(), name="tightknit-booker")
        elif self._kick_future is not None and not self._kick_future.done():
            self._kick_future.set_result(None)

    async def _book_loop(self) -> None:
        loop = asyncio.get_running_loop()
        lanes = self._lanes
        while not self._closed and not self._on_fallback:
            try:
                if self._reports:
                    await self._report()
                    continue
                interactive, bulk = lanes.uncovered()
                now = loop.time()
                if interactive:
                    await self._book("i", interactive)
                    continue
                if bulk and now >= self._bulk_wake:
                    await self._book("b", bulk)
                    continue
                spare = lanes.surplus(now)
                if spare:
                    await self._schedule.release(spare)
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

    async def _book(self, lane: Literal["i", "b"], waiters: list[Waiter]) -> None:
        loop = asyncio.get_running_loop()
        batch = waiters[:_MAX_BATCH]
        sent_at = loop.time()
        max_waits = [
            None if waiter.max_wait is None else waiter.max_wait - (sent_at - waiter.since)
            for waiter in batch
        ]
        booking = await self._schedule.book(lane, max_waits, sent_at)
        lanes = self._lanes
        lanes.pause(booking.pause.local, booking.pause.redis)
        for waiter, item in zip(batch, booking.items, strict=False):
            if isinstance(item, Slot):
                lanes.hold(item)
                continue
            if waiter.future.done():
                continue
            assert waiter.max_wait is not None
            lanes.fail(
                waiter,
                GovernorTimeoutError(
                    f"rate governor (Redis): a {waiter.priority} request would wait "
                    f"{item:.3f}s more for a send slot, longer than "
                    f"max_wait={waiter.max_wait:.3f}s ({self._rate_note()})",
                    wait=waiter.max_wait - (sent_at - waiter.since) + item,
                    deadline=waiter.max_wait,
                ),
                timed_out=True,
            )
        if lane == "b":
            self._bulk_wake = -math.inf if booking.wake is None else booking.wake
        self._grant_due(booking.received)
        self._arm(loop)

    async def _report(self) -> None:
        pause, self._reports = max(self._reports), []
        try:
            shared = await self._schedule.report(pause)
        except BaseException:
            self._reports.append(pause)  # report it once Redis answers
            raise
        self._lanes.pause(shared.local, shared.redis)

    def _on_pause(self, pause: Pause) -> None:
        """A pause another process published: drop the held slots inside it, book them again."""
        loop = self._loop
        if loop is None or self._closed or pause.redis <= self._lanes.pause_redis:
            return
        self._lanes.pause(pause.local, pause.redis)
        if self._lanes.waiting:
            self._kick()
        self._arm(loop)

    # -- Redis failures and the local fallback ---------------------------------------------------

    def _redis_failed(self, loop: asyncio.AbstractEventLoop, exc: BaseException) -> None:
        self._failures += 1
        lanes, fallback = self._lanes, self._fallback
        if fallback is None:
            interactive, bulk = lanes.uncovered()
            for waiter in interactive + bulk:
                error = GovernorUnavailableError(
                    f"rate governor: {describe_failure(exc)}; no send slot can be booked (pass "
                    "fallback_workers=N to pace locally meanwhile)"
                )
                error.__cause__ = exc
                lanes.fail(waiter, error)
            return
        if self._on_fallback:
            return
        self._on_fallback = True
        # The slots booked in Redis, by every process, are still being sent: the fallback starts
        # one window after them (as far as this process knows: its own last held slot).
        last = max(loop.time(), lanes.held[-1].local if lanes.held else -math.inf)
        not_before = last - loop.time() + time.monotonic() + self._schedule.span
        probe_now = self._probe_now = asyncio.Event()

        def wake() -> None:  # from any thread: another governor of the key found Redis back
            with contextlib.suppress(RuntimeError):  # its loop is closed: nothing to wake
                loop.call_soon_threadsafe(probe_now.set)

        address = redis_address(self._schedule.client)
        fallback.enter(self, wake, not_before, address, f"{type(exc).__name__}: {exc}")
        self._prober = loop.create_task(self._probe(), name="tightknit-redis-probe")
        self._arm(loop)

    async def _probe(self) -> None:
        """While on the fallback: ping Redis until it answers, then go back to it."""
        loop = asyncio.get_running_loop()
        schedule, lanes, fallback = self._schedule, self._lanes, self._fallback
        probe_now = self._probe_now
        assert probe_now is not None
        assert fallback is not None
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.probe_interval):
                    await probe_now.wait()
            probe_now.clear()
            try:
                await schedule.ping()
                now = loop.time()
                ages = [now - t for t in lanes.recent if now - t < schedule.span]
                if ages:
                    await schedule.merge(ages)
            except REDIS_ERRORS:
                self._failures += 1
                continue
            break
        self._on_fallback = False
        self._prober = self._probe_now = None
        fallback.leave(self, back=True, address=redis_address(schedule.client))
        self._kick()
        self._arm(loop)


def _p99(ordered: list[float]) -> float:
    return ordered[math.ceil(0.99 * len(ordered)) - 1] if ordered else 0.0
