"""The fake server's request pipeline: the aiohttp application, its middleware, and the dispatch.

Middleware runs outermost first, so the rules apply in this order:

1. `record_exchange`: request id, the arrival record, JSON for aiohttp's own errors (404, 405);
2. `authenticate`: ``Authorization: Bearer <key>``, else 401 ``UNAUTHORIZED``;
3. `limit_rate`: the per-key sliding window, else 429 ``RATE_LIMITED`` + ``Retry-After``;
4. `check_scope`: the endpoint's permissions (403 ``INSUFFICIENT_SCOPE``), then its plan
   (403 ``PLAN_REQUIRED``);
5. `drop_after_apply`: closes the connection of an applied mutation while that fault is armed;
6. `apply_idempotency`: ``Idempotency-Key`` on mutations: 400 if malformed, 409 while in flight,
   the stored reply again (``X-Idempotent-Replayed: true``), else run and store the outcome;
7. `inject_faults`: latency, scripted statuses, 409 storms, random 5xx;
8. the endpoint handler (`_endpoint_handler`), which decodes the body (a JSON object, or a
   multipart form streamed within ``max_upload_bytes``: 413 past it), validates, applies, and
   writes the ledger.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import AbstractRoute

from ._clock import Clock, WallClock
from ._dataset import Dataset
from ._endpoints import PATH_PREFIX, Call, Endpoint
from ._faults import Faults
from ._idempotency import Claim, IdempotencyStore, StoredReply, is_uuid4
from ._ids import IdFactory
from ._journal import Arrival, Journal, LedgerEntry
from ._keys import ApiKey, KeyRing, plan_allows
from ._multipart import read_form
from ._rate_window import SlidingWindow
from ._responses import (
    ApiError,
    error_body,
    http_error,
    idempotency_in_flight,
    injected_error,
    json_response,
    rate_limited,
)
from ._validation import json_object

logger = logging.getLogger("tightknit_async.testing")

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The in-flight 409's Retry-After: a retry a second later usually finds the reply stored.
_IN_FLIGHT_RETRY_AFTER = 1
# Headers that belong to one exchange, never to a stored reply.
_UNSTORED_HEADERS = frozenset({"content-length", "date", "server", "x-request-id"})


@dataclass(slots=True)
class ServerState:
    """Everything the pipeline reads and changes; one per `FakeTightknit`.

    ``max_upload_bytes`` caps a multipart file part (413 past it); the bytes of files up to
    ``keep_upload_bytes`` are kept in the data, larger ones only by size and digest.
    """

    clock: Clock
    wall_clock: WallClock
    ids: IdFactory
    keys: KeyRing
    limiter: SlidingWindow | None
    idempotency: IdempotencyStore
    faults: Faults
    data: Dataset
    journal: Journal
    endpoints: dict[AbstractRoute, Endpoint]
    max_upload_bytes: int
    keep_upload_bytes: int


@dataclass(slots=True)
class Exchange:
    """What the pipeline learns about one request on its way in and out."""

    arrived_at: float
    endpoint: Endpoint | None
    idempotency_key: str | None
    key: ApiKey | None = None
    replayed: bool = False
    applied: bool = False
    injected: bool = False
    dropped: bool = False

    @property
    def authenticated_key(self) -> ApiKey:
        """The authenticated key; only middleware after `authenticate` may ask."""
        if self.key is None:
            raise RuntimeError("the request has not been authenticated")
        return self.key


STATE = web.AppKey("tightknit_fake_state", ServerState)
EXCHANGE = web.RequestKey("tightknit_fake_exchange", Exchange)


@web.middleware
async def record_exchange(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time the arrival, answer every error as JSON, stamp ``X-Request-Id``, record the arrival."""
    state = request.app[STATE]
    exchange = Exchange(
        arrived_at=state.clock(),
        endpoint=state.endpoints.get(request.match_info.route),
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    request[EXCHANGE] = exchange
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # aiohttp's own: unknown route, wrong method, body too big
        response = http_error(exc)
    except Exception:
        logger.exception("fake Tightknit server: unhandled error in %s", request.path)
        response = json_response(500, error_body("Internal server error", "INTERNAL_ERROR"))
    response.headers["X-Request-Id"] = f"req_{secrets.token_hex(8)}"
    state.journal.record_arrival(
        Arrival(
            time=exchange.arrived_at,
            method=request.method,
            path=request.path,
            key_id=None if exchange.key is None else exchange.key.id,
            status=None if exchange.dropped else response.status,
            idempotency_key=exchange.idempotency_key,
            replayed=exchange.replayed,
        )
    )
    return response


def _unauthorized(message: str) -> web.Response:
    return json_response(401, error_body(message, "UNAUTHORIZED"))


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401 unless ``Authorization`` is ``Bearer <secret>`` of a known, unrevoked key."""
    header = request.headers.get("Authorization")
    if header is None:
        return _unauthorized("Missing Authorization header")
    scheme, _, secret = header.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        return _unauthorized("Authorization header must be 'Bearer <API key>'")
    key = request.app[STATE].keys.find(secret)
    if key is None:
        return _unauthorized("Invalid API key")
    if key.revoked:
        return _unauthorized("This API key has been revoked")
    request[EXCHANGE].key = key
    return await handler(request)


@web.middleware
async def limit_rate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """429 when the key already has ``rate_limit`` accepted arrivals in the window."""
    limiter = request.app[STATE].limiter
    if limiter is not None:
        exchange = request[EXCHANGE]
        retry_after = limiter.admit(exchange.authenticated_key.id, exchange.arrived_at)
        if retry_after is not None:
            return rate_limited(retry_after).response()
    return await handler(request)


@web.middleware
async def check_scope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """403 when the key lacks one of the endpoint's permissions, or its plan is below the
    endpoint's. The body lists every permission the endpoint requires, not only the missing."""
    exchange = request[EXCHANGE]
    endpoint = exchange.endpoint
    if endpoint is not None:
        key = exchange.authenticated_key
        required = endpoint.permissions
        if any(permission not in key.permissions for permission in required):
            current = ", ".join(key.permissions) or "none"
            noun = "permission" if len(required) == 1 else "permissions"
            return json_response(
                403,
                error_body(
                    f"This API key lacks the {noun} this endpoint requires",
                    "INSUFFICIENT_SCOPE",
                    hint=f"Required {noun}: {', '.join(required)}. Current permissions: {current}",
                    required_permissions=list(required),
                    current_permissions=list(key.permissions),
                ),
            )
        if not plan_allows(key.plan, endpoint.plan):
            return json_response(
                403,
                error_body(
                    f"This endpoint requires the {endpoint.plan.capitalize()} plan",
                    "PLAN_REQUIRED",
                    required_plan=endpoint.plan,
                    current_plan=key.plan,
                ),
            )
    return await handler(request)


@web.middleware
async def drop_after_apply(request: web.Request, handler: Handler) -> web.StreamResponse:
    """While ``faults.drop_after_apply`` is armed, close the connection of an applied mutation.

    The mutation is applied and its reply stored for replay; then the transport is closed, so
    aiohttp's attempt to write the reply fails quietly and the client sees the server disconnect
    without a response.
    """
    response = await handler(request)
    exchange = request[EXCHANGE]
    state = request.app[STATE]
    if exchange.applied and state.faults.take_drop():
        exchange.dropped = True
        state.journal.record_fault()
        request.protocol.force_close()
    return response


@web.middleware
async def apply_idempotency(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the ``Idempotency-Key`` rules to mutations of known endpoints (GET ignores the key).

    The key must be a UUIDv4 (else 400 ``INVALID_IDEMPOTENCY_KEY``) and is scoped to the API key.
    A key in flight gets 409 ``IDEMPOTENCY_IN_FLIGHT`` + ``Retry-After: 1``; a key completed less
    than ``idempotency_ttl`` seconds ago gets the stored status, body and headers again with
    ``X-Idempotent-Replayed: true``. Handler outcomes below 500 are stored; injected faults and
    server errors are not, so the next request with the key runs afresh.
    """
    exchange = request[EXCHANGE]
    raw_key = exchange.idempotency_key
    if raw_key is None or exchange.endpoint is None or request.method not in MUTATING_METHODS:
        return await handler(request)
    if not is_uuid4(raw_key):
        return json_response(
            400, error_body("Idempotency-Key must be a UUIDv4", "INVALID_IDEMPOTENCY_KEY")
        )
    state = request.app[STATE]
    store = state.idempotency
    scope = (exchange.authenticated_key.id, raw_key.lower())
    claim = store.claim(scope, exchange.arrived_at)
    if claim is Claim.IN_FLIGHT:
        return idempotency_in_flight(_IN_FLIGHT_RETRY_AFTER).response()
    if isinstance(claim, StoredReply):
        exchange.replayed = True
        replay = web.Response(status=claim.status, body=claim.body, headers=claim.headers)
        replay.headers["X-Idempotent-Replayed"] = "true"
        return replay
    try:
        response = await handler(request)
    except BaseException:
        store.release(scope)
        raise
    body = response.body if isinstance(response, web.Response) else None
    if exchange.injected or response.status >= 500 or not isinstance(body, bytes):
        store.release(scope)
    else:
        headers = tuple(
            (name, value)
            for name, value in response.headers.items()
            if name.lower() not in _UNSTORED_HEADERS
        )
        store.complete(scope, StoredReply(response.status, body, headers, state.clock()))
    return response


@web.middleware
async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Add latency, then answer a scripted status, a 409 of a storm, or a random error."""
    state = request.app[STATE]
    faults = state.faults
    exchange = request[EXCHANGE]
    if delay := faults.draw_latency():
        await asyncio.sleep(delay)
    status = faults.next_scripted_status(request.method, request.path)
    keyed_mutation = (
        exchange.endpoint is not None
        and exchange.idempotency_key is not None
        and request.method in MUTATING_METHODS
    )
    if status is None and keyed_mutation and faults.take_conflict():
        status = 409
    if status is None and faults.roll_error():
        status = faults.error_status
    if status is None:
        return await handler(request)
    exchange.injected = True
    state.journal.record_fault()
    return injected_error(status, retry_after=faults.retry_after, html=faults.error_html)


def _endpoint_handler(endpoint: Endpoint) -> Handler:
    """Wrap a pure handler: decode the body, build the `Call`, write the ledger, encode."""

    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        exchange = request[EXCHANGE]
        try:
            body = json_object(await request.read()) if endpoint.body == "json" else {}
            form = (
                await read_form(
                    request,
                    file_fields=endpoint.file_fields,
                    max_file_bytes=state.max_upload_bytes,
                    keep_bytes=state.keep_upload_bytes,
                )
                if endpoint.body == "multipart"
                else None
            )
            reply = endpoint.handler(
                Call(
                    data=state.data,
                    ids=state.ids,
                    key=exchange.authenticated_key,
                    params=request.match_info,
                    query=request.query,
                    body=body,
                    now=state.wall_clock(),
                    origin=str(request.url.origin()),
                    form=form,
                )
            )
        except ApiError as error:
            return error.response()
        if reply.applied_to is not None:
            exchange.applied = True
            state.journal.record_mutation(
                LedgerEntry(
                    time=state.clock(),
                    method=request.method,
                    path=request.path,
                    key_id=exchange.authenticated_key.id,
                    idempotency_key=exchange.idempotency_key,
                    resource_id=reply.applied_to,
                    status=reply.status,
                )
            )
        return json_response(reply.status, reply.body)

    return handle


def build_app(state: ServerState, endpoints: tuple[Endpoint, ...]) -> web.Application:
    """Return the application serving ``endpoints`` under `PATH_PREFIX` over ``state``."""
    app = web.Application(
        middlewares=[
            record_exchange,
            authenticate,
            limit_rate,
            check_scope,
            drop_after_apply,
            apply_idempotency,
            inject_faults,
        ]
    )
    app[STATE] = state
    for endpoint in endpoints:
        route = app.router.add_route(
            endpoint.method, PATH_PREFIX + endpoint.path, _endpoint_handler(endpoint)
        )
        state.endpoints[route] = endpoint
    return app
