"""`FakeTightknit`: the embedded fake Tightknit API server, and `serve_forever` for the CLI."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Collection, Iterable, Mapping, Set
from types import MappingProxyType, TracebackType
from typing import Self

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler

from ._clock import Clock, WallClock, utc_now
from ._drift import Drift, install
from ._endpoints import ENDPOINTS
from ._faults import Faults
from ._idempotency import IdempotencyStore
from ._ids import IdFactory
from ._journal import Arrival, FakeStats, Journal, LedgerEntry, max_in_window
from ._keys import ApiKey, KeyRing, Plan
from ._network import NetworkDelay
from ._network import install as install_network
from ._pipeline import ServerState, build_app
from ._rate_window import SlidingWindow
from ._records import (
    Award,
    AwardAssignment,
    Badge,
    BadgeAssignment,
    CalendarEvent,
    Community,
    Feed,
    Group,
    Member,
    Post,
    ProfileSummary,
    StoredFile,
    Tag,
)
from ._seed import build_dataset

# Seconds that closing waits for requests still being handled before cancelling them.
_SHUTDOWN_GRACE = 1.0

ADMIN_PREFIX = "/_fake/"
"""Where the admin routes live, outside the API's ``/admin/v0``."""
ADMIN_ROUTES = ("stats", "ledger", "arrivals")
_ADMIN_PAGE = 1000


def _admin_json(status: int, body: object) -> web.Response:
    return web.Response(
        status=status, body=msgspec.json.encode(body), content_type="application/json"
    )


DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024
"""The largest file ``POST /admin/v0/files`` accepts by default (25 MiB)."""

DEFAULT_KEEP_UPLOAD_BYTES = 1024 * 1024
"""Uploads up to this size (1 MiB) keep their bytes in `FakeTightknit.files` by default."""


