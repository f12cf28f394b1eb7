"""The Redis governor's shared side: one API key's schedule in Redis, as one process sees it.

Booking
-------

The slot book lives in Redis (see :mod:`._lua`) and is only ever touched by one Lua script at a
time, on Redis's own clock (``TIME``), so processes on hosts with different clocks share one
schedule. The script is the in-process core's arithmetic (:mod:`._gcra`): GCRA spacing, and a
log of the most recent booked slots that books no slot sooner than ``1 s + margin`` after the
slot ``limit`` places back, so no 1-second window of booked slots ever holds more than
``limit``, whoever booked them. It answers each booking with the slot's time; the process maps
it onto its own clock as ``received + (slot - redis_now)`` (never earlier than Redis meant: the
error is at most one round trip late) and waits for it there (:mod:`._redis_lanes`). One script
call books a batch of waiters' slots.

A slot handed back (its waiter went away) is undone in Redis if it is still the latest booking
of the key; otherwise it stays unused.

``margin`` defaults to 20 ms for Redis (5 ms in process), as the send times of several processes
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
  about half a percent of bulk throughput). Refused bulk bookers are told to come back one
  interval apart, so N processes cost about one refusal per booking rather than N;
* bulk is not starved: after ``bulk_every - 1`` interactive bookings in a row the next bulk
  booking is made at the end of the schedule whatever the horizon (bulk's share), and a refused
  bulk booker asks again after at most ``bulk_every`` intervals to claim it. The share goes
  round robin between processes: to the bulk booker refused longest ago (a sorted set of
  refused bookers; one silent for three re-check periods is dropped), not to whichever asks
  first, which would let one process's timing win it every time.

429s across processes
---------------------

A 429 is reported by a script that sets the pause in Redis (``paused_until``, the lowered rate:
the core's AIMD) and publishes it on ``tightknit:{tag}:gov:pause``. Every process listens
there (:meth:`SharedSchedule.listen`) and learns the pause from every script's reply as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
from collections.abc import Callable
from typing import Literal, NamedTuple

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from .._redis_base import REDIS_ERRORS, Listener, key_prefix
from . import _lua
from ._gcra import MIN_RATE, WINDOW
from ._redis_lanes import Slot
from ._settings import GovernorSettings

__all__ = ["Booking", "Pause", "SharedSchedule"]


class Pause(NamedTuple):
    """A 429 pause of the key as Redis knows it (``-inf`` for none)."""

    local: float
    """Loop time it ends."""
    redis: float
    """Microseconds on Redis's clock it ends."""


class Booking(NamedTuple):
    """The answer to one booking call."""

    received: float
    """Loop time the answer came."""
    pause: Pause
    items: list[Slot | float]
    """Per waiter asked for, in order: its slot, or (refused: the slot lay beyond its max_wait)
    the seconds from now the slot lay. Shorter than asked when a bulk booking stopped at the
    horizon."""
    wake: float | None
    """Bulk: the loop time to ask again (None: nothing was held back)."""


