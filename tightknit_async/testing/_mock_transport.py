"""``MockTransport``: answer requests with a function of yours, no network at all."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping

from .. import _codec
from ..transport import Request, Response

__all__ = ["MockTransport", "json_response"]

Handler = Callable[[Request], Response | Awaitable[Response]]


def json_response(
    status_code: int = 200, body: object = None, headers: Mapping[str, str] | None = None
) -> Response:
    """A :class:`~tightknit_async.transport.Response` with a JSON body (lower-cased headers)."""
    merged = {"content-type": "application/json"}
    merged.update({k.lower(): v for k, v in (headers or {}).items()})
    return Response(status_code=status_code, headers=merged, content=_codec.encode(body))


class MockTransport:
    """A transport that calls ``handler(request)`` (sync or async) for each attempt.

    The handler may return a ``Response`` or raise ``APIConnectionError`` / ``APITimeoutError``
    to simulate a network failure. Every request is kept in ``requests`` for assertions::

        transport = MockTransport(lambda request: json_response(200, {"success": True}))
        async with AsyncTightknit(api_key="sk_test", transport=transport) as tk: ...
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        """The function answering each request; replace it to change the answers."""
        self.requests: list[Request] = []
        self.closed = False

    async def send(self, request: Request) -> Response:
        self.requests.append(request)
        result = self.handler(request)
        if inspect.isawaitable(result):
            return await result
        return result

    async def aclose(self) -> None:
        self.closed = True

    def __repr__(self) -> str:
        return f"<MockTransport requests={len(self.requests)}>"
