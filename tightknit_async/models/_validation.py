"""Checks for request models, run in ``__post_init__`` before anything is sent.

Each check raises :class:`RequestValidationError` (a ``ValueError``) whose message starts with the
field, e.g. ``title: must be 3 to 70 characters, got 2``. msgspec calls ``__post_init__`` both on
construction and when decoding or converting, so the same rule holds either way (through msgspec
the error arrives as ``msgspec.ValidationError`` with this message and the path appended).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec

from .._exceptions import RequestValidationError

__all__ = ["RequestValidationError"]

# Deliberately loose, like the API: one @, no whitespace, a dot in the domain.
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def _kind(value: object) -> str:
    return "None" if value is None else type(value).__name__


def is_set(value: object) -> bool:
    return value is not msgspec.UNSET


def check_str(field: str, value: object, *, min_len: int = 1, max_len: int | None = None) -> str:
    """A string of ``min_len`` to ``max_len`` characters; blank counts as empty."""
    if not isinstance(value, str):
        raise RequestValidationError(field, f"must be a string, got {_kind(value)}")
    if min_len >= 1 and not value.strip():
        raise RequestValidationError(field, "must not be empty")
    length = len(value)
    if length < min_len or (max_len is not None and length > max_len):
        bounds = f"at least {min_len}" if max_len is None else f"{min_len} to {max_len}"
        raise RequestValidationError(field, f"must be {bounds} characters, got {length}")
    return value


def check_email(field: str, value: object) -> str:
    """An e-mail address of at most 254 characters, looking like ``local@domain.tld``."""
    text = check_str(field, value, max_len=254)
    if not _EMAIL.fullmatch(text):
        raise RequestValidationError(field, f"must be an e-mail address, got {text!r}")
    return text


def check_http_url(field: str, value: object, *, max_len: int) -> str:
    """An absolute ``http``/``https`` URL of at most ``max_len`` characters."""
    text = check_str(field, value, max_len=max_len)
    try:
        parts = urlsplit(text)
    except ValueError:  # such as an unbalanced "[" in the host
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or any(map(str.isspace, text))
    ):
        raise RequestValidationError(field, f"must be an http(s) URL, got {text!r}")
    return text


def check_uuid(field: str, value: object) -> str:
    """A UUID in its canonical text form (any version)."""
    text = check_str(field, value)
    try:
        uuid.UUID(text)
    except ValueError:
        raise RequestValidationError(field, f"must be a UUID, got {text!r}") from None
    return text


def check_bool(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise RequestValidationError(field, f"must be true or false, got {_kind(value)}")
    return value


def check_int(field: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestValidationError(field, f"must be an integer, got {_kind(value)}")
    if value < minimum:
        raise RequestValidationError(field, f"must be >= {minimum}, got {value}")
    return value


def check_choice(field: str, value: object, choices: Sequence[str]) -> str:
    if value not in choices:
        raise RequestValidationError(field, f"must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def check_list(
    field: str,
    value: object,
    *,
    min_items: int = 0,
    max_items: int | None = None,
    item: Callable[[str, object], object] | None = None,
    noun: str = "items",
) -> Sequence[Any]:
    """A list (or tuple) of ``min_items`` to ``max_items`` entries, each passing ``item``.

    A bare string is refused rather than read as a sequence of characters.
    """
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise RequestValidationError(field, f"must be a list, got {_kind(value)}")
    count = len(value)
    if count < min_items or (max_items is not None and count > max_items):
        if max_items is None:
            bounds = f"at least {min_items}"
        elif min_items == 0:
            bounds = f"at most {max_items}"
        else:
            bounds = f"{min_items} to {max_items}"
        raise RequestValidationError(field, f"must have {bounds} {noun}, got {count}")
    if item is not None:
        for index, entry in enumerate(value):
            item(f"{field}[{index}]", entry)
    return value


def check_one_of(kind: str, present: Sequence[tuple[str, object]]) -> str:
    """Exactly one of the named fields of a ``kind`` object is set; return its name."""
    given = [name for name, value in present if is_set(value)]
    if len(given) != 1:
        names = ", ".join(name for name, _ in present)
        got = "none" if not given else ", ".join(given)
        raise RequestValidationError("", f"a {kind} takes exactly one of {names}; got {got}")
    return given[0]
