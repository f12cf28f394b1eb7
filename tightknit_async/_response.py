"""``APIResponse``: what ``AsyncTightknit.request`` returns."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import msgspec

from . import _codec
from ._exceptions import (
    APIStatusError,
    ResponseValidationError,
    error_fields,
    status_error_class,
)
from .models import decoder_for
from .models._tolerant import deviations, tolerant_convert, type_name, warn_once
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
        headers: response headers, read-only and case-insensitive (a ``CIMultiDictProxy``):
            the server's names and repeated headers, the same for a live and a replayed answer.
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

        A body that fits takes the typed decoder alone. One that does not (a ``null`` or a
        missing value where the model requires one, a value of another type) is decoded
        tolerantly: the field takes its default or empty value, and one WARNING per model, field
        and kind is logged for the process (see :mod:`tightknit_async.models._tolerant`). With
        ``strict=True`` it raises :class:`~tightknit_async.ResponseValidationError` instead,
        naming the model and the JSON path. Unknown fields and new enum values pass either way.

        Raises :class:`~tightknit_async.APIStatusError` for a body that is not JSON.
        """
        try:
            return decoder_for(type_).decode(self.content)
        except msgspec.ValidationError as exc:
            if strict:
                raise self._unfit(type_, exc) from None
        except _codec.UNDECODABLE as exc:
            raise self._malformed(_codec.describe_failure(exc)) from None
        result: T
        result, found = tolerant_convert(type_, self.data)
        warn_once(found, where=f"{self.method} {self.path}".strip() or type_name(type_))
        return result

    def _unfit(self, type_: Any, exc: msgspec.ValidationError) -> ResponseValidationError:
        """The strict-mode error: the first deviation the walk finds, else msgspec's own words."""
        # msgspec's message ends with the concrete path ("... - at `$.data.records[3].hosts`");
        # the walk names the model that owns the field and the kind of mismatch.
        message, _, at = str(exc).partition(" - at `")
        found = deviations(type_, self.data)
        first = found[0] if found else None
        model = first.model if first else type_name(type_)
        json_path = at.rstrip("`") or (first.path if first else "$")
        reason = f"{first.kind}: {first.detail}" if first and first.detail else message
        request_id = self.request_id
        return ResponseValidationError(
            f"{self.method} {self.path}: the {self.status_code} reply does not fit {model} at "
            f"{json_path} ({reason}; request id {request_id}). strict_responses=True raises on "
            "such replies; without it the field takes its default",
            model=model,
            json_path=json_path,
            reason=reason,
            status_code=self.status_code,
            request_id=request_id,
            method=self.method,
            path=self.path,
        )

    def __repr__(self) -> str:
        return (
            f"<APIResponse {self.method} {self.path} {self.status_code} "
            f"replayed={self.replayed} attempts={self.attempts} request_id={self.request_id!r}>"
        )


def error_from_response(
    method: str, path: str, response: Response, *, replayed: bool, secret: str
) -> APIStatusError:
    """The :class:`APIStatusError` subclass instance for an error ``response``.

    Any body shape gives the class of its status, with the code and message that
    :func:`~tightknit_async._exceptions.error_fields` reads from it: an HTML page, an empty body
    or invalid JSON included; nothing from decoding escapes.

    ``secret`` (the API key) is scrubbed from the body (before it is decoded, so from the code and
    message read from it too) and from the message, should a proxy echo the request back.
    """
    headers, status = response.headers, response.status_code
    content = response.content
    if secret and (raw_secret := secret.encode()) in content:  # a proxy echoing the request
        content = content.replace(raw_secret, b"<redacted>")
    body = _codec.error_body(content, headers.get("content-type"))
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
    """``[CODE] every error and message text, then the hint``, whatever the body's shape."""
    if body is None:
        return "(empty body)"
    fields = error_fields(body)
    if fields.code is None and not fields.texts:
        if isinstance(body, str):
            return f"(non-JSON body) {body[:200]!r}"
        if isinstance(body, Mapping):
            return "(no error message)"
        return f"(no error message) {_codec.snippet(_codec.encode(body), 200)}"
    text = " ".join(fields.texts) or "(no error message)"
    return text if fields.code is None else f"[{fields.code}] {text}"
