"""The aiohttp transport: a pooled ``TCPConnector``; the one place aiohttp errors are translated.

aiohttp's own resend, and how it is turned off
----------------------------------------------

``ClientSession`` resends a GET, HEAD, OPTIONS, TRACE, PUT or DELETE once, at once and on its own,
when the connection fails under it (``ServerDisconnectedError`` or ``ClientOSError``: typically a
pooled keep-alive connection the server had closed). Such a resend bypasses the rate governor (no
token is taken for it) and the retry policy (its backoff, its attempt count, the
``X-Tightknit-Attempt`` header, its rule that a mutation without an idempotency key is not sent
again once it may have reached the server). Every attempt must be the retry loop's to make.

aiohttp has no switch for it among its public arguments. Its public client middlewares (3.12+)
run inside that resend loop, around each try: :func:`_no_resend`, the session's one middleware,
raises such a failure again as :class:`_Dropped`, a ``ClientConnectionError`` that the loop
passes up instead of resending. :func:`map_aiohttp_error` unwraps it, so callers see the same
errors, with the same causes, as without it. ``tests/test_transport.py`` pins both sides
against a raw asyncio server: a plain aiohttp session resends a dropped PUT (so the middleware is
still needed), and through this transport and the client exactly one request reaches the server
per attempt, for every method. POST and PATCH, which aiohttp never resends, are sent without the
middleware (a request's own ``middlewares=()``), sparing them its two coroutine frames.
"""

from __future__ import annotations

import functools
import os
import time
from typing import BinaryIO, Final

import aiohttp
from aiohttp import hdrs

from .._config import DEFAULT_LIMITS, Limits, Timeout
from .._exceptions import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    ResponseTooLargeError,
)
from ._base import Multipart, Request, Response

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "AiohttpTransport", "map_aiohttp_error"]

DEFAULT_MAX_RESPONSE_BYTES: Final = 32 * 1024 * 1024
"""The largest response body read (32 MiB): API replies are small JSON documents, and a runaway
body must not exhaust memory."""

# (source class, target class, request certainly not sent, message). Checked in order along the
# source exception's class chain, most specific first: the first match wins.
_ERROR_MAP: Final[tuple[tuple[type[BaseException], type[APIConnectionError], bool, str], ...]] = (
    (aiohttp.ConnectionTimeoutError, APITimeoutError, True, "timed out connecting"),
    (aiohttp.SocketTimeoutError, APITimeoutError, False, "timed out reading the response"),
    (aiohttp.ServerTimeoutError, APITimeoutError, False, "timed out"),
    (TimeoutError, APITimeoutError, False, "timed out (total timeout)"),
    (aiohttp.ClientConnectorDNSError, APIConnectionError, True, "could not resolve the host"),
    (aiohttp.ClientConnectorCertificateError, APIConnectionError, True, "TLS certificate error"),
    (aiohttp.ClientSSLError, APIConnectionError, True, "TLS error"),
    (aiohttp.ClientProxyConnectionError, APIConnectionError, True, "could not reach the proxy"),
    (aiohttp.ClientConnectorError, APIConnectionError, True, "could not connect"),
    (aiohttp.ServerDisconnectedError, APIConnectionError, False, "server disconnected"),
    (aiohttp.ServerFingerprintMismatch, APIConnectionError, True, "server fingerprint mismatch"),
    (aiohttp.ClientConnectionResetError, APIConnectionError, False, "connection reset"),
    (aiohttp.ClientOSError, APIConnectionError, False, "connection error"),
    (aiohttp.ClientPayloadError, APIConnectionError, False, "response body was cut short"),
    (aiohttp.ClientResponseError, APIConnectionError, False, "malformed response"),
    (aiohttp.ClientConnectionError, APIConnectionError, False, "connection error"),
    (aiohttp.ClientError, APIConnectionError, False, "HTTP client error"),
)


class _Dropped(aiohttp.ClientConnectionError):
    """A failed connection raised again under a class aiohttp's own resend does not catch."""

    def __init__(self, original: aiohttp.ClientError) -> None:
        super().__init__(str(original))
        self.original = original


async def _no_resend(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """The session's middleware: a try whose connection fails is not tried again by aiohttp."""
    try:
        return await handler(request)
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        if isinstance(exc, aiohttp.ClientConnectorError):  # never resent: nothing to hide
            raise
        raise _Dropped(exc) from exc


_NEVER_RESENT: Final = frozenset({"POST", "PATCH"})
"""Methods aiohttp does not resend (not idempotent): they skip the middleware and its two
coroutine frames. Any other method, one aiohttp might resend, keeps it."""
_NONE: Final[tuple[aiohttp.ClientMiddlewareType, ...]] = ()


def map_aiohttp_error(exc: BaseException, request: Request) -> APIConnectionError:
    """Translate an aiohttp (or timeout) exception into the library's error for ``request``.

    The message names the method, the path and the cause's class, never headers or the key.
    """
    if isinstance(exc, _Dropped):
        exc = exc.original
    for source, target, not_sent, what in _ERROR_MAP:
        if isinstance(exc, source):
            detail = _safe_detail(exc)
            return target(
                f"{request.method} {request.path}: {what} ({type(exc).__name__}{detail})",
                method=request.method,
                path=request.path,
                request_sent=not not_sent,
            )
    raise TypeError(f"not a transport error: {type(exc).__name__}") from exc


def _safe_detail(exc: BaseException) -> str:
    # aiohttp messages carry host and port, never headers; keep them short. Some aiohttp errors
    # built without their request info fail in __str__: a message must never hide the real error.
    try:
        text = str(exc).strip()
    except Exception:
        return ""
    return f": {text[:200]}" if text else ""


@functools.lru_cache(maxsize=128)
def _client_timeout(timeout: Timeout) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=timeout.total, connect=timeout.connect, sock_read=timeout.read
    )


