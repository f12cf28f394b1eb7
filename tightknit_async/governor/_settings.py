"""The governor's policy as a frozen value, and the keyword options that build it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, TypedDict

from ._gcra import DEFAULT_COLD_MARGIN, DEFAULT_DECREASE, DEFAULT_MARGIN, DEFAULT_RECOVERY, GCRA

__all__ = ["GovernorOptions", "GovernorSettings"]

DEFAULT_BULK_SHARE: Final = 0.1
DEFAULT_PAUSE: Final = 1.0
DEFAULT_PAUSE_JITTER: Final = 0.1


@dataclass(frozen=True, kw_only=True, slots=True)
class GovernorSettings:
    """How one governor paces an API key. Equal settings mean interchangeable governors.

    Attributes:
        rate: requests per second (> 0). No window of one second ever holds more than
            ``limit = max(1, floor(rate))`` grants.
        burst: grants that may go back to back after idle (``1 <= burst <= limit``); ``1`` spaces
            every grant ``T = max(1 / rate, (1 + margin) / limit)`` apart.
        margin: seconds of slack added to every one-second window (``0 <= margin < 1``), so that
            sends reaching the server up to this much later than the send ``limit`` places before
            them still never make ``limit + 1`` in a window. Long-run throughput is
            ``limit / (1 + margin)``.
        cold_margin: more slack for the grants of the first window after a cold start (no grant
            for a whole window): requests then open new connections and reach the server late.
            Costs at most this much once per cold start (``0 <= cold_margin < 1``).
        bulk_share: the least share of grants the ``bulk`` lane gets while both lanes wait
            (``0 < bulk_share <= 0.5``), applied as one grant in every ``round(1 / bulk_share)``.
        decrease: after a 429 the rate in force is multiplied by this (``0 < decrease <= 1``).
        recovery: after the pause the rate climbs back by ``recovery * rate`` per second (> 0).
        default_pause: the pause after a 429 without ``Retry-After`` (seconds, >= 0).
        pause_jitter: every pause is stretched by a random fraction in ``[0, pause_jitter)`` so
            that the senders of one key do not come back in step (``>= 0``).

    Raises:
        ValueError: for a value out of range.
    """

    rate: float
    burst: int = 1
    margin: float = DEFAULT_MARGIN
    cold_margin: float = DEFAULT_COLD_MARGIN
    bulk_share: float = DEFAULT_BULK_SHARE
    decrease: float = DEFAULT_DECREASE
    recovery: float = DEFAULT_RECOVERY
    default_pause: float = DEFAULT_PAUSE
    pause_jitter: float = DEFAULT_PAUSE_JITTER

    def __post_init__(self) -> None:
        self.new_core()  # checks rate, burst, margin, decrease and recovery
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
            cold_margin=self.cold_margin,
            decrease=self.decrease,
            recovery=self.recovery,
        )


class GovernorOptions(TypedDict, total=False):
    """The optional keyword arguments of :class:`Governor` and ``governor_for()``.

    Each is the :class:`GovernorSettings` field of the same name.
    """

    burst: int
    margin: float
    cold_margin: float
    bulk_share: float
    decrease: float
    recovery: float
    default_pause: float
    pause_jitter: float
