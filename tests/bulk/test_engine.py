"""The bulk engine on plain async callables and a MockTransport: bounds, outcomes, stopping."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from tightknit_async import (
    AlreadyUsedError,
    APIResponse,
    AsyncTightknit,
    BadRequestError,
    TightknitError,
    idempotency_key_for,
)
from tightknit_async.bulk import (
    BulkItem,
    BulkJob,
    ErrorBudget,
    ErrorBudgetExceeded,
    ItemResult,
    Progress,
    run_bulk,
)
from tightknit_async.governor import Governor
from tightknit_async.testing import MockTransport, json_response
from tightknit_async.transport import Request, Response


class Source:
    """An input that counts how far it has been read."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.pulled = 0

    def __iter__(self) -> Iterator[int]:
        for i in range(self.count):
            self.pulled += 1
            yield i


async def test_every_item_once_with_bounded_concurrency() -> None:
    active = peak = 0
    seen: list[int] = []

    async def fn(item: BulkItem[int]) -> int:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.001)
        active -= 1
        seen.append(item.value)
        return item.value * 2

    summary = await run_bulk(range(500), fn, job="j", concurrency=7)
    assert sorted(seen) == list(range(500))
    assert peak == 7
    assert (summary.stopped, summary.seen, summary.succeeded, summary.failed) == (
        "completed",
        500,
        500,
        0,
    )
    assert summary.ok
    assert summary.resume_index == 500
    assert summary.results is None


async def test_input_is_pulled_lazily() -> None:
    source = Source(20_000)
    ahead: list[int] = []
    finished = 0

    async def fn(item: BulkItem[int]) -> None:
        nonlocal finished
        await asyncio.sleep(0)
        ahead.append(source.pulled - finished)
        finished += 1

    await run_bulk(source, fn, job="lazy", concurrency=4, batch_size=16)
    # never more than one batch plus the items in flight read ahead of what finished
    assert max(ahead) <= 16 + 4
    assert source.pulled == 20_000


async def test_async_iterable_and_results_stream() -> None:
    async def numbers() -> AsyncIterator[int]:
        for i in range(50):
            await asyncio.sleep(0)
            yield i

    async def fn(item: BulkItem[int]) -> int:
        if item.value % 10 == 3:
            raise ValueError(f"bad {item.value}")
        return item.value

    job = BulkJob(numbers(), fn, job="stream", concurrency=5)
    outcomes: list[ItemResult[int, int]] = []
    async with job.results() as results:
        async for outcome in results:
            outcomes.append(outcome)
    assert sorted(o.index for o in outcomes) == list(range(50))
    failed = sorted(o.item for o in outcomes if not o.ok)
    assert failed == [3, 13, 23, 33, 43]
    assert all(isinstance(o.error, ValueError) for o in outcomes if not o.ok)
    assert all(o.result == o.item for o in outcomes if o.ok)
    assert job.summary is not None
    assert (job.summary.succeeded, job.summary.failed) == (45, 5)
    assert sorted(f.item for f in job.summary.failures) == failed


async def test_leaving_the_results_stream_early_stops_the_job() -> None:
    started = 0

    async def fn(item: BulkItem[int]) -> int:
        nonlocal started
        started += 1
        await asyncio.sleep(0.001)
        return item.value

    job = BulkJob(range(10_000), fn, job="early", concurrency=4)
    async with job.results() as results:
        async for outcome in results:
            if outcome.index >= 10:
                break
    assert job.summary is not None
    assert job.summary.stopped == "stopped"
    assert started < 100


async def test_item_ids_keys_and_the_bulk_lane_reach_the_server() -> None:
    sent: list[Request] = []

    def handler(request: Request) -> Response:
        sent.append(request)
        return json_response(201, {"success": True}, {"x-idempotent-replayed": "false"})

    governor = Governor(10_000)
    async with AsyncTightknit(
        api_key="sk_test_bulk", transport=MockTransport(handler), governor=governor
    ) as tk:

        async def fn(item: BulkItem[dict[str, str]]) -> object:
            assert item.options == {
                "idempotency_key": item.idempotency_key,
                "priority": "bulk",
            }
            return await tk.request("POST", "/admin/v0/members", json=item.value, **item.options)

        rows = [{"email": f"m{i}@example.com", "full_name": "M N"} for i in range(20)]
        summary = await run_bulk(
            rows, fn, job="lane", key=lambda row: row["email"], keep_results=True
        )
    assert summary.succeeded == 20
    keys = {r.headers["Idempotency-Key"] for r in sent}
    assert keys == {idempotency_key_for("lane", row["email"]) for row in rows}
    stats = governor.statistics()
    assert (stats.granted_bulk, stats.granted_interactive) == (20, 0)
    assert summary.results is not None
    assert {r.item_id for r in summary.results} == {row["email"] for row in rows}
    assert all(r.attempts == 1 and not r.replayed for r in summary.results)


def reply(status: int = 200, *, attempts: int = 1, replayed: bool = False) -> APIResponse:
    return APIResponse(
        status_code=status, headers={}, content=b"{}", attempts=attempts, replayed=replayed
    )


