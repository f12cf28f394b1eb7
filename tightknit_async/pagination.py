"""Pages and the async item iterator for Tightknit's offset-paginated lists.

A list call returns an :class:`AsyncPager`, which is both awaitable and async-iterable::

    page = await tk.feeds.list(per_page=50)        # one typed page (ListPage[Feed])
    async for feed in tk.feeds.list():              # every item of every page, in order
        ...
    async for page in tk.feeds.list().pages():      # page by page

Tightknit pages are 0-based and every page reports ``total_pages``, so once the first page is in,
the iterator fetches the following ones concurrently (``concurrency`` at a time, each through the
rate governor like any call) while handing items out strictly in order. Memory stays bounded by
``concurrency`` pages. ``max_items`` and ``max_pages`` stop early; leaving the loop early cancels
the fetches still running.

Offset pagination is not a snapshot: records created or deleted while iterating may shift between
pages (an item can be seen twice or missed). The iterator stops at the last page the first page
announced, or at the first page that reports ``has_next`` false or comes back empty.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Any, Final, Generic, TypeVar

from .models import ListPage

__all__ = ["DEFAULT_PAGE_CONCURRENCY", "AsyncPager"]

T = TypeVar("T")

DEFAULT_PAGE_CONCURRENCY: Final = 4

FetchPage = Callable[[int], Awaitable[ListPage[T]]]
"""Fetch page number ``n`` (0-based)."""


class AsyncPager(Generic[T]):
    """A lazy list call: ``await`` it for one page, ``async for`` it for every item.

    Args:
        fetch: fetches page ``n`` (0-based).
        page: the first page to fetch (default 0).
        max_items: stop after this many items (``None``: all).
        max_pages: stop after this many pages (``None``: all).
        concurrency: pages fetched at once after the first (1 = strictly one after another).

    Raises ``ValueError`` for a negative page, a ``max_items``/``max_pages`` below 1 or a
    ``concurrency`` below 1, when built (before anything is sent).
    """

    def __init__(
        self,
        fetch: FetchPage[T],
        *,
        page: int = 0,
        max_items: int | None = None,
        max_pages: int | None = None,
        concurrency: int = DEFAULT_PAGE_CONCURRENCY,
    ) -> None:
        _check_int("page", page, minimum=0)
        if max_items is not None:
            _check_int("max_items", max_items, minimum=1)
        if max_pages is not None:
            _check_int("max_pages", max_pages, minimum=1)
        _check_int("concurrency", concurrency, minimum=1)
        self._fetch = fetch
        self._page = page
        self._max_items = max_items
        self._max_pages = max_pages
        self._concurrency = concurrency

    def __await__(self) -> Generator[Any, None, ListPage[T]]:
        """The first page (``page=``) alone."""
        return self._fetch(self._page).__await__()

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        remaining = self._max_items
        async for page in self.pages():
            for record in page.records:
                if remaining is not None:
                    if remaining == 0:
                        return
                    remaining -= 1
                yield record
            if remaining == 0:
                return

    async def pages(self) -> AsyncIterator[ListPage[T]]:
        """Every page from ``page=`` on, in order (bounded by ``max_pages`` and ``max_items``)."""
        first = await self._fetch(self._page)
        yield first
        if not first.has_next or not first.records:
            return
        concurrency = self._concurrency
        last = first.total_pages - 1
        if last <= self._page:
            # No usable total (null, missing or stale in a drifted reply) while has_next says
            # more follow: walk on by has_next, one page at a time.
            last, concurrency = sys.maxsize, 1
        if self._max_pages is not None:
            last = min(last, self._page + self._max_pages - 1)
        if self._max_items is not None and first.per_page > 0:
            needed = -(-self._max_items // first.per_page)  # ceil
            last = min(last, self._page + needed - 1)
        if last <= self._page:
            return
        pending: deque[asyncio.Task[ListPage[T]]] = deque()
        next_page = self._page + 1
        try:
            while pending or next_page <= last:
                while next_page <= last and len(pending) < concurrency:
                    pending.append(asyncio.ensure_future(self._fetch(next_page)))
                    next_page += 1
                page = await pending.popleft()
                yield page
                if not page.has_next or not page.records:
                    return
        finally:
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def collect(self) -> list[T]:
        """Every item (within ``max_items``) as a list. Mind the memory for long lists."""
        return [item async for item in self]

    def __repr__(self) -> str:
        return (
            f"<AsyncPager page={self._page} max_items={self._max_items} "
            f"max_pages={self._max_pages} concurrency={self._concurrency}>"
        )


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
