"""The ledger of applied mutations, the arrivals, the counters, and max_in_window."""

from __future__ import annotations

import asyncio

import pytest

from tightknit_async.testing import Arrival, FakeClock, FakeStats, LedgerEntry
from tightknit_async.testing._journal import max_in_window

from .helpers import MEMBER, PREFIX, Client

KEY = "9b2e0c1d-7a4f-4e3b-8c2d-5f6a7b8c9d0e"


async def test_ledger_records_applied_mutations_only(client: Client, clock: FakeClock) -> None:
    fake = client.fake
    await client.get("/feeds")
    await client.post("/members", json={"email": "bad"})
    clock.advance(1.5)
    created = await client.post("/members", json=MEMBER, idempotency_key=KEY)
    await client.post("/members", json=MEMBER, idempotency_key=KEY)  # a replay
    assert fake.ledger == [
        LedgerEntry(
            time=101.5,
            method="POST",
            path=PREFIX + "/members",
            key_id=fake.key_info(fake.api_key).id,
            idempotency_key=KEY,
            resource_id=created.body["data"]["member"]["id"],
            status=201,
        )
    ]
    assert fake.api_key not in repr(fake.ledger)


async def test_arrivals_record_every_request(client: Client, clock: FakeClock) -> None:
    fake = client.fake
    key_id = fake.key_info(fake.api_key).id
    await client.get("/feeds?page=0", idempotency_key="ignored")
    clock.advance(0.25)
    await client.get("/feeds", api_key="sk_test_unknown")
    await client.post("/members", json=MEMBER, idempotency_key=KEY)
    await client.post("/members", json=MEMBER, idempotency_key=KEY)
    assert fake.arrivals == [
        Arrival(100.0, "GET", PREFIX + "/feeds", key_id, 200, "ignored", replayed=False),
        Arrival(100.25, "GET", PREFIX + "/feeds", None, 401, None, replayed=False),
        Arrival(100.25, "POST", PREFIX + "/members", key_id, 201, KEY, replayed=False),
        Arrival(100.25, "POST", PREFIX + "/members", key_id, 201, KEY, replayed=True),
    ]
    assert fake.stats == FakeStats(requests=4, replays=1)


async def test_returned_lists_are_copies(client: Client) -> None:
    await client.post("/members", json=MEMBER)
    client.fake.ledger.clear()
    client.fake.arrivals.clear()
    assert len(client.fake.ledger) == 1
    assert len(client.fake.arrivals) == 1


async def test_resets(client: Client) -> None:
    fake = client.fake
    await client.post("/members", json=MEMBER)
    fake.reset_ledger()
    assert fake.ledger == []
    assert len(fake.arrivals) == 1
    fake.reset_arrivals()
    assert fake.arrivals == []
    assert fake.stats.requests == 1
    fake.reset_stats()
    assert fake.stats == FakeStats()


async def test_max_in_window_over_all_or_chosen_statuses(client: Client, clock: FakeClock) -> None:
    async def burst(count: int) -> None:
        await asyncio.gather(*(client.get("/api_key/me") for _ in range(count)))

    await burst(30)
    clock.advance(0.5)
    await burst(30)  # 20 accepted, 10 refused
    clock.advance(0.6)
    await burst(5)  # the first 30 have left the window
    fake = client.fake
    assert fake.max_in_window() == 60
    assert fake.max_in_window(statuses={200}) == 50
    assert fake.max_in_window(statuses={429}) == 10
    assert fake.max_in_window(0.5) == 30
    assert fake.max_in_window(10.0) == 65
    assert fake.stats.rate_limited == 10


@pytest.mark.parametrize(
    ("times", "window", "expected"),
    [
        ([], 1.0, 0),
        ([5.0], 1.0, 1),
        ([0.0, 0.5, 0.999, 1.0], 1.0, 3),
        ([1.0, 0.0, 0.5, 0.999], 1.0, 3),
        ([0.0, 0.0, 0.0], 1.0, 3),
        ([0.0, 1.0, 2.0, 3.0], 1.0, 1),
        ([0.0, 1.0, 2.0, 3.0], 1.5, 2),
    ],
)
def test_max_in_window_table(times: list[float], window: float, expected: int) -> None:
    assert max_in_window(times, window) == expected


def test_max_in_window_needs_a_positive_window() -> None:
    with pytest.raises(ValueError, match="window"):
        max_in_window([0.0], 0)
