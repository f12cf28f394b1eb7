"""``AsyncTightknit``: configuration, lifecycle, and the request pipeline.

One call flows through: options -> (rate governor: one token per attempt) -> transport -> status
check -> retry decision. See :mod:`tightknit_async.retry` for what is retried and how long it waits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import logging
import os
import platform
from asyncio import get_running_loop
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias
from urllib.parse import urlencode, urlsplit

from multidict import CIMultiDict, CIMultiDictProxy

from . import _codec
from ._clock import Clock, SystemClock
from ._config import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RETRY_DEADLINE,
    DEFAULT_TIMEOUT,
    ENV_REDIS_URL,
    Limits,
    Timeout,
    resolve_api_key,
    resolve_base_url,
)
from ._exceptions import (
    ClientClosedError,
    WrongEventLoopError,
)
from ._pipeline import ATTEMPT_HEADER, CallDescription, Counters, Runner
from ._response import APIResponse
from ._types import NOT_GIVEN, NotGiven, Priority
from ._version import __version__
from .governor import RateGovernor, governor_for
from .idempotency import (
    IdempotencyStore,
    default_store,
    mint_idempotency_key,
    validate_idempotency_key,
)
from .idempotency._coordinator import (
    IdempotencyCoordinator,
    coordinator_for,
    request_fingerprint,
)
from .resources import (
    ApiKeyResource,
    AwardsResource,
    BadgesResource,
    CalendarEventsResource,
    FeedsResource,
    FilesResource,
    GroupsResource,
    MembersResource,
    PostsResource,
    SearchResource,
)
from .retry import RetryPolicy
from .transport import AiohttpTransport, AsyncTransport, Multipart

__all__ = ["AsyncTightknit", "ClientStatistics"]

logger: Final = logging.getLogger("tightknit_async")

USER_AGENT: Final = f"tightknit-async/{__version__} (python {platform.python_version()})"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
MUTATING_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})

ParamValue: TypeAlias = str | int | float | bool | None
Params: TypeAlias = Mapping[str, ParamValue | Sequence[ParamValue]]
IdempotencyKeyOption: TypeAlias = str | Literal[False] | NotGiven | None
_PRIORITIES: Final = ("interactive", "bulk")
_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_PLAIN_URLS: Final = 1024
"""Plain paths whose URL a client remembers (see ``AsyncTightknit._url_for``)."""


@dataclass(frozen=True, slots=True)
class ClientStatistics:
    """Counters since the client was created.

    ``calls``: ``request()`` calls finished (either way); ``attempts``: HTTP attempts sent;
    ``retries``: attempts after the first; ``rate_limited``: 429 answers seen; ``replayed``: answers
    marked as replays; ``failures``: calls that raised.
    """

    calls: int = 0
    attempts: int = 0
    retries: int = 0
    rate_limited: int = 0
    replayed: int = 0
    failures: int = 0


def key_fingerprint(api_key: str) -> str:
    """A short, non-reversible label for a key (``sha256:`` + 8 hex digits), safe to log."""
    return "sha256:" + hashlib.sha256(api_key.encode()).hexdigest()[:8]


class AsyncTightknit:
    """The asyncio client for the Tightknit REST API.

    Use it as an async context manager on one event loop::

        async with AsyncTightknit(api_key="sk_...") as tk:
            response = await tk.request("GET", "/admin/v0/api_key/me")

    Args:
        api_key: the secret key; defaults to ``TIGHTKNIT_API_KEY``. Never shown in any repr,
            log line or error.
        base_url: defaults to ``TIGHTKNIT_BASE_URL``, then ``https://api.tightknit.ai``.
        rate_limit: requests per second for this key, shared by every client of the key in this
            process (default 50, the API's cap); ``None`` turns pacing off.
        governor: an explicit rate governor to use instead of the per-key registry's.
        idempotency_store: where idempotency keys are bound and replies cached for replay;
            by default one in-memory store per process (10,000 replies, 64 MiB, 1 hour).
        max_retries: retries after the first attempt (default 3).
        deadline: seconds one call may take in all, by default: its wait for a send slot, every
            attempt and every backoff (default 60; ``None``: bounded by attempts only). A call
            that cannot finish within it raises :class:`~tightknit_async.DeadlineExceededError`
            (a ``TimeoutError``) as soon as that is known. Each call may pass its own.
            ``timeout`` bounds one attempt within it; ``max_retries`` the number of attempts.
        retry_deadline: the older name of ``deadline``, still accepted.
        timeout: per-attempt :class:`Timeout`, or a number of seconds for the total.
        limits: connection-pool :class:`Limits` for the default aiohttp transport.
        transport: a custom :class:`~tightknit_async.transport.AsyncTransport` (not closed by
            the client: its owner closes it).
        default_headers: extra headers sent with every request.
        allow_insecure_http: allow a plain ``http://`` ``base_url`` to a host that is not
            loopback (off: the key would travel unencrypted). TLS certificates are always verified.
        redis_url: ``redis://...`` (default ``TIGHTKNIT_REDIS_URL``; ``None`` for none): pace the
            key and keep idempotency state in Redis, shared by every process and host using it
            (needs the ``redis`` extra). An explicit ``governor=`` / ``idempotency_store=`` wins.
        redis_fallback_workers: with Redis unreachable, pace this process alone at
            ``rate_limit / redis_fallback_workers`` instead of raising
            ``GovernorUnavailableError`` (logged at WARNING, once per outage): every client of
            the key in the process together, on any event loop.
        redis_max_connections: Redis connections each of the client's two pools (the
            governor's, the idempotency store's) opens for commands at most; default 16. A
            command that finds them all busy waits for a free one, up to 5 s, instead of
            failing; then ``GovernorUnavailableError`` / ``IdempotencyStoreUnavailableError``
            names this setting. Raise it for bursts of many caller-keyed calls at once.
        strict_responses: raise :class:`~tightknit_async.ResponseValidationError` when a 2xx
            reply does not fit its model (a null or a missing value where the model requires
            one). Off by default: such a reply is decoded tolerantly, the field taking its empty
            value, and one WARNING is logged per model, field and kind.
        clock: the monotonic clock (``monotonic()`` and ``async sleep()``) that deadlines and
            backoff read; tests pass a fake one. Default: the system's.
        telemetry: record OpenTelemetry spans and metrics (see :mod:`tightknit_async.telemetry`):
            ``None`` (default) when ``opentelemetry-api`` is installed, ``False`` never, ``True``
            always (``ImportError`` without it).
        tracer_provider, meter_provider: OpenTelemetry providers to use instead of the global
            ones.

    Raises:
        ValueError: no API key, a blank key, a ``base_url`` without scheme or host, a negative
            timeout or retry count, a ``rate_limit`` <= 0, a ``redis_max_connections`` < 1.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        rate_limit: float | NotGiven | None = NOT_GIVEN,
        governor: RateGovernor | None = None,
        idempotency_store: IdempotencyStore | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_deadline: float | None = DEFAULT_RETRY_DEADLINE,
        deadline: float | NotGiven | None = NOT_GIVEN,
        timeout: Timeout | float | None = DEFAULT_TIMEOUT,
        limits: Limits = DEFAULT_LIMITS,
        transport: AsyncTransport | None = None,
        default_headers: Mapping[str, str] | None = None,
        allow_insecure_http: bool = False,
        redis_url: str | NotGiven | None = NOT_GIVEN,
        redis_fallback_workers: int | None = None,
        redis_max_connections: int | None = None,
        strict_responses: bool = False,
        clock: Clock | None = None,
        telemetry: bool | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
    ) -> None:
        self._api_key = resolve_api_key(api_key)
        if not isinstance(strict_responses, bool):
            raise TypeError(f"strict_responses must be a bool, got {strict_responses!r}")
        self.strict_responses = strict_responses
        self.base_url = resolve_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self.timeout = Timeout.coerce(timeout)
        if not isinstance(deadline, NotGiven):
            if retry_deadline != DEFAULT_RETRY_DEADLINE and retry_deadline != deadline:
                raise ValueError("pass deadline=... (retry_deadline is its older name), not both")
            retry_deadline = deadline
        self.retry_policy = RetryPolicy(max_retries=max_retries, deadline=retry_deadline)
        if isinstance(rate_limit, NotGiven):
            rate_limit = DEFAULT_RATE_LIMIT
        if rate_limit is not None and (
            isinstance(rate_limit, bool)
            or not isinstance(rate_limit, int | float)
            or not rate_limit > 0
        ):
            raise ValueError(f"rate_limit must be a number > 0 or None, got {rate_limit!r}")
        self.rate_limit: float | None = None if rate_limit is None else float(rate_limit)
        if governor is not None and rate_limit is None:
            raise ValueError("pass either governor=... or rate_limit=None, not both")
        self._governor: RateGovernor | None = governor
        self._owns_transport = transport is None
        self._transport: AsyncTransport = transport or AiohttpTransport(limits=limits)
        self.key_fingerprint = key_fingerprint(self._api_key)
        # A case-insensitive multidict, the type aiohttp works in: a copy per attempt is cheap,
        # and aiohttp takes it without converting it again (a dict costs twice as much there).
        self._base_headers: CIMultiDict[str] = CIMultiDict(
            {"Accept": "application/json", "User-Agent": USER_AGENT}
        )
        if default_headers is not None and not isinstance(default_headers, Mapping):
            raise TypeError(
                f"default_headers must be a mapping, not {type(default_headers).__name__}"
            )
        for name, value in (default_headers or {}).items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(
                    f"default_headers must map str to str, got {name!r}: {type(value).__name__}"
                )
            if name.lower() == "authorization":
                raise ValueError("default_headers must not set Authorization: pass api_key=...")
            self._base_headers[name] = value
        self._base_headers["Authorization"] = f"Bearer {self._api_key}"
        self._base_headers[ATTEMPT_HEADER] = "1"
        # What a call with no headers of its own sends on its first attempt: no copy per call,
        # read-only to whatever receives it (a transport, a test's handler).
        self._plain_headers: CIMultiDictProxy[str] = CIMultiDictProxy(self._base_headers)
        # What a call with a JSON body starts from (copied per call: its key is added to it).
        self._json_headers: CIMultiDict[str] = self._base_headers.copy()
        self._json_headers["Content-Type"] = "application/json"
        self._owned: list[Any] = []  # Redis backends this client opened, closed with it
        if redis_max_connections is not None and (
            isinstance(redis_max_connections, bool)
            or not isinstance(redis_max_connections, int)
            or redis_max_connections < 1
        ):
            raise ValueError(
                f"redis_max_connections must be an int >= 1 or None, got {redis_max_connections!r}"
            )
        if isinstance(redis_url, NotGiven):
            redis_url = os.environ.get(ENV_REDIS_URL) or None
        if redis_url is not None:
            from ._redis import redis_backends

            redis_governor, redis_store = redis_backends(
                redis_url,
                self._api_key,
                rate=self.rate_limit or DEFAULT_RATE_LIMIT,
                fallback_workers=redis_fallback_workers,
                max_connections=redis_max_connections,
            )
            self._owned += [redis_governor, redis_store]  # closed with the client, used or not
            if governor is None and self.rate_limit is not None:
                self._governor = redis_governor
            if idempotency_store is None:
                idempotency_store = redis_store
        self._store: IdempotencyStore = idempotency_store or default_store()
        # Replies and single-flight are scoped by server and key: the same key given to two
        # servers (staging and production) must never share a reply.
        self._scope = hashlib.sha256(f"{self.base_url}\n{self._api_key}".encode()).hexdigest()
        self._coordinator_ref: IdempotencyCoordinator | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._plain_urls: dict[str, str] = {}  # see _url_for
        self._closed = False
        self._counters = Counters()
        self._runner = Runner(
            transport=self._transport,
            clock=clock if clock is not None else SystemClock(),
            secret=self._api_key,
            counters=self._counters,
        )
        if telemetry is None:
            from .telemetry import available

            telemetry = available()
        if telemetry:
            from .telemetry import Telemetry

            self._runner.telemetry = Telemetry(
                self.base_url, tracer_provider=tracer_provider, meter_provider=meter_provider
            )

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncTightknit:
        self._bind()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client and its connection pool. Idempotent; later calls raise
        :class:`~tightknit_async.ClientClosedError`."""
        if self._closed:
            return
        self._closed = True
        self._loop = None  # request() finds no bound loop and asks _bind(), which refuses
        if self._owns_transport:
            await self._transport.aclose()
        for backend in self._owned:
            await backend.aclose()

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`aclose` has run."""
        return self._closed

    def _bind(self) -> asyncio.AbstractEventLoop:
        if self._closed:
            raise ClientClosedError(
                "this AsyncTightknit is closed; create a new client (or keep using it inside "
                "its 'async with' block)"
            )
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise WrongEventLoopError(
                "this AsyncTightknit belongs to another event loop: create one client per event "
                "loop (aiohttp connections cannot cross loops)"
            )
        return loop

    # -- resources ---------------------------------------------------------------------------

    @functools.cached_property
    def api_key(self) -> ApiKeyResource:
        """``/admin/v0/api_key``: :meth:`~ApiKeyResource.me`."""
        return ApiKeyResource(self)

    @functools.cached_property
    def members(self) -> MembersResource:
        """``/admin/v0/members``: ``create`` (upsert by e-mail), ``deactivate``."""
        return MembersResource(self)

    @functools.cached_property
    def calendar_events(self) -> CalendarEventsResource:
        """``/admin/v0/calendar_events``: ``list``, ``retrieve``, ``create``, ``delete``."""
        return CalendarEventsResource(self)

    @functools.cached_property
    def feeds(self) -> FeedsResource:
        """``/admin/v0/feeds``: ``list``, ``retrieve``, ``list_posts``."""
        return FeedsResource(self)

    @functools.cached_property
    def posts(self) -> PostsResource:
        """``/admin/v0/posts``: ``retrieve``."""
        return PostsResource(self)

    @functools.cached_property
    def search(self) -> SearchResource:
        """``/admin/v0/search``: ``list`` (beta)."""
        return SearchResource(self)

    @functools.cached_property
    def files(self) -> FilesResource:
        """``/admin/v0/files``: ``upload``."""
        return FilesResource(self)

    @functools.cached_property
    def awards(self) -> AwardsResource:
        """``/admin/v0/awards``: ``assign``."""
        return AwardsResource(self)

    @functools.cached_property
    def groups(self) -> GroupsResource:
        """``/admin/v0/groups``: ``add_members``."""
        return GroupsResource(self)

    @functools.cached_property
    def badges(self) -> BadgesResource:
        """``/admin/v0/badges`` (legacy): ``assign``; prefer :attr:`awards`."""
        return BadgesResource(self)

    @property
    def governor(self) -> RateGovernor | None:
        """The rate governor every attempt of this client waits on (``None`` when pacing is off).

        By default the process-wide governor for this API key, shared by all its clients.
        """
        if self._governor is None and self.rate_limit is not None:
            self._governor = governor_for(self._api_key, self.rate_limit)
        if self._runner.governor is not self._governor:
            self._runner.governor = self._governor
            if self._governor is not None and self._runner.telemetry is not None:
                self._runner.telemetry.watch(self._governor)
        return self._governor

    def statistics(self) -> ClientStatistics:
        """A snapshot of this client's counters."""
        return ClientStatistics(**self._counters.asdict())

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"<AsyncTightknit {state} base_url={self.base_url!r} key={self.key_fingerprint} "
            f"rate_limit={self.rate_limit}>"
        )

    # -- the pipeline ------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: object | NotGiven = NOT_GIVEN,
        multipart: Multipart | None = None,
        idempotency_key: IdempotencyKeyOption = NOT_GIVEN,
        timeout: Timeout | float | NotGiven | None = NOT_GIVEN,  # noqa: ASYNC109 (per attempt)
        max_retries: int | NotGiven = NOT_GIVEN,
        priority: Priority | NotGiven = NOT_GIVEN,
        deadline: float | NotGiven | None = NOT_GIVEN,
        headers: Mapping[str, str] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, object] | None = None,
        extra_body: Mapping[str, object] | None = None,
    ) -> APIResponse:
        """Send one API call, with pacing and retries, and return its successful answer.

        Args:
            method: ``GET``, ``POST``, ``PUT``, ``PATCH``, ``DELETE``, ...
            path: a path under the base URL, like ``/admin/v0/members``.
            params: query parameters; ``None`` values are dropped, booleans sent as
                ``true``/``false``, sequences repeated.
            json: the request body, encoded as JSON (omit for no body).
            multipart: a ``multipart/form-data`` body instead (file uploads); its file is
                streamed from memory, a path or an async iterator factory on every attempt.
            idempotency_key: a UUIDv4 sent as ``Idempotency-Key`` on every attempt of this call.
                Left out (or ``None``), a mutation (POST, PUT, PATCH, DELETE) gets a fresh one;
                ``False`` sends none (and such a mutation is not resent once it may have
                reached the server). ``False`` is the one spelling of "no key".
            timeout, max_retries: override the client's settings for this call.
            deadline: seconds this call may take in all (the governor's queue, every attempt,
                every backoff), overriding the client's ``deadline``; ``None`` for none. Raises
                :class:`~tightknit_async.DeadlineExceededError` as soon as it cannot be met.
            priority: ``"interactive"`` (default) or ``"bulk"``: the governor lane.
            headers: extra headers for this call, merged over the client's (same name, case
                aside: these win, ``Content-Type`` included). ``Authorization`` (the client's
                key) and ``Idempotency-Key`` (pass ``idempotency_key``) are refused;
                ``X-Tightknit-Attempt`` is set on every attempt whatever is given here.
            extra_headers, extra_query, extra_body: the resource methods' options of the same
                names (see :class:`~tightknit_async.resources.RequestOptions`), so that
                ``**options`` spread into a resource call can be spread here too:
                ``extra_query`` goes over ``params``, ``extra_body`` over the top level of the
                JSON body (or becomes the body; with ``multipart``, extra form fields),
                ``extra_headers`` over ``headers``.

        Raises:
            APIStatusError: a subclass per status once retries are exhausted or not allowed.
            APIConnectionError: no response (after retries), :class:`APITimeoutError` for timeouts.
            GovernorTimeoutError: no send slot within the call's deadline.
            IdempotencyKeyError: ``idempotency_key`` is not a UUIDv4, or was used before with
                another request (nothing sent).
            ValueError, TypeError: bad arguments, such as a refused header (nothing sent).
            ClientClosedError, WrongEventLoopError: lifecycle misuse.
        """
        verb = method
        if verb not in _METHODS:
            verb = method.upper() if isinstance(method, str) else method
            if verb not in _METHODS:
                raise ValueError(f"method must be one of {sorted(_METHODS)}, got {method!r}")
        if extra_query is not None or extra_body is not None or extra_headers is not None:
            from .resources._base import apply_extras

            params, json, multipart, headers = apply_extras(
                params,
                json,
                multipart,
                headers,
                extra_query=extra_query,
                extra_body=extra_body,
                extra_headers=extra_headers,
            )
        try:  # a plain path seen before: its URL, with no check or concatenation to repeat
            url = self._plain_urls.get(path) if params is None else None
        except TypeError:  # an unhashable path: _url_for says what is wrong with it
            url = None
        if url is not None:
            bare_path = target = path
        else:
            url, bare_path, target = self._url_for(path, params)
        sent = self._base_headers  # copied only when this call adds to it
        content: bytes | Multipart | None = None
        if json is not NOT_GIVEN or multipart is not None or headers is not None:
            content, sent = self._content_and_headers(json, multipart, headers)
        key: str | None = None
        minted = False
        fingerprint: str | None = None
        if idempotency_key is None or idempotency_key is NOT_GIVEN:
            if verb in MUTATING_METHODS:
                key, minted = mint_idempotency_key(), True
        elif idempotency_key is not False:
            key = validate_idempotency_key(idempotency_key)
            fingerprint = request_fingerprint(verb, target, content)
        if key is not None:
            if sent is self._base_headers:
                sent = sent.copy()
            sent[IDEMPOTENCY_HEADER] = key
        attempt_timeout = self.timeout
        policy = self.retry_policy
        lane: Priority = "interactive"
        if (
            timeout is not NOT_GIVEN
            or max_retries is not NOT_GIVEN
            or deadline is not NOT_GIVEN
            or priority is not NOT_GIVEN
        ):
            attempt_timeout, policy, lane = self._call_options(
                timeout, max_retries, deadline, priority
            )
        if self._loop is not get_running_loop():  # unbound, closed (None), or another loop
            self._bind()
        if self._runner.governor is None and self.rate_limit is not None:
            self.governor  # noqa: B018 (resolves the key's governor for the runner)
        started = self._runner.clock.monotonic()
        call = CallDescription(  # positional, in the fields' order: cheaper than keywords
            verb,  # method
            url,
            self._plain_headers if sent is self._base_headers else sent,  # headers
            content,
            attempt_timeout,  # timeout
            bare_path,  # path
            target,
            key,  # idempotency_key
            minted,
            policy,
            lane,
            started,
            None if policy.deadline is None else started + policy.deadline,  # deadline
            fingerprint,
        )
        counters = self._counters
        runner = self._runner
        # A call without a key, or with a key minted for it, has nothing to share or replay: it
        # goes straight to the runner; a caller's key goes through the coordinator.
        flow: Awaitable[APIResponse]
        if fingerprint is None:
            flow = runner.run(call)
        else:
            flow = (self._coordinator_ref or self._coordinator()).execute(call, runner)
        telemetry = runner.telemetry
        try:
            if telemetry is None:
                response = await flow
            else:
                response = await telemetry.traced(call, flow)
        except BaseException:
            counters.failures += 1
            raise
        finally:
            counters.calls += 1
        if response.replayed:
            counters.replayed += 1
        return response

    def _content_and_headers(
        self,
        json: object | NotGiven,
        multipart: Multipart | None,
        headers: Mapping[str, str] | None,
    ) -> tuple[bytes | Multipart | None, CIMultiDict[str]]:
        """The call's body and the headers of its first attempt (the client's own, not copied,
        when the call adds none): ``request()``'s less common arguments, checked here."""
        sent = self._base_headers
        content: bytes | Multipart | None = None
        if json is not NOT_GIVEN:
            if multipart is not None:
                raise ValueError("pass json=... or multipart=..., not both")
            content = _codec.encode(json, argument="json")
            sent = self._json_headers.copy()
        elif multipart is not None:
            if not isinstance(multipart, Multipart):
                raise TypeError(f"multipart must be a Multipart, not {type(multipart).__name__}")
            content = multipart
        if headers is not None:
            if not isinstance(headers, Mapping):
                raise TypeError(f"headers must be a mapping, not {type(headers).__name__}")
            if headers and sent is self._base_headers:
                sent = sent.copy()
            for name, value in headers.items():
                if not isinstance(name, str) or not isinstance(value, str):
                    raise TypeError(
                        f"headers must map str to str, got {name!r}: {type(value).__name__}"
                    )
                lowered = name.lower()
                if lowered == "authorization":
                    raise ValueError(
                        "per-call headers must not set Authorization: the client sends its api_key"
                    )
                if lowered == "idempotency-key":
                    raise ValueError(
                        "per-call headers must not set Idempotency-Key: pass idempotency_key=..."
                    )
                sent[name] = value
            if headers:
                sent[ATTEMPT_HEADER] = "1"  # ours, whatever was given
        return content, sent

    def _call_options(
        self,
        timeout: Timeout | float | NotGiven | None,
        max_retries: int | NotGiven,
        deadline: float | NotGiven | None,
        priority: Priority | NotGiven,
    ) -> tuple[Timeout, RetryPolicy, Priority]:
        """The call's attempt timeout, retry policy and lane, where it overrides the client's."""
        attempt_timeout = self.timeout if timeout is NOT_GIVEN else Timeout.coerce(timeout)
        policy = self.retry_policy
        if max_retries is not NOT_GIVEN:
            policy = dataclasses.replace(policy, max_retries=max_retries)
        if deadline is not NOT_GIVEN:
            policy = dataclasses.replace(policy, deadline=deadline)
        lane: Priority = "interactive"
        if priority is not NOT_GIVEN:
            if priority not in _PRIORITIES:
                raise ValueError(f"priority must be 'interactive' or 'bulk', got {priority!r}")
            lane = priority
        return attempt_timeout, policy, lane

    def _coordinator(self) -> IdempotencyCoordinator:
        if self._coordinator_ref is None:
            self._coordinator_ref = coordinator_for(self._store, self._scope)
        return self._coordinator_ref

    def _url_for(self, path: str, params: Params | None) -> tuple[str, str, str]:
        """The absolute URL, the path alone, and the path with its query.

        A plain path (``/`` first, no query, no scheme) without params is remembered, up to
        ``_PLAIN_URLS`` of them (all forgotten when full: paths with ids come and go).
        """
        plain = type(path) is str and path[:1] == "/" and "?" not in path and "://" not in path
        if plain and params is None:  # the common case: nothing to split or add
            url = self.base_url + path
            urls = self._plain_urls
            if len(urls) >= _PLAIN_URLS:
                urls.clear()
            urls[path] = url
            return url, path, path
        if not isinstance(path, str) or not path:
            raise ValueError(f"path must be a non-empty str, got {path!r}")
        if "://" in path:
            parts, base = urlsplit(path), urlsplit(self.base_url)
            if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
                raise ValueError(
                    "path must be relative to base_url (the API key is only ever sent to "
                    f"{self.base_url!r})"
                )
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not path.startswith("/"):
            path = "/" + path
        bare_path = target = path
        if "?" in path:
            bare_path = path.split("?", 1)[0]
        if params is not None and not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping, not {type(params).__name__}")
        if params:
            query = urlencode(_flatten_params(params), doseq=True)
            if query:
                target += ("&" if "?" in path else "?") + query
        return self.base_url + target, bare_path, target


def _flatten_params(params: Params) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        values = value if isinstance(value, list | tuple) else (value,)
        for item in values:
            if item is None:
                continue
            if isinstance(item, bool):
                pairs.append((name, "true" if item else "false"))
            elif isinstance(item, str | int | float):
                pairs.append((name, str(item)))
            else:
                raise TypeError(
                    f"params[{name!r}] must be str, int, float, bool or None, "
                    f"not {type(item).__name__}"
                )
    return pairs
