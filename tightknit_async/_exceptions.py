"""The exception hierarchy of tightknit_async.

Every error the library raises derives from :class:`TightknitError`::

    TightknitError
    ├── RequestValidationError         a request field the API would reject (never sent)
    ├── IdempotencyKeyError            malformed key, or a key reused with another request
    ├── ClientClosedError              the client was used after ``aclose()`` / ``async with`` exit
    ├── WrongEventLoopError            the client was used from an event loop other than its own
    ├── AlreadyUsedError               a single-use object used again (a BulkJob, an upload stream)
    ├── DeadlineExceededError          the call's deadline= cannot be met (also a TimeoutError)
    │   └── GovernorTimeoutError       no send slot from the rate governor within the deadline
    ├── GovernorUnavailableError       the Redis the governor paces through is unreachable
    ├── IdempotencyStoreUnavailableError  the Redis behind the idempotency store is unreachable
    ├── ResponseTooLargeError          a response body over the transport's size cap (not retried)
    ├── ResponseValidationError        a 2xx reply that does not fit its model (strict mode only)
    ├── APIConnectionError             no HTTP response: refused, reset, DNS, TLS, dropped mid-reply
    │   └── APITimeoutError            connect / read / total timeout
    └── APIStatusError                 the server answered with a 4xx or 5xx status
        ├── BadRequestError            400 (also 422)
        ├── AuthenticationError        401
        ├── PermissionDeniedError      403
        │   ├── InsufficientScopeError 403 ``INSUFFICIENT_SCOPE``: the key lacks a permission
        │   └── PlanRequiredError      403: the community's plan does not include the endpoint
        ├── NotFoundError              404
        ├── ConflictError              409 (an idempotency key still in flight)
        ├── RateLimitError             429
        └── InternalServerError        5xx

:func:`status_error_class` is the single place where a status and body choose the class, and
:func:`error_fields` the single place that reads an error body, whatever its shape. No message,
``repr`` or attribute of these errors ever contains the API key: the only request data they keep is
the method, the path and the request id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, NamedTuple

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AlreadyUsedError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "DeadlineExceededError",
    "GovernorTimeoutError",
    "GovernorUnavailableError",
    "IdempotencyKeyError",
    "IdempotencyStoreUnavailableError",
    "InsufficientScopeError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "PlanRequiredError",
    "RateLimitError",
    "RequestValidationError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "TightknitError",
    "WrongEventLoopError",
    "status_error_class",
]


class TightknitError(Exception):
    """Base class of every error raised by tightknit_async."""


class RequestValidationError(TightknitError, ValueError):
    """A request field holds a value the API would reject; nothing was sent.

    ``field`` is the field's path (``title``, ``hosts.emails[1]``), or ``""`` for a rule about a
    whole object (such as "exactly one of"); ``reason`` says what is wrong.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason

    def within(self, parent: str) -> RequestValidationError:
        """The same error with ``parent`` prefixed to its field path."""
        return RequestValidationError(
            f"{parent}.{self.field}" if self.field else parent, self.reason
        )


class IdempotencyKeyError(TightknitError, ValueError):
    """A caller-supplied idempotency key is not a UUIDv4, or was reused for a different request.

    Raised before anything is sent.
    """


class ClientClosedError(TightknitError, RuntimeError):
    """The client was used after it was closed."""


class WrongEventLoopError(TightknitError, RuntimeError):
    """The client was used from an event loop other than the one it was opened on."""


class DeadlineExceededError(TightknitError, TimeoutError):
    """The call's deadline (``deadline=``) cannot be met: raised as soon as that is known.

    The deadline bounds everything a call spends: its wait for a send slot, every attempt and
    every backoff. This is raised, without waiting the rest out, when the next step would end
    after it; ``__cause__`` is the last attempt's error when there was one. Also a
    ``TimeoutError``, so ``except TimeoutError`` in a web handler catches it.

    Attributes:
        deadline: the call's deadline in seconds (``None`` for a governor wait bounded otherwise).
    """

    def __init__(self, message: str, *, deadline: float | None = None) -> None:
        super().__init__(message)
        self.deadline = deadline


