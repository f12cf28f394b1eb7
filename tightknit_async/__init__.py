"""tightknit_async: an asyncio-first, high-throughput client for the Tightknit REST API.

Paced to the API's 50 requests per second per key, idempotent by design, typed end to end::

    from tightknit_async import AsyncTightknit

    async with AsyncTightknit() as tk:            # TIGHTKNIT_API_KEY from the environment
        me = await tk.request("GET", "/admin/v0/api_key/me")
"""

from ._client import AsyncTightknit, ClientStatistics
from ._config import Limits, Timeout
from ._exceptions import (
    AlreadyUsedError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    DeadlineExceededError,
    GovernorTimeoutError,
    GovernorUnavailableError,
    IdempotencyKeyError,
    IdempotencyStoreUnavailableError,
    InsufficientScopeError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    PlanRequiredError,
    RateLimitError,
    RequestValidationError,
    ResponseTooLargeError,
    ResponseValidationError,
    TightknitError,
    WrongEventLoopError,
)
from ._response import APIResponse
from ._types import NOT_GIVEN, NotGiven, Priority
from ._version import __version__
from .idempotency import IdempotencyStore, MemoryIdempotencyStore, idempotency_key_for
from .retry import RetryPolicy

__all__ = [
    "NOT_GIVEN",
    "APIConnectionError",
    "APIResponse",
    "APIStatusError",
    "APITimeoutError",
    "AlreadyUsedError",
    "AsyncTightknit",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ClientStatistics",
    "ConflictError",
    "DeadlineExceededError",
    "GovernorTimeoutError",
    "GovernorUnavailableError",
    "IdempotencyKeyError",
    "IdempotencyStore",
    "IdempotencyStoreUnavailableError",
    "InsufficientScopeError",
    "InternalServerError",
    "Limits",
    "MemoryIdempotencyStore",
    "NotFoundError",
    "NotGiven",
    "PermissionDeniedError",
    "PlanRequiredError",
    "Priority",
    "RateLimitError",
    "RequestValidationError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "RetryPolicy",
    "TightknitError",
    "Timeout",
    "WrongEventLoopError",
    "__version__",
    "idempotency_key_for",
]
