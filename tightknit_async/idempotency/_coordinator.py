"""The idempotency coordinator: replay and single-flight for keyed calls, nothing else.

- **Single-flight**: concurrent calls with the same idempotency key (within one server and API key)
  share one run of the call and all receive its result or its error. The first caller runs it in
  its own task; cancelling another caller leaves the run alone, and if the first caller is
  cancelled, one of the others runs the call again with the same key. No task of the
  coordinator's exists, so none can outlive its caller or its client.
- **Binding**: a key is bound to the fingerprint of the first request sent with it (method, path,
  query and body); another request with the same key raises :class:`IdempotencyKeyError` unsent.
- **Replay**: a keyed call's cacheable outcome (see :mod:`._machine`) is kept in the store; the
  same key again is answered from it, marked ``replayed=True``, without the network.

The store is asked once per keyed call (:meth:`IdempotencyStore.begin`); the call itself is the
runner's (:mod:`tightknit_async._pipeline`), handed the store's claim on the key to keep its
outcome. The coordinator calls only down: the store and the runner.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Awaitable
from typing import Any, Final, Protocol, assert_never

import msgspec

from .._clock import Clock
from .._exceptions import IdempotencyKeyError
from .._response import APIResponse
from ..transport import Multipart
from ._store import (
    Busy,
    CachedReply,
    Claimed,
    FlightClaim,
    IdempotencyStore,
    Mismatch,
    Replay,
)

__all__ = ["CallLike", "IdempotencyCoordinator", "coordinator_for", "request_fingerprint"]


class CallLike(Protocol):
    """What the coordinator reads of a call (:class:`tightknit_async._pipeline.CallDescription`)."""

    @property
    def method(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def content(self) -> bytes | Multipart | None: ...
    @property
    def idempotency_key(self) -> str | None: ...
    @property
    def minted(self) -> bool: ...
    @property
    def deadline(self) -> float | None: ...
    @property
    def fingerprint(self) -> str | None: ...


def request_fingerprint(method: str, target: str, content: bytes | Multipart | None) -> str:
    """SHA-256 over method, path with query, and body: what a key is bound to."""
    digest = hashlib.sha256(method.encode())
    digest.update(b"\x00" + target.encode() + b"\x00")
    digest.update(content.fingerprint() if isinstance(content, Multipart) else content or b"")
    return digest.hexdigest()


class Runner(Protocol):
    """What the coordinator hands a call down to (:class:`tightknit_async._pipeline.Runner`)."""

    @property
    def clock(self) -> Clock: ...

    def run(self, call: Any, claim: FlightClaim | None = None) -> Awaitable[APIResponse]:
        """Send the call to its end; keep a cacheable outcome through ``claim``."""
        ...

    def replay(self, call: Any, reply: CachedReply) -> APIResponse:
        """Answer the call with a cached reply (or raise its error)."""
        ...


class _Flight(msgspec.Struct):
    fingerprint: str
    waiters: list[asyncio.Future[APIResponse]]
    """One future per caller that joined the leader (the first caller, who runs the call in its
    own task): resolved with the leader's result or error."""


class _LeaderGone(Exception):
    """The leader of a flight was cancelled: its waiters run the call again themselves."""


class IdempotencyCoordinator:
    """Replay and single-flight for keyed calls; everything else goes straight to the runner.

    One coordinator serves every client of one server and API key on one event loop (see
    :func:`coordinator_for`), so their keyed calls share single-flight.

    Args:
        store: where bindings and replies are kept (shared by every coordinator given it).
        scope: names the tenant (a digest of the base URL and the API key): keys and replies
            never cross scopes.
    """

    def __init__(self, store: IdempotencyStore, *, scope: str) -> None:
        self.store = store
        self.scope = scope
        self._flights: dict[str, _Flight] = {}

    @property
    def in_flight(self) -> int:
        """Keyed calls now running."""
        return len(self._flights)

    def execute(self, call: CallLike, runner: Runner) -> Awaitable[APIResponse]:
        """Run ``call`` to its end: a response, or the error of its last attempt.

        A call without a key, or with a key minted for it, has nothing to share or replay: it is
        the runner's at once (no coroutine of the coordinator's around it).

        Raises:
            IdempotencyKeyError: the key is bound to another request (nothing sent).
            APIStatusError, APIConnectionError: the call failed for good.
        """
        if call.idempotency_key is None or call.minted:
            return runner.run(call)
        return self._single_flight(call, runner)

    async def _single_flight(self, call: CallLike, runner: Runner) -> APIResponse:
        """The first caller of a key leads: it runs the call in its own task (no task of the
        coordinator's), and callers arriving meanwhile wait for its result. If the leader is
        cancelled, its request is abandoned as any cancelled call's is; a waiter then leads
        a new run with the same key (the server's idempotency turns it into a replay, or a 409
        while the first is still in flight there)."""
        key = call.idempotency_key
        assert key is not None
        fingerprint = call.fingerprint or request_fingerprint(
            call.method, call.target, call.content
        )
        flights = self._flights
        while True:
            flight = flights.get(key)
            if flight is not None:
                if flight.fingerprint != fingerprint:
                    raise _reused(key)
                waiter: asyncio.Future[APIResponse] = asyncio.get_running_loop().create_future()
                flight.waiters.append(waiter)
                try:
                    return await waiter
                except _LeaderGone:
                    continue
            flight = flights[key] = _Flight(fingerprint, [])
            try:
                # Ask the store once (see IdempotencyStore): replay, run holding the key, or
                # wait for the process holding it.
                begun = await self.store.begin(self.scope, key, fingerprint)
                if isinstance(begun, Claimed):
                    result = await runner.run(call, begun.claim)
                else:
                    result = await self._not_claimed(call, key, fingerprint, runner, begun)
            except asyncio.CancelledError:
                self._land(key, flight, None, _LeaderGone())
                raise
            except BaseException as exc:
                self._land(key, flight, None, exc)
                raise
            self._land(key, flight, result, None)
            return result

    def _land(
        self,
        key: str,
        flight: _Flight,
        result: APIResponse | None,
        error: BaseException | None,
    ) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        for waiter in flight.waiters:
            if waiter.done():  # its caller was cancelled
                continue
            if error is None:
                assert result is not None
                waiter.set_result(result)
            else:
                waiter.set_exception(error)

    async def _not_claimed(
        self,
        call: CallLike,
        key: str,
        fingerprint: str,
        runner: Runner,
        begun: Replay | Busy | Mismatch,
    ) -> APIResponse:
        """The store did not hand this caller the key: replay, refuse, or wait for the process
        holding it."""
        if isinstance(begun, Replay):
            return self._replay(call, begun.reply, fingerprint, runner)
        if isinstance(begun, Mismatch):
            raise _reused(key)
        if isinstance(begun, Busy):
            deadline = call.deadline
            remaining = None if deadline is None else deadline - runner.clock.monotonic()
            reply = await self.store.wait(self.scope, key, remaining)
            if reply is not None:
                return self._replay(call, reply, fingerprint, runner)
            # The holder gave up, or not within our deadline: send ourselves, with the same key
            # (the server's own idempotency answers 409 while the holder's request is in flight).
            return await runner.run(call)
        assert_never(begun)

    def _replay(
        self, call: CallLike, reply: CachedReply, fingerprint: str, runner: Runner
    ) -> APIResponse:
        if reply.fingerprint != fingerprint:  # bound under another request (another process)
            raise _reused(call.idempotency_key or "")
        return runner.replay(call, reply)

    def __repr__(self) -> str:
        return f"<IdempotencyCoordinator in_flight={len(self._flights)} store={self.store!r}>"


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
