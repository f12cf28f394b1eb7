"""A bare asyncio HTTP/1.1 server for the overhead benchmarks: canned answers in ~30 us.

An aiohttp.web server spends about as much CPU per request as the client under test, and on a
machine of 2 cores that flattens every ratio: the client waits on the server. This one parses
only what keep-alive HTTP/1.1 needs (the request line, ``Content-Length``, the end of the head)
and writes a prepared answer per (method, path); any other request gets a 404. It is not a web
server, only a cheap, fixed-cost peer, pinned to a core of its own by `serve`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

__all__ = ["answer", "serve"]


def answer(status: int, reason: str, body: bytes) -> bytes:
    """A complete keep-alive HTTP/1.1 response with a JSON ``body``."""
    return (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: keep-alive\r\n"
        "\r\n"
    ).encode("ascii") + body


NOT_FOUND = answer(404, "Not Found", b'{"success":false,"error":"not found"}')


class _Peer(asyncio.Protocol):
    __slots__ = ("_buffer", "_routes", "_transport")

    def __init__(self, routes: Mapping[bytes, bytes]) -> None:
        self._routes = routes
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        out = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end]
            length = 0
            marker = head.find(b"\r\ncontent-length:") if b"content-length" in head else -1
            if marker < 0:
                marker = head.find(b"\r\nContent-Length:")
            if marker >= 0:
                stop = head.find(b"\r\n", marker + 2)
                length = int(head[marker + 17 : stop if stop >= 0 else None])
            if len(buffer) < end + 4 + length:
                break
            line = head[: head.find(b"\r\n")]
            method, _, rest = line.partition(b" ")
            target = rest.rpartition(b" ")[0].partition(b"?")[0]
            out.append(self._routes.get(method + b" " + target, NOT_FOUND))
            buffer = buffer[end + 4 + length :]
        self._buffer = buffer
        if out and self._transport is not None:
            self._transport.write(b"".join(out))


def serve(port: int, routes: Mapping[str, bytes], core: int | None = None) -> None:
    """Answer on 127.0.0.1:``port`` until killed; ``routes`` maps ``"GET /path"`` to a response
    (see `answer`). ``core``: pin this process to that CPU (Linux), away from the client's."""
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    table = {route.encode("ascii"): response for route, response in routes.items()}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Peer(table), "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())
