"""Cancelling callers at random points of thousands of concurrent calls leaks nothing.

Afterwards: no governor waiter is left and its counters add up, no single-flight entry is left,
no pooled connection is held, every call that was not cancelled returned the right answer, and a
shared idempotency key was sent exactly once however many of its callers were cancelled.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field

from tightknit_async import AsyncTightknit
from tightknit_async.governor import Governor
from tightknit_async.idempotency import MemoryIdempotencyStore
from tightknit_async.testing import FakeTightknit, MockTransport, json_response
from tightknit_async.transport import Request, Response

from ._support import acquired_connections, no_leftover_tasks

MEMBERS = "/admin/v0/members"
BOUND = 15.0


@dataclass(frozen=True)
class Plan:
    """One call: a GET of ``path``, or a keyed POST of ``body`` under ``key``."""

    index: int
    method: str
    path: str
    key: str | None = None
    body: dict[str, str] | None = None


@dataclass
class Outcome:
    started: set[int] = field(default_factory=set)
    results: dict[int, object] = field(default_factory=dict)


def make_plans(rng: random.Random, n: int, *, get_path: str, shared_keys: int) -> list[Plan]:
    """Half GETs, half keyed POSTs; the POSTs draw from ``shared_keys`` keys, so most share one.

    Every call with one key sends the same body (the key is bound to it).
    """
    keys = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(shared_keys)]
    plans: list[Plan] = []
    for i in range(n):
        if rng.random() < 0.5:
            plans.append(Plan(i, "GET", get_path.format(i=i)))
        else:
            k = rng.randrange(shared_keys)
            body = {"email": f"cancel{k}@example.com", "full_name": f"Cancel Number{k}"}
            plans.append(Plan(i, "POST", MEMBERS, keys[k], body))
    return plans


async def run_with_random_cancellation(
    tk: AsyncTightknit, plans: list[Plan], rng: random.Random, rounds: int = 20
) -> tuple[Outcome, list[asyncio.Task[object]]]:
    """Start every call, cancel random subsets after random short delays, wait for them all."""
    outcome = Outcome()

    async def call(plan: Plan) -> object:
        outcome.started.add(plan.index)
        if plan.method == "GET":
            response = await tk.request("GET", plan.path)
        else:
            response = await tk.request("POST", plan.path, json=plan.body, idempotency_key=plan.key)
        outcome.results[plan.index] = response.data
        return response.data

    tasks = [asyncio.create_task(call(plan)) for plan in plans]
    for _ in range(rounds):
        await asyncio.sleep(rng.uniform(0, 0.004))
        pending = [t for t in tasks if not t.done()]
        if not pending:
            break
        for task in rng.sample(pending, k=max(1, len(pending) // 25)):
            task.cancel()
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), BOUND)
    return outcome, tasks


async def wait_until_idle(tk: AsyncTightknit) -> None:
    """Keyed runs belong to no caller: those whose callers all left finish on their own."""
    async with asyncio.timeout(BOUND):
        while tk._coordinator().in_flight:
            await asyncio.sleep(0.01)


def check_governor(tk: AsyncTightknit, attempts: int, cancelled: int) -> None:
    governor = tk.governor
    assert isinstance(governor, Governor)
    stats = governor.statistics()
    assert (stats.waiting_interactive, stats.waiting_bulk) == (0, 0)
    assert stats.timed_out == 0
    assert stats.rate_limited == 0
    # Every attempt used a granted slot; a slot granted in the instant its waiter was
    # cancelled may find no heir and go unused, but never more of those than cancellations;
    # a slot whose waiter woke too late to send on it goes unused too, and is counted (stale).
    assert attempts <= stats.granted <= attempts + cancelled + stats.stale
    assert not governor._deadlines or all(entry[2].done() for entry in governor._deadlines)


async def test_ten_thousand_calls_cancelled_at_random_against_a_mock_transport() -> None:
    rng = random.Random(9)
    sends: Counter[str | None] = Counter()

    async def handler(request: Request) -> Response:
        await asyncio.sleep(rng.uniform(0, 0.003))
        key = request.headers.get("Idempotency-Key")
        sends[key] += request.method == "POST"
        if request.method == "GET":
            return json_response(200, {"path": request.path})
        assert isinstance(request.content, bytes)
        return json_response(201, {"key": key, "body": json.loads(request.content)})

    transport = MockTransport(handler)
    plans = make_plans(rng, 10_000, get_path="/admin/v0/posts/p{i}", shared_keys=300)
    async with (
        no_leftover_tasks(),
        AsyncTightknit(
            api_key=f"sk_test_cancel_{uuid.uuid4().hex}",
            transport=transport,
            # Slow enough that thousands queue in the governor while cancellations arrive.
            rate_limit=20_000,
            idempotency_store=MemoryIdempotencyStore(),
        ) as tk,
    ):
        outcome, tasks = await run_with_random_cancellation(tk, plans, rng)
        await wait_until_idle(tk)
        cancelled = sum(t.cancelled() for t in tasks)
        stats = tk.statistics()
        assert tk._coordinator().in_flight == 0
        check_governor(tk, stats.attempts, cancelled)
    assert 0 < cancelled < len(plans)
    failed = [t for t in tasks if not t.cancelled() and t.exception() is not None]
    assert failed == [], failed[:3]
    assert len(outcome.results) == len(plans) - cancelled
    for index, data in outcome.results.items():
        plan = plans[index]
        if plan.method == "GET":
            assert data == {"path": plan.path}
        else:
            assert data == {"key": plan.key, "body": plan.body}
    # Counters add up: every started call counted once, as a success or as a failure.
    assert stats.calls == len(outcome.started)
    assert stats.calls - stats.failures == len(outcome.results)
    assert stats.attempts == len(transport.requests)
    # Single-flight and replay: each key that was used at all was sent exactly once.
    posted_keys = {
        plan.key for plan in plans if plan.key is not None and plan.index in outcome.started
    }
    sent = {key: count for key, count in sends.items() if key is not None}
    assert set(sent) <= posted_keys
    assert all(count == 1 for count in sent.values()), sent
    assert None not in sends or sends[None] == 0


async def test_two_thousand_calls_cancelled_at_random_against_the_fake_server() -> None:
    rng = random.Random(10)
    async with no_leftover_tasks(), FakeTightknit(rate_limit=None) as fake:
        fake.faults.latency_jitter = 0.003
        records = (await _first_event_ids(fake))[:20]
        plans = make_plans(rng, 2_000, get_path="/admin/v0/calendar_events/{i}", shared_keys=100)
        plans = [
            Plan(p.index, "GET", f"/admin/v0/calendar_events/{records[p.index % len(records)]}")
            if p.method == "GET"
            else p
            for p in plans
        ]
        async with AsyncTightknit(
            api_key=fake.api_key,
            base_url=fake.url,
            rate_limit=100_000,
            idempotency_store=MemoryIdempotencyStore(),
        ) as tk:
            outcome, tasks = await run_with_random_cancellation(tk, plans, rng)
            await wait_until_idle(tk)
            cancelled = sum(t.cancelled() for t in tasks)
            stats = tk.statistics()
            assert tk._coordinator().in_flight == 0
            assert acquired_connections(tk) == 0
            check_governor(tk, stats.attempts, cancelled)
    assert 0 < cancelled < len(plans)
    failed = [t for t in tasks if not t.cancelled() and t.exception() is not None]
    assert failed == [], failed[:3]
    member_ids: dict[str, set[str]] = {}
    for index, data in outcome.results.items():
        plan = plans[index]
        assert isinstance(data, dict)
        if plan.method == "GET":
            assert data["data"]["id"] == plan.path.rsplit("/", 1)[1]
        else:
            assert plan.body is not None
            assert plan.key is not None
            assert data["data"]["member"]["email"] == plan.body["email"]
            member_ids.setdefault(plan.key, set()).add(data["data"]["member"]["id"])
    # Every caller of one key got the one answer of its one run.
    assert all(len(ids) == 1 for ids in member_ids.values())
    assert stats.calls - stats.failures == len(outcome.results)
    # Each key was applied at most once, however many of its callers were cancelled.
    applied = Counter(entry.idempotency_key for entry in fake.ledger)
    assert all(count == 1 for count in applied.values()), applied
    # A cancelled caller may cut its aiohttp request short, but a keyed call's run is shielded.
    assert len(fake.ledger) == len(applied)


async def _first_event_ids(fake: FakeTightknit) -> list[str]:
    async with AsyncTightknit(
        api_key=fake.api_key,
        base_url=fake.url,
        rate_limit=None,
        idempotency_store=MemoryIdempotencyStore(),
    ) as tk:
        page = await tk.request("GET", "/admin/v0/calendar_events", params={"time_filter": "all"})
    return [record["id"] for record in page.data["data"]["records"]]
