"""``AsyncTightknit``: configuration, lifecycle, and the request pipeline.

One call flows through: options -> (rate governor: one token per attempt) -> transport -> status
check -> retry decision. See :mod:`tightknit_async.retry` for what is retried and how long it waits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias
from urllib.parse import urlencode, urlsplit

from . import _codec
from ._clock import Clock, SystemClock
from ._config import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RETRY_DEADLINE,
    DEFAULT_TIMEOUT,
    Limits,
    Timeout,
    resolve_api_key,
    resolve_base_url,
)
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    ClientClosedError,
    WrongEventLoopError,
    status_error_class,
)
from ._response import APIResponse, request_id_of
from ._types import NOT_GIVEN, NotGiven, Priority
from ._version import __version__
from ._waits import waits_enabled
from .governor import RateGovernor, governor_for
from .idempotency import validate_idempotency_key
from .retry import RetryPolicy, parse_retry_after, retry_delay, should_retry
from .transport import AiohttpTransport, AsyncTransport, Request, Response

__all__ = ["AsyncTightknit", "ClientStatistics"]

logger: Final = logging.getLogger("tightknit_async")

USER_AGENT: Final = f"tightknit-async/{__version__} (python {platform.python_version()})"
ATTEMPT_HEADER: Final = "X-Tightknit-Attempt"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "x-idempotent-replayed"

ParamValue: TypeAlias = str | int | float | bool | None
Params: TypeAlias = Mapping[str, ParamValue | Sequence[ParamValue]]
IdempotencyKeyOption: TypeAlias = str | Literal[False] | NotGiven | None
_PRIORITIES: Final = ("interactive", "bulk")
_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


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


@dataclass(slots=True)
class _Counters:
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
        max_retries: retries after the first attempt (default 3).
        retry_deadline: seconds one call may take over all attempts and waits (default 60;
            ``None`` for attempts-only bounding).
        timeout: per-attempt :class:`Timeout`, or a number of seconds for the total.
        limits: connection-pool :class:`Limits` for the default aiohttp transport.
        transport: a custom :class:`~tightknit_async.transport.AsyncTransport` (not closed by
            the client: its owner closes it).
        default_headers: extra headers sent with every request.

    Raises:
        ValueError: no API key, a blank key, a ``base_url`` without scheme or host, a negative
            timeout or retry count, a ``rate_limit`` <= 0.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        rate_limit: float | NotGiven | None = NOT_GIVEN,
        governor: RateGovernor | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_deadline: float | None = DEFAULT_RETRY_DEADLINE,
        timeout: Timeout | float | None = DEFAULT_TIMEOUT,
        limits: Limits = DEFAULT_LIMITS,
        transport: AsyncTransport | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._api_key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        self.timeout = Timeout.coerce(timeout)
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
        self._base_headers: dict[str, str] = {
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        for name, value in (default_headers or {}).items():
            if name.lower() == "authorization":
                raise ValueError("default_headers must not set Authorization: pass api_key=...")
            self._base_headers[name] = value
        self._base_headers["Authorization"] = f"Bearer {self._api_key}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._clock: Clock = SystemClock()
        self._counters = _Counters()

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
        if self._owns_transport:
            await self._transport.aclose()

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

    @property
    def governor(self) -> RateGovernor | None:
        """The rate governor every attempt of this client waits on (``None`` when pacing is off).

        By default the process-wide governor for this API key, shared by all its clients.
        """
        if self._governor is None and self.rate_limit is not None:
            self._governor = governor_for(self._api_key, self.rate_limit)
        return self._governor

    def statistics(self) -> ClientStatistics:
        """A snapshot of this client's counters."""
        return ClientStatistics(**dataclasses.asdict(self._counters))

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
        idempotency_key: IdempotencyKeyOption = NOT_GIVEN,
        timeout: Timeout | float | NotGiven | None = NOT_GIVEN,  # noqa: ASYNC109 (per attempt)
        max_retries: int | NotGiven = NOT_GIVEN,
        priority: Priority | NotGiven = NOT_GIVEN,
    ) -> APIResponse:
        """Send one API call, with pacing and retries, and return its successful answer.

        Args:
            method: ``GET``, ``POST``, ``PUT``, ``PATCH``, ``DELETE``, ...
            path: a path under the base URL, like ``/admin/v0/members``.
            params: query parameters; ``None`` values are dropped, booleans sent as
                ``true``/``false``, sequences repeated.
            json: the request body, encoded as JSON (omit for no body).
            idempotency_key: a UUIDv4 sent as ``Idempotency-Key`` on every attempt of this call;
                ``None`` or ``False`` sends none.
            timeout, max_retries: override the client's settings for this call.
            priority: ``"interactive"`` (default) or ``"bulk"``: the governor lane.

        Raises:
            APIStatusError: a subclass per status once retries are exhausted or not allowed.
            APIConnectionError: no response (after retries), :class:`APITimeoutError` for timeouts.
            GovernorTimeoutError: no send slot within the call's deadline.
            IdempotencyKeyError: ``idempotency_key`` is not a UUIDv4 (nothing sent).
            ValueError, TypeError: bad arguments (nothing sent).
            ClientClosedError, WrongEventLoopError: lifecycle misuse.
        """
        verb = method.upper() if isinstance(method, str) else method
        if verb not in _METHODS:
            raise ValueError(f"method must be one of {sorted(_METHODS)}, got {method!r}")
        url, clean_path = self._url_for(path, params)
        headers = dict(self._base_headers)
        content: bytes | None = None
        if not isinstance(json, NotGiven):
            content = _codec.encode(json, argument="json")
            headers["Content-Type"] = "application/json"
        key: str | None = None
        if not isinstance(idempotency_key, NotGiven) and idempotency_key not in (None, False):
            key = validate_idempotency_key(idempotency_key)
            headers[IDEMPOTENCY_HEADER] = key
        attempt_timeout = self.timeout if isinstance(timeout, NotGiven) else Timeout.coerce(timeout)
        policy = self.retry_policy
        if not isinstance(max_retries, NotGiven):
            policy = dataclasses.replace(policy, max_retries=max_retries)
        lane: Priority = "interactive" if isinstance(priority, NotGiven) else priority
        if lane not in _PRIORITIES:
            raise ValueError(f"priority must be 'interactive' or 'bulk', got {lane!r}")
        self._bind()
        try:
            return await self._send(
                verb, clean_path, url, headers, content, key, attempt_timeout, policy, lane
            )
        except BaseException:
            self._counters.failures += 1
            raise
        finally:
            self._counters.calls += 1

    def _url_for(self, path: str, params: Params | None) -> tuple[str, str]:
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
        clean_path = path.split("?", 1)[0]
        url = self.base_url + path
        if params:
            query = urlencode(_flatten_params(params), doseq=True)
            if query:
                url += ("&" if "?" in path else "?") + query
        return url, clean_path

    async def _send(
        self,
        method: str,
        path: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        idempotency_key: str | None,
        attempt_timeout: Timeout,
        policy: RetryPolicy,
        priority: Priority,
    ) -> APIResponse:
        clock, counters, governor = self._clock, self._counters, self.governor
        started = clock.monotonic()
        deadline = None if policy.deadline is None else started + policy.deadline
        attempt = 0
        while True:
            attempt += 1
            remaining = None if deadline is None else deadline - clock.monotonic()
            if governor is not None:
                await governor.acquire(priority, max_wait=remaining)
                remaining = None if deadline is None else deadline - clock.monotonic()
            request = Request(
                method,
                url,
                {**headers, ATTEMPT_HEADER: str(attempt)},
                content,
                attempt_timeout.clipped(remaining),
                path,
            )
            counters.attempts += 1
            if attempt > 1:
                counters.retries += 1
            sent_at = clock.monotonic()
            error: APIConnectionError | APIStatusError
            retry_after: float | None = None
            try:
                response = await self._transport.send(request)
            except APIConnectionError as exc:
                error = exc
                status: int | None = None
                _log_attempt(method, path, type(exc).__name__, attempt, sent_at, clock)
            else:
                status = response.status_code
                _log_attempt(method, path, status, attempt, sent_at, clock)
                replayed = response.headers.get(REPLAYED_HEADER, "").lower() == "true"
                if status < 400:
                    counters.replayed += replayed
                    return APIResponse(
                        status_code=status,
                        headers=response.headers,
                        content=response.content,
                        method=method,
                        path=path,
                        replayed=replayed,
                        idempotency_key=idempotency_key,
                        attempts=attempt,
                        elapsed=clock.monotonic() - started,
                    )
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                error = _status_error(method, path, response, replayed, self._api_key)
                if status == 429:
                    counters.rate_limited += 1
                    if governor is not None:
                        governor.on_rate_limited(retry_after)

            if attempt > policy.max_retries or not should_retry(
                method=method,
                status_code=status,
                has_idempotency_key=idempotency_key is not None,
                request_sent=getattr(error, "request_sent", True),
            ):
                if attempt > 1:
                    error.add_note(f"gave up after {attempt} attempts")
                raise error
            delay = retry_delay(policy, attempt, retry_after)
            if delay is None:
                error.add_note(
                    f"not retried: Retry-After {retry_after:.0f}s exceeds the "
                    f"{policy.max_retry_after:.0f}s the retry policy waits"
                )
                raise error
            if status == 429 and governor is not None:
                delay = 0.0  # the governor now holds every sender of this key until the pause ends
            if not waits_enabled():
                delay = 0.0
            if deadline is not None and clock.monotonic() + delay >= deadline:
                error.add_note(
                    f"gave up after {attempt} attempts: the {policy.deadline:g}s retry deadline "
                    "would pass before the next one"
                )
                raise error
            logger.debug(
                "%s %s: retrying in %.3fs (attempt %d failed: %s)",
                method,
                path,
                delay,
                attempt,
                status if status is not None else type(error).__name__,
            )
            if delay > 0:
                await clock.sleep(delay)


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