class SharedSchedule:
    """One API key's schedule in Redis: the scripts, their arguments, their replies mapped onto
    this process's clock, and the pause notices of the other processes.

    Args:
        client: the redis-py client to call.
        tag: the key's tag (``sha256(api_key)[:16]``).
        settings: the governor's settings; every process of the key must use the same.
        bulk_horizon: how far ahead bulk bookings may reach (seconds).
    """

    def __init__(
        self,
        client: aioredis.Redis,
        tag: str,
        settings: GovernorSettings,
        *,
        bulk_horizon: float,
    ) -> None:
        self.client = client
        self.settings = settings
        self.limit = settings.new_core().limit
        self.span = WINDOW + settings.margin
        self._span_us = self.span * 1e6
        interval = max(1.0 / settings.rate, self.span / self.limit)
        self._tau_us = (settings.burst - 1) * interval * 1e6
        self._bulk_horizon_us = bulk_horizon * 1e6
        prefix = key_prefix(tag)
        self._keys = (f"{prefix}:gov", f"{prefix}:gov:log")
        self._book_keys = (*self._keys, f"{prefix}:gov:bulkq", f"{prefix}:gov:bulks")
        self._booker_id = secrets.token_hex(8)  # names this process in bulk's share queue
        self.channel = f"{prefix}:gov:pause"
        self.book_script: AsyncScript = client.register_script(_lua.BOOK)
        self.pause_script: AsyncScript = client.register_script(_lua.PAUSE)
        self.release_script: AsyncScript = client.register_script(_lua.RELEASE)
        self.merge_script: AsyncScript = client.register_script(_lua.MERGE)
        self.rate_in_force = settings.rate
        self._last_slot = -math.inf  # loop time of this process's latest booked slot
        self._cold_until = -math.inf  # this process's slots before then open new connections
        self._listener: Listener | None = None
        self._subscriber: asyncio.Task[None] | None = None
        self.round_trips = self.booked = self.refused = self.released = self.unreleased = 0

    # -- the scripts -----------------------------------------------------------------------------

    async def call(self, script: AsyncScript, args: list[str | int | float]) -> object:
        """One script call: one round trip."""
        self.round_trips += 1
        keys = self._book_keys if script is self.book_script else self._keys
        return await script(keys=keys, args=args)

    async def book(
        self, lane: Literal["i", "b"], max_waits: list[float | None], sent_at: float
    ) -> Booking:
        """Book one slot per entry of ``max_waits`` (seconds left at loop time ``sent_at``;
        ``None``: no bound) in the lane, in one round trip.

        Raises:
            RedisError, OSError: Redis failed.
        """
        loop = asyncio.get_running_loop()
        if sent_at - self._last_slot >= WINDOW:  # nothing sent for a window: new connections
            self._cold_until = sent_at + WINDOW
        reply = await self.call(
            self.book_script, self.book_args(lane, max_waits, self._cold_until - sent_at)
        )
        received = loop.time()
        assert isinstance(reply, list)
        redis_now, pause = self._learn(received, reply)
        items: list[Slot | float] = []
        for item in reply[4:]:
            text = item.decode()
            at = float(text[1:].partition("|")[0])
            if text[0] == "s":
                self.booked += 1
                slot = Slot(received + (at - redis_now) / 1e6, at, text.partition("|")[2])
                self._last_slot = max(self._last_slot, slot.local)
                items.append(slot)
            else:
                self.refused += 1
                items.append((at - redis_now) / 1e6)
        wake = reply[3]
        return Booking(
            received, pause, items, received + (float(wake) - redis_now) / 1e6 if wake else None
        )

    async def report(self, pause: float) -> Pause:
        """Set a 429 pause of ``pause`` seconds in Redis, lower the shared rate and tell every
        process. Returns the pause in force.

        Raises:
            RedisError, OSError: Redis failed.
        """
        reply = await self.call(self.pause_script, self.pause_args(pause))
        assert isinstance(reply, list)
        return self._learn(asyncio.get_running_loop().time(), reply)[1]

    async def release(self, slots: list[Slot]) -> None:
        """Hand back ``slots`` (latest first); those still the latest bookings are undone.

        Raises:
            RedisError, OSError: Redis failed.
        """
        undone = await self.call(self.release_script, self.release_args([s.text for s in slots]))
        assert isinstance(undone, int)
        self.released += undone
        self.unreleased += len(slots) - undone

    async def merge(self, ages: list[float]) -> None:
        """Write sends made without Redis, ``ages`` seconds ago, into the shared log.

        Raises:
            RedisError, OSError: Redis failed.
        """
        await self.call(self.merge_script, [self.limit, *(repr(age * 1e6) for age in ages)])

    async def ping(self) -> None:
        """Check that Redis answers.

        Raises:
            RedisError, OSError: it did not.
        """
        self.round_trips += 1
        await self.client.ping()

    def book_args(
        self, lane: Literal["i", "b"], max_waits: list[float | None], cold_for: float = 0.0
    ) -> list[str | int | float]:
        """The BOOK script's arguments: one slot per entry of ``max_waits`` (seconds); slots
        sooner than ``cold_for`` seconds from now are this process's cold start."""
        settings = self.settings
        return [
            lane,
            repr(settings.rate),
            self.limit,
            repr(self._span_us),
            repr(self._tau_us),
            repr(settings.recovery),
            repr(self._bulk_horizon_us),
            settings.bulk_every,
            repr(settings.cold_margin * 1e6),
            repr(max(0.0, cold_for) * 1e6),
            self._booker_id,
            *(-1 if wait is None else repr(max(0.0, wait) * 1e6) for wait in max_waits),
        ]

    def pause_args(self, pause: float) -> list[str | int | float]:
        """The PAUSE script's arguments for a pause of ``pause`` seconds."""
        settings = self.settings
        return [
            repr(pause * 1e6),
            repr(settings.rate),
            repr(settings.decrease),
            repr(MIN_RATE),
            repr(settings.recovery),
            repr(self._tau_us),
            self.channel,
        ]

    def release_args(self, texts: list[str]) -> list[str | int | float]:
        """The RELEASE script's arguments for the slots ``texts`` (latest first)."""
        settings = self.settings
        head: list[str | int | float] = [self.limit, repr(settings.rate), repr(self._span_us)]
        return [*head, repr(settings.recovery), *texts]

    def _learn(self, received: float, reply: list[bytes]) -> tuple[float, Pause]:
        """Take the shared rate and pause from a script's reply; return Redis's ``now`` too."""
        redis_now, paused = float(reply[0]), float(reply[1])
        self.rate_in_force = float(reply[2])
        if paused <= redis_now:
            return redis_now, Pause(-math.inf, -math.inf)
        return redis_now, Pause(received + (paused - redis_now) / 1e6, paused)

    # -- pause notices from the other processes ------------------------------------------------

    def listen(self, on_pause: Callable[[Pause], None], *, retry_after: float) -> None:
        """Listen for the pauses published on the key's channel, calling ``on_pause`` for each.

        Subscribes in the background, once: a missed notice only means this process learns of
        the pause from its next booking instead. A failed subscription is tried again by the
        next call after ``retry_after`` seconds.
        """
        if self._listener is not None:
            return
        loop = asyncio.get_running_loop()

        def on_message(channel: bytes, data: bytes) -> None:
            try:
                paused_text, now_text = data.split()
                paused, redis_now = float(paused_text), float(now_text)
            except ValueError:
                return
            on_pause(Pause(loop.time() + (paused - redis_now) / 1e6, paused))

        listener = self._listener = Listener(
            self.client,
            channel=self.channel,
            on_message=on_message,
            retry_after=retry_after,
            name="tightknit-pause-listener",
        )

        async def start() -> None:
            with contextlib.suppress(*REDIS_ERRORS):
                await listener.start()
                return
            await asyncio.sleep(retry_after)
            if self._listener is listener:
                self._listener = None

        self._subscriber = loop.create_task(start(), name="tightknit-pause-subscribe")

    async def aclose(self) -> None:
        """Stop listening. Idempotent."""
        subscriber, self._subscriber = self._subscriber, None
        if subscriber is not None and not subscriber.done():
            subscriber.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await subscriber
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.aclose()
