"""The pager: one page on await, every item in order on async for, bounded concurrency."""

from __future__ import annotations

import asyncio

import pytest

from tightknit_async.models import ListPage
from tightknit_async.pagination import AsyncPager


class Source:
    """Serves ``total`` integers in pages of ``per_page``, tracking concurrency."""

    def __init__(
        self, total: int, per_page: int, *, delays: dict[int, float] | None = None
    ) -> None:
        self.total, self.per_page = total, per_page
        self.delays = delays or {}
        self.fetched: list[int] = []
        self.active = 0
        self.peak = 0
        self.cancelled: list[int] = []

    async def fetch(self, number: int) -> ListPage[int]:
        self.fetched.append(number)
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(self.delays.get(number, 0.001))
        except asyncio.CancelledError:
            self.cancelled.append(number)
            raise
        finally:
            self.active -= 1
        start = number * self.per_page
        records = list(range(start, min(start + self.per_page, self.total)))
        pages = max(1, -(-self.total // self.per_page))
        return ListPage(
            page=number,
            per_page=self.per_page,
            count=len(records),
            total_records=self.total,
            total_pages=pages,
            has_next=number < pages - 1,
            records=records,
        )


async def test_await_gives_one_page() -> None:
    source = Source(95, 10)
    page = await AsyncPager(source.fetch, page=3)
    assert page.page == 3
    assert page.records == list(range(30, 40))
    assert source.fetched == [3]


async def test_iteration_yields_every_item_in_order_despite_out_of_order_pages() -> None:
    # later pages answer faster than earlier ones; items still come out in order
    source = Source(95, 10, delays={1: 0.05, 2: 0.03, 3: 0.01})
    items = [i async for i in AsyncPager(source.fetch, concurrency=4)]
    assert items == list(range(95))
    assert sorted(source.fetched) == list(range(10))
    assert source.peak <= 4
    assert source.peak > 1  # pages really were fetched concurrently


async def test_concurrency_one_is_sequential() -> None:
    source = Source(50, 10)
    assert await AsyncPager(source.fetch, concurrency=1).collect() == list(range(50))
    assert source.peak == 1
    assert source.fetched == [0, 1, 2, 3, 4]


async def test_max_items_and_max_pages_stop_early_without_extra_fetches() -> None:
    source = Source(1000, 10)
    assert await AsyncPager(source.fetch, max_items=25).collect() == list(range(25))
    assert sorted(source.fetched) == [0, 1, 2]
    source = Source(1000, 10)
    assert await AsyncPager(source.fetch, max_pages=2, page=5).collect() == list(range(50, 70))
    assert sorted(source.fetched) == [5, 6]


async def test_pages_iterator_and_empty_list() -> None:
    source = Source(0, 10)
    assert [p.count async for p in AsyncPager(source.fetch).pages()] == [0]
    source = Source(21, 10)
    assert [p.count async for p in AsyncPager(source.fetch).pages()] == [10, 10, 1]


async def test_leaving_the_loop_cancels_fetches_in_flight() -> None:
    source = Source(1000, 10, delays=dict.fromkeys(range(2, 100), 0.2))
    pager = AsyncPager(source.fetch, concurrency=4)
    iterator = pager.pages()
    async for page in iterator:
        if page.page == 1:
            break
    await iterator.aclose()  # what the event loop's finaliser does after a break
    assert source.active == 0
    assert len(source.cancelled) >= 1


async def test_a_failing_page_raises_and_cancels_the_rest() -> None:
    async def fetch(number: int) -> ListPage[int]:
        if number == 2:
            raise RuntimeError("page 2 failed")
        await asyncio.sleep(0.01)
        return ListPage(
            page=number,
            per_page=1,
            count=1,
            total_records=10,
            total_pages=10,
            has_next=True,
            records=[number],
        )

    seen: list[int] = []

    async def consume() -> None:
        async for item in AsyncPager(fetch, concurrency=3):
            seen.append(item)

    with pytest.raises(RuntimeError, match="page 2 failed"):
        await consume()
    assert seen == [0, 1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"page": -1}, "page"),
        ({"max_items": 0}, "max_items"),
        ({"max_pages": 0}, "max_pages"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
    ],
)
def test_bad_bounds_are_rejected(kwargs: dict[str, int], match: str) -> None:
    async def fetch(number: int) -> ListPage[int]:
        raise AssertionError("never called")

    with pytest.raises(ValueError, match=match):
        AsyncPager(fetch, **kwargs)