def _log_attempt(
    method: str, path: str, outcome: int | str, attempt: int, sent_at: float, clock: Clock
) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s %s -> %s attempt=%d elapsed=%.3fs",
            method,
            path,
            outcome,
            attempt,
            clock.monotonic() - sent_at,
        )


def _status_error(
    method: str, path: str, response: Response, replayed: bool, secret: str
) -> APIStatusError:
    headers, status = response.headers, response.status_code
    body = _codec.error_body(response.content, headers.get("content-type"))
    if isinstance(body, str) and secret in body:
        body = body.replace(secret, "<redacted>")  # a proxy echoing the request back
    cls = status_error_class(status, body)
    message = f"{method} {path}: {status} {_describe(body)}".replace(secret, "<redacted>")
    return cls(
        message,
        status_code=status,
        body=body,
        headers=headers,
        request_id=request_id_of(headers),
        replayed=replayed,
        method=method,
        path=path,
        retry_after=parse_retry_after(headers.get("retry-after")),
    )


def _describe(body: object) -> str:
    if isinstance(body, Mapping):
        parts = [str(body[k]) for k in ("error", "message", "hint") if isinstance(body.get(k), str)]
        code = body.get("code")
        text = " ".join(parts) or "(no error message)"
        return f"[{code}] {text}" if isinstance(code, str) else text
    if isinstance(body, str):
        return f"(non-JSON body) {body[:200]!r}"
    return "(empty body)"
