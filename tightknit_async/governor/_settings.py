"""The governor's policy as a frozen value, and the keyword options that build it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, TypedDict

from ._gcra import (
    DEFAULT_COLD_MARGIN,
    DEFAULT_DECREASE,
    DEFAULT_JITTER,
    DEFAULT_MARGIN,
    DEFAULT_RECOVERY,
    DEFAULT_REPEAT_WINDOW,
    GCRA,
)

__all__ = ["GovernorOptions", "GovernorSettings"]

DEFAULT_BULK_SHARE: Final = 0.1
DEFAULT_PAUSE: Final = 1.0
DEFAULT_PAUSE_JITTER: Final = 0.1


@dataclass(frozen=True, kw_only=True, slots=True)
class GovernorSettings:
    """How one governor paces an API key. Equal settings mean interchangeable governors.

    Attributes:
        rate: requests per second (> 0). No window of one second at the server ever holds more
            than ``limit = max(1, floor(rate))`` of the requests granted, counted when they
            arrive, as long as no request takes more than ``jitter`` longer to get there than
            another (see ``docs/governor.md``).
        burst: grants that may go back to back after idle (``1 <= burst <= limit``); ``1`` spaces
            every grant ``T = max(1 / rate, (1 + margin) / limit)`` apart.
        margin: seconds of slack added to every one-second window (``0 <= margin < 1``), for
            clocks and timers.
        jitter: how much longer one request may take from its grant to reach the server than
            another (``0 <= jitter < 1``): a busy event loop, the send, opening a connection,
            the network. A request not answered yet counts as arriving up to this long after its
            grant (plus however late the governor's own timer ran, for a waiter it released);
            an answer (``on_reply``) narrows that to when it was read. Long-run throughput lies
            between ``limit / (1 + margin + jitter)`` (no answers reported) and ``limit / (1 +
            margin)`` (answers at once). The Redis governor does not use it.
        cold_margin: more allowance for the grants of the first window after a cold start (no
            grant for a whole window), whose requests open new connections: for paths where
            that takes longer than ``jitter`` covers (0 by default). Costs at most ``jitter +
            cold_margin`` once per cold start (``0 <= cold_margin < 1``).
        bulk_share: the least share of grants the ``bulk`` lane gets while both lanes wait
            (``0 < bulk_share <= 0.5``), applied as one grant in every ``round(1 / bulk_share)``.
        decrease: a 429 that repeats (see ``repeat_window``) multiplies the rate in force by this
            (``0 < decrease <= 1``). A single 429 only pauses.
        recovery: after a lowering pause the rate climbs back by ``recovery * rate`` per second
            (> 0).
        repeat_window: a 429 that comes this many seconds or less after the previous 429's pause
            ended is a repeat and lowers the rate (``>= 0``); 429s during a pause, or within a
            second of the 429 that started it, only extend it.
        default_pause: the pause after a 429 without ``Retry-After`` (seconds, >= 0).
        pause_jitter: every pause is stretched by a random fraction in ``[0, pause_jitter)`` so
            that the senders of one key do not come back in step (``>= 0``).

    Raises:
        ValueError: for a value out of range.
    """

    rate: float
    burst: int = 1
    margin: float = DEFAULT_MARGIN
    jitter: float = DEFAULT_JITTER
    cold_margin: float = DEFAULT_COLD_MARGIN
    bulk_share: float = DEFAULT_BULK_SHARE
    decrease: float = DEFAULT_DECREASE
    recovery: float = DEFAULT_RECOVERY
    repeat_window: float = DEFAULT_REPEAT_WINDOW
    default_pause: float = DEFAULT_PAUSE
    pause_jitter: float = DEFAULT_PAUSE_JITTER

    def __post_init__(self) -> None:
        self.new_core()  # checks rate, burst, the margins, jitter, decrease, recovery, repeats
        if not 0 < self.bulk_share <= 0.5:
            raise ValueError(f"bulk_share must be > 0 and <= 0.5, got {self.bulk_share!r}")
        if not (math.isfinite(self.default_pause) and self.default_pause >= 0):
            raise ValueError(
                f"default_pause must be a finite number >= 0, got {self.default_pause!r}"
            )
        if not (math.isfinite(self.pause_jitter) and self.pause_jitter >= 0):
            raise ValueError(
                f"pause_jitter must be a finite number >= 0, got {self.pause_jitter!r}"
            )

    @property
    def bulk_every(self) -> int:
        """``round(1 / bulk_share)``: bulk gets one grant in this many while both lanes wait."""
        return round(1 / self.bulk_share)

    def new_core(self) -> GCRA:
        """A fresh sans-IO slot book with these settings."""
        return GCRA(
            self.rate,
            burst=self.burst,
            margin=self.margin,
            jitter=self.jitter,
            cold_margin=self.cold_margin,
            decrease=self.decrease,
            recovery=self.recovery,
            repeat_window=self.repeat_window,
        )


class GovernorOptions(TypedDict, total=False):
    """The optional keyword arguments of :class:`Governor` and ``governor_for()``.

    Each is the :class:`GovernorSettings` field of the same name.
    """

    burst: int
    margin: float
    jitter: float
    cold_margin: float
    bulk_share: float
    decrease: float
    recovery: float
    repeat_window: float
    default_pause: float
    pause_jitter: float
