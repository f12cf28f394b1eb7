"""The transport seam: one request value, one response value, one async ``send``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from .._config import DEFAULT_TIMEOUT, Timeout

__all__ = ["AsyncTransport", "Request", "Response"]

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with credentials replaced by ``<redacted>``."""
    return {k: ("<redacted>" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP attempt, fully prepared: absolute URL, final headers, encoded body.

    Its ``repr`` never shows the Authorization header.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes | None = None
    timeout: Timeout = DEFAULT_TIMEOUT
    path: str = ""
    """The path (for logs and errors); the URL may carry a query string too."""

    def __repr__(self) -> str:
        return (
            f"Request(method={self.method!r}, url={self.url!r}, "
            f"headers={redact_headers(self.headers)!r}, content=<{len(self.content or b'')} bytes>)"
        )


@dataclass(frozen=True, slots=True)
class Response:
    """A complete HTTP response; the connection behind it has already been released.

    ``headers`` has lower-cased names; repeated headers are joined with ``", "``.
    """

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    elapsed: float = 0.0
    """Seconds from sending the request to having read the whole body."""


@runtime_checkable
class AsyncTransport(Protocol):
    """What the client needs from the network.

    ``send`` returns a complete :class:`Response` for any status, or raises
    :class:`~tightknit_async.APIConnectionError` (or its :class:`~tightknit_async.APITimeoutError`)
    when no response arrived. It never raises a library-specific error of its own.
    """

    async def send(self, request: Request) -> Response: ...

    async def aclose(self) -> None: ...