class GovernorTimeoutError(DeadlineExceededError):
    """The rate governor could not grant a send slot within the call's deadline.

    Attributes:
        wait: the wait (seconds) the governor would have needed.
        deadline: the wait (seconds) the caller allowed.
    """

    def __init__(self, message: str, *, wait: float, deadline: float) -> None:
        super().__init__(message, deadline=deadline)
        self.wait = wait


class GovernorUnavailableError(TightknitError):
    """The Redis that the rate governor paces through is unreachable, refusing or too slow.

    Raised by ``acquire()`` of a Redis governor without a local fallback; nothing was sent.
    ``__cause__`` holds the Redis error.
    """


class IdempotencyStoreUnavailableError(TightknitError):
    """The Redis behind the idempotency store is unreachable, refusing or too slow.

    Raised before the request is sent (binding, lookup, claim or wait), so nothing was sent.
    ``__cause__`` holds the Redis error.
    """


class _RequestError(TightknitError):
    """An error tied to one request: keeps its method and path (never headers or the key)."""

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.path = path


class APIConnectionError(_RequestError):
    """No HTTP response was received: connection refused, reset, DNS failure, TLS, dropped reply.

    ``request_sent`` is ``False`` only when the request certainly never reached the server (the
    connection could not be opened), so even a mutation without an idempotency key may be retried.
    """

    def __init__(
        self, message: str, *, method: str = "", path: str = "", request_sent: bool = True
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.request_sent = request_sent


class ResponseTooLargeError(_RequestError):
    """The response body was larger than the transport's ``max_response_bytes``; it was
    abandoned unread. Not retried: the same request would bring the same body."""


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, read or total)."""


class ResponseValidationError(_RequestError):
    """A 2xx reply did not fit its model, and the client was built with ``strict_responses=True``.

    Raised only in strict mode (by default such a reply is decoded tolerantly). Unknown fields
    never cause it: adding a field is not a breaking change.

    Attributes:
        model: the model owning the field that did not fit (``CalendarEvent``).
        json_path: where in the body (``$.data.records[3].hosts``).
        reason: what was expected and what came.
        status_code: the reply's HTTP status.
        request_id: the server's request id when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        model: str,
        json_path: str,
        reason: str,
        status_code: int,
        request_id: str | None,
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.model = model
        self.json_path = json_path
        self.reason = reason
        self.status_code = status_code
        self.request_id = request_id


class APIStatusError(_RequestError):
    """The server answered with an error status.

    Attributes:
        status_code: the HTTP status.
        body: the decoded JSON body, or for a non-JSON body the text (truncated to 500 characters).
        headers: the response headers (lower-cased names).
        request_id: the server's request id (``X-Request-Id`` and kin), else ``None``.
        replayed: ``True`` when this answer is a replay of an earlier one (``X-Idempotent-Replayed``
            from the server, or the client's replay cache).
        code: the error code from the body (``INSUFFICIENT_SCOPE`` and such) when there is one
            (read-only).
        error_message: the server's human-readable message when there is one (read-only).
        retry_after: the server's ``Retry-After`` in seconds when it sent one.

    ``code`` and ``error_message`` are read from any body shape (see :func:`error_fields`): a flat
    ``{"error": ..., "code": ..., "message": ...}``, the nested
    ``{"success": false, "error": {"code": ..., "message": ...}}``, or an error string alone; both
    are ``None`` for an HTML page, an empty body or JSON with no error in it.
    """

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: object = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        replayed: bool = False,
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.status_code = status_code
        self.body = body
        self.headers: Mapping[str, str] = dict(headers or {})
        self.request_id = request_id
        self.replayed = replayed
        self.retry_after = retry_after
        self._error_fields: ErrorFields | None = None

    @property
    def _fields(self) -> ErrorFields:
        """What the body says, read on first use (most errors are retried, never inspected)."""
        fields = self._error_fields
        if fields is None:
            fields = self._error_fields = error_fields(self.body)
        return fields

    @property
    def code(self) -> str | None:
        """The error code from the body (``INSUFFICIENT_SCOPE`` and such), else ``None``."""
        return self._fields.code

    @property
    def error_message(self) -> str | None:
        """The server's message (a ``message``, else an ``error`` sentence), else ``None``."""
        return self._fields.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, code={self.code!r}, "
            f"method={self.method!r}, path={self.path!r}, request_id={self.request_id!r})"
        )


