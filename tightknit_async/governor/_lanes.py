"""The lane order both governor drivers serve their waiters in, sans-IO.

Two FIFO lanes, ``interactive`` and ``bulk``. ``interactive`` waiters are served before queued
``bulk`` ones, except that ``bulk`` gets one grant in every ``bulk_every`` while both lanes
wait: after ``bulk_every - 1`` interactive grants in a row with bulk waiting, the next one is
bulk. A waiter can be withdrawn from anywhere in its lane, and :meth:`LaneQueue.ahead` says how
many queued waiters the order serves before a new one.

:class:`LaneQueue` only orders: it never waits, grants or times anything. Each driver keys its
waiters by whatever identifies them (both use the waiter's future) and stores beside the key
what it needs back when the waiter is served.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, ValuesView
from typing import Generic, TypeVar

from .._types import Priority

__all__ = ["LaneQueue"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _never(_key: object) -> bool:
    return False


class LaneQueue(Generic[K, V]):
    """Waiters in two FIFO lanes, served in lane order; one grant in ``bulk_every`` goes to bulk
    while both lanes wait.

    Args:
        bulk_every: bulk gets one grant in this many while both lanes wait (``>= 2``).
        gone: says of a queued waiter's key that it no longer waits (it was cancelled, but has not
            been withdrawn yet); :meth:`pop` drops such waiters without serving them. Until they
            are withdrawn or dropped they still count in the lengths and in :meth:`ahead`.

    Raises:
        ValueError: ``bulk_every`` below 2.
    """

    __slots__ = ("_bulk", "_bulk_every", "_gone", "_interactive", "_lanes", "_streak", "granted")

    def __init__(self, bulk_every: int, *, gone: Callable[[K], bool] = _never) -> None:
        if bulk_every < 2:
            raise ValueError(f"bulk_every must be >= 2, got {bulk_every!r}")
        self._bulk_every = bulk_every
        self._gone = gone
        self._interactive: OrderedDict[K, V] = OrderedDict()
        self._bulk: OrderedDict[K, V] = OrderedDict()
        self._lanes: dict[Priority, OrderedDict[K, V]] = {
            "interactive": self._interactive,
            "bulk": self._bulk,
        }
        self._streak = 0  # interactive grants since the last bulk one, counted while bulk waits
        self.granted: dict[Priority, int] = {"interactive": 0, "bulk": 0}
        """Grants per lane, as the driver counts them (:meth:`count_grant`)."""

    def check(self, priority: Priority) -> Priority:
        """``priority`` itself, if it names a lane.

        Raises:
            ValueError: an unknown ``priority``.
        """
        if priority not in self._lanes:
            raise ValueError(f"priority must be 'interactive' or 'bulk', got {priority!r}")
        return priority

    def push(self, priority: Priority, key: K, value: V) -> None:
        """Queue the waiter ``key`` (carrying ``value``) at the end of the ``priority`` lane.

        Raises:
            ValueError: an unknown ``priority``.
        """
        self._lanes[self.check(priority)][key] = value

    def withdraw(self, priority: Priority, key: K) -> bool:
        """Take the waiter ``key`` out of the ``priority`` lane, wherever it stands; whether it
        was queued there."""
        lane = self._lanes[priority]
        if key not in lane:
            return False
        del lane[key]
        return True

    def pop(self) -> tuple[K, V, Priority] | None:
        """Dequeue the waiter to serve next, in lane order (dropping the ones that are gone);
        ``None`` once no waiter is left."""
        interactive, bulk = self._interactive, self._bulk
        while interactive or bulk:
            take_bulk = bool(bulk) and (not interactive or self._streak >= self._bulk_every - 1)
            priority: Priority = "bulk" if take_bulk else "interactive"
            key, value = self._lanes[priority].popitem(last=False)
            if self._gone(key):
                continue
            self._streak = self._streak + 1 if bulk and not take_bulk else 0
            return key, value, priority
        return None

    def ahead(self, priority: Priority) -> int:
        """How many queued waiters the lane order serves before a new ``priority`` waiter.

        Exact if nobody else arrives or leaves: bulk is served after ``bulk_every - 1``
        interactive grants in a row, counting from the current streak.
        """
        queued_interactive, queued_bulk = len(self._interactive), len(self._bulk)
        run = self._bulk_every - 1
        if priority == "interactive":
            return queued_interactive + min(queued_bulk, (self._streak + queued_interactive) // run)
        interleaved = max(0, run - self._streak) + queued_bulk * run
        return queued_bulk + min(queued_interactive, interleaved)

    def count(self, priority: Priority) -> int:
        """Waiters queued in the ``priority`` lane."""
        return len(self._lanes[priority])

    def values(self, priority: Priority) -> ValuesView[V]:
        """What the waiters of the ``priority`` lane carry, first queued first."""
        return self._lanes[priority].values()

    def count_grant(self, priority: Priority) -> None:
        """Count a grant in the ``priority`` lane (:attr:`granted`)."""
        self.granted[priority] += 1

    def __len__(self) -> int:
        """Waiters queued in both lanes."""
        return len(self._interactive) + len(self._bulk)

    def __bool__(self) -> bool:
        return bool(self._interactive or self._bulk)

    def __repr__(self) -> str:
        return (
            f"<LaneQueue waiting={len(self._interactive)}+{len(self._bulk)} "
            f"bulk_every={self._bulk_every} streak={self._streak}>"
        )
