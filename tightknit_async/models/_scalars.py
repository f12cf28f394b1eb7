"""Scalar field types msgspec cannot decode natively: the API's two timestamp forms, lenient ints.

Why custom types at all
-----------------------
The API writes timestamps two ways: Postgres style, ``2024-02-01 04:04:39.198523+00`` (space
separator, an hour-only ``+00`` offset), and ISO 8601, ``2025-03-11T13:06:35.552988+00:00``.
msgspec's built-in ``datetime`` parser is strict RFC 3339 and rejects ``+00`` ("Invalid RFC3339
encoded datetime"), and a ``dec_hook`` is only consulted for types msgspec does not know, never as
a fallback for a failed ``datetime``. So fields are annotated with :data:`Timestamp`, which msgspec
sees as a *custom* type and hands to :func:`dec_hook` as the raw JSON string.

How it stays a plain ``datetime``
---------------------------------
At runtime :data:`Timestamp` is a stand-in class whose metaclass counts every ``datetime`` as an
instance. The hook returns an ordinary, timezone-aware ``datetime``; msgspec's check that the
hook's result is an instance of the annotated type passes through that metaclass. So decoded
values are exact ``datetime`` objects (they compare, hash, pickle and re-encode natively, no
``enc_hook`` needed), and for type checkers ``Timestamp`` *is* ``datetime`` (a ``TYPE_CHECKING``
alias). A ``class Timestamp(datetime)`` subclass was rejected: msgspec refuses to encode datetime
subclasses, and arithmetic on them keeps returning the subclass.

Parsing is one call to the C ``datetime.fromisoformat`` (Python 3.11+ reads both forms, ``Z``,
``+00``, ``+0000``, any fraction length); only on failure is a normalised retry made (lowercase
``t``/``z``, surrounding whitespace).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeAlias

__all__ = [
    "DateTimeInput",
    "LenientInt",
    "Timestamp",
    "dec_hook",
    "parse_aware_datetime",
    "parse_timestamp",
]

_EXAMPLES: Final = "2025-03-11T13:06:35.552988+00:00 or 2024-02-01 04:04:39.198523+00"
_SHOWN_CHARS: Final = 60

if TYPE_CHECKING:
    Timestamp: TypeAlias = datetime
    DateTimeInput: TypeAlias = datetime | str
    LenientInt: TypeAlias = int
else:

    def _stand_in(name: str, target: type, doc: str) -> type:
        """A class msgspec treats as custom, whose instances are simply ``target`` instances.

        msgspec checks ``isinstance(result, annotated_type)`` after the ``dec_hook``; the
        metaclass answers that with the C ``type.__instancecheck__`` of ``target`` (an ABC's
        ``register`` works too but costs ~290 ns a check against ~40 ns). Calling the class
        builds a ``target``, so it behaves as the alias type checkers see.
        """
        check = functools.partial(type.__instancecheck__, target)

        def construct(cls: type, *args: Any, **kwargs: Any) -> Any:
            return target(*args, **kwargs)

        meta = type(
            f"_{name}Meta",
            (type,),
            {"__instancecheck__": staticmethod(check), "__call__": construct},
        )
        return meta(name, (), {"__doc__": doc, "__module__": __name__})

    Timestamp = _stand_in(
        "Timestamp",
        datetime,
        "A response timestamp: decodes both API forms into an aware ``datetime``.\n\n"
        "A timestamp without an offset is taken to be UTC, as the API keeps times in UTC.",
    )
    DateTimeInput = _stand_in(
        "DateTimeInput",
        datetime,
        "A request date-time: an aware ``datetime`` or an ISO 8601 string with an offset.",
    )
    LenientInt = _stand_in(
        "LenientInt",
        int,
        "An integer the API might render as a float (``10.5`` in one generated doc example).\n\n"
        "Integers pass through; a finite float is truncated towards zero; the rest is rejected.",
    )


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN_CHARS else value[: _SHOWN_CHARS - 1] + "…")


def _from_string(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    try:
        # RFC 3339 allows a lowercase "t" and "z"; 3.11's parser only takes uppercase.
        return datetime.fromisoformat(value.strip().upper())
    except ValueError:
        raise ValueError(f"Invalid timestamp {_shown(value)}, expected e.g. {_EXAMPLES}") from None


def parse_timestamp(value: object) -> datetime:
    """Parse an API timestamp into an aware ``datetime``; naive values are taken as UTC.

    Accepts a ``datetime`` (returned as is, or made UTC when naive) or a string in either API
    form. Raises ``ValueError`` for a string that is no timestamp, ``TypeError`` for other types.
    """
    if isinstance(value, str):
        moment = _from_string(value)
        # A parsed offset is a fixed timezone, so a tzinfo is enough (and 5x cheaper to test).
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if isinstance(value, datetime):
        return value if value.utcoffset() is not None else value.replace(tzinfo=UTC)
    raise TypeError(f"Expected a timestamp string, got {type(value).__name__}")


def parse_aware_datetime(value: object) -> datetime:
    """Parse a request date-time: an aware ``datetime`` or an ISO 8601 string with an offset.

    Unlike :func:`parse_timestamp` nothing is assumed: a value without an offset raises
    ``ValueError`` (the API reads event times in the offset given). Other types raise
    ``TypeError``.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = _from_string(value)
    else:
        raise TypeError(f"Expected a datetime or an ISO 8601 string, got {type(value).__name__}")
    if moment.utcoffset() is None:
        raise ValueError(
            f"Date-time {_shown(str(value))} has no UTC offset, give one as in "
            "2025-01-07T15:00:00-07:00 or pass an aware datetime"
        )
    return moment


def _lenient_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"Expected `int`, got `{type(value).__name__}`")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"Expected `int`, got {value}")
        return int(value)
    return value


_PARSERS: Final[dict[object, Callable[[Any], Any]]] = {
    Timestamp: parse_timestamp,
    DateTimeInput: parse_aware_datetime,
    LenientInt: _lenient_int,
}


def dec_hook(type_: type, obj: Any) -> Any:
    """The ``dec_hook`` every decoder of this package uses; see the module docstring.

    Raises ``NotImplementedError`` for types it does not know, as msgspec expects.
    """
    parser = _PARSERS.get(type_)
    if parser is None:
        raise NotImplementedError(f"Type {type_!r} is not supported")
    return parser(obj)
