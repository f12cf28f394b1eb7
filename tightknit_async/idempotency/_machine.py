"""The state machine of one API call, keyed or not: no I/O, no clock of its own.

::

    Fresh ──(reply cached)──────────────────────────────► Replayed
      │
      └──(not cached)──► Sending(attempt n) ──(2xx)─────► Completed
                            ▲        │
                            │        ├──(final error, or budget spent)──► Failed
                            │        │
                            │        └──(retryable)──► Waiting(delay, reason)
                            └───────(delay elapsed)────────┘

Each state's ``next()`` returns the typed union of its successors; the async driver in
:mod:`tightknit_async.idempotency._coordinator` performs the I/O each state asks for (look up the
cache, send an attempt, sleep) and ends its chain of ``isinstance`` checks in ``assert_never``.

Rules (see :mod:`tightknit_async.retry` for which failures are retryable and the delay formula):

- a ``409`` for a keyed call means "the same key is still in flight": wait ``Retry-After`` (else the
  backoff) with up to 20% jitter, then resend with the same key;
- a ``429`` waits nothing here when a rate governor paces the key (the governor pauses every sender
  of the key), else ``Retry-After`` or the backoff;
- a retry is only scheduled when the attempt budget allows it and its wait ends before the deadline.

The states and events are frozen msgspec Structs with ``gc=False`` (a few are built per call; none
can be part of a reference cycle, so the cycle collector need not track them).

Which outcomes a keyed call may cache (``cacheable``): every ``2xx``, and the final answers
``400``, ``404``, ``410``, ``422`` (the request itself was wrong: asking again gives the same).
Never ``401``/``403`` (fixed by changing the key, not the request), ``408``/``409``/``429``, ``5xx``
or a connection failure (the outcome on the server is unknown).
"""

from __future__ import annotations

import random
from typing import Final, Literal, TypeAlias

import msgspec

from ..retry import RetryPolicy, retry_delay, should_retry

__all__ = [
    "CACHEABLE_ERROR_STATUSES",
    "Answer",
    "CallSpec",
    "CallState",
    "Completed",
    "Failed",
    "Fresh",
    "NoAnswer",
    "Outcome",
    "Replayed",
    "Sending",
    "Waiting",
]

CACHEABLE_ERROR_STATUSES: Final = frozenset({400, 404, 410, 422})
_CONFLICT_JITTER: Final = 0.2


class CallSpec(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What the machine needs to know about a call; fixed for the call's life.

    ``started`` and ``deadline`` are readings of the driver's monotonic clock.
    """

    method: str
    keyed: bool
    policy: RetryPolicy
    started: float
    paced: bool = False
    """A rate governor paces the key, so a 429 needs no wait of the call's own."""

    @property
    def deadline(self) -> float | None:
        return None if self.policy.deadline is None else self.started + self.policy.deadline


# -- events --------------------------------------------------------------------------------------


class Answer(msgspec.Struct, frozen=True, gc=False):
    """The server answered ``status`` (with ``Retry-After`` in seconds when it sent one)."""

    status: int
    retry_after: float | None = None


class NoAnswer(msgspec.Struct, frozen=True, gc=False):
    """No HTTP answer; ``request_sent`` is ``False`` when the connection never opened."""

    request_sent: bool = True


Outcome: TypeAlias = Answer | NoAnswer
WaitReason: TypeAlias = Literal["backoff", "retry-after", "in-flight", "rate-limited"]


# -- states --------------------------------------------------------------------------------------


class Fresh(msgspec.Struct, frozen=True, gc=False):
    """Nothing done yet; a keyed call first looks for a cached reply."""

    spec: CallSpec

    def next(self, *, cached: bool) -> Replayed | Sending:
        if cached and self.spec.keyed:
            return Replayed(self.spec)
        return Sending(self.spec, attempt=1)


class Sending(msgspec.Struct, frozen=True, gc=False):
    """Attempt ``attempt`` (1-based) is to be sent."""

    spec: CallSpec
    attempt: int

    def next(
        self, outcome: Outcome, now: float, rng: random.Random | None = None
    ) -> Completed | Waiting | Failed:
        """Decide what follows this attempt's ``outcome``, the clock reading ``now``."""
        spec = self.spec
        status = outcome.status if isinstance(outcome, Answer) else None
        if status is not None and 200 <= status < 300:
            return Completed(spec, self.attempt, spec.keyed)
        policy = spec.policy
        cacheable = spec.keyed and status in CACHEABLE_ERROR_STATUSES
        retryable = should_retry(
            method=spec.method,
            status_code=status,
            has_idempotency_key=spec.keyed,
            request_sent=outcome.request_sent if isinstance(outcome, NoAnswer) else True,
        )
        if not retryable:
            note = f"gave up after {self.attempt} attempts" if self.attempt > 1 else None
            return Failed(spec, self.attempt, cacheable=cacheable, note=note)
        if self.attempt > policy.max_retries:
            return Failed(spec, self.attempt, note=f"gave up after {self.attempt} attempts")
        retry_after = outcome.retry_after if isinstance(outcome, Answer) else None
        delay = retry_delay(policy, self.attempt, retry_after, rng)
        if delay is None:
            return Failed(
                spec,
                self.attempt,
                note=(
                    f"not retried: Retry-After {retry_after:.0f}s exceeds the "
                    f"{policy.max_retry_after:.0f}s the retry policy waits"
                ),
            )
        reason: WaitReason = "backoff" if retry_after is None else "retry-after"
        if status == 409:
            reason = "in-flight"
            delay *= 1.0 + (rng or random).uniform(0.0, _CONFLICT_JITTER)
        elif status == 429:
            reason = "rate-limited"
            if spec.paced:
                delay = 0.0
        deadline = spec.deadline
        if deadline is not None and now + delay >= deadline:
            return Failed(
                spec,
                self.attempt,
                out_of_time=True,
                note=(
                    f"gave up after {self.attempt} attempts: the call's {policy.deadline:g}s "
                    "deadline would pass before the next one"
                ),
            )
        return Waiting(spec, self.attempt, delay=delay, reason=reason)


class Waiting(msgspec.Struct, frozen=True, gc=False):
    """Attempt ``attempt`` failed retryably; wait ``delay`` seconds, then send the next one."""

    spec: CallSpec
    attempt: int
    delay: float
    reason: WaitReason

    def next(self) -> Sending:
        return Sending(self.spec, self.attempt + 1)


class Completed(msgspec.Struct, frozen=True, gc=False):
    """A 2xx answer: the call succeeded (``cacheable`` for keyed calls). Anything else, a 3xx
    included (the API does not redirect, and redirects are never followed), is an error."""

    spec: CallSpec
    attempt: int
    cacheable: bool = False


class Failed(msgspec.Struct, frozen=True, gc=False):
    """The call failed for good with the last attempt's error; ``note`` says why it stopped.

    ``out_of_time``: it stopped because the next attempt would start after the call's deadline
    (the driver raises :class:`~tightknit_async.DeadlineExceededError` from the last error)."""

    spec: CallSpec
    attempt: int
    cacheable: bool = False
    note: str | None = None
    out_of_time: bool = False


class Replayed(msgspec.Struct, frozen=True, gc=False):
    """A cached reply answers the call without the network."""

    spec: CallSpec


CallState: TypeAlias = Fresh | Sending | Waiting | Completed | Failed | Replayed
