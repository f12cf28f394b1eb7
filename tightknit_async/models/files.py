"""Files: ``POST /admin/v0/files`` (multipart) answers ``Envelope[File]``.

The upload is ``multipart/form-data``: the bytes go in the ``file`` part, the metadata of
:class:`FileUpload` in plain form fields (see :meth:`FileUpload.form_fields`).
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from ._common import RequestModel, ResponseModel
from ._scalars import Timestamp
from ._validation import check_int, check_str, is_set

__all__ = ["File", "FileUpload"]

FILENAME_LENGTH: Final = (1, 255)


class File(ResponseModel, kw_only=True, frozen=True):
    """A stored file; use its ``id`` as e.g. an event's ``cover_image_file_id``."""

    id: str
    created_at: Timestamp | None = None
    name: str | None = None
    title: str | None = None
    size: int = 0
    mimetype: str | None = None
    url: str | None = None


class FileUpload(RequestModel, kw_only=True, frozen=True):
    """The metadata sent with an upload.

    Raises :class:`~tightknit_async.models.RequestValidationError` for the rules of the reference
    page (docs.tightknit.ai/api-reference/files/upload-file): ``filename`` 1-255 characters (the
    stored name, with extension), ``size`` an integer >= 1 (bytes), ``description`` a string.
    """

    filename: Annotated[
        str, msgspec.Meta(min_length=FILENAME_LENGTH[0], max_length=FILENAME_LENGTH[1])
    ]
    size: Annotated[int, msgspec.Meta(ge=1)]
    description: str | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        check_str("filename", self.filename, min_len=FILENAME_LENGTH[0], max_len=FILENAME_LENGTH[1])
        check_int("size", self.size, minimum=1)
        if is_set(self.description):
            check_str("description", self.description)

    def form_fields(self) -> dict[str, str]:
        """The multipart text fields: ``filename``, ``size`` and, if given, ``description``."""
        fields = {"filename": self.filename, "size": str(self.size)}
        if not isinstance(self.description, msgspec.UnsetType):
            fields["description"] = self.description
        return fields
