"""The idempotency coordinator: drives every call's state machine, dedupes in-flight keyed calls,
and replays cached replies.

- **Single-flight**: concurrent calls with the same ``(API key, idempotency key)`` share one run of
  the call (one HTTP request at a time) and all receive its result or its error. The run belongs to
  no caller: cancelling one waiter never cancels it for the others.
- **Binding**: a key is bound to the fingerprint of the first request sent with it (method, path,
  query and body); another request with the same key raises :class:`IdempotencyKeyError` unsent.
- **Replay**: a keyed call's cacheable outcome (see :mod:`._machine`) is stored; the same key again
  is answered from the store, marked ``replayed=True``, without the network.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import random
import weakref
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, assert_never

import msgspec

from .._clock import Clock
from .._exceptions import APIConnectionError, APIStatusError, IdempotencyKeyError
from .._response import APIResponse
from .._waits import waits_enabled
from ..retry import RetryPolicy
from ..transport import Multipart, Response
from ._machine import (
    Answer,
    CallSpec,
    CallState,
    Completed,
    Failed,
    Fresh,
    NoAnswer,
    Outcome,
    Replayed,
    Sending,
    Waiting,
)
from ._store import CachedReply, FlightClaim, IdempotencyStore

__all__ = ["Call", "IdempotencyCoordinator", "coordinator_for", "request_fingerprint"]

logger: Final = logging.getLogger("tightknit_async")
REPLAYED_HEADER: Final = "x-idempotent-replayed"


def request_fingerprint(method: str, target: str, content: bytes | Multipart | None) -> str:
    """SHA-256 over method, path with query, and body: what a key is bound to."""
    digest = hashlib.sha256(method.encode())
    digest.update(b"\x00" + target.encode() + b"\x00")
    digest.update(content.fingerprint() if isinstance(content, Multipart) else content or b"")
    return digest.hexdigest()


class SendAttempt(Protocol):
    """Send attempt ``attempt`` of a call with ``remaining`` seconds of its deadline left.

    Returns the response for any status; raises ``APIConnectionError`` when none arrived.
    """

    def __call__(self, attempt: int, remaining: float | None) -> Awaitable[Response]: ...


MakeError = Callable[["Call", Response, bool], APIStatusError]
"""Called once for each error reply of a call (the flag: it is a replay): the client's bookkeeping
(a 429 pauses the key's governor), and the status error to raise if the call ends with it. The
retry decision reads the reply's ``Retry-After`` from that error (parsed once, there)."""


class Call(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One prepared call, as the coordinator needs it."""

    method: str
    path: str
    target: str
    """Path and query: part of the fingerprint."""
    content: bytes | Multipart | None
    idempotency_key: str | None
    minted: bool
    """The key was minted for this call: it cannot collide, so the store is skipped."""
    policy: RetryPolicy
    paced: bool
    clock: Clock


class _Flight(msgspec.Struct):
    fingerprint: str
    task: asyncio.Task[APIResponse]
    waiters: list[asyncio.Future[APIResponse]]
    """One future per caller, resolved when the task lands; a cancelled caller cancels only its
    own (what ``asyncio.shield`` does, for a future and a list entry per caller)."""


class IdempotencyCoordinator:
    """Runs calls through the state machine; single-flight and replay for keyed calls.

    One coordinator serves every client of one API key on one event loop (see
    :func:`coordinator_for`), so their keyed calls share single-flight.

    Args:
        store: where bindings and replies are kept (shared by every coordinator given it).
        scope: names the tenant (a digest of the API key): keys and replies never cross scopes.
        rng: the randomness of backoff and 409 jitter (tests seed it).
    """

    def __init__(
        self, store: IdempotencyStore, *, scope: str, rng: random.Random | None = None
    ) -> None:
        self.store = store
        self.scope = scope
        self._rng = rng or random.Random()
        self._flights: dict[str, _Flight] = {}

    @property
    def in_flight(self) -> int:
        """Keyed calls now running."""
        return len(self._flights)

    def execute(
        self, call: Call, send: SendAttempt, make_error: MakeError
    ) -> Awaitable[APIResponse]:
        """Run ``call`` to its end: a response, or the error of its last attempt.

        Raises:
            IdempotencyKeyError: the key is bound to another request (nothing sent).
            APIStatusError, APIConnectionError: the call failed for good.
        """
        if call.idempotency_key is None or call.minted:
            return self._drive(call, send, make_error)  # nothing to share: no extra coroutine
        return self._single_flight(call, send, make_error)

    async def _single_flight(
        self, call: Call, send: SendAttempt, make_error: MakeError
    ) -> APIResponse:
        key = call.idempotency_key
        assert key is not None
        fingerprint = request_fingerprint(call.method, call.target, call.content)
        flight = self._flights.get(key)
        loop = asyncio.get_running_loop()
        if flight is None:
            task = loop.create_task(
                self._lead(call, fingerprint, send, make_error),
                name=f"tightknit-call-{key}",
            )
            flight = self._flights[key] = _Flight(fingerprint, task, [])
            task.add_done_callback(functools.partial(self._landed, key, flight))
        elif flight.fingerprint != fingerprint:
            raise _reused(key)
        waiter: asyncio.Future[APIResponse] = loop.create_future()
        flight.waiters.append(waiter)
        return await waiter

    def _landed(self, key: str, flight: _Flight, task: asyncio.Task[APIResponse]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if task.cancelled():  # only if the loop is torn down under it
            for waiter in flight.waiters:
                waiter.cancel()
            return
        error = task.exception()  # retrieved: every waiter may have gone away
        for waiter in flight.waiters:
            if waiter.done():  # its caller was cancelled
                continue
            if error is None:
                waiter.set_result(task.result())
            else:
                waiter.set_exception(error)

    async def _lead(
        self, call: Call, fingerprint: str, send: SendAttempt, make_error: MakeError
    ) -> APIResponse:
        assert call.idempotency_key is not None
        bound = await self.store.bind(self.scope, call.idempotency_key, fingerprint)
        if bound != fingerprint:
            raise _reused(call.idempotency_key)
        return await self._drive(call, send, make_error, fingerprint)

    async def _drive(
        self,
        call: Call,
        send: SendAttempt,
        make_error: MakeError,
        fingerprint: str = "",
    ) -> APIResponse:
        """Run the state machine for ``call`` (see :mod:`._machine`) until it ends."""
        clock, key = call.clock, call.idempotency_key
        stored = key if key is not None and not call.minted else None
        policy = call.policy
        started = clock.monotonic()
        deadline = None if policy.deadline is None else started + policy.deadline
        spec = CallSpec(
            method=call.method,
            keyed=key is not None,
            policy=policy,
            started=started,
            paced=call.paced,
        )
        # A call with no stored key has nothing to look up: Fresh(spec).next(cached=False).
        state: CallState = Fresh(spec) if stored is not None else Sending(spec, 1)
        cached: CachedReply | None = None
        claim: FlightClaim | None = None
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
                        response = await send(attempt, remaining)
                    except APIConnectionError as exc:
                        response, error, outcome = None, exc, NoAnswer(exc.request_sent)
                    else:
                        status = response.status_code
                        if 200 <= status < 300:
                            outcome = Answer(status)
                        else:  # the error has parsed Retry-After: the machine reads it there
                            error = make_error(call, response, _is_replay(response))
                            outcome = Answer(status, error.retry_after)
                    state = state.next(outcome, clock.monotonic(), self._rng)
                elif isinstance(state, Completed):
                    assert response is not None
                    if state.cacheable and stored is not None:
                        await self._keep(stored, response, fingerprint)
                    headers = response.headers
                    replayed = headers.get(REPLAYED_HEADER)
                    return APIResponse(
                        status_code=response.status_code,
                        headers=headers,
                        content=response.content,
                        method=call.method,
                        path=call.path,
                        replayed=replayed is not None and replayed.lower() == "true",
                        idempotency_key=key,
                        attempts=state.attempt,
                        elapsed=clock.monotonic() - started,
                    )
                elif isinstance(state, Fresh):
                    if stored is not None:
                        cached, claim = await self._lookup(stored, deadline, clock)
                    state = state.next(cached=cached is not None)
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
                    if state.cacheable and stored is not None and response is not None:
                        await self._keep(stored, response, fingerprint)
                    if state.note:
                        error.add_note(state.note)
                    raise error
                elif isinstance(state, Replayed):
                    assert cached is not None
                    return self._replay(call, cached, make_error, fingerprint)
                else:
                    assert_never(state)
        finally:
            if claim is not None:
                await claim.release()

    async def _lookup(
        self, key: str, deadline: float | None, clock: Clock
    ) -> tuple[CachedReply | None, FlightClaim | None]:
        """A cached reply; else a claim on the key; else (another process holds the key) that
        process's reply once it lands, or neither if it does not land before the deadline."""
        store = self.store
        cached = await store.get(self.scope, key)
        if cached is not None:
            return cached, None
        claim = await store.claim(self.scope, key)
        if claim is not None:
            return None, claim
        remaining = None if deadline is None else deadline - clock.monotonic()
        return await store.wait(self.scope, key, remaining), None

    async def _keep(self, key: str, response: Response, fingerprint: str) -> None:
        headers = {name.lower(): value for name, value in response.headers.items()}
        headers.pop(REPLAYED_HEADER, None)
        reply = CachedReply(response.status_code, headers, response.content, fingerprint)
        await self.store.put(self.scope, key, reply)

    def _replay(
        self, call: Call, cached: CachedReply, make_error: MakeError, fingerprint: str
    ) -> APIResponse:
        if cached.fingerprint != fingerprint:  # bound under another request (another process)
            assert call.idempotency_key is not None
            raise _reused(call.idempotency_key)
        logger.debug("%s %s -> %s replayed from cache", call.method, call.path, cached.status_code)
        response = Response(cached.status_code, cached.headers, cached.content)
        if not 200 <= cached.status_code < 300:
            raise make_error(call, response, True)
        return APIResponse(
            status_code=cached.status_code,
            headers=cached.headers,
            content=cached.content,
            method=call.method,
            path=call.path,
            replayed=True,
            idempotency_key=call.idempotency_key,
            attempts=0,
        )

    def __repr__(self) -> str:
        return f"<IdempotencyCoordinator in_flight={len(self._flights)} store={self.store!r}>"


def _is_replay(response: Response) -> bool:
    return response.headers.get(REPLAYED_HEADER, "").lower() == "true"


def _reused(key: str) -> IdempotencyKeyError:
    return IdempotencyKeyError(
        f"idempotency key {key!r} was already used for a different request (method, path or "
        "body differ); use a new key for a new request"
    )


_REGISTRY: Final[weakref.WeakValueDictionary[tuple[int, str, int], IdempotencyCoordinator]] = (
    weakref.WeakValueDictionary()
)


def coordinator_for(store: IdempotencyStore, scope: str) -> IdempotencyCoordinator:
    """The coordinator of ``(running loop, scope, store)``, created on first use.

    Every client of one API key on one loop with one store gets the same coordinator, so their
    concurrent calls with one idempotency key share a single request.
    """
    slot = (id(asyncio.get_running_loop()), scope, id(store))
    coordinator = _REGISTRY.get(slot)
    if coordinator is None or coordinator.store is not store:
        coordinator = _REGISTRY[slot] = IdempotencyCoordinator(store, scope=scope)
    return coordinator
