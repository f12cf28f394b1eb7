"""Checks for request models, run in ``__post_init__`` before anything is sent.

Only rules a current Tightknit API reference page states are checked here (lengths, formats,
required fields, allowed values, field types); anything else is left to the server, whose 400
comes back as :class:`~tightknit_async.BadRequestError` with its own message. Each check raises
:class:`RequestValidationError` (a ``ValueError``) whose message starts with the field, e.g.
``title: must be 3 to 70 characters, got 2``. msgspec calls ``__post_init__`` both on
construction and when decoding or converting, so the same rule holds either way (through msgspec
the error arrives as ``msgspec.ValidationError`` with this message and the path appended).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec

from .._exceptions import RequestValidationError

__all__ = ["RequestValidationError"]

# Deliberately loose, like the API: one @, no whitespace, a dot in the domain.
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
# An absolute URI (RFC 3986): a scheme, a colon, then anything but whitespace.
_URI: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


def _kind(value: object) -> str:
    return "None" if value is None else type(value).__name__


def is_set(value: object) -> bool:
    return value is not msgspec.UNSET


def check_str(field: str, value: object, *, min_len: int = 0, max_len: int | None = None) -> str:
    """A string; with ``max_len``, of ``min_len`` to ``max_len`` characters.

    Whitespace counts like any character: whether a blank value is acceptable is the server's
    call, as no reference page says.
    """
    if not isinstance(value, str):
        raise RequestValidationError(field, f"must be a string, got {_kind(value)}")
    length = len(value)
    if max_len is not None and not min_len <= length <= max_len:
        if not length:
            raise RequestValidationError(field, "must not be empty")
        bounds = f"{min_len} to {max_len}" if min_len else f"at most {max_len}"
        raise RequestValidationError(field, f"must be {bounds} characters, got {length}")
    return value


def check_email(field: str, value: object) -> str:
    """An e-mail address (``string<email>``) of 1 to 254 characters, like ``local@domain.tld``."""
    text = check_str(field, value, min_len=1, max_len=254)
    if not _EMAIL.fullmatch(text):
        raise RequestValidationError(field, f"must be an e-mail address, got {text!r}")
    return text


def check_uri(field: str, value: object, *, max_len: int) -> str:
    """An absolute URI (``string<uri>``: any scheme) of at most ``max_len`` characters."""
    text = check_str(field, value, max_len=max_len)
    if not _URI.fullmatch(text):
        raise RequestValidationError(field, f"must be an absolute URI, got {text!r}")
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
    field: str, value: object, *, item: Callable[[str, object], object]
) -> Sequence[Any]:
    """A list (or tuple) whose entries each pass ``item``; how many is the server's call.

    A bare string is refused rather than read as a sequence of characters.
    """
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise RequestValidationError(field, f"must be a list, got {_kind(value)}")
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