def _check_upload_bytes(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return value


class FakeTightknit:
    """An in-memory Tightknit API on aiohttp.web that enforces the real API's rules.

    Serves every endpoint of ``docs/api.md`` (key introspection; adding and deactivating
    members; listing, retrieving, creating and deleting calendar events; feeds and their posts;
    posts; search; file upload; awards, legacy badges and groups) from deterministic seed data.
    Every request passes, in order: the fake network's delay, if any (`network_delay`),
    authentication (401), the per-key rate limit (429 + ``Retry-After``), the endpoint's
    permission and plan (403), the ``Idempotency-Key`` rules (400, 409, replay), injected faults,
    then the handler's validation (400) and effect, and with `drift` on, the alteration of a GET
    endpoint's successful reply. Every reply carries ``X-Request-Id``; every reply but an injected
    HTML error page is JSON, unknown routes included.

    Use it as an async context manager, or `start` and `close` it::

        async with FakeTightknit() as fake:
            async with aiohttp.ClientSession() as session:
                await session.get(
                    f"{fake.url}/admin/v0/api_key/me",
                    headers={"Authorization": f"Bearer {fake.api_key}"},
                )

    or mount `app` in aiohttp's own test server instead of starting it.

    Args:
        host, port: where `start` listens; port 0 picks a free port.
        rate_limit: accepted requests per key in any ``rate_window`` seconds; None disables.
        rate_window: the sliding window's length in seconds.
        clock: the monotonic clock (seconds) timing arrivals, the rate window and the
            idempotency TTL; ``time.monotonic`` by default, a `FakeClock` in tests.
        wall_clock: returns the aware current datetime that decides upcoming and past events,
            anchors the seed data's dates, and stamps new keys; UTC system time by default.
        idempotency_ttl: seconds a completed reply is replayed for the same key.
        seed: makes the seed data, the ids, the default key and the random faults repeat from
            run to run.
        seed_data: start with seed members, events, feeds, posts, tags, awards, badges and
            groups (else with none).
        max_upload_bytes: the largest file part ``POST /admin/v0/files`` accepts; a larger one
            is answered 413 as soon as its bytes pass the limit. Also settable later.
        keep_upload_bytes: uploads up to this size keep their bytes in `files`; larger ones are
            kept by size and SHA-256 only, so big uploads cost no memory.
        api_key: the secret of the default key (`api_key`); by default a random one.
        admin_routes: serve ``GET /_fake/stats``, ``/_fake/ledger`` and ``/_fake/arrivals``
            (see `admin_route`): what the fake saw, read over HTTP while it runs.
        drift: alter the successful replies of the GET endpoints the way a live API drifts (an
            unknown field, a null, a missing field, a new enum value, a value of another type);
            see `drift`. Also switchable later.
        network_delay: ``(low, high)``: hold every request a random ``[low, high]`` seconds
            (uniform, drawn from ``seed``) before the server sees it, as a network with jitter
            does: arrivals are timed, and the rate limit counts them, after the delay. Answers
            go back at once. The delay is slept on the server's event loop. Also settable later.

    Raises:
        ValueError: for a ``rate_limit`` below 1, a non-positive window or TTL, a negative
            upload limit, or a ``network_delay`` without ``0 <= low <= high``.
        TypeError: for a ``drift`` that is not a bool, or a ``network_delay`` that is not two
            numbers.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int | None = 50,
        rate_window: float = 1.0,
        clock: Clock | None = None,
        wall_clock: WallClock | None = None,
        idempotency_ttl: float = 3600.0,
        seed: int = 0,
        seed_data: bool = True,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        keep_upload_bytes: int = DEFAULT_KEEP_UPLOAD_BYTES,
        drift: bool = False,
        network_delay: tuple[float, float] | None = None,
        api_key: str | None = None,
        admin_routes: bool = True,
    ) -> None:
        self._host = host
        self._port = port
        wall_clock = wall_clock or utc_now
        ids = IdFactory(f"tightknit-fake:{seed}:runtime")
        self._state = ServerState(
            clock=clock or time.monotonic,
            wall_clock=wall_clock,
            ids=ids,
            keys=KeyRing(ids, wall_clock),
            limiter=None if rate_limit is None else SlidingWindow(rate_limit, rate_window),
            idempotency=IdempotencyStore(idempotency_ttl),
            faults=Faults(seed=seed),
            data=build_dataset(
                seed=seed, now=wall_clock(), community_id=ids.uuid4(), populate=seed_data
            ),
            journal=Journal(),
            endpoints={},
            max_upload_bytes=_check_upload_bytes("max_upload_bytes", max_upload_bytes),
            keep_upload_bytes=_check_upload_bytes("keep_upload_bytes", keep_upload_bytes),
        )
        self._drift = Drift(drift)
        self._network = NetworkDelay(network_delay, seed=seed)
        self.app: web.Application = build_app(self._state, ENDPOINTS)
        """The aiohttp application; usable with ``aiohttp.test_utils.TestServer`` as well."""
        install(self.app, self._drift)
        install_network(self.app, self._network)
        self._in_flight = 0
        self._admin_routes = admin_routes
        self.app.middlewares.insert(0, self._admin_and_count)  # outermost
        # Random, not from the seed: two fakes (two "servers") never share a key by accident.
        self.api_key: str = self.add_key(
            key=api_key or f"sk_test_{secrets.token_hex(16)}", name="Default test key"
        )
        """A key with every permission on the enterprise plan: ``api_key`` when given, else
        different for every instance."""
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._closed = False

    # Lifecycle

    async def start(self) -> None:
        """Listen on ``host:port``; `url` is set once this returns.

        Raises:
            RuntimeError: if already started, or closed.
            OSError: if the address cannot be bound.
        """
        if self._closed:
            raise RuntimeError("this FakeTightknit is closed; create a new one")
        if self._runner is not None:
            raise RuntimeError("this FakeTightknit is already started")
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=_SHUTDOWN_GRACE)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    async def close(self) -> None:
        """Stop listening and close open connections; calling it again does nothing."""
        self._closed = True
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT``; API paths are under ``/admin/v0``.

        Raises:
            RuntimeError: before `start`.
        """
        if self._url is None:
            raise RuntimeError("FakeTightknit.url is known once the server is started")
        return self._url

    # Keys

    def add_key(
        self,
        permissions: Iterable[str] | None = None,
        plan: Plan = "enterprise",
        key: str | None = None,
        *,
        name: str | None = None,
    ) -> str:
        """Issue an API key and return its secret.

        ``permissions=None`` grants every permission in ``PERMISSIONS``; ``key`` chooses the
        secret (default ``sk_test_`` and 32 hex digits); ``name`` is what ``/api_key/me`` reports.

        Raises:
            TypeError: if ``permissions`` is one string instead of an iterable of names.
            ValueError: for an unknown permission or plan, or a secret already issued.
        """
        return self._state.keys.add(
            permissions=permissions, plan=plan, secret=key, name=name
        ).secret

    def revoke_key(self, key: str) -> None:
        """Revoke a key: its requests are answered 401 from now on.

        Raises:
            KeyError: if the fake never issued ``key``.
        """
        self._state.keys.revoke(key)

    def key_info(self, key: str) -> ApiKey:
        """Return what the fake knows of a key, including the ``id`` the ledger records.

        Raises:
            KeyError: if the fake never issued ``key``.
        """
        return self._state.keys.get(key)

    # What happened

    @property
    def ledger(self) -> list[LedgerEntry]:
        """A copy of the applied mutations, oldest first."""
        return list(self._state.journal.ledger)

    @property
    def arrivals(self) -> list[Arrival]:
        """A copy of the answered (or dropped) requests, in the order they finished."""
        return list(self._state.journal.arrivals)

    @property
    def stats(self) -> FakeStats:
        """Counters of requests, 429s, replays, 409s, injected faults and dropped connections."""
        return self._state.journal.stats

    def max_in_window(
        self, window: float = 1.0, statuses: Collection[int | None] | None = None
    ) -> int:
        """Return the most arrivals in any ``window`` seconds of server-clock arrival times.

        ``statuses`` counts only arrivals answered with one of them (None stands for a dropped
        connection); by default every arrival counts. Requests still being handled are not
        counted.

        Raises:
            ValueError: if ``window`` is not positive.
        """
        arrivals = self._state.journal.arrivals
        return max_in_window(
            (a.time for a in arrivals if statuses is None or a.status in statuses), window
        )

    @property
    def in_flight(self) -> int:
        """Requests being handled right now (held by the network delay or injected latency
        included; the admin routes not)."""
        return self._in_flight

    def reset_ledger(self) -> None:
        """Forget the applied mutations recorded so far."""
        self._state.journal.ledger.clear()

    def reset_arrivals(self) -> None:
        """Forget the arrivals recorded so far (the rate window is unaffected)."""
        self._state.journal.arrivals.clear()

    def reset_stats(self) -> None:
        """Set every counter of `stats` back to zero."""
        self._state.journal.reset_stats()

    @property
    def faults(self) -> Faults:
        """The fault-injection settings, live: change them at any time."""
        return self._state.faults

    @property
    def drift(self) -> Drift:
        """The drift switch, live: ``drift.enabled`` turns it on or off at any time, and
        ``drift.injected`` lists each change made to a reply so far, as (endpoint path template,
        JSON path, deviation kind)."""
        return self._drift

    @property
    def network_delay(self) -> tuple[float, float] | None:
        """``(low, high)``: every request is held a random ``[low, high]`` seconds before the
        server sees it (None: not at all); settable at any time, for the requests that follow.

        Raises:
            TypeError: when set to anything but two numbers or None.
            ValueError: when set without ``0 <= low <= high``.
        """
        return self._network.bounds

    @network_delay.setter
    def network_delay(self, value: tuple[float, float] | None) -> None:
        self._network.bounds = value

    @property
    def max_upload_bytes(self) -> int:
        """The largest file ``POST /admin/v0/files`` accepts (413 beyond); settable.

        Raises:
            ValueError: when set to anything but an int >= 0.
        """
        return self._state.max_upload_bytes

    @max_upload_bytes.setter
    def max_upload_bytes(self, value: int) -> None:
        self._state.max_upload_bytes = _check_upload_bytes("max_upload_bytes", value)

    # The data

    @property
    def community(self) -> Community:
        """The community every key belongs to."""
        return self._state.data.community

    @property
    def members(self) -> Mapping[str, Member]:
        """Members by id, live and read-only."""
        return MappingProxyType(self._state.data.members)

    @property
    def deactivated_member_ids(self) -> Set[str]:
        """The ids of the members deactivated so far (a snapshot)."""
        return frozenset(self._state.data.deactivated_member_ids)

    @property
    def profiles(self) -> Mapping[str, ProfileSummary]:
        """The profiles of Slack-linked members by profile id (also their member id), live and
        read-only: who may host or speak at events."""
        return MappingProxyType(self._state.data.profiles)

    @property
    def calendar_events(self) -> Mapping[str, CalendarEvent]:
        """Calendar events by id (all statuses), live and read-only."""
        return MappingProxyType(self._state.data.calendar_events)

    @property
    def feeds(self) -> Mapping[str, Feed]:
        """Feeds by id, live and read-only."""
        return MappingProxyType(self._state.data.feeds)

    @property
    def posts(self) -> Mapping[str, Post]:
        """Posts by id, live and read-only."""
        return MappingProxyType(self._state.data.posts)

    @property
    def tags(self) -> Mapping[str, Tag]:
        """Event tags by id, live and read-only (``tags`` of a new event must name these)."""
        return MappingProxyType(self._state.data.tags)

    @property
    def files(self) -> Mapping[str, StoredFile]:
        """Uploaded files by id, live and read-only: the `File` record, description, SHA-256
        and, for uploads up to ``keep_upload_bytes``, the bytes."""
        return MappingProxyType(self._state.data.files)

    @property
    def awards(self) -> Mapping[str, Award]:
        """Awards by id, live and read-only (the API cannot list them; tests take ids here)."""
        return MappingProxyType(self._state.data.awards)

    @property
    def award_assignments(self) -> list[AwardAssignment]:
        """A copy of the awards given, oldest first."""
        return list(self._state.data.award_assignments)

    @property
    def badges(self) -> Mapping[str, Badge]:
        """Legacy badges by id, live and read-only."""
        return MappingProxyType(self._state.data.badges)

    @property
    def badge_assignments(self) -> list[BadgeAssignment]:
        """A copy of the legacy badges held (one per badge and user), oldest first."""
        return list(self._state.data.badge_assignments)

    @property
    def groups(self) -> Mapping[str, Group]:
        """Groups by id with their members' Slack user ids, live and read-only."""
        return MappingProxyType(self._state.data.groups)

    def find_member(self, email: str) -> Member | None:
        """Return the member with this e-mail (case-insensitive), or None."""
        return self._state.data.find_member(email)

    # The admin routes

    @web.middleware
    async def _admin_and_count(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX) and self._admin_routes:
            return self.admin_route(request.method, request.path, request.query)
        self._in_flight += 1
        try:
            return await handler(request)
        finally:
            self._in_flight -= 1

    def admin_route(self, method: str, path: str, query: Mapping[str, str]) -> web.Response:
        """Answer one of the admin routes, outside the API (no key, no rate limit, not counted
        in `stats` or `arrivals`):

        - ``GET /_fake/stats``: the counters of `stats`, the sizes of `ledger` and `arrivals`,
          `in_flight` and the most arrivals in any 1 s window;
        - ``GET /_fake/ledger?since=N&limit=M``: the ledger entries from position ``N`` (0 by
          default), at most ``M`` (default 1000), as ``{"entries": [...], "next": N', "total":
          T}``; ask again with ``since=next`` for the rest;
        - ``GET /_fake/arrivals?since=N&limit=M``: the same for `arrivals`.
        """
        if method != "GET":
            return _admin_json(405, {"error": f"{path} answers GET only"})
        journal = self._state.journal
        if path == f"{ADMIN_PREFIX}stats":
            stats = msgspec.to_builtins(journal.stats)
            return _admin_json(
                200,
                {
                    **stats,
                    "ledger": len(journal.ledger),
                    "arrivals": len(journal.arrivals),
                    "in_flight": self._in_flight,
                    "max_in_any_second": self.max_in_window(1.0),
                },
            )
        rows: list[LedgerEntry] | list[Arrival]
        if path == f"{ADMIN_PREFIX}ledger":
            rows = journal.ledger
        elif path == f"{ADMIN_PREFIX}arrivals":
            rows = journal.arrivals
        else:
            routes = ", ".join(f"GET {ADMIN_PREFIX}{name}" for name in ADMIN_ROUTES)
            return _admin_json(404, {"error": f"no admin route {path}; there are: {routes}"})
        try:
            since = int(query.get("since", "0"))
            limit = int(query.get("limit", str(_ADMIN_PAGE)))
            if since < 0 or limit < 1:
                raise ValueError
        except ValueError:
            return _admin_json(400, {"error": "since must be an int >= 0, limit an int >= 1"})
        chunk = rows[since : since + limit]
        return _admin_json(
            200,
            {
                "entries": msgspec.to_builtins(chunk),
                "next": since + len(chunk),
                "total": len(rows),
            },
        )

    def __repr__(self) -> str:
        where = "closed" if self._closed else self._url or "not started"
        journal = self._state.journal
        return (
            f"<FakeTightknit {where} requests={journal.stats.requests} "
            f"ledger={len(journal.ledger)}>"
        )


async def serve_forever(
    port: int,
    host: str = "127.0.0.1",
    *,
    drift: bool = False,
    network_delay: tuple[float, float] | None = None,
    rate_limit: int | None = 50,
    faults: str | Mapping[str, object] | None = None,
    seed: int = 0,
    api_key: str | None = None,
) -> None:
    """Run a `FakeTightknit` on ``host:port`` until cancelled (Ctrl+C in the CLI).

    Prints the URL as a ``TIGHTKNIT_BASE_URL=...`` line a shell can ``export``, and the default
    API key as ``TIGHTKNIT_API_KEY=...`` when it was generated (not when given as ``api_key``).
    ``drift=True`` alters the GET endpoints' replies as `FakeTightknit` ``drift`` does;
    ``network_delay`` holds every request a random ``[low, high]`` seconds before the server
    sees it; ``rate_limit`` is the per-key limit in any 1 s (None: none); ``faults`` is applied
    with `Faults.apply` (``"error_rate=0.1,latency=0.05"``); ``seed`` makes the data, the ids
    and the random faults repeat. The admin routes (``GET /_fake/stats``, ``/_fake/ledger``,
    ``/_fake/arrivals``) tell what the server saw while it runs.

    Raises:
        ValueError: a bad rate, fault setting or key.
    """
    fake = FakeTightknit(
        host=host,
        port=port,
        drift=drift,
        network_delay=network_delay,
        rate_limit=rate_limit,
        seed=seed,
        api_key=api_key,
    )
    if faults:
        fake.faults.apply(faults)
    async with fake:
        print(f"Fake Tightknit API listening on {fake.url} (Ctrl+C to stop)", flush=True)
        limit = (
            "no rate limit" if rate_limit is None else f"{rate_limit} requests per key in any 1 s"
        )
        print(f"Rate limit: {limit}; seed {seed}", flush=True)
        if drift:
            print("Replies of the GET endpoints drift from the models (--drift)", flush=True)
        if network_delay is not None:
            low, high = network_delay
            print(
                f"Every request is delayed {1e3 * low:g} to {1e3 * high:g} ms before the server "
                "sees it (--jitter-ms)",
                flush=True,
            )
        changed = {k: v for k, v in fake.faults.settings().items() if v != Faults().settings()[k]}
        if changed:
            shown = ", ".join(f"{name}={value}" for name, value in changed.items())
            print(f"Faults: {shown}", flush=True)
        print(
            f"What it saw: GET {fake.url}{ADMIN_PREFIX}stats, {ADMIN_PREFIX}ledger?since=N, "
            f"{ADMIN_PREFIX}arrivals?since=N",
            flush=True,
        )
        print(f"TIGHTKNIT_BASE_URL={fake.url}", flush=True)
        if api_key is None:
            print(f"TIGHTKNIT_API_KEY={fake.api_key}", flush=True)
        else:
            print("TIGHTKNIT_API_KEY: the key given with --key", flush=True)
        await asyncio.get_running_loop().create_future()