class BadRequestError(APIStatusError):
    """400 (or 422): the request was malformed or failed validation."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, malformed, revoked or unknown."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this endpoint."""


class InsufficientScopeError(PermissionDeniedError):
    """403 ``INSUFFICIENT_SCOPE``: the key lacks a permission.

    ``required_permissions`` and ``granted_permissions`` list what the server reported, when it did;
    ``hint`` is the server's hint text.
    """

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        fields = self._fields
        self.hint = fields.hint
        self.required_permissions = _body_list(
            fields.extra,
            "required_permissions",
            "required_permission",
            "required_scopes",
            "required",
        )
        self.granted_permissions = _body_list(
            fields.extra,
            "current_permissions",
            "granted_permissions",
            "permissions",
            "current_scopes",
            "granted",
        )


class PlanRequiredError(PermissionDeniedError):
    """403 for an endpoint the community's plan does not include (Growth, Momentum or Enterprise).

    ``required_plan`` and ``current_plan`` are set when the server reported them.
    """

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        fields = self._fields
        self.required_plan = _text(fields.extra.get("required_plan")) or _plan_in(fields.texts)
        self.current_plan = _text(fields.extra.get("current_plan"))


class NotFoundError(APIStatusError):
    """404: no such resource."""


class ConflictError(APIStatusError):
    """409: a request with the same idempotency key is still being processed."""


class RateLimitError(APIStatusError):
    """429: the key went over 50 requests per second."""


class InternalServerError(APIStatusError):
    """5xx: the server (or a proxy in front of it) failed."""


class AlreadyUsedError(TightknitError, RuntimeError):
    """A single-use object was used a second time: a ``BulkJob`` run again, or the async iterable
    of a streamed upload read again. Create a new one instead."""


_PLANS: Final = ("enterprise", "momentum", "growth")
_PLAN_CODES: Final = frozenset({"PLAN_REQUIRED", "PLAN_RESTRICTED", "UPGRADE_REQUIRED"})
_PLAN_WORDS: Final = re.compile(r"\bplans?\b|\bupgrad", re.IGNORECASE)
_CODE: Final = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
_NOTHING: Final[Mapping[str, object]] = MappingProxyType({})


class ErrorFields(NamedTuple):
    """What an error body says, whatever its shape (built by :func:`error_fields`)."""

    code: str | None
    """The error code: an explicit ``code``, else the first UPPER_SNAKE ``error``/``message``."""
    codes: tuple[str, ...]
    """Every code found, ``code`` first (an explicit ``code`` and an UPPER_SNAKE ``error``)."""
    message: str | None
    """The human-readable message: a ``message`` sentence, else an ``error`` sentence."""
    hint: str | None
    """The server's ``hint``."""
    texts: tuple[str, ...]
    """Every distinct string of the body's ``error`` and ``message`` fields except ``code``, in
    order, then ``hint``: what an exception message shows."""
    extra: Mapping[str, object]
    """Every field of the body, those of a nested ``error`` object overriding the top level's
    (permission lists, plans)."""


_NO_FIELDS: Final = ErrorFields(None, (), None, None, (), _NOTHING)


