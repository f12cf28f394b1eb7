"""The exception hierarchy of tightknit_async.

Every error the library raises derives from :class:`TightknitError`::

    TightknitError
    ├── RequestValidationError         a request field the API would reject (never sent)
    ├── IdempotencyKeyError            malformed key, or a key reused with another request
    ├── ClientClosedError              the client was used after ``aclose()`` / ``async with`` exit
    ├── WrongEventLoopError            the client was used from an event loop other than its own
    ├── GovernorTimeoutError           no send slot from the rate governor within the deadline
    ├── GovernorUnavailableError       the Redis the governor paces through is unreachable
    ├── IdempotencyStoreUnavailableError  the Redis behind the idempotency store is unreachable
    ├── ResponseTooLargeError          a response body over the transport's size cap (not retried)
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

:func:`status_error_class` is the single place where a status and body choose the class. No message,
``repr`` or attribute of these errors ever contains the API key: the only request data they keep is
the method, the path and the request id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
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


class GovernorTimeoutError(TightknitError):
    """The rate governor could not grant a send slot within the caller's wait deadline.

    Attributes:
        wait: the wait (seconds) the governor would have needed.
        deadline: the wait (seconds) the caller allowed.
    """

    def __init__(self, message: str, *, wait: float, deadline: float) -> None:
        super().__init__(message)
        self.wait = wait
        self.deadline = deadline


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


class APIStatusError(_RequestError):
    """The server answered with an error status.

    Attributes:
        status_code: the HTTP status.
        body: the decoded JSON body, or for a non-JSON body the text (truncated to 500 characters).
        headers: the response headers (lower-cased names).
        request_id: the server's request id (``X-Request-Id`` and kin), else ``None``.
        replayed: ``True`` when this answer is a replay of an earlier one (``X-Idempotent-Replayed``
            from the server, or the client's replay cache).
        code: the error code from the body (``INSUFFICIENT_SCOPE`` and such) when there is one.
        retry_after: the server's ``Retry-After`` in seconds when it sent one.
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
        self.code = _body_str(body, "code")

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
        self.hint = _body_str(self.body, "hint")
        self.required_permissions = _body_list(
            self.body, "required_permissions", "required_permission", "required_scopes", "required"
        )
        self.granted_permissions = _body_list(
            self.body,
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
        self.required_plan = _body_str(self.body, "required_plan") or _plan_in_text(self.body)
        self.current_plan = _body_str(self.body, "current_plan")


class NotFoundError(APIStatusError):
    """404: no such resource."""


class ConflictError(APIStatusError):
    """409: a request with the same idempotency key is still being processed."""


class RateLimitError(APIStatusError):
    """429: the key went over 50 requests per second."""


class InternalServerError(APIStatusError):
    """5xx: the server (or a proxy in front of it) failed."""


_PLANS = ("enterprise", "momentum", "growth")


def _body_str(body: object, key: str) -> str | None:
    if isinstance(body, Mapping):
        value = body.get(key)
        if isinstance(value, str):
            return value
        error = body.get("error")
        if isinstance(error, Mapping):
            nested = error.get(key)
            if isinstance(nested, str):
                return nested
    return None


def _body_list(body: object, *keys: str) -> tuple[str, ...] | None:
    if not isinstance(body, Mapping):
        return None
    for key in keys:
        value = body.get(key)
        if isinstance(value, str):
            return tuple(p for p in (s.strip() for s in value.split(",")) if p)
        if isinstance(value, list | tuple):
            return tuple(str(v) for v in value)
    return None


def _error_text(body: object) -> str:
    if isinstance(body, str):
        return body
    parts = [
        _body_str(body, "error") or "",
        _body_str(body, "message") or "",
        _body_str(body, "hint") or "",
    ]
    return " ".join(parts)


def _plan_in_text(body: object) -> str | None:
    text = _error_text(body).lower()
    for plan in _PLANS:
        if plan in text:
            return plan
    return None


def _is_plan_restriction(body: object) -> bool:
    code = (_body_str(body, "code") or "").upper()
    if code in {"PLAN_REQUIRED", "PLAN_RESTRICTED", "UPGRADE_REQUIRED"}:
        return True
    text = _error_text(body).lower()
    return " plan" in f" {text}" or "upgrade" in text


def status_error_class(status_code: int, body: object) -> type[APIStatusError]:
    """Choose the exception class for an error status and its decoded body.

    403 splits three ways: ``code == "INSUFFICIENT_SCOPE"`` gives :class:`InsufficientScopeError`;
    a plan restriction (code ``PLAN_REQUIRED`` or a message naming a plan or an upgrade) gives
    :class:`PlanRequiredError`; anything else :class:`PermissionDeniedError`.
    """
    if status_code in (400, 422):
        return BadRequestError
    if status_code == 401:
        return AuthenticationError
    if status_code == 403:
        code = (_body_str(body, "code") or "").upper()
        if code == "INSUFFICIENT_SCOPE":
            return InsufficientScopeError
        if _is_plan_restriction(body):
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
