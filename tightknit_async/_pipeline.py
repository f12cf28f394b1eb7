"""One call, one way down and one answer back up: the call description and the runner.

::

    AsyncTightknit.request()      builds one immutable CallDescription
      -> IdempotencyCoordinator   replay and single-flight (keyed calls), hands a claim down
        -> Runner.run()           the retry loop: governor slot -> transport -> classify -> backoff
          -> RateGovernor         one slot per attempt, in the call's lane; 429 feedback
          -> AsyncTransport       one HTTP attempt
      <- APIResponse              built in one place (Runner.settle), for live and replayed replies

Nothing below calls back up: the coordinator passes the runner its claim on the key (a handle of
the store's, which the runner finishes with the reply to keep), never a callback of its own, and
the runner knows nothing of the coordinator or the client.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Final

import msgspec
from multidict import CIMultiDict, CIMultiDictProxy

from ._clock import Clock
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    DeadlineExceededError,
    GovernorTimeoutError,
)
from ._response import APIResponse, error_from_response
from ._types import Priority
from ._waits import waits_enabled
from .governor import RateGovernor
from .idempotency._machine import (
    Answer,
    CallSpec,
    CallState,
    Completed,
    Failed,
    NoAnswer,
    Outcome,
    Sending,
    Waiting,
)
from .idempotency._store import CachedReply, FlightClaim, Headers, header_pairs
from .retry import RetryPolicy
from .transport import AsyncTransport, Request, Response
from .transport._base import describe_content, redact_headers

if TYPE_CHECKING:
    from .telemetry import Telemetry

__all__ = ["ATTEMPT_HEADER", "REPLAYED_HEADER", "CallDescription", "Counters", "Runner"]

logger: Final = logging.getLogger("tightknit_async")

ATTEMPT_HEADER: Final = "X-Tightknit-Attempt"
REPLAYED_HEADER: Final = "x-idempotent-replayed"
_ATTEMPT_NUMBERS: Final = tuple(str(n) for n in range(10))
_DEBUG: Final = logging.DEBUG
DEFAULT_RETRY_POLICY: Final = RetryPolicy()


class CallDescription(Request, frozen=True, gc=False):
    """Everything about one call, built once by ``request()`` and read by every layer below.

    It is its own first attempt's :class:`~tightknit_async.transport.Request` (method, URL,
    headers, body, timeout, path), so an attempt that needs nothing changed is sent as it is; a
    later attempt, or one whose timeout the deadline clips, is sent as a plain ``Request`` built
    from it. ``headers`` are what the first attempt sends (the client's, the key, the content
    type, the caller's, ``X-Tightknit-Attempt: 1``), not to be changed; a later attempt sends a
    copy with its own number. ``started`` and ``deadline`` are readings of the client's
    monotonic clock; ``deadline`` bounds the whole call (queue, attempts, backoff).

    (Every field after ``path`` has a default only because a Struct's fields after one with a
    default must have one: ``request()`` always gives them all, positionally.)
    """

    headers: CIMultiDict[str] | CIMultiDictProxy[str] = msgspec.field(default_factory=CIMultiDict)
    target: str = ""
    """Path and query: part of the idempotency fingerprint."""
    idempotency_key: str | None = None
    minted: bool = False
    """The key was minted for this call: it cannot collide, so the store is not asked."""
    policy: RetryPolicy = DEFAULT_RETRY_POLICY
    lane: Priority = "interactive"
    started: float = 0.0
    deadline: float | None = None
    fingerprint: str | None = None
    """For a caller's key: the digest of method, target and body that the key is bound to
    (:func:`~tightknit_async.idempotency._coordinator.request_fingerprint`)."""

    def __repr__(self) -> str:
        return (
            f"CallDescription(method={self.method!r}, url={self.url!r}, "
            f"headers={redact_headers(self.headers)!r}, content={describe_content(self.content)}, "
            f"idempotency_key={self.idempotency_key!r}, lane={self.lane!r}, "
            f"deadline={self.deadline!r})"
        )


class Counters:
    """A client's running counts (see :class:`~tightknit_async.ClientStatistics`).

    (A class with ``__slots__``, not a Struct: the interpreter stores into a plain slot inline,
    while a Struct's own ``__setattr__`` makes each count a call, and there are two per call.)
    """

    __slots__ = ("attempts", "calls", "failures", "rate_limited", "replayed", "retries")

    def __init__(self) -> None:
        self.calls = 0
        self.attempts = 0
        self.retries = 0
        self.rate_limited = 0
        self.replayed = 0
        self.failures = 0

    def asdict(self) -> dict[str, int]:
        """The counts by name."""
        return {name: getattr(self, name) for name in self.__slots__}


class Runner:
    """Runs a call's attempts to its end and builds its answer; one per client.

    Args:
        transport: where attempts go.
        clock: the client's clock (monotonic readings and sleeps).
        secret: the API key, scrubbed from error messages and bodies (never shown).
        counters: the client's counters, updated per attempt.
        rng: randomness for backoff jitter (tests seed it).

    ``governor`` (set by the client once resolved) gives each attempt its slot.
    """

    __slots__ = ("_rng", "_secret", "clock", "counters", "governor", "telemetry", "transport")

    def __init__(
        self,
        *,
        transport: AsyncTransport,
        clock: Clock,
        secret: str,
        counters: Counters,
        rng: random.Random | None = None,
    ) -> None:
        self.transport = transport
        self.clock = clock
        self.counters = counters
        self.governor: RateGovernor | None = None
        self.telemetry: Telemetry | None = None
        """Set by the client when OpenTelemetry records its calls (:mod:`.telemetry`)."""
        self._secret = secret
        self._rng = rng or random.Random()

    def __repr__(self) -> str:
        return f"<Runner transport={self.transport!r} governor={self.governor!r}>"

    # -- the retry loop ------------------------------------------------------------------------

    async def run(self, call: CallDescription, claim: FlightClaim | None = None) -> APIResponse:
        """Send ``call`` until it succeeds or fails for good (see
        :mod:`tightknit_async.idempotency._machine`); return its :class:`APIResponse`.

        With a ``claim`` (a keyed call that holds its key), a cacheable outcome is kept through
        ``claim.finish`` before the call returns or raises, and the claim is always finished.

        Raises the last attempt's :class:`APIStatusError` or :class:`APIConnectionError`.
        """
        # The first attempt, outside the state machine: most calls end with its 2xx, and need
        # none of the machine's states.
        governor = self.governor
        deadline = call.deadline
        remaining = None if deadline is None else deadline - self.clock.monotonic()
        first: Response | APIConnectionError
        try:
            if governor is None or governor.try_acquire_nowait(call.lane):  # _attempt, inlined
                total = call.timeout.total  # _request_for, inlined for a first attempt
                request: Request = call  # the call is its own first attempt's request
                if remaining is not None and (total is None or total > remaining):
                    request = self._request_for(call, 1, remaining)
                else:
                    self.counters.attempts += 1
                if logger.isEnabledFor(_DEBUG):
                    first = await self._logged_send(call, request, 1)
                else:
                    first = await self.transport.send(request)
            else:
                first = await self._paced_attempt(call, governor, 1, remaining)
        except APIConnectionError as exc:
            first = exc
        except BaseException:  # cancelled, out of time for a slot, or unexpected: keep nothing
            if claim is not None:
                await claim.finish(None)
            raise
        else:
            if governor is not None:  # the reply proves when the request arrived
                governor.on_reply(first.elapsed)
            status = first.status_code
            if 200 <= status < 300:
                if self.telemetry is not None:
                    self.telemetry.attempted(status, 1)
                if claim is not None:  # a 2xx is always kept for replay
                    await claim.finish(_reply(first, call))
                headers = first.headers
                return self.settle(
                    call,
                    status,
                    headers,
                    first.content,
                    REPLAYED_HEADER in headers and _is_replay(first),  # replayed
                    1,  # attempts
                )
        return await self._run(call, claim, first)

    async def _run(
        self,
        call: CallDescription,
        claim: FlightClaim | None,
        first: Response | APIConnectionError | None,
    ) -> APIResponse:
        """The state machine's loop; ``first`` is the first attempt's result when :meth:`run`
        already sent it (its governor report made)."""
        clock = self.clock
        governor = self.governor
        spec = CallSpec(
            method=call.method,
            keyed=call.idempotency_key is not None,
            policy=call.policy,
            started=call.started,
            paced=governor is not None,
        )
        deadline = call.deadline
        state: CallState = Sending(spec, 1)
        response: Response | None = None
        error: APIStatusError | APIConnectionError | None = None
        try:
            while True:
                # The states in the order a call meets them most often; isinstance narrows each.
                if isinstance(state, Sending):
                    attempt = state.attempt
                    remaining = None if deadline is None else deadline - clock.monotonic()
                    outcome: Outcome
                    try:
                        if first is None:
                            response = await self._attempt(call, governor, attempt, remaining)
                            if governor is not None:  # the reply proves when it arrived
                                governor.on_reply(response.elapsed)
                        elif isinstance(first, APIConnectionError):
                            failure: APIConnectionError = first
                            first = None
                            raise failure
                        else:
                            response, first = first, None
                    except APIConnectionError as exc:
                        response, error, outcome = None, exc, NoAnswer(exc.request_sent)
                        if self.telemetry is not None:
                            self.telemetry.attempted(None, attempt)
                    else:
                        status = response.status_code
                        if self.telemetry is not None:
                            self.telemetry.attempted(status, attempt)
                        if 200 <= status < 300:
                            outcome = Answer(status)
                        else:  # the error parses Retry-After once: the machine reads it there
                            error = self._error(call, response, replayed=_is_replay(response))
                            outcome = Answer(status, error.retry_after)
                    state = state.next(outcome, clock.monotonic(), self._rng)
                elif isinstance(state, Completed):
                    assert response is not None
                    if claim is not None:
                        held, claim = claim, None
                        await held.finish(_reply(response, call) if state.cacheable else None)
                    return self.settle(
                        call,
                        response.status_code,
                        response.headers,
                        response.content,
                        _is_replay(response),  # replayed
                        state.attempt,  # attempts
                    )
                elif isinstance(state, Waiting):
                    logger.debug(
                        "%s %s: retrying in %.3fs (%s after attempt %d)",
                        call.method,
                        call.path,
                        state.delay,
                        state.reason,
                        state.attempt,
                    )
                    if state.delay > 0 and waits_enabled():
                        await clock.sleep(state.delay)
                    state = state.next()
                elif isinstance(state, Failed):
                    assert error is not None
                    if claim is not None:
                        held, claim = claim, None
                        keep = state.cacheable and response is not None
                        await held.finish(_reply(response, call) if keep else None)  # type: ignore[arg-type]
                    if state.out_of_time:
                        raise _out_of_time(call, error, state.attempt) from error
                    if state.note:
                        error.add_note(state.note)
                    raise error
                else:  # Fresh and Replayed are the coordinator's: never reached here
                    raise AssertionError(f"unexpected state {state!r}")
        finally:
            if claim is not None:  # cancelled, or an unexpected error: release, keep nothing
                await claim.finish(None)

    def _attempt(
        self,
        call: CallDescription,
        governor: RateGovernor | None,
        attempt: int,
        remaining: float | None,
    ) -> Awaitable[Response]:
        """One HTTP attempt: a governor slot, then the transport (and a log line at DEBUG).

        With a slot free at once and DEBUG off, this returns the transport's own coroutine, with
        no frame of the runner's around it.
        """
        if governor is not None and not governor.try_acquire_nowait(call.lane):
            return self._paced_attempt(call, governor, attempt, remaining)
        request = self._request_for(call, attempt, remaining)
        if logger.isEnabledFor(_DEBUG):
            return self._logged_send(call, request, attempt)
        return self.transport.send(request)

    async def _paced_attempt(
        self,
        call: CallDescription,
        governor: RateGovernor,
        attempt: int,
        remaining: float | None,
    ) -> Response:
        """An attempt that waits in its lane for a slot, within what is left of the deadline."""
        clock = self.clock
        waited_from = clock.monotonic()
        try:
            await governor.acquire(call.lane, max_wait=remaining)
        except GovernorTimeoutError as exc:
            raise _no_slot(call, exc, attempt) from None
        waited = clock.monotonic() - waited_from
        if remaining is not None:
            remaining -= waited
        if self.telemetry is not None:
            self.telemetry.waited(waited)
        request = self._request_for(call, attempt, remaining)
        if logger.isEnabledFor(_DEBUG):
            return await self._logged_send(call, request, attempt)
        return await self.transport.send(request)

    def _request_for(self, call: CallDescription, attempt: int, remaining: float | None) -> Request:
        """The attempt's request: its attempt header, its timeout clipped to the deadline (a
        first attempt that needs neither change is ``call`` itself)."""
        attempt_timeout = call.timeout
        total = attempt_timeout.total
        clip = remaining is not None and (total is None or total > remaining)
        counters = self.counters
        counters.attempts += 1
        attempt_headers = call.headers
        if attempt > 1:
            counters.retries += 1
            attempt_headers = attempt_headers.copy()
            attempt_headers[ATTEMPT_HEADER] = (
                _ATTEMPT_NUMBERS[attempt] if attempt < 10 else str(attempt)
            )
        elif not clip:
            return call
        if clip:
            attempt_timeout = attempt_timeout.clipped(remaining)
        return Request(
            call.method, call.url, attempt_headers, call.content, attempt_timeout, call.path
        )

    async def _logged_send(self, call: CallDescription, request: Request, attempt: int) -> Response:
        """Send, and log the attempt's outcome at DEBUG (method, path, status, attempt, time)."""
        clock = self.clock
        sent_at = clock.monotonic()
        try:
            response = await self.transport.send(request)
        except APIConnectionError as exc:
            _log_attempt(call, type(exc).__name__, attempt, sent_at, clock)
            raise
        _log_attempt(call, response.status_code, attempt, sent_at, clock)
        return response

    def _error(
        self, call: CallDescription, response: Response, *, replayed: bool
    ) -> APIStatusError:
        """The status error of an error reply; a fresh 429 is counted and pauses the key."""
        error = error_from_response(
            call.method, call.path, response, replayed=replayed, secret=self._secret
        )
        if response.status_code == 429 and not replayed:
            self.counters.rate_limited += 1
            governor = self.governor
            if governor is not None:
                governor.on_rate_limited(error.retry_after)
        return error

    # -- the answer ------------------------------------------------------------------------------

    def settle(
        self,
        call: CallDescription,
        status: int,
        headers: CIMultiDictProxy[str] | Headers | object,
        content: bytes,
        replayed: bool,
        attempts: int,
    ) -> APIResponse:
        """The one place an answer is built, live or replayed: an :class:`APIResponse` for a
        2xx, else the status error raised. Headers are always a case-insensitive multidict with
        the server's names and repeated headers, whether the reply is live or replayed."""
        if not isinstance(headers, CIMultiDictProxy):
            pairs = headers if isinstance(headers, tuple) else header_pairs(headers)  # type: ignore[arg-type]
            headers = CIMultiDictProxy(CIMultiDict(pairs))
        if not 200 <= status < 300:
            raise self._error(call, Response(status, headers, content), replayed=replayed)
        return APIResponse(
            status_code=status,
            headers=headers,
            content=content,
            method=call.method,
            path=call.path,
            replayed=replayed,
            idempotency_key=call.idempotency_key,
            attempts=attempts,
            elapsed=self.clock.monotonic() - call.started,
        )

    def replay(self, call: CallDescription, reply: CachedReply) -> APIResponse:
        """Answer ``call`` with a cached ``reply``, without the network (``replayed=True``)."""
        logger.debug("%s %s -> %s replayed from cache", call.method, call.path, reply.status_code)
        return self.settle(call, reply.status_code, reply.headers, reply.content, True, 0)


def _reply(response: Response, call: CallDescription) -> CachedReply:
    """What a keyed call keeps for replay: status, headers (less the server's replay mark, as
    ours says it), body, and the fingerprint its key is bound to."""
    headers = response.headers
    # str(): aiohttp's names are istr, which a shared store's encoder does not take
    if REPLAYED_HEADER in headers:
        pairs = tuple([(str(k), v) for k, v in headers.items() if k.lower() != REPLAYED_HEADER])
    else:
        pairs = tuple([(str(k), v) for k, v in headers.items()])
    return CachedReply(response.status_code, pairs, response.content, call.fingerprint or "")


def _budget(call: CallDescription) -> float | None:
    return None if call.deadline is None else call.deadline - call.started


_WHAT_TO_CHANGE: Final = (
    "pass a larger deadline= to the call (or to AsyncTightknit(deadline=...)), or None for none"
)


def _no_slot(
    call: CallDescription, exc: GovernorTimeoutError, attempt: int
) -> GovernorTimeoutError:
    """The governor's refusal, told in the call's terms: its deadline, the wait it would need."""
    budget = _budget(call)
    within = f"the call's deadline of {budget:g}s" if budget is not None else "its deadline"
    what = "send slot" if attempt == 1 else f"send slot for attempt {attempt}"
    advice = (
        "run the key's bulk work with priority='bulk', or lower the load on this key"
        if call.lane == "interactive"
        else "send it with priority='interactive', or lower the load on this key"
    )
    return GovernorTimeoutError(
        f"{call.method} {call.path}: no {what} within {within}: the key's queue ({call.lane} "
        f"lane) needs about {exc.wait:.2f}s more and {max(exc.deadline or 0.0, 0.0):.2f}s are "
        f"left. Raised at once, without waiting; {_WHAT_TO_CHANGE}; or {advice}",
        wait=exc.wait,
        deadline=exc.deadline or 0.0,
    )


def _out_of_time(
    call: CallDescription, error: APIStatusError | APIConnectionError, attempts: int
) -> DeadlineExceededError:
    budget = _budget(call)
    return DeadlineExceededError(
        f"{call.method} {call.path}: the call's deadline of {budget:g}s would pass before "
        f"attempt {attempts + 1} (after {attempts} attempt{'s' if attempts > 1 else ''}, the "
        f"last: {type(error).__name__}); {_WHAT_TO_CHANGE}, or max_retries= for fewer attempts",
        deadline=budget,
    )


def _is_replay(response: Response) -> bool:
    return response.headers.get(REPLAYED_HEADER, "").lower() == "true"


def _log_attempt(
    call: CallDescription, outcome: int | str, attempt: int, sent_at: float, clock: Clock
) -> None:
    if logger.isEnabledFor(_DEBUG):
        logger.debug(
            "%s %s -> %s attempt=%d elapsed=%.3fs",
            call.method,
            call.path,
            outcome,
            attempt,
            clock.monotonic() - sent_at,
        )
