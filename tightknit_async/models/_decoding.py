"""Decoding into models: one cached ``msgspec.json.Decoder`` per type, all sharing one ``dec_hook``.

Every model with a :data:`~tightknit_async.models.Timestamp` (or another custom scalar) needs the
hook, so decode through these helpers, never a bare ``msgspec.json.decode(..., type=...)``::

    page = decode(Envelope[ListPage[CalendarEvent]], response_bytes)
    event = convert({"id": "cqquykanltdo", "created_at": "2025-03-11 13:06:35+00"}, CalendarEvent)

Encoding needs nothing special: decoded values are plain ``datetime`` objects, and request models
are Structs, so ``msgspec.json.encode(model)`` or ``msgspec.to_builtins(model)`` (or a request
model's own ``to_builtins()``) gives the body to send, with unset optional fields left out and
date-times written as RFC 3339 / ISO 8601 with their offset (UTC as ``Z``).
"""

from __future__ import annotations

from typing import Any, Final, TypeVar, overload

import msgspec

from ._scalars import dec_hook

__all__ = ["convert", "decode", "decoder_for"]

T = TypeVar("T")

_DECODERS: Final[dict[Any, msgspec.json.Decoder[Any]]] = {}


@overload
def decoder_for(type_: type[T]) -> msgspec.json.Decoder[T]: ...
@overload
def decoder_for(type_: Any) -> msgspec.json.Decoder[Any]: ...
def decoder_for(type_: Any) -> msgspec.json.Decoder[Any]:
    """Return the shared JSON decoder for ``type_``, building it on first use.

    ``type_`` is any type msgspec accepts, generic aliases included
    (``Envelope[ListPage[Post]]``). Decoders are cached for the life of the process; building one
    costs far more than a decode, reusing one costs a dict lookup. Raises ``TypeError`` if msgspec
    cannot decode ``type_``.
    """
    decoder = _DECODERS.get(type_)
    if decoder is None:
        # A race here builds the same decoder twice, which is harmless.
        decoder = _DECODERS[type_] = msgspec.json.Decoder(type_, dec_hook=dec_hook)
    return decoder


@overload
def decode(type_: type[T], data: bytes | bytearray | memoryview | str) -> T: ...
@overload
def decode(type_: Any, data: bytes | bytearray | memoryview | str) -> Any: ...
def decode(type_: Any, data: bytes | bytearray | memoryview | str) -> Any:
    """Decode JSON ``data`` into ``type_`` with the cached decoder.

    Raises ``msgspec.ValidationError`` (message ends with the path, e.g.
    ``- at `$.data.records[0].created_at```) when the JSON does not fit, and
    ``msgspec.DecodeError`` when it is not JSON at all.
    """
    return decoder_for(type_).decode(data)


@overload
def convert(obj: Any, type_: type[T]) -> T: ...
@overload
def convert(obj: Any, type_: Any) -> Any: ...
def convert(obj: Any, type_: Any) -> Any:
    """Convert already-parsed builtins (dicts, lists, strings...) into ``type_``.

    ``msgspec.convert`` with the package's ``dec_hook``: timestamps may be strings in either API
    form or ``datetime`` objects. Raises ``msgspec.ValidationError`` naming the path on mismatch;
    a request model's own check failing surfaces the same way, its message naming the field.
    """
    return msgspec.convert(obj, type_, dec_hook=dec_hook)
