"""``APIResponse``: what ``AsyncTightknit.request`` returns."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import msgspec

from . import _codec
from ._exceptions import APIStatusError, status_error_class
from .models import decoder_for
from .retry import parse_retry_after
from .transport._base import Response

__all__ = ["REQUEST_ID_HEADERS", "APIResponse", "error_from_response", "request_id_of"]

T = TypeVar("T")

REQUEST_ID_HEADERS: Final = ("x-request-id", "request-id", "x-amzn-requestid", "cf-ray")


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The server's request id, from the first of :data:`REQUEST_ID_HEADERS` present."""
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


class APIResponse(msgspec.Struct, kw_only=True, eq=False, dict=True):
    """A successful (2xx) answer.

    Attributes:
        status_code: the HTTP status.
        headers: response headers, names lower-cased.
        content: the raw body bytes.
        replayed: ``True`` when the server marked it ``X-Idempotent-Replayed: true`` or the
            client's replay cache answered.
        idempotency_key: the ``Idempotency-Key`` the request carried, else ``None``.
        request_id: the server's request id when it sent one.
        attempts: how many attempts the call took (1 = no retry).
        elapsed: seconds from the call's start to the answer, waits included.

    ``data`` is the decoded JSON body (decoded once, on first access); ``parse(Type)`` decodes and
    validates it straight into a msgspec Struct.

    (A msgspec Struct, built once per call: a fifth of the cost of a class with a keyword
    ``__init__``. Compared by identity, like any response object.)
    """

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    method: str = ""
    path: str = ""
    replayed: bool = False
    idempotency_key: str | None = None
    attempts: int = 1
    elapsed: float = 0.0

    def _malformed(self, detail: str) -> APIStatusError:
        return APIStatusError(
            f"{self.method} {self.path}: the server answered {self.status_code} with a body that "
            f"is not valid JSON ({detail}): {_codec.snippet(self.content, 200)!r}",
            status_code=self.status_code,
            body=_codec.snippet(self.content),
            headers=self.headers,
            request_id=self.request_id,
            replayed=self.replayed,
            method=self.method,
            path=self.path,
        )

    @property
    def request_id(self) -> str | None:
        """The server's request id (``X-Request-Id`` and kin) when it sent one."""
        return request_id_of(self.headers)

    @functools.cached_property
    def data(self) -> Any:
        """The JSON body as builtins (``None`` for an empty body).

        Raises :class:`~tightknit_async.APIStatusError` when the body is not JSON.
        """
        if not self.content.strip():
            return None
        try:
            return _codec.decode(self.content)
        except _codec.UNDECODABLE as exc:
            raise self._malformed(_codec.describe_failure(exc)) from None

    def parse(self, type_: type[T], *, strict: bool = False) -> T:
        """Decode the body as ``type_`` (a model from :mod:`tightknit_async.models`, or any type
        msgspec supports), with one cached decoder per type that reads both timestamp forms.

        Raises :class:`~tightknit_async.APIStatusError` for a body that is not JSON and
        ``msgspec.ValidationError`` for JSON of another shape.
        """
        try:
            return decoder_for(type_).decode(self.content)
        except msgspec.ValidationError:
            raise
        except _codec.UNDECODABLE as exc:
            raise self._malformed(_codec.describe_failure(exc)) from None

    def __repr__(self) -> str:
        return (
            f"<APIResponse {self.method} {self.path} {self.status_code} "
            f"replayed={self.replayed} attempts={self.attempts} request_id={self.request_id!r}>"
        )


def error_from_response(
    method: str, path: str, response: Response, *, replayed: bool, secret: str
) -> APIStatusError:
    """The :class:`APIStatusError` subclass instance for an error ``response``.

    ``secret`` (the API key) is scrubbed from the message and a text body, should a proxy echo
    the request back.
    """
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
