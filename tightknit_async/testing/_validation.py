"""Checks of query parameters and JSON bodies; each failure is a 400 naming the field.

Every function either returns the parsed value or raises `ApiError` (400, ``VALIDATION_ERROR``)
whose message starts with the parameter or field name, e.g. ``"per_page must be an integer
between 1 and 100"``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import msgspec
from multidict import MultiMapping

from ._responses import validation_error

_T = TypeVar("_T")
_INTEGER = re.compile(r"-?[0-9]+")
# Deliberately loose, like most APIs: one @, no whitespace, a dot in the domain.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")

_decode_json = msgspec.json.Decoder().decode


def _single(query: MultiMapping[str], name: str) -> str | None:
    values = query.getall(name, [])
    if len(values) > 1:
        raise validation_error(f"{name} must be given at most once")
    return values[0] if values else None


def query_int(
    query: MultiMapping[str], name: str, *, default: int, minimum: int, maximum: int | None = None
) -> int:
    """Parse an optional integer parameter within ``[minimum, maximum]``."""
    raw = _single(query, name)
    if raw is None:
        return default
    bounds = (
        f"an integer >= {minimum}"
        if maximum is None
        else f"an integer between {minimum} and {maximum}"
    )
    if not _INTEGER.fullmatch(raw):
        raise validation_error(f"{name} must be {bounds}")
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        raise validation_error(f"{name} must be {bounds}")
    return value


def query_choice(query: MultiMapping[str], name: str, choices: Sequence[_T], *, default: _T) -> _T:
    """Parse an optional enumerated parameter; ``choices`` are the accepted strings."""
    raw = _single(query, name)
    if raw is None:
        return default
    for choice in choices:
        if raw == choice:
            return choice
    raise validation_error(f"{name} must be one of: {', '.join(map(str, choices))}")


def query_bool(query: MultiMapping[str], name: str) -> bool | None:
    """Parse an optional ``'true'``/``'false'`` parameter; None when absent."""
    raw = _single(query, name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise validation_error(f"{name} must be 'true' or 'false'")
    return raw == "true"


def json_object(raw: bytes) -> dict[str, Any]:
    """Decode a request body that must be a JSON object."""
    try:
        body = _decode_json(raw)
    except msgspec.DecodeError:
        raise validation_error("Request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise validation_error("Request body must be a JSON object")
    return body


def body_string(body: Mapping[str, Any], name: str, *, max_length: int, strip: bool = False) -> str:
    """Return a required string field of 1 to ``max_length`` characters (after ``strip``)."""
    if name not in body or body[name] is None:
        raise validation_error(f"{name} is required")
    value = body[name]
    if not isinstance(value, str):
        raise validation_error(f"{name} must be a string")
    if strip:
        value = value.strip()
    if not value:
        raise validation_error(f"{name} must not be empty")
    if len(value) > max_length:
        raise validation_error(f"{name} must be at most {max_length} characters")
    return value


def body_email(body: Mapping[str, Any], name: str) -> str:
    """Return a required e-mail address field (at most 254 characters)."""
    value = body_string(body, name, max_length=254, strip=True)
    if not _EMAIL.fullmatch(value):
        raise validation_error(f"{name} must be a valid email address")
    return value


def body_optional_url(
    body: Mapping[str, Any], name: str, *, max_length: int
) -> str | msgspec.UnsetType | None:
    """Return an optional http(s) URL field: `msgspec.UNSET` when absent, None when null."""
    if name not in body:
        return msgspec.UNSET
    value = body[name]
    if value is None:
        return None
    if not isinstance(value, str):
        raise validation_error(f"{name} must be a string or null")
    if len(value) > max_length:
        raise validation_error(f"{name} must be at most {max_length} characters")
    message = f"{name} must be an http or https URL"
    try:
        parts = urlsplit(value)
    except ValueError:  # such as an unbalanced "[" in the host
        raise validation_error(message) from None
    if parts.scheme not in ("http", "https") or not parts.netloc or any(map(str.isspace, value)):
        raise validation_error(message)
    return value