async def test_attempts_and_replays_come_from_a_returned_response() -> None:
    async def fn(item: BulkItem[int]) -> APIResponse:
        i = item.value
        return reply(attempts=1 + i % 3, replayed=i % 4 == 0)

    summary = await run_bulk(range(12), fn, job="obs", keep_results=True)
    assert summary.results is not None
    by_index = {r.index: r for r in summary.results}
    assert by_index[4].attempts == 2
    assert by_index[4].replayed
    assert summary.replayed == 3
    assert summary.attempts == sum(1 + i % 3 for i in range(12))
    assert (summary.created, summary.updated) == (0, 0)  # a bare reply says neither


async def test_observe_records_the_reply_of_a_model_result() -> None:
    class Outcome:
        def __init__(self, created: bool) -> None:
            self.created = created

    async def fn(item: BulkItem[int]) -> Outcome:
        i = item.value
        created = i % 2 == 0
        item.observe(reply(201 if created else 200, attempts=1 + i % 3, replayed=i % 4 == 0))
        return Outcome(created)

    summary = await run_bulk(range(12), fn, job="obs", keep_results=True)
    assert summary.results is not None
    by_index = {r.index: r for r in summary.results}
    assert (by_index[4].attempts, by_index[4].replayed) == (2, True)
    assert (summary.replayed, summary.created, summary.updated) == (3, 6, 6)
    assert summary.attempts == sum(1 + i % 3 for i in range(12))


async def test_observed_replies_add_up() -> None:
    async def fn(item: BulkItem[int]) -> str:
        item.observe(reply(attempts=2))
        item.observe(reply(attempts=1, replayed=True))
        return "done"

    summary = await run_bulk(range(3), fn, job="observe", keep_results=True)
    assert summary.results is not None
    assert all(r.attempts == 3 and r.replayed for r in summary.results)
    assert summary.replayed == 3


async def test_a_result_that_only_looks_like_a_reply_is_not_read() -> None:
    class LooksLikeOne:
        attempts = 3
        replayed = True
        status_code = 201

    async def fn(item: BulkItem[int]) -> LooksLikeOne:
        return LooksLikeOne()

    summary = await run_bulk(range(3), fn, job="duck", keep_results=True)
    assert summary.results is not None
    assert all(r.attempts == 1 and not r.replayed for r in summary.results)
    assert (summary.replayed, summary.attempts) == (0, 3)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, ErrorBudget(max_failures=0)),
        (10, ErrorBudget(max_failures=10)),
        (0.05, ErrorBudget(max_ratio=0.05)),
        (ErrorBudget(max_failures=1, max_ratio=0.5), ErrorBudget(max_failures=1, max_ratio=0.5)),
    ],
)
def test_error_budget_coerce(value: object, expected: ErrorBudget | None) -> None:
    assert ErrorBudget.coerce(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-1, 1.5, "3", True])
def test_error_budget_rejects(value: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        ErrorBudget.coerce(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("budget", "failed", "sent", "exceeded"),
    [
        (ErrorBudget(max_failures=3), 3, 3, False),
        (ErrorBudget(max_failures=3), 4, 100, True),
        (ErrorBudget(max_ratio=0.1), 5, 10, False),  # too few items to judge a ratio
        (ErrorBudget(max_ratio=0.1), 3, 20, True),
        (ErrorBudget(max_ratio=0.1), 2, 20, False),
        (ErrorBudget(max_ratio=0.1, min_items=1), 1, 1, True),
    ],
)
def test_error_budget_exceeded(budget: ErrorBudget, failed: int, sent: int, exceeded: bool) -> None:
    assert budget.exceeded(failed, sent) is exceeded


async def test_error_budget_stops_the_job_and_raises_with_the_summary() -> None:
    calls = 0

    async def fn(item: BulkItem[int]) -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.001)
        if item.value % 2:
            raise BadRequestError("POST /admin/v0/members: 400 nope", status_code=400)
        return item.value

    with pytest.raises(ErrorBudgetExceeded) as caught:
        await run_bulk(range(10_000), fn, job="budget", concurrency=4, error_budget=5)
    summary = caught.value.summary
    assert summary.stopped == "error_budget"
    assert summary.failed == 6  # the sixth failure is over a budget of five
    assert calls <= summary.failed + summary.succeeded
    assert calls < 40  # stopped early: in-flight items finished, nothing new started
    assert "6 of" in str(caught.value)
    assert "at most 5 failures" in str(caught.value)
    assert len(summary.failures) == 6


async def test_error_budget_as_a_ratio() -> None:
    async def fn(item: BulkItem[int]) -> int:
        if item.value % 4 == 0:
            raise ValueError("every fourth")
        return item.value

    with pytest.raises(ErrorBudgetExceeded) as caught:
        await run_bulk(range(1000), fn, job="ratio", concurrency=2, error_budget=0.2)
    assert caught.value.summary.seen < 1000
    # 25% fail and 20% are allowed: it stops once 20 items are in and the ratio is over
    assert caught.value.summary.succeeded + caught.value.summary.failed >= 20