def error_fields(body: object) -> ErrorFields:
    """Read the code, message, hint and other fields from a decoded error body of any shape.

    * ``{"success": false, "error": {"code": ..., "message": ..., "hint": ..., ...}}``: the nested
      object's fields, falling back to the top level's;
    * ``{"error": ..., "code": ..., "message": ..., "hint": ...}``, any of them missing: a string
      ``error`` or ``message`` in UPPER_SNAKE (``INSUFFICIENT_SCOPE``) is a code, a sentence is
      a message; an integer ``code`` becomes its digits;
    * a string (a JSON string, or the text of a non-JSON body): UPPER_SNAKE is a code, other
      text a message, and text that starts like markup or JSON (``<``, ``{``, ``[``: an HTML page,
      a truncated JSON body) neither;
    * anything else (``None`` for an empty body, a list, a number): no fields.

    Never raises.
    """
    if isinstance(body, (dict, Mapping)):  # dict first: a decoded body skips the ABC check
        return _mapping_fields(body)
    if isinstance(body, str):
        text = body.strip()
        if not text or text[0] in "<{[":
            return _NO_FIELDS
        if _CODE.fullmatch(text):
            return ErrorFields(text, (text,), None, None, (), _NOTHING)
        return ErrorFields(None, (), text, None, (text,), _NOTHING)
    return _NO_FIELDS


def _mapping_fields(body: Mapping[Any, Any]) -> ErrorFields:
    error = body.get("error")
    if isinstance(error, (dict, Mapping)):
        layers: tuple[Mapping[Any, Any], ...] = (error, body)
        extra: Mapping[Any, Any] = {**body, **error}
    else:
        layers, extra = (body,), body
    codes: list[str] = []
    for layer in layers:
        explicit = _code_value(layer.get("code"))
        if explicit is not None and explicit not in codes:
            codes.append(explicit)
    strings: list[str] = []
    message = sentence = hint = None
    for layer in layers:
        for key in ("error", "message"):
            value = _text(layer.get(key))
            if value is None:
                continue
            if value not in strings:
                strings.append(value)
            if _CODE.fullmatch(value):
                if value not in codes:
                    codes.append(value)
            elif key == "message":
                message = message or value
            else:
                sentence = sentence or value
        if hint is None:
            hint = _text(layer.get("hint"))
    if hint is not None and hint not in strings:
        strings.append(hint)
    code = codes[0] if codes else None
    if code in strings:
        strings.remove(code)
    return ErrorFields(code, tuple(codes), message or sentence, hint, tuple(strings), extra)


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    return None


def _code_value(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value)


def _body_list(extra: Mapping[Any, Any], *keys: str) -> tuple[str, ...] | None:
    for key in keys:
        value = extra.get(key)
        if isinstance(value, str):
            return tuple(p for p in (s.strip() for s in value.split(",")) if p)
        if isinstance(value, list | tuple):
            return tuple(str(v) for v in value)
    return None


def _plan_in(texts: tuple[str, ...]) -> str | None:
    text = " ".join(texts).lower()
    for plan in _PLANS:
        if plan in text:
            return plan
    return None


def status_error_class(status_code: int, body: object) -> type[APIStatusError]:
    """Choose the exception class for an error status and its decoded body (any shape: see
    :func:`error_fields`).

    403 splits three ways: the code ``INSUFFICIENT_SCOPE`` (as ``code``, as an ``error`` or
    ``message`` string, at the top level or in a nested ``error`` object) gives
    :class:`InsufficientScopeError`; a plan restriction (the code ``PLAN_REQUIRED``,
    ``PLAN_RESTRICTED`` or ``UPGRADE_REQUIRED``, or a message with the word "plan" or "upgrade")
    gives :class:`PlanRequiredError`; anything else :class:`PermissionDeniedError`.
    """
    if status_code in (400, 422):
        return BadRequestError
    if status_code == 401:
        return AuthenticationError
    if status_code == 403:
        fields = error_fields(body)
        codes = {code.upper() for code in fields.codes}
        if "INSUFFICIENT_SCOPE" in codes:
            return InsufficientScopeError
        if not codes.isdisjoint(_PLAN_CODES) or _PLAN_WORDS.search(" ".join(fields.texts)):
            return PlanRequiredError
        return PermissionDeniedError
    if status_code == 404:
        return NotFoundError
    if status_code == 409:
        return ConflictError
    if status_code == 429:
        return RateLimitError
    if status_code >= 500:
        return InternalServerError
    return APIStatusError
