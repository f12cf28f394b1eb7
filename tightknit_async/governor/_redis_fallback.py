"""The Redis governor's local fallback: the process paces one API key alone while Redis is down.

With ``fallback_workers=N``, a governor whose Redis calls fail (unreachable, refused, slower than
its timeout) does not fail its waiters: it grants them from a local slot book at ``rate / N``,
so that N processes on their fallbacks stay under the cap together, and probes Redis every
``probe_interval`` seconds. When Redis answers again it writes the sends it made meanwhile into
the shared log and books there again.

One fallback per key and process
--------------------------------

The local slot book is the process's, not a governor's: every ``RedisGovernor`` of the key in
this process, on whatever event loop or thread, draws from the same :class:`Fallback`
(:func:`fallback_for`). So K clients of one key send at most ``rate / N`` together on the
fallback, whatever K is. It is a :class:`~._gcra.GCRA` on ``time.monotonic()`` behind a
thread lock; each governor waits for its slots on its own loop, on its own timer, and takes a
slot only once it is free (:meth:`Fallback.take`), so no loop ever waits on another. The outage
is the process's too: it is logged once (a WARNING when the first governor of the key leaves
Redis, another when the last one is back), and the first governor to find Redis back wakes the
others' probes, so the process goes back to the shared schedule together.

The switch
----------

The switch costs about a second: slots already booked in Redis (by every process) are still
sent, so the fallback grants nothing until ``1 s + margin`` after the later of the failure and
the latest slot a governor of the process held. That keeps the cap through the switch as long
as no process had booked much further ahead than the others (bulk never books more than
``bulk_horizon`` ahead; a process with a deep interactive queue may). Going back, the cap holds
once every worker is back on Redis; while some still pace on their fallback (for up to
``probe_interval``), the 429 feedback catches an overshoot.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Callable
from typing import Final
from weakref import WeakValueDictionary

from ._redis_lanes import CLOCK_RESOLUTION
from ._settings import GovernorSettings

__all__ = ["Fallback", "fallback_for"]

logger: Final = logging.getLogger("tightknit_async")


class Fallback:
    """The local pacing of one API key in this process while Redis is unreachable.

    Thread-safe; times are ``time.monotonic()`` seconds. Governors :meth:`enter` it when their
    Redis calls fail and :meth:`leave` it when Redis answers again (or they close).

    Args:
        tag: the key's tag (``sha256(api_key)[:16]``), for the log.
        settings: the governors' settings (the fallback paces at ``settings.rate / workers``).
        workers: how many processes share the key's cap while Redis is down.
    """

    def __init__(self, tag: str, settings: GovernorSettings, workers: int) -> None:
        self.tag = tag
        self.settings = settings
        self.workers = workers
        self.rate = settings.rate / workers
        burst = min(settings.burst, max(1, math.floor(self.rate)))
        self._core = dataclasses.replace(settings, rate=self.rate, burst=burst).new_core()
        self._lock = threading.Lock()
        self._members: dict[int, Callable[[], None]] = {}  # id(governor) -> wake its probe
        self._from = -math.inf  # nothing is granted before this
        self._grants = 0  # grants of the current outage

    def enter(
        self, member: object, wake: Callable[[], None], not_before: float, address: str, why: str
    ) -> None:
        """``member`` paces on the fallback from now on, granting nothing before
        ``not_before``; ``wake()`` (thread-safe) makes it probe Redis at once. The first
        member of an outage logs it (``why``: what failed)."""
        with self._lock:
            first = not self._members
            self._members[id(member)] = wake
            self._from = max(self._from, not_before)
            if first:
                self._grants = 0
        if first:
            logger.warning(
                "rate governor: Redis at %s is unreachable (%s): this process paces key "
                "sha256:%s alone at %.4g req/s (%g / %d workers) until it is back",
                address,
                why,
                self.tag[:8],
                self.rate,
                self.settings.rate,
                self.workers,
            )

    def leave(self, member: object, *, back: bool, address: str = "") -> None:
        """``member`` paces through Redis again (``back``) or closed. When Redis is back, the
        other members are woken to check it; the last member to leave logs the outage's end."""
        with self._lock:
            if self._members.pop(id(member), None) is None:
                return
            others = list(self._members.values()) if back else []
            last = not self._members
            grants = self._grants
        for wake in others:
            wake()
        if last and back:
            logger.warning(
                "rate governor: Redis at %s answers again: key sha256:%s is paced through it "
                "again (%d grants were made on the local fallback meanwhile)",
                address,
                self.tag[:8],
                grants,
            )

    def next_free(self) -> float:
        """The earliest time a slot may be free (another loop may take it first)."""
        with self._lock:
            return max(self._from, self._core.earliest())

    def projected(self, now: float, ahead: int) -> float:
        """A lower bound on the slot of a request with ``ahead`` requests before it."""
        with self._lock:
            return max(self._from, self._core.projected(now, ahead))

    def take(self, now: float) -> bool:
        """Take a slot if one is free at ``now``; never waits."""
        with self._lock:
            if max(self._from, self._core.earliest()) > now + CLOCK_RESOLUTION:
                return False
            self._core.book(now)
            self._grants += 1
            return True

    def rate_limited(self, now: float, pause: float) -> None:
        """A 429 while on the fallback: pause ``pause`` seconds and lower the rate (AIMD)."""
        with self._lock:
            self._core.rate_limited(now, pause)

    def __repr__(self) -> str:
        return (
            f"<Fallback key=tightknit:{{{self.tag}}} rate={self.rate:.4g}/s "
            f"({self.settings.rate:g} / {self.workers} workers) members={len(self._members)}>"
        )


_fallbacks: WeakValueDictionary[str, Fallback] = WeakValueDictionary()
_registry_lock = threading.Lock()  # governors on other threads' loops may be made meanwhile


def fallback_for(tag: str, settings: GovernorSettings, workers: int) -> Fallback:
    """The fallback every Redis governor of the key ``tag`` in this process shares.

    Held weakly: it lives as long as a governor of the key does.

    Raises:
        ValueError: the key's fallback in this process runs with other settings or another
            number of workers (it names them; never the key).
    """
    with _registry_lock:
        fallback = _fallbacks.get(tag)
        if fallback is None:
            fallback = _fallbacks[tag] = Fallback(tag, settings, workers)
            return fallback
        differences = [
            f"{field.name}={getattr(fallback.settings, field.name)!r}, asked "
            f"{getattr(settings, field.name)!r}"
            for field in dataclasses.fields(settings)
            if getattr(fallback.settings, field.name) != getattr(settings, field.name)
        ]
        if fallback.workers != workers:
            differences.append(f"fallback_workers={fallback.workers!r}, asked {workers!r}")
        if differences:
            raise ValueError(
                "this API key already has a Redis governor with a local fallback in this "
                f"process with other settings ({', '.join(differences)}); every client and "
                "governor of one key must use the same settings"
            )
        return fallback