async def test_stop_lets_in_flight_items_finish() -> None:
    job: BulkJob[int, int]

    async def fn(item: BulkItem[int]) -> int:
        if item.value == 30:
            job.stop()
        await asyncio.sleep(0.01)
        return item.value

    job = BulkJob(range(1000), fn, job="stop", concurrency=8)
    summary = await job.run()
    assert summary.stopped == "stopped"
    assert summary.failed == 0
    assert summary.abandoned == ()
    assert 30 < summary.succeeded < 60
    assert not summary.ok


async def test_cancellation_finishes_in_flight_items_within_the_grace() -> None:
    finished: list[int] = []

    async def fn(item: BulkItem[int]) -> int:
        await asyncio.sleep(0.05)
        finished.append(item.value)
        return item.value

    job = BulkJob(range(10_000), fn, job="cancel", concurrency=10, cancel_grace=2.0)
    task = asyncio.ensure_future(job.run())
    await asyncio.sleep(0.12)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    summary = job.summary
    assert summary is not None
    assert summary.stopped == "cancelled"
    assert summary.abandoned == ()
    assert summary.succeeded == len(finished) >= 10
    # what finished is a prefix of the input, plus at most the last wave
    assert summary.resume_index == min(set(range(summary.seen)) - set(finished), default=10**9)
    assert set(range(summary.resume_index)) <= set(finished)


async def test_cancellation_abandons_items_past_the_grace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fn(item: BulkItem[int]) -> int:
        await asyncio.sleep(60)
        return 0

    job = BulkJob(range(100), fn, job="hang", concurrency=3, cancel_grace=0.1)
    task = asyncio.ensure_future(job.run())
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    cancelled_at = loop.time()
    task.cancel()
    with (
        caplog.at_level(logging.WARNING, logger="tightknit_async.bulk"),
        pytest.raises(asyncio.CancelledError),
    ):
        await task
    assert loop.time() - cancelled_at < 1.0
    summary = job.summary
    assert summary is not None
    assert summary.abandoned == ("0", "1", "2")
    assert summary.resume_index == 0
    assert summary.succeeded == 0
    assert "3 abandoned in flight" in caplog.text


async def test_input_errors_stop_the_job_and_propagate() -> None:
    def broken() -> Iterator[int]:
        yield from range(40)
        raise OSError("disk gone")

    async def fn(item: BulkItem[int]) -> int:
        return item.value

    job = BulkJob(broken(), fn, job="broken", concurrency=4, batch_size=16)
    with pytest.raises(OSError, match="disk gone"):
        await job.run()
    assert job.summary is not None
    assert job.summary.stopped == "error"
    assert job.summary.succeeded == 32


async def test_a_key_function_error_propagates() -> None:
    async def fn(item: BulkItem[dict[str, str]]) -> None:
        return None

    rows = [{"id": str(i)} for i in range(20)] + [{}] + [{"id": "x"}] * 5
    job = BulkJob(rows, fn, job="keys", key=lambda row: row["id"], batch_size=16)
    with pytest.raises(KeyError):
        await job.run()
    assert job.summary is not None
    assert job.summary.stopped == "error"
    assert (job.summary.succeeded, job.summary.resume_index) == (16, 16)


def test_public_names_are_sorted_and_exported() -> None:
    from tightknit_async import bulk, journal

    for module in (bulk, journal):
        assert module.__all__ == sorted(module.__all__)
        assert all(hasattr(module, name) for name in module.__all__)


async def test_progress_snapshots() -> None:
    snapshots: list[Progress] = []

    async def fn(item: BulkItem[int]) -> int:
        await asyncio.sleep(0.002)
        if item.value == 5:
            raise ValueError("five")
        return item.value

    await run_bulk(
        range(200),
        fn,
        job="progress",
        concurrency=4,
        on_progress=snapshots.append,
        progress_interval=0.02,
    )
    assert len(snapshots) >= 3
    assert all(s.total == 200 for s in snapshots)
    assert [s.done for s in snapshots] == sorted(s.done for s in snapshots)
    last = snapshots[-1]
    assert last.finished
    assert last.done == 200
    assert last.failed == 1
    assert last.fraction == 1.0
    assert any(s.eta is not None and not s.finished for s in snapshots)
    assert all(s.rate >= 0 for s in snapshots)
    assert not any(s.finished for s in snapshots[:-1])


async def test_a_job_runs_once_and_checks_its_options() -> None:
    async def fn(item: BulkItem[int]) -> int:
        return 0

    job = BulkJob(range(3), fn, job="once")
    await job.run()
    with pytest.raises(AlreadyUsedError, match="runs once") as caught:
        await job.run()
    assert isinstance(caught.value, TightknitError)
    assert isinstance(caught.value, RuntimeError)  # what it raised before it had its own class
    for bad in ({"concurrency": 0}, {"job": ""}, {"cancel_grace": -1}, {"uncertain": "maybe"}):
        with pytest.raises(ValueError):
            BulkJob(range(3), fn, **{"job": "x", **bad})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        BulkJob(42, fn, job="x")  # type: ignore[arg-type]
    assert "once" in repr(job)
    assert "completed" in repr(job)
