"""``/admin/v0/search``: full-text search (beta)."""

from __future__ import annotations

from typing import Unpack

from ..models import SearchHit
from ..pagination import DEFAULT_PAGE_CONCURRENCY, AsyncPager
from ._base import APIResource, RequestOptions

__all__ = ["SearchResource"]


class SearchResource(APIResource):
    """``tk.search``."""

    def list(
        self,
        *,
        q: str,
        page: int = 0,
        per_page: int | None = None,
        max_items: int | None = None,
        max_pages: int | None = None,
        concurrency: int = DEFAULT_PAGE_CONCURRENCY,
        **options: Unpack[RequestOptions],
    ) -> AsyncPager[SearchHit]:
        """Posts matching ``q`` (``GET /admin/v0/search``), paginated.

        A ``q`` that is not a str raises ``ValueError`` before anything is sent; whether an empty
        or blank one is acceptable is the server's call (its 400 is
        :class:`~tightknit_async.BadRequestError`).
        """
        if not isinstance(q, str):
            raise ValueError(f"q must be a str, got {q!r}")
        return self._pager(
            "/admin/v0/search",
            SearchHit,
            options,
            params={"q": q},
            page=page,
            per_page=per_page,
            max_items=max_items,
            max_pages=max_pages,
            concurrency=concurrency,
        )
