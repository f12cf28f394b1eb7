"""JSON in and out with msgspec: one encoder and one generic decoder, both reused.

Typed decoding (models) lives in :mod:`tightknit_async.models`, which adds the timestamp hook.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

__all__ = [
    "UNDECODABLE",
    "decode",
    "describe_failure",
    "encode",
    "error_body",
    "looks_like_json",
    "snippet",
]

_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder()
_SNIPPET_CHARS: Final = 500


def encode(obj: object, *, argument: str = "json") -> bytes:
    """Encode ``obj`` as JSON bytes.

    Raises ``TypeError`` naming ``argument`` when a value has no JSON form (an arbitrary object,
    a non-string dict key).
    """
    try:
        return _ENCODER.encode(obj)
    except (TypeError, msgspec.EncodeError, OverflowError) as exc:
        raise TypeError(f"{argument} is not JSON-serialisable: {exc}") from None


UNDECODABLE: Final = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
"""What decoding a hostile body can raise besides ``ValidationError``: invalid JSON, invalid
UTF-8 inside a string, nesting deeper than the interpreter's recursion limit."""


def describe_failure(exc: BaseException) -> str:
    """A short reason for a decoding failure, for error messages."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return "invalid UTF-8"
    return str(exc)


def decode(content: bytes) -> Any:
    """Decode JSON bytes into builtins; raises ``msgspec.DecodeError`` on invalid JSON."""
    return _DECODER.decode(content)


def looks_like_json(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` names JSON (``application/json``, ``...+json``), or is absent."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def snippet(content: bytes, limit: int = _SNIPPET_CHARS) -> str:
    """The start of a body as text, whitespace collapsed, for error messages."""
    text = " ".join(content[: limit * 4].decode("utf-8", "replace").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_body(content: bytes, content_type: str | None) -> object:
    """The body of an error response: decoded JSON when it is JSON, else a short text snippet.

    Never raises: a proxy's HTML 502 page becomes its first few hundred characters.
    """
    if not content:
        return None
    if looks_like_json(content_type) or content[:1] in (b"{", b"["):
        try:
            return decode(content)
        except UNDECODABLE:
            pass
    return snippet(content)
