"""Shared helpers for the reliability tests: a raw loopback HTTP server, leak and task checks."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

from tightknit_async import AsyncTightknit

RawHandler = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]
"""Answers one request (its raw head and body) by writing bytes, or by not answering at all."""


class RawServer:
    """A tiny HTTP/1.1 server on 127.0.0.1 that hands each request to ``handler`` as bytes.

    Byte-level control is what the fake server lacks: resets, short bodies, stalls, bare 429s.
    Every request is counted in ``requests``; the server closes each connection after one answer.
    """

    def __init__(self, handler: RawHandler) -> None:
        self._handler = handler
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            self.requests.append(head + body)
            await self._handler(head + body, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
            self._tasks.discard(task)


def reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 response with ``Connection: close``."""
    fields = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    lines = [f"HTTP/1.1 {status} X"] + [f"{name}: {value}" for name, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def acquired_connections(tk: AsyncTightknit) -> int:
    """Connections the client's aiohttp pool holds out right now (0: none leaked)."""
    session = getattr(tk._transport, "_session", None)
    if session is None:
        return 0
    return len(session.connector._acquired)


async def settle(baseline: set[asyncio.Task[object]], within: float = 1.0) -> set[str]:
    """Wait (bounded) until no task beyond ``baseline`` is left; return the names of leftovers."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    me = asyncio.current_task()
    while True:
        extra = {t for t in asyncio.all_tasks() if t not in baseline and t is not me}
        if not extra or loop.time() >= end:
            return {t.get_name() + ":" + repr(t.get_coro()) for t in extra}
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def no_leftover_tasks() -> AsyncIterator[None]:
    """Assert that every task started inside the block has finished shortly after it."""
    baseline = set(asyncio.all_tasks())
    yield
    leftovers = await settle(baseline)
    assert not leftovers, f"tasks still running: {leftovers}"
