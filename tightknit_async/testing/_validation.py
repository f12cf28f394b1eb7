"""Checks of query parameters and JSON bodies; each failure is a 400 naming the field.

Every function either returns the parsed value or raises `ApiError` (400, ``VALIDATION_ERROR``)
whose message starts with the parameter or field name, e.g. ``"per_page must be an integer
between 1 and 100"``. Body checks take the field's ``name`` in ``body``; a ``prefix`` such as
``"hosts."`` names a field of a nested object in the message (``"hosts.emails is required"``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
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


def query_string(query: MultiMapping[str], name: str) -> str:
    """Return a required parameter that is not empty after stripping whitespace."""
    raw = _single(query, name)
    if raw is None:
        raise validation_error(f"{name} is required")
    value = raw.strip()
    if not value:
        raise validation_error(f"{name} must not be empty")
    return value


def json_object(raw: bytes) -> dict[str, Any]:
    """Decode a request body that must be a JSON object."""
    try:
        body = _decode_json(raw)
    except msgspec.DecodeError:
        raise validation_error("Request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise validation_error("Request body must be a JSON object")
    return body


def body_string(
    body: Mapping[str, Any],
    name: str,
    *,
    max_length: int,
    min_length: int = 1,
    strip: bool = False,
    prefix: str = "",
) -> str:
    """Return a required string field of ``min_length`` to ``max_length`` characters (after
    ``strip``)."""
    label = prefix + name
    if name not in body or body[name] is None:
        raise validation_error(f"{label} is required")
    value = body[name]
    if not isinstance(value, str):
        raise validation_error(f"{label} must be a string")
    if strip:
        value = value.strip()
    if not value:
        raise validation_error(f"{label} must not be empty")
    if len(value) < min_length:
        raise validation_error(f"{label} must be at least {min_length} characters")
    if len(value) > max_length:
        raise validation_error(f"{label} must be at most {max_length} characters")
    return value


def body_optional_string(body: Mapping[str, Any], name: str) -> str | None:
    """Return an optional string field of any length; None when absent or null."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise validation_error(f"{name} must be a string or null")
    return value


def body_bool(body: Mapping[str, Any], name: str, *, default: bool) -> bool:
    """Return an optional JSON boolean field, ``default`` when absent."""
    if name not in body:
        return default
    value = body[name]
    if not isinstance(value, bool):
        raise validation_error(f"{name} must be a boolean")
    return value


def body_datetime(body: Mapping[str, Any], name: str) -> datetime:
    """Return a required ISO-8601 date-time with a UTC offset (``2025-01-07T15:00:00-07:00``)."""
    if name not in body or body[name] is None:
        raise validation_error(f"{name} is required")
    value = body[name]
    message = f"{name} must be an ISO-8601 date-time with a UTC offset"
    if not isinstance(value, str):
        raise validation_error(message)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise validation_error(message) from None
    if moment.tzinfo is None:  # also every date without a time
        raise validation_error(message)
    return moment


def body_object(
    body: Mapping[str, Any], name: str, *, required: bool, prefix: str = ""
) -> Mapping[str, Any] | None:
    """Return a JSON object field; None when it is optional and absent or null."""
    label = prefix + name
    value = body.get(name)
    if value is None:
        if required:
            raise validation_error(f"{label} is required")
        return None
    if not isinstance(value, dict):
        raise validation_error(f"{label} must be an object")
    return value


def body_string_list(
    body: Mapping[str, Any],
    name: str,
    *,
    min_items: int,
    max_items: int | None,
    pattern: re.Pattern[str] | None = None,
    pattern_label: str = "",
    prefix: str = "",
) -> list[str]:
    """Return a required list of ``min_items`` to ``max_items`` strings, duplicates dropped.

    Each entry must be a non-empty string, and match ``pattern`` (described in messages as
    ``pattern_label``, e.g. "a Slack channel id") when one is given.
    """
    label = prefix + name
    if name not in body or body[name] is None:
        raise validation_error(f"{label} is required")
    value = body[name]
    if not isinstance(value, list):
        raise validation_error(f"{label} must be a list of strings")
    if len(value) < min_items or (max_items is not None and len(value) > max_items):
        if max_items is None:
            bounds = f"at least {min_items} {'entry' if min_items == 1 else 'entries'}"
        elif min_items == 0:
            bounds = f"at most {max_items} entries"
        else:
            bounds = f"between {min_items} and {max_items} entries"
        raise validation_error(f"{label} must have {bounds}")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise validation_error(f"{label}[{index}] must be a non-empty string")
        if pattern is not None and not pattern.fullmatch(item):
            raise validation_error(f"{label}[{index}] must be {pattern_label}")
    return list(dict.fromkeys(value))


def only_key(obj: Mapping[str, Any], label: str, keys: Sequence[_T]) -> _T:
    """Return the one of ``keys`` that the object ``obj`` (the field ``label``) sets to a value
    other than null; raise the 400 ``"<label> must have exactly one of: <keys>"`` unless exactly
    one is set."""
    present = [key for key in keys if obj.get(str(key)) is not None]
    if len(present) != 1:
        raise validation_error(f"{label} must have exactly one of: {', '.join(map(str, keys))}")
    return present[0]


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
