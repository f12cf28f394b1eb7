"""Retry policy: which failures are retried, how long to wait, and when to give up. Pure functions.

A call is attempted at most ``1 + max_retries`` times and never past its ``deadline`` (seconds from
the first attempt). Between attempts it waits, for retry number ``n`` (1, 2, ...)::

    delay(n) = Retry-After                                  when the server sent one (capped at
                                                            max_retry_after), else
    delay(n) = uniform(0, min(max_backoff, initial_backoff * 2 ** (n - 1)))   ("full jitter")

What is retried:

- connection errors and timeouts: a safe method (GET, HEAD, OPTIONS) always; a mutation only when it
  carries an ``Idempotency-Key`` (the server then applies it at most once), or when the connection
  could not even be opened (nothing was sent);
- ``429``: always, for every method (the request was refused before it ran);
- ``409``: only for a request that carries an ``Idempotency-Key`` (the same key is still in flight);
- ``408`` and ``5xx`` (500, 502, 503, 504, and the 52x family proxies use): safe methods always,
  mutations only with an ``Idempotency-Key``.

Nothing else is retried: other ``4xx`` answers will not change by asking again.
"""

from __future__ import annotations

import email.utils
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from ._config import DEFAULT_MAX_RETRIES, DEFAULT_RETRY_DEADLINE, check_non_negative

__all__ = [
    "SAFE_METHODS",
    "RetryPolicy",
    "backoff_delay",
    "is_retryable_status",
    "parse_retry_after",
    "retry_delay",
    "should_retry",
]

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_TRANSIENT_STATUSES: Final = frozenset({408, 500, 502, 503, 504, 520, 521, 522, 523, 524})


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How a call retries. Frozen: per-call overrides make a new policy.

    ``max_retries``: retries after the first attempt (0 = never retry). ``deadline``: seconds the
    whole call may take across attempts and waits (``None`` = bounded by attempts only).
    ``initial_backoff`` / ``max_backoff``: the full-jitter backoff's base and ceiling.
    ``max_retry_after``: the longest ``Retry-After`` honoured; a longer one ends the retries.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    deadline: float | None = DEFAULT_RETRY_DEADLINE
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or self.max_retries < 0
        ):
            raise ValueError(f"max_retries must be an int >= 0, got {self.max_retries!r}")
        check_non_negative("deadline", self.deadline)
        check_non_negative("initial_backoff", self.initial_backoff)
        check_non_negative("max_backoff", self.max_backoff)
        check_non_negative("max_retry_after", self.max_retry_after)


def is_retryable_status(status_code: int) -> bool:
    """Whether a status may succeed when asked again (408, 409, 429, 5xx transients)."""
    return status_code in _TRANSIENT_STATUSES or status_code in (409, 429)


def should_retry(
    *,
    method: str,
    status_code: int | None,
    has_idempotency_key: bool,
    request_sent: bool = True,
) -> bool:
    """Whether a failed attempt may be tried again (attempt and time budgets aside).

    ``status_code`` is ``None`` for a connection error or timeout; ``request_sent`` is ``False``
    when the connection could not be opened, so the server cannot have seen the request.
    """
    replayable = method.upper() in SAFE_METHODS or has_idempotency_key
    if status_code is None:
        return replayable or not request_sent
    if status_code == 429:
        return True
    if status_code == 409:
        return has_idempotency_key
    if status_code in _TRANSIENT_STATUSES:
        return replayable
    return False


def backoff_delay(
    policy: RetryPolicy, retry_number: int, rng: random.Random | None = None
) -> float:
    """Full-jitter exponential backoff: ``uniform(0, min(max_backoff, initial * 2**(n-1)))``."""
    if retry_number < 1:
        raise ValueError(f"retry_number starts at 1, got {retry_number}")
    ceiling = min(policy.max_backoff, policy.initial_backoff * 2.0 ** min(retry_number - 1, 62))
    return (rng or random).uniform(0.0, ceiling)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Returns ``None`` for a missing or unparseable value; a date in the past gives ``0.0``.
    Fractional seconds (``"0.5"``) are accepted, as some servers send them.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max((when - now).total_seconds(), 0.0)


def retry_delay(
    policy: RetryPolicy,
    retry_number: int,
    retry_after: float | None,
    rng: random.Random | None = None,
) -> float | None:
    """The wait before retry ``retry_number``: ``Retry-After`` if given, else the backoff.

    Returns ``None`` when the server asks for longer than ``policy.max_retry_after``: waiting that
    long is not a retry, it is an outage.
    """
    if retry_after is not None:
        if retry_after > policy.max_retry_after:
            return None
        return retry_after
    return backoff_delay(policy, retry_number, rng)
