"""What every resource shares: the per-call options and typed call helpers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict, TypeVar
from urllib.parse import quote

from .._config import Timeout
from .._types import Priority
from ..models import Envelope, ListPage
from ..pagination import AsyncPager

if TYPE_CHECKING:
    from .._client import AsyncTightknit
    from .._response import APIResponse

__all__ = ["APIResource", "RequestOptions", "path_id"]

T = TypeVar("T")


class RequestOptions(TypedDict, total=False):
    """Per-call options every resource method takes (left out: the client's setting).

    ``idempotency_key``: a UUIDv4 for a mutation (default: a fresh one), ``None`` or ``False``
    for none; ``timeout``: per attempt; ``max_retries``; ``priority``: ``"interactive"`` or
    ``"bulk"``.
    """

    idempotency_key: str | Literal[False] | None
    timeout: Timeout | float | None
    max_retries: int
    priority: Priority


_UNRESERVED: Final = re.compile(r"[A-Za-z0-9_.~-]+")
"""Characters a path segment carries as they are (ids are UUIDs and slugs: no quoting needed)."""


def path_id(name: str, value: object) -> str:
    """``value`` as one URL path segment; ``ValueError`` naming ``name`` if empty or not a str."""
    if not isinstance(value, str) or not value.strip() or value in (".", ".."):
        raise ValueError(f"{name} must be a non-empty str, got {value!r}")
    if _UNRESERVED.fullmatch(value):
        return value
    return quote(value, safe="")


_ENVELOPES: Final[dict[Any, Any]] = {}


def _envelope(data_type: Any) -> Any:
    """``Envelope[data_type]``, built once per type (a generic alias costs more to build and to
    hash than the decoder look-up it keys). The models are a fixed set: the dict stays small."""
    envelope = _ENVELOPES.get(data_type)
    if envelope is None:
        envelope = _ENVELOPES[data_type] = Envelope[data_type]
    return envelope


class APIResource:
    """Base of the resources hung on :class:`~tightknit_async.AsyncTightknit`."""

    def __init__(self, client: AsyncTightknit) -> None:
        self._client = client

    def _parse(self, response: APIResponse, type_: type[T]) -> T:
        """Decode ``response`` as ``type_``: tolerantly, or strictly when the client was built
        with ``strict_responses=True`` (see :meth:`APIResponse.parse`)."""
        return response.parse(type_, strict=self._client.strict_responses)

    async def _send(
        self,
        method: str,
        path: str,
        options: RequestOptions,
        *,
        params: dict[str, Any] | None = None,
        body: object = None,
    ) -> APIResponse:
        if body is None:
            return await self._client.request(method, path, params=params, **options)
        return await self._client.request(method, path, params=params, json=body, **options)

    async def _data(
        self,
        method: str,
        path: str,
        data_type: type[T],
        options: RequestOptions,
        *,
        params: dict[str, Any] | None = None,
        body: object = None,
    ) -> T:
        """Send, then decode ``{"success": ..., "data": <data_type>}`` and return ``data``."""
        client = self._client
        if body is None:
            response = await client.request(method, path, params=params, **options)
        else:
            response = await client.request(method, path, params=params, json=body, **options)
        envelope: Envelope[T] = self._parse(response, _envelope(data_type))
        return envelope.data

    def _pager(
        self,
        path: str,
        record_type: type[T],
        options: RequestOptions,
        *,
        params: dict[str, Any],
        page: int,
        per_page: int | None,
        max_items: int | None,
        max_pages: int | None,
        concurrency: int,
    ) -> AsyncPager[T]:
        if per_page is not None and (
            isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1
        ):
            raise ValueError(f"per_page must be an int >= 1, got {per_page!r}")
        page_type: Any = ListPage[record_type]  # type: ignore[valid-type]

        async def fetch(number: int) -> ListPage[T]:
            query = {**params, "page": number, "per_page": per_page}
            result: ListPage[T] = await self._data("GET", path, page_type, options, params=query)
            return result

        return AsyncPager(
            fetch, page=page, max_items=max_items, max_pages=max_pages, concurrency=concurrency
        )
