"""The fake's replies: JSON encoding, the API's error envelope, and the errors handlers raise.

Every JSON reply is ``Content-Type: application/json``; an error body is
``{"success": false, "error": "<message>", "code": "<CODE>", ...details}`` (``code`` omitted for
plain 404s, as the API does).
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import msgspec
from aiohttp import web

JSON_CONTENT_TYPE = "application/json"
HTML_CONTENT_TYPE = "text/html"

_encode = msgspec.json.Encoder().encode


def json_response(
    status: int, body: object, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Encode ``body`` (dicts, lists, Structs) with msgspec into a JSON reply."""
    return web.Response(
        status=status, body=_encode(body), content_type=JSON_CONTENT_TYPE, headers=headers
    )


def error_body(message: str, code: str | None = None, **details: Any) -> dict[str, Any]:
    """Return the API's error envelope."""
    body: dict[str, Any] = {"success": False, "error": message}
    if code is not None:
        body["code"] = code
    body.update(details)
    return body


class ApiError(Exception):
    """An error reply raised by a check or a handler, turned into a response by the server."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status, body.get("error"))
        self.status = status
        self.body = body
        self.headers = headers

    def response(self) -> web.Response:
        """Return this error as a JSON reply."""
        return json_response(self.status, self.body, self.headers)


def validation_error(message: str, **details: Any) -> ApiError:
    """400 ``VALIDATION_ERROR`` naming the offending field or parameter in ``message``; ``details``
    become more keys of the body (such as the ``unknown`` ids of a reference)."""
    return ApiError(400, error_body(message, "VALIDATION_ERROR", **details))


def bad_request(message: str, code: str) -> ApiError:
    """400 with a code of its own, for a request that is well-formed but not allowed."""
    return ApiError(400, error_body(message, code))


def payload_too_large(message: str, **details: Any) -> ApiError:
    """413 with the code aiohttp's own oversized-body error gets (``REQUEST_ENTITY_TOO_LARGE``)."""
    return ApiError(413, error_body(message, _phrase(413)[1], **details))


def not_found(message: str = "Not found") -> ApiError:
    """404 with the API's plain ``{"success": false, "error": message}`` body."""
    return ApiError(404, error_body(message))


def rate_limited(retry_after: int | str) -> ApiError:
    """429 ``RATE_LIMITED`` with ``Retry-After``."""
    return ApiError(
        429,
        error_body("Too many requests", "RATE_LIMITED"),
        {"Retry-After": str(retry_after)},
    )


def idempotency_in_flight(retry_after: int | str) -> ApiError:
    """409 ``IDEMPOTENCY_IN_FLIGHT`` with ``Retry-After``."""
    return ApiError(
        409,
        error_body("A request with this Idempotency-Key is in progress", "IDEMPOTENCY_IN_FLIGHT"),
        {"Retry-After": str(retry_after)},
    )


def _phrase(status: int) -> tuple[str, str]:
    try:
        known = HTTPStatus(status)
    except ValueError:
        return f"HTTP {status}", f"HTTP_{status}"
    return known.phrase, known.name


def injected_error(status: int, *, retry_after: int | str, html: bool) -> web.Response:
    """The reply of an injected fault: ``status`` with a JSON error body.

    409 and 429 carry the API's bodies and ``Retry-After``; with ``html``, a 5xx is an HTML page
    such as a proxy in front of the API would send.
    """
    if status == 409:
        return idempotency_in_flight(retry_after).response()
    if status == 429:
        return rate_limited(retry_after).response()
    phrase, code = _phrase(status)
    if html and status >= 500:
        page = (
            f"<html><head><title>{status} {phrase}</title></head>\n"
            f"<body><h1>{status} {phrase}</h1>\n<hr><p>fake-tightknit</p></body></html>\n"
        )
        return web.Response(status=status, text=page, content_type=HTML_CONTENT_TYPE)
    return json_response(status, error_body(phrase, code))


def http_error(exc: web.HTTPException) -> web.Response:
    """Turn aiohttp's own HTTP errors (unknown route, wrong method, oversized body) into JSON."""
    if exc.status == 404:
        return not_found().response()
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    phrase, code = _phrase(exc.status)
    return json_response(exc.status, error_body(phrase, code), headers)
