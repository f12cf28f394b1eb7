"""``/admin/v0/files``: upload a file (streamed, never read whole into memory)."""

from __future__ import annotations

import asyncio
import mimetypes
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from typing import Final, Unpack

import msgspec

from .._exceptions import AlreadyUsedError
from ..models import Envelope, File, FileUpload
from ..transport import Multipart, MultipartFile
from ._base import APIResource, RequestOptions

__all__ = ["DEFAULT_MAX_UPLOAD_BYTES", "FilesResource", "UploadSource"]

DEFAULT_MAX_UPLOAD_BYTES: Final = 100 * 1024 * 1024
"""The size guard's default: 100 MiB (Tightknit documents no limit; larger files are refused
locally with a clear error, before anything is sent)."""

UploadSource = bytes | bytearray | memoryview | str | os.PathLike[str] | AsyncIterable[bytes]


class FilesResource(APIResource):
    """``tk.files``."""

    async def upload(
        self,
        source: UploadSource,
        *,
        filename: str | None = None,
        size: int | None = None,
        description: str | msgspec.UnsetType = msgspec.UNSET,
        content_type: str | None = None,
        max_size: int = DEFAULT_MAX_UPLOAD_BYTES,
        **options: Unpack[RequestOptions],
    ) -> File:
        """Upload a file (``POST /admin/v0/files``, multipart) and return the stored File.

        ``source`` is a path (``str`` or ``Path``: streamed from disk, re-opened for each attempt),
        bytes, or an async iterable of byte chunks. ``filename`` defaults to the path's name and is
        required otherwise; ``size`` is taken from the path or the bytes and is required for a
        stream (the API wants it up front). ``content_type`` defaults to a guess from the name.

        A stream can be read only once, so an upload from a stream is not retried after it
        started; paths and bytes are retried like any idempotent call. ``extra_body`` adds form
        fields (or replaces ``filename``, ``size``, ``description``) with str, int, float or bool
        values.

        ``max_size`` is this client's own guard (Tightknit documents no limit), not an API rule:
        raise it, or pass ``max_size=sys.maxsize``, to send larger files.

        Raises:
            ValueError: a missing file, a stream without ``size``, a ``size`` that is not the
                source's, or a size above ``max_size`` (the message gives both sizes), all before
                anything is sent.
            RequestValidationError: the rules of the reference page
                (docs.tightknit.ai/api-reference/files/upload-file): a filename outside 1-255
                characters, a size below 1 (an empty file).
            TypeError: an ``extra_body`` value that has no form-field text.
        """
        file_source: bytes | Path | Callable[[], AsyncIterator[bytes]]
        streamed = False
        if isinstance(source, bytes | bytearray | memoryview):
            file_source = bytes(source)
            actual = len(file_source)
        elif isinstance(source, str | os.PathLike):
            path = Path(source)
            file_source, actual = path, await asyncio.to_thread(_file_size, path)
            filename = filename if filename is not None else path.name
        elif isinstance(source, AsyncIterable):
            if size is None:
                raise ValueError("size is required when uploading from a stream")
            file_source, actual, streamed = _once(source), size, True
        else:
            raise TypeError(
                f"source must be a path, bytes or an async iterable of bytes, "
                f"not {type(source).__name__}"
            )
        if size is not None and size != actual:
            raise ValueError(f"size is {size} but the source holds {actual} bytes")
        if actual > max_size:
            raise ValueError(
                f"file is {actual:,} bytes, over the {max_size:,}-byte limit (max_size=...)"
            )
        if filename is None:
            raise ValueError("filename is required unless uploading from a path")
        meta = FileUpload(filename=filename, size=actual, description=description)
        if content_type is None:
            content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        elif not isinstance(content_type, str) or not content_type.strip():
            raise TypeError(f"content_type must be a non-empty str or None, got {content_type!r}")
        body = Multipart(
            fields=meta.form_fields(),
            file=MultipartFile(
                filename=filename,
                source=file_source,
                size=actual,
                content_type=content_type,
            ),
        )
        if streamed:
            options["max_retries"] = 0
        response = await self._client.request("POST", "/admin/v0/files", multipart=body, **options)
        return self._parse(response, Envelope[File]).data


def _file_size(path: Path) -> int:
    try:
        if path.is_file():
            return path.stat().st_size
    except OSError as exc:  # a name too long, a loop of links, no permission...
        raise ValueError(f"source: cannot read {str(path)[:200]!r}: {exc.strerror}") from None
    raise ValueError(f"source: no such file: {str(path)[:200]!r}")


def _once(stream: AsyncIterable[bytes]) -> Callable[[], AsyncIterator[bytes]]:
    used = False

    def factory() -> AsyncIterator[bytes]:
        nonlocal used
        if used:
            raise AlreadyUsedError("an upload stream can be sent only once")
        used = True
        return stream.__aiter__()

    return factory
