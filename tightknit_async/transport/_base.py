"""The transport seam: one request value, one response value, one async ``send``."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Protocol, runtime_checkable

import msgspec

from .._config import DEFAULT_TIMEOUT, Timeout

__all__ = ["AsyncTransport", "Multipart", "MultipartFile", "Request", "Response"]

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with credentials replaced by ``<redacted>``."""
    return {k: ("<redacted>" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


class MultipartFile(msgspec.Struct, frozen=True):
    """The file part of a multipart body.

    ``source`` is the bytes themselves, a filesystem path (opened and streamed anew for every
    attempt), or a factory returning a fresh async iterator of chunks (called once per attempt).
    """

    filename: str
    source: bytes | os.PathLike[str] | str | Callable[[], AsyncIterator[bytes]]
    size: int
    content_type: str = "application/octet-stream"
    field: str = "file"


class Multipart(msgspec.Struct, frozen=True):
    """A ``multipart/form-data`` body: text fields, then one file streamed from its source."""

    fields: Mapping[str, str]
    file: MultipartFile

    def fingerprint(self) -> bytes:
        """What identifies this body for idempotency: fields, file name and size, and the bytes
        themselves when they are in memory (a path or a stream is identified by name and size)."""
        digest = hashlib.sha256()
        for name, value in sorted(self.fields.items()):
            digest.update(f"{name}\x00{value}\x00".encode())
        digest.update(f"{self.file.field}\x00{self.file.filename}\x00{self.file.size}".encode())
        if isinstance(self.file.source, bytes):
            digest.update(self.file.source)
        return digest.digest()


class Request(msgspec.Struct, frozen=True, gc=False):
    """One HTTP attempt, fully prepared: absolute URL, final headers, encoded body.

    Its ``repr`` never shows the Authorization header. (A frozen msgspec Struct: built once per
    attempt, it costs a tenth of a frozen dataclass; ``gc=False``, as it never refers back to
    what holds it, so the cycle collector need not track it.)
    """

    method: str
    url: str
    headers: Mapping[str, str] = msgspec.field(default_factory=dict)
    content: bytes | Multipart | None = None
    timeout: Timeout = DEFAULT_TIMEOUT
    path: str = ""
    """The path (for logs and errors); the URL may carry a query string too."""

    def __repr__(self) -> str:
        return (
            f"Request(method={self.method!r}, url={self.url!r}, "
            f"headers={redact_headers(self.headers)!r}, content={describe_content(self.content)})"
        )


class Response(msgspec.Struct, frozen=True, gc=False):
    """A complete HTTP response; the connection behind it has already been released.

    ``headers`` is read-only; look-ups must work with lower-case names (the aiohttp transport
    gives a case-insensitive multidict; other transports may give a dict with lower-case names).
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


def describe_content(content: bytes | Multipart | None) -> str:
    if isinstance(content, Multipart):
        return f"<multipart {content.file.filename!r}, {content.file.size} bytes>"
    return f"<{len(content or b'')} bytes>"
