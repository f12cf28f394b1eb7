"""Reading a ``multipart/form-data`` request body as a stream, within limits.

`read_form` walks the parts once, as they arrive. A file part is hashed chunk by chunk and its
bytes are kept only while they fit in ``keep_bytes``, so an upload of any size costs at most that
much memory; it is refused with 413 as soon as it passes ``max_file_bytes``, without reading the
rest. Text parts are read whole, up to `MAX_TEXT_BYTES`. The result is plain data, so handlers
never see aiohttp.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ._responses import ApiError, payload_too_large, validation_error

MAX_TEXT_BYTES = 64 * 1024
"""The most bytes a text (non-file) part may hold."""

_MAX_PARTS = 32
_CHUNK = 64 * 1024
_NOT_MULTIPART = "Request body must be multipart/form-data"


@dataclass(frozen=True, slots=True)
class ReceivedFile:
    """A file part as received: its length, SHA-256, and bytes unless they were too many to keep.

    ``content_type`` is the part's own ``Content-Type`` header, if it had one.
    """

    size: int
    sha256: str
    content: bytes | None
    content_type: str | None


@dataclass(frozen=True, slots=True)
class Form:
    """A parsed form: text fields and file fields by name, each given at most once."""

    fields: Mapping[str, str]
    files: Mapping[str, ReceivedFile]


async def read_form(
    request: web.Request,
    *,
    file_fields: Collection[str],
    max_file_bytes: int,
    keep_bytes: int,
) -> Form:
    """Read the request's ``multipart/form-data`` body part by part.

    Parts named in ``file_fields`` are streamed (see `ReceivedFile`); every other part is text.

    Raises:
        ApiError: 400 ``VALIDATION_ERROR`` for another content type, a malformed body, a field
            given twice, more than 32 parts, a text part over `MAX_TEXT_BYTES` or not UTF-8;
            413 for a file part over ``max_file_bytes``.
    """
    if request.content_type != "multipart/form-data":
        raise validation_error(_NOT_MULTIPART)
    fields: dict[str, str] = {}
    files: dict[str, ReceivedFile] = {}
    try:
        reader = await request.multipart()
        for _ in range(_MAX_PARTS + 1):
            part = await reader.next()
            if part is None:
                return Form(fields, files)
            if not isinstance(part, BodyPartReader) or not part.name:
                raise validation_error(f"{_NOT_MULTIPART}: every part needs a field name")
            name = part.name
            if name in fields or name in files:
                raise validation_error(f"{name} must be given once")
            if name in file_fields:
                files[name] = await _read_file(part, max_file_bytes, keep_bytes)
            else:
                fields[name] = await _read_text(part)
        raise validation_error(f"Request body must have at most {_MAX_PARTS} parts")
    except ApiError:
        raise
    except (ValueError, HttpProcessingError):  # what aiohttp raises for a malformed body
        raise validation_error(f"{_NOT_MULTIPART}; the body is malformed") from None


async def _read_file(part: BodyPartReader, max_bytes: int, keep_bytes: int) -> ReceivedFile:
    digest = hashlib.sha256()
    kept = bytearray()
    size = 0
    while chunk := await part.read_chunk(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise payload_too_large(
                f"{part.name} must be at most {max_bytes} bytes", max_bytes=max_bytes
            )
        digest.update(chunk)
        if size <= keep_bytes:
            kept += chunk
    return ReceivedFile(
        size=size,
        sha256=digest.hexdigest(),
        content=bytes(kept) if size <= keep_bytes else None,
        content_type=part.headers.get("Content-Type"),
    )


async def _read_text(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        data += chunk
        if len(data) > MAX_TEXT_BYTES:
            raise validation_error(f"{part.name} must be at most {MAX_TEXT_BYTES} bytes")
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise validation_error(f"{part.name} must be UTF-8 text") from None
