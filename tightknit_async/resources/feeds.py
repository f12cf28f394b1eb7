"""``/admin/v0/feeds``: list, retrieve, and a feed's posts."""

from __future__ import annotations

from typing import Unpack

from ..models import Feed, Post
from ..pagination import DEFAULT_PAGE_CONCURRENCY, AsyncPager
from ._base import APIResource, RequestOptions, path_id

__all__ = ["FeedsResource"]


class FeedsResource(APIResource):
    """``tk.feeds``."""

    def list(
        self,
        *,
        page: int = 0,
        per_page: int | None = None,
        max_items: int | None = None,
        max_pages: int | None = None,
        concurrency: int = DEFAULT_PAGE_CONCURRENCY,
        **options: Unpack[RequestOptions],
    ) -> AsyncPager[Feed]:
        """Feeds (``GET /admin/v0/feeds``): ``await`` for a page, ``async for`` for all."""
        return self._pager(
            "/admin/v0/feeds",
            Feed,
            options,
            params={},
            page=page,
            per_page=per_page,
            max_items=max_items,
            max_pages=max_pages,
            concurrency=concurrency,
        )

    async def retrieve(self, feed_id: str, **options: Unpack[RequestOptions]) -> Feed:
        """One feed (``GET /admin/v0/feeds/{feed_id}``); ``NotFoundError`` if unknown."""
        return await self._data(
            "GET", f"/admin/v0/feeds/{path_id('feed_id', feed_id)}", Feed, options
        )

    def list_posts(
        self,
        feed_id: str,
        *,
        page: int = 0,
        per_page: int | None = None,
        max_items: int | None = None,
        max_pages: int | None = None,
        concurrency: int = DEFAULT_PAGE_CONCURRENCY,
        **options: Unpack[RequestOptions],
    ) -> AsyncPager[Post]:
        """A feed's posts (``GET /admin/v0/feeds/{feed_id}/posts``), paginated like ``list``."""
        return self._pager(
            f"/admin/v0/feeds/{path_id('feed_id', feed_id)}/posts",
            Post,
            options,
            params={},
            page=page,
            per_page=per_page,
            max_items=max_items,
            max_pages=max_pages,
            concurrency=concurrency,
        )