class AiohttpTransport:
    """Sends requests over one pooled ``aiohttp.ClientSession``.

    The session and its ``TCPConnector`` (``limits``: pool sizes, keep-alive, DNS cache) are created
    on first use inside the running loop. Every response body is read in full and the response
    released before ``send`` returns, so no pooled connection is ever pinned by a caller.
    """

    def __init__(
        self,
        *,
        limits: Limits = DEFAULT_LIMITS,
        trust_env: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or (max_response_bytes < 1)
        ):
            raise ValueError(f"max_response_bytes must be an int >= 1, got {max_response_bytes!r}")
        self._max_response_bytes = max_response_bytes
        self._limits = limits
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._last_timeout: Timeout | None = None
        self._last_client_timeout: aiohttp.ClientTimeout | None = None

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            if self._closed:
                raise ClientClosedError("the transport is closed")
            limits = self._limits
            connector = aiohttp.TCPConnector(
                limit=limits.max_connections,
                limit_per_host=limits.max_connections_per_host,
                keepalive_timeout=limits.keepalive_expiry,
                ttl_dns_cache=limits.dns_cache_ttl,
                use_dns_cache=True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=self._trust_env,
                auto_decompress=True,
                # aiohttp resends GET/PUT/DELETE once on its own when their connection drops,
                # outside the governor and the retry policy: off (see the module docstring).
                middlewares=(_no_resend,),
            )
        return self._session

    async def send(self, request: Request) -> Response:
        """Send one attempt; map every aiohttp failure to our connection and timeout errors."""
        session = self._session
        if session is None:
            session = self._ensure_session()
        content = request.content
        opened: BinaryIO | None = None
        body: object = content
        if isinstance(content, Multipart):
            body, opened = _multipart_body(content)
        timeout = request.timeout
        if timeout is not self._last_timeout:  # the same Timeout on nearly every attempt
            self._last_timeout, self._last_client_timeout = timeout, _client_timeout(timeout)
        started = time.perf_counter()
        try:
            # A method aiohttp never resends goes without the session's middleware (None: the
            # session's own). Awaited, not entered: ``async with`` would add four coroutine
            # frames (the context manager's and the response's enter and exit) to what
            # ``release()`` does alone.
            middlewares = _NONE if request.method in _NEVER_RESENT else None
            resp = await session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=body,
                timeout=self._last_client_timeout,
                allow_redirects=False,
                middlewares=middlewares,
            )
            try:
                headers = resp.headers  # immutable and case-insensitive: no copy needed
                # resp.content_length, without a frame; an istr name skips the case folding
                length = headers.get(hdrs.CONTENT_LENGTH)
                declared = None if length is None else int(length)
                if declared is not None and declared <= self._max_response_bytes:
                    data = await resp.read()  # the common case: one read, no coroutine of ours
                else:
                    data = await _read_capped(resp, declared, self._max_response_bytes, request)
                status = resp.status
            finally:
                resp.release()  # read() waited for the request's writer: nothing left to wait on
        except (TimeoutError, aiohttp.ClientError) as exc:
            cause = exc.original if isinstance(exc, _Dropped) else exc
            raise map_aiohttp_error(cause, request) from cause
        finally:
            if opened is not None:
                opened.close()
        return Response(status, headers, data, time.perf_counter() - started)

    async def aclose(self) -> None:
        """Close the session and every pooled connection; idempotent."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._session else "idle")
        return f"<AiohttpTransport {state} limits={self._limits!r}>"


def _multipart_body(content: Multipart) -> tuple[aiohttp.MultipartWriter, BinaryIO | None]:
    """The aiohttp body for ``content``, and a file this attempt opened (to close afterwards).

    A multipart file is streamed: from its path (aiohttp reads it in chunks), from its async
    iterator factory, or from memory; it is never read whole into memory here.
    """
    writer = aiohttp.MultipartWriter("form-data")
    for name, value in content.fields.items():
        part = writer.append(value)
        part.set_content_disposition("form-data", name=name)
    spec = content.file
    source = spec.source
    opened: BinaryIO | None = None
    payload: aiohttp.payload.Payload
    if isinstance(source, bytes):
        payload = aiohttp.payload.BytesPayload(source, content_type=spec.content_type)
    elif isinstance(source, str | os.PathLike):
        opened = open(source, "rb")  # noqa: SIM115 - closed by send() after the attempt
        payload = aiohttp.payload.BufferedReaderPayload(
            opened,
            content_type=spec.content_type,
        )
    else:
        payload = aiohttp.payload.AsyncIterablePayload(source(), content_type=spec.content_type)
    payload.set_content_disposition("form-data", name=spec.field, filename=spec.filename)
    writer.append_payload(payload)
    return writer, opened


async def _read_capped(
    resp: aiohttp.ClientResponse, declared: int | None, limit: int, request: Request
) -> bytes:
    """The whole body of a reply that declared no length (``declared`` is ``None``) or more than
    ``limit`` bytes, refusing one larger than ``limit`` (``ResponseTooLargeError``).

    (A declared length within the limit is read in one go by ``send`` itself.) The body is read in
    chunks and abandoned as soon as it passes the limit.
    """
    if declared is not None:
        raise _too_large(request, declared, limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > limit:
            raise _too_large(request, total, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(request: Request, size: int, limit: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"{request.method} {request.path}: the response body is over {limit:,} bytes "
        f"({size:,} seen); raise max_response_bytes if this is expected",
        method=request.method,
        path=request.path,
    )
