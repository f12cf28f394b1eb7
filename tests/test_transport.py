"""The aiohttp transport: every aiohttp error mapped in one place, pooling, release, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import yarl
from aiohttp import web
from aioresponses import aioresponses
from multidict import CIMultiDict, CIMultiDictProxy

from tightknit_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncTightknit,
    ClientClosedError,
    Limits,
    ResponseTooLargeError,
    Timeout,
)
from tightknit_async.testing import disable_waits
from tightknit_async.transport import (
    AiohttpTransport,
    Multipart,
    MultipartFile,
    Request,
    map_aiohttp_error,
)

URL = "http://127.0.0.1:1/admin/v0/feeds"


class _Key:
    host, port, ssl, is_ssl = "127.0.0.1", 1, False, False

    def __str__(self) -> str:
        return "127.0.0.1:1"


def _os_error() -> OSError:
    return OSError(111, "Connection refused")


# (exception instance, expected class, request_sent)
CASES: list[tuple[BaseException, type[APIConnectionError], bool]] = [
    (aiohttp.ConnectionTimeoutError("connect"), APITimeoutError, False),
    (aiohttp.SocketTimeoutError("read"), APITimeoutError, True),
    (aiohttp.ServerTimeoutError("timeout"), APITimeoutError, True),
    (TimeoutError(), APITimeoutError, True),
    (aiohttp.ClientConnectorDNSError(_Key(), _os_error()), APIConnectionError, False),  # type: ignore[arg-type]
    (
        aiohttp.ClientConnectorCertificateError(_Key(), ssl.SSLCertVerificationError("bad cert")),  # type: ignore[arg-type]
        APIConnectionError,
        False,
    ),
    (aiohttp.ClientSSLError(_Key(), _os_error()), APIConnectionError, False),  # type: ignore[arg-type]
    (aiohttp.ClientProxyConnectionError(_Key(), _os_error()), APIConnectionError, False),  # type: ignore[arg-type]
    (aiohttp.ClientConnectorError(_Key(), _os_error()), APIConnectionError, False),  # type: ignore[arg-type]
    (aiohttp.ServerDisconnectedError(), APIConnectionError, True),
    (aiohttp.ServerFingerprintMismatch(b"a", b"b", "h", 1), APIConnectionError, False),
    (aiohttp.ClientConnectionResetError("reset"), APIConnectionError, True),
    (aiohttp.ClientOSError(104, "reset by peer"), APIConnectionError, True),
    (aiohttp.ClientPayloadError("cut short"), APIConnectionError, True),
    (
        aiohttp.ClientResponseError(
            aiohttp.RequestInfo(
                yarl.URL(URL), "GET", CIMultiDictProxy(CIMultiDict()), yarl.URL(URL)
            ),
            (),
            status=400,
            message="bad",
        ),
        APIConnectionError,
        True,
    ),
    (aiohttp.ClientResponseError(None, (), status=400), APIConnectionError, True),  # type: ignore[arg-type]
    (aiohttp.ClientConnectionError("conn"), APIConnectionError, True),
    (aiohttp.ClientError("generic"), APIConnectionError, True),
]


@pytest.mark.parametrize(("source", "target", "sent"), CASES, ids=lambda v: type(v).__name__)
def test_each_aiohttp_error_maps_to_ours(
    source: BaseException, target: type[APIConnectionError], sent: bool
) -> None:
    request = Request("GET", URL, {"Authorization": "Bearer sk_secret"}, path="/admin/v0/feeds")
    mapped = map_aiohttp_error(source, request)
    assert type(mapped) is target
    assert mapped.request_sent is sent
    assert mapped.method == "GET"
    assert mapped.path == "/admin/v0/feeds"
    assert str(mapped).startswith("GET /admin/v0/feeds: ")
    assert type(source).__name__ in str(mapped)
    assert "sk_secret" not in str(mapped)


def test_non_transport_error_is_not_swallowed() -> None:
    with pytest.raises(TypeError):
        map_aiohttp_error(KeyError("x"), Request("GET", URL))


@pytest.mark.parametrize(
    ("source", "target", "sent"), CASES[:4] + CASES[9:14], ids=lambda v: type(v).__name__
)
async def test_send_raises_the_mapped_error(
    source: BaseException, target: type[APIConnectionError], sent: bool
) -> None:
    transport = AiohttpTransport()
    try:
        with aioresponses() as mocked:
            mocked.get(URL, exception=source)
            with pytest.raises(target) as info:
                await transport.send(Request("GET", URL, path="/admin/v0/feeds"))
        assert info.value.__cause__ is source
    finally:
        await transport.aclose()


async def test_request_repr_redacts_authorization() -> None:
    request = Request("GET", URL, {"Authorization": "Bearer sk_secret", "Accept": "x"})
    assert "sk_secret" not in repr(request)
    assert "<redacted>" in repr(request)


# -- against a real loopback server --------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response(
            {"path": request.path, "auth": request.headers.get("Authorization")},
            headers={"X-Request-Id": "req_1", "Set-Cookie": "a=1"},
        )

    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()  # longer than any timeout under test; freed at teardown
        return web.json_response({})

    async def error(request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/slow", slow)
    app.router.add_get("/error", error)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    release.set()
    await runner.cleanup()


async def test_send_reads_everything_and_releases_the_connection(server: str) -> None:
    transport = AiohttpTransport(limits=Limits(max_connections=1))
    try:
        # With a pool of one, 20 sequential and 20 concurrent sends only work if each releases.
        for _ in range(20):
            response = await transport.send(Request("GET", f"{server}/ok", {"Authorization": "t"}))
            assert response.status_code == 200
        results = await asyncio.gather(
            *(transport.send(Request("GET", f"{server}/error")) for _ in range(20))
        )
        assert {r.status_code for r in results} == {502}
        assert results[0].content == b"<html>Bad Gateway</html>"
        assert results[0].headers["content-type"].startswith("text/html")
        connector = transport._session.connector if transport._session else None
        assert connector is not None
        assert connector._acquired == set()  # nothing pinned
    finally:
        await transport.aclose()


async def test_response_headers_are_lower_cased(server: str) -> None:
    transport = AiohttpTransport()
    try:
        response = await transport.send(Request("GET", f"{server}/ok"))
    finally:
        await transport.aclose()
    assert response.headers["x-request-id"] == "req_1"
    assert response.elapsed > 0


async def test_read_timeout_maps_to_api_timeout(server: str) -> None:
    transport = AiohttpTransport()
    try:
        with pytest.raises(APITimeoutError):
            await transport.send(
                Request("GET", f"{server}/slow", timeout=Timeout(read=0.1, total=None))
            )
        with pytest.raises(APITimeoutError):
            await transport.send(Request("GET", f"{server}/slow", timeout=Timeout(total=0.1)))
    finally:
        await transport.aclose()


async def test_each_attempt_gets_its_own_timeout(server: str) -> None:
    # The transport reuses the aiohttp timeout of the previous attempt only for the same Timeout:
    # a short one after a long one (and the long one again after it) must each be applied.
    transport = AiohttpTransport()
    long, short = Timeout(total=30.0), Timeout(connect=None, read=None, total=0.1)
    loop = asyncio.get_running_loop()
    try:
        assert (
            await transport.send(Request("GET", f"{server}/ok", timeout=long))
        ).status_code == 200
        started = loop.time()
        with pytest.raises(APITimeoutError):
            await transport.send(Request("GET", f"{server}/slow", timeout=short))
        assert loop.time() - started < 5.0  # the short total, not the long one
        assert (
            await transport.send(Request("GET", f"{server}/ok", timeout=long))
        ).status_code == 200
        slow = asyncio.ensure_future(transport.send(Request("GET", f"{server}/slow", timeout=long)))
        await asyncio.sleep(0.3)  # past the short total: the long one is in force again
        assert not slow.done()
        slow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await slow
    finally:
        await transport.aclose()


async def test_connection_refused_is_not_sent() -> None:
    transport = AiohttpTransport()
    try:
        with pytest.raises(APIConnectionError) as info:
            await transport.send(Request("GET", "http://127.0.0.1:1/x", path="/x"))
    finally:
        await transport.aclose()
    assert info.value.request_sent is False


async def test_closed_transport_refuses_and_close_is_idempotent(server: str) -> None:
    transport = AiohttpTransport()
    await transport.send(Request("GET", f"{server}/ok"))
    await transport.aclose()
    await transport.aclose()
    with pytest.raises(ClientClosedError, match="closed"):
        await transport.send(Request("GET", f"{server}/ok"))


async def test_transport_never_resends_on_its_own() -> None:
    """aiohttp resends PUT/DELETE once after a reused connection drops; ours must not: every
    attempt belongs to the retry loop (and its governor token and idempotency rules)."""
    arrivals: list[str] = []

    async def ok(_: web.Request) -> web.Response:
        return web.json_response({})

    async def drop(request: web.Request) -> web.Response:
        arrivals.append(request.method)
        assert request.transport is not None
        request.transport.close()
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_route("*", "/drop", drop)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    transport = AiohttpTransport(limits=Limits(max_connections=1))
    try:
        for method in ("PUT", "DELETE"):
            await transport.send(Request("GET", f"{base}/ok"))  # leaves a pooled connection
            with pytest.raises(APIConnectionError):
                await transport.send(Request(method, f"{base}/drop", content=b"{}"))
    finally:
        await transport.aclose()
        await runner.cleanup()
    assert arrivals == ["PUT", "DELETE"]


@dataclass(frozen=True)
class RawArrival:
    method: str
    path: str
    connection: int
    attempt: str | None


class RawServer:
    """A bare HTTP/1.1 server on asyncio streams, nothing between the socket and the count.

    ``/ok`` is answered 200 and the connection kept alive; any other path is read in full,
    recorded, and its connection closed without an answer (a dropped keep-alive connection, as
    a server or a proxy timing it out does).
    """

    def __init__(self) -> None:
        self.arrivals: list[RawArrival] = []
        self._connections = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def sent(self, method: str) -> list[RawArrival]:
        return [arrival for arrival in self.arrivals if arrival.method == method]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections += 1
        connection = self._connections
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines if line)
                }
                await reader.readexactly(int(headers.get("content-length", "0")))
                self.arrivals.append(
                    RawArrival(method, path, connection, headers.get("x-tightknit-attempt"))
                )
                if not path.endswith("/ok"):
                    return  # read in full, never answered: the connection drops
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\n\r\n{}"
                )
                await writer.drain()
        finally:
            writer.close()


async def test_aiohttp_on_its_own_resends_a_put_whose_connection_drops() -> None:
    """Pins the aiohttp behaviour the transport turns off: should this fail, aiohttp no longer
    resends, and the middleware in transport/_aiohttp.py can go."""
    server = RawServer()
    async with server as base:
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get(f"{base}/ok") as response:  # leaves a pooled connection
                await response.read()
            with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
                async with session.put(f"{base}/drop", data=b"{}"):
                    pass
    assert [a.connection for a in server.sent("PUT")] == [1, 2]  # the pooled one, then a resend


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"])
async def test_through_the_transport_a_dropped_request_reaches_the_server_once(
    method: str,
) -> None:
    server = RawServer()
    async with server as base:
        transport = AiohttpTransport(limits=Limits(max_connections=1))
        try:
            await transport.send(Request("GET", f"{base}/ok"))  # leaves a pooled connection
            with pytest.raises(APIConnectionError) as caught:
                await transport.send(Request(method, f"{base}/drop", content=b"{}"))
        finally:
            await transport.aclose()
    assert caught.value.request_sent  # it may have been applied: the retry loop decides
    assert [a.connection for a in server.sent(method) if a.path == "/drop"] == [1]


async def test_through_the_client_exactly_one_request_reaches_the_server_per_attempt() -> None:
    server = RawServer()
    async with (
        server as base,
        AsyncTightknit(api_key="sk_test_raw", base_url=base, max_retries=2) as tk,
    ):
        await tk.request("GET", "/ok")  # leaves a pooled connection
        with disable_waits(), pytest.raises(APIConnectionError):
            await tk.request("PUT", "/admin/v0/drop", json={"a": 1})
    assert [a.attempt for a in server.sent("PUT")] == ["1", "2", "3"]


async def test_a_dropped_connection_fails_with_aiohttps_own_error_as_the_cause() -> None:
    """The middleware that keeps aiohttp from resending changes nothing a caller sees: the
    error names aiohttp's class and chains aiohttp's own exception."""
    server = RawServer()
    async with server as base:
        transport = AiohttpTransport(limits=Limits(max_connections=1))
        try:
            await transport.send(Request("GET", f"{base}/ok"))
            with pytest.raises(APIConnectionError) as caught:
                await transport.send(Request("GET", f"{base}/drop", path="/drop"))
        finally:
            await transport.aclose()
    error = caught.value
    assert "server disconnected (ServerDisconnectedError" in str(error)
    assert type(error.__cause__) is aiohttp.ServerDisconnectedError
    assert error.request_sent


async def test_a_refused_connection_is_still_told_apart_as_not_sent() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = AiohttpTransport()
    try:
        with pytest.raises(APIConnectionError) as caught:
            await transport.send(Request("PUT", f"http://127.0.0.1:{port}/x", content=b"{}"))
    finally:
        await transport.aclose()
    assert not caught.value.request_sent
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)


async def test_tls_certificates_are_verified_and_redirects_not_followed() -> None:
    transport = AiohttpTransport()
    try:
        session = transport._ensure_session()
        assert session.connector is not None
        assert session.connector._ssl is True  # aiohttp's verifying default, never switched off
    finally:
        await transport.aclose()


async def test_a_redirect_is_returned_not_followed() -> None:
    hits: list[str] = []

    async def moved(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPFound("http://127.0.0.1:1/elsewhere")

    app = web.Application()
    app.router.add_get("/moved", moved)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    transport = AiohttpTransport()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/moved"
        response = await transport.send(Request("GET", url, {"Authorization": "Bearer k"}))
    finally:
        await transport.aclose()
        await runner.cleanup()
    assert response.status_code == 302
    assert hits == ["/moved"]  # the Authorization header went nowhere else


async def test_response_bodies_over_the_cap_are_refused() -> None:
    async def sized(_: web.Request) -> web.Response:
        return web.Response(body=b"x" * 5000, content_type="application/json")

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(10):
            await response.write(b"y" * 1000)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/sized", sized)
    app.router.add_get("/chunked", chunked)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    small = AiohttpTransport(max_response_bytes=4096)
    large = AiohttpTransport(max_response_bytes=20_000)
    try:
        for path in ("/sized", "/chunked"):
            with pytest.raises(ResponseTooLargeError, match="over 4,096 bytes"):
                await small.send(Request("GET", base + path, path=path))
        assert len((await large.send(Request("GET", base + "/sized"))).content) == 5000
        assert len((await large.send(Request("GET", base + "/chunked"))).content) == 10_000
        session = small._session
        assert session is not None
        assert session.connector is not None
        assert (
            session.connector._acquired == set()
        )  # the abandoned bodies released their connection
    finally:
        await small.aclose()
        await large.aclose()
        await runner.cleanup()
    with pytest.raises(ValueError, match="max_response_bytes"):
        AiohttpTransport(max_response_bytes=0)


async def test_an_answer_before_the_upload_ends_is_returned_and_its_writer_stopped() -> None:
    """A server may answer (here 413) before it has read a streamed upload: the transport
    returns that answer, stops sending the rest, and leaves no task of aiohttp's running and no
    connection held."""
    sent_chunks = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")  # the head only: a body is still coming
        if head.startswith(b"GET /ok "):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        else:
            writer.write(
                b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
                b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
            )
        await writer.drain()
        writer.close()

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent_chunks
        for _ in range(4096):  # 256 MiB if it were all sent
            sent_chunks += 1
            yield b"x" * 65536

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    transport = AiohttpTransport(limits=Limits(max_connections=1))
    upload = Multipart(
        fields={}, file=MultipartFile(filename="big.bin", source=chunks, size=4096 * 65536)
    )
    before = asyncio.all_tasks()
    try:
        response = await transport.send(Request("POST", f"{base}/upload", content=upload))
        assert response.status_code == 413
        for _ in range(20):  # let the cancelled writer finish
            await asyncio.sleep(0)
        assert asyncio.all_tasks() == before  # aiohttp's writer task is gone
        assert sent_chunks < 4096  # the upload was stopped, not sent in full
        # The pool's one connection is free again: the next request gets one at once.
        quick = Timeout(connect=2.0, total=5.0)
        again = await transport.send(Request("GET", f"{base}/ok", timeout=quick))
        assert again.status_code == 200
    finally:
        await transport.aclose()
        server.close()
        await server.wait_closed()


async def test_a_refused_body_gives_its_connection_back_at_once() -> None:
    """A reply refused for its size, its body unread, frees its pooled connection before
    ``send`` raises: with a pool of one, the next request gets a connection at once."""
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if head.startswith(b"GET /ok "):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()
        else:  # a large body declared, its first bytes sent, the rest held back
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 500000\r\n\r\n" + b"x" * 1000)
            await writer.drain()
            await done.wait()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    transport = AiohttpTransport(limits=Limits(max_connections=1), max_response_bytes=4096)
    quick = Timeout(connect=2.0, total=5.0)
    try:
        with pytest.raises(ResponseTooLargeError):
            await transport.send(Request("GET", f"{base}/big", timeout=quick))
        again = await transport.send(Request("GET", f"{base}/ok", timeout=quick))
        assert again.status_code == 200
    finally:
        done.set()
        await transport.aclose()
        server.close()
        await server.wait_closed()
