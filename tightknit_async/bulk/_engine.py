"""The bulk engine: :class:`BulkJob` and :func:`run_bulk` (see :mod:`tightknit_async.bulk`).

Workers in one anyio task group take items a batch at a time (claimed in the journal when there
is one), run ``fn`` on each under a shielded scope (the cancel grace), count and journal the
outcome, and stop on the error budget, :meth:`BulkJob.stop`, a cancellation or an error of the
input, a hook or the journal.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any, Final, Generic, Literal, TypeVar, cast

import anyio
import anyio.lowlevel

from .._exceptions import (
    AlreadyUsedError,
    APIConnectionError,
    APIStatusError,
    GovernorTimeoutError,
    IdempotencyKeyError,
    RequestValidationError,
)
from ._budget import ErrorBudget, ErrorBudgetExceeded
from ._content import item_idempotency_key
from ._journal import ItemClaim, Journal, RunStart
from ._progress import Progress, RateMeter
from ._types import (
    BulkItem,
    BulkSummary,
    DuplicateItemError,
    ItemResult,
    Stopped,
    UncertainItemError,
    reply_facts,
)

__all__ = ["DEFAULT_CANCEL_GRACE", "DEFAULT_CONCURRENCY", "BulkJob", "run_bulk", "summary_of"]

logger: Final = logging.getLogger("tightknit_async.bulk")

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_CONCURRENCY: Final = 8
DEFAULT_CANCEL_GRACE: Final = 5.0


@dataclass(slots=True)
class _Tally:
    seen: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    replayed: int = 0
    created: int = 0
    updated: int = 0
    resumed: int = 0
    uncertain: int = 0
    changed: int = 0
    attempts: int = 0
    in_flight: int = 0

    @property
    def sent(self) -> int:
        return self.succeeded + self.failed


@dataclass(slots=True)
class _Work(Generic[T]):
    item: BulkItem[T]
    claim: ItemClaim | None = None
    journaled: bool = True


class BulkJob(Generic[T, R]):
    """One run of ``fn`` over ``items``; single use.

    Args:
        items: an iterable or async iterable, read lazily (never materialised). A sync
            iterable is read on the event loop: wrap one that blocks (a network cursor) in an
            async iterable.
        fn: ``async fn(item: BulkItem[T]) -> R``; an ``Exception`` it raises fails that item.
        job: the job's name: the namespace of the idempotency keys and the journal's rows.
            Keep it for a re-run of the same work; change it for new work.
        key: ``key(value)`` gives an item's id (stable across runs, unique in the job); by
            default the item's position in the input, which only suits inputs that never
            change order.
        concurrency: items in flight at once (default 8). The rate governor paces the calls;
            more concurrency than rate x latency only queues in the governor.
        error_budget: see :class:`ErrorBudget`; ``None`` (default): never stop for failures.
        journal: an open :class:`~tightknit_async.journal.Journal` to skip done items and
            record outcomes.
        on_progress: called with a :class:`Progress` every ``progress_interval`` seconds
            (default 0.5) and once at the end (``finished=True``).
        on_result: called with every :class:`ItemResult` as it finishes (:meth:`run` only).
        keep_results: keep every :class:`ItemResult` in the summary (memory grows with the
            input).
        total: the number of items, for ETA; taken from ``len(items)`` when it has one.
        cancel_grace: seconds in-flight items may take to finish once cancelled (default 5).
        uncertain: what to do with items of unknown outcome older than the replay window:
            ``"resend"`` (default; right for upserts) or ``"skip"`` (held, reported failed).
        batch_size: items taken from the input (and claimed in the journal) at a time;
            default ``max(2 * concurrency, 16)``, at most 500.
        max_failure_samples: failed items kept in the summary (default 20).
        content_hash: ``content_hash(value)`` gives a digest of what is sent for the item (see
            :func:`~tightknit_async.bulk.hash_content`). With it the job is a *sync*: the key of
            an item is derived from its id and its hash, the journal records the hash, and a
            re-run sends only new items and items whose hash changed (done ones with the same
            hash are skipped). Leave it out for work that must never be sent twice for the same
            id (creates that are not upserts): a changed item would be created again.
        result_id: ``result_id(result)`` names what a successful item produced (the created
            record's id); the journal keeps it (:meth:`~tightknit_async.journal.Journal.results`
            gives the ``{item_id: result_id}`` map). ``None`` from it records nothing.
        resend_done: send every item, also those the journal has done (and unchanged): those
            are sent under keys of this run only (derived with a random salt, see
            :func:`~tightknit_async.bulk.item_idempotency_key`) so that the server applies them
            again instead of replaying, and are not journaled again (they stay ``done``).
            Without a journal every item gets such a key.

    Raises:
        ValueError, TypeError: bad options.

    When the run is cancelled (Ctrl-C under ``asyncio.run``, ``task.cancel()``) or interrupted
    by a ``KeyboardInterrupt``, the exception propagates after the wind-down, carrying the
    summary: :func:`summary_of` reads it, and a note on the exception (shown in its traceback)
    says what every item became and how to resume.
    """

    def __init__(
        self,
        items: Iterable[T] | AsyncIterable[T],
        fn: Callable[[BulkItem[T]], Awaitable[R]],
        *,
        job: str,
        key: Callable[[T], object] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        error_budget: ErrorBudget | int | float | None = None,
        journal: Journal | None = None,
        on_progress: Callable[[Progress], object] | None = None,
        progress_interval: float = 0.5,
        on_result: Callable[[ItemResult[T, R]], object] | None = None,
        keep_results: bool = False,
        total: int | None = None,
        cancel_grace: float = DEFAULT_CANCEL_GRACE,
        uncertain: Literal["resend", "skip"] = "resend",
        batch_size: int | None = None,
        max_failure_samples: int = 20,
        content_hash: Callable[[T], str] | None = None,
        result_id: Callable[[R], object] | None = None,
        resend_done: bool = False,
    ) -> None:
        if not isinstance(job, str) or not job:
            raise ValueError(f"job must be a non-empty str, got {job!r}")
        _positive_int("concurrency", concurrency)
        if batch_size is None:
            batch_size = min(max(2 * concurrency, 16), 500)
        _positive_int("batch_size", batch_size)
        if not progress_interval > 0:
            raise ValueError(f"progress_interval must be > 0, got {progress_interval!r}")
        if not cancel_grace >= 0:
            raise ValueError(f"cancel_grace must be >= 0 seconds, got {cancel_grace!r}")
        if uncertain not in ("resend", "skip"):
            raise ValueError(f"uncertain must be 'resend' or 'skip', got {uncertain!r}")
        if isinstance(items, AsyncIterable):
            self._async_source: AsyncIterator[T] | None = aiter(items)
            self._sync_source: Iterator[T] | None = None
        elif isinstance(items, Iterable):
            self._sync_source, self._async_source = iter(items), None
        else:
            raise TypeError(f"items must be an iterable or async iterable, not {type(items)}")
        if total is None and hasattr(items, "__len__"):
            total = len(items)  # type: ignore[arg-type]
        self.job = job
        self.total = total
        self._fn = fn
        self._key = key
        self._concurrency = concurrency
        self._budget = ErrorBudget.coerce(error_budget)
        self._journal = journal
        self._on_progress = on_progress
        self._progress_interval = progress_interval
        self._on_result = on_result
        self._keep_results = keep_results
        self._cancel_grace = cancel_grace
        self._resend_uncertain = uncertain == "resend"
        self._batch_size = batch_size
        self._max_failure_samples = max_failure_samples
        self._content_hash = content_hash
        self._result_id = result_id
        self._resend_done = bool(resend_done)
        self._salt = uuid.uuid4().hex if resend_done else None

        self._used = False
        self._tally = _Tally()
        self._ready: deque[_Work[T]] = deque()
        self._exhausted = False
        self._next_index = 0
        self._stop_reason: Stopped | None = None
        self._cancelling = False
        self._winding_down = False
        self._workers_left = 0
        self._lock = anyio.Lock()  # an adapter until first used on the loop
        self._grace_deadline = math.inf
        self._inflight: dict[int, anyio.CancelScope] = {}
        self._abandoned: list[tuple[int, str]] = []
        self._failures: list[ItemResult[T, R]] = []
        self._results: list[ItemResult[T, R]] | None = [] if keep_results else None
        self._run: RunStart | None = None
        self._replay_window_expired = False
        self._started = 0.0
        self._finished_at: float | None = None
        self._meter = RateMeter()
        self._summary: BulkSummary[T, R] | None = None
        self._interrupted: KeyboardInterrupt | None = None

    # -- public ----------------------------------------------------------------------------

    async def run(self) -> BulkSummary[T, R]:
        """Run to the end and return the summary.

        Raises:
            ErrorBudgetExceeded: the error budget ran out (its ``summary`` has the counts).
            AlreadyUsedError: this job ran before (a job is single use).
            BaseException: the cancellation, or an error of the input, a hook or the journal,
                after in-flight items finished and the journal was flushed; :attr:`summary`
                is set either way.
        """
        on_result = self._on_result

        async def emit(result: ItemResult[T, R]) -> None:
            if on_result is not None:
                on_result(result)

        try:
            await self._drive(emit)
        except BaseExceptionGroup as group:
            raise self._annotated(_unwrap(group)) from None
        except BaseException as exc:
            self._annotated(exc)
            raise
        return self._finish_or_raise()

    @asynccontextmanager
    async def results(self) -> AsyncIterator[AsyncIterator[ItemResult[T, R]]]:
        """Run while you iterate over the outcomes as they finish::

            async with job.results() as outcomes:
                async for outcome in outcomes:
                    ...

        Leaving the block before the end stops the job (in-flight items finish). At the end of
        the block, :class:`ErrorBudgetExceeded` is raised if the budget ran out.
        """
        send, receive = anyio.create_memory_object_stream[ItemResult[T, R]](self._concurrency)

        async def emit(result: ItemResult[T, R]) -> None:
            # If the consumer left, the outcome is still counted and journaled.
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await send.send(result)

        async def drive() -> None:
            async with send:
                await self._drive(emit)

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(drive)
                with receive:
                    try:
                        yield _iterate(receive)
                    finally:
                        if self._summary is None:
                            self.stop()
        except BaseExceptionGroup as group:
            raise self._annotated(_unwrap(group)) from None
        except BaseException as exc:
            self._annotated(exc)
            raise
        self._finish_or_raise()

    def stop(self) -> None:
        """Take no new items; the ones in flight finish. The summary says ``stopped``."""
        self._request_stop("stopped")

    @property
    def summary(self) -> BulkSummary[T, R] | None:
        """The summary once the run ended (whichever way), else ``None``."""
        return self._summary

    def progress(self) -> Progress:
        """A snapshot of the run now."""
        return self._snapshot(finished=self._summary is not None)

    def __repr__(self) -> str:
        t = self._tally
        state = self._summary.stopped if self._summary else "running" if self._used else "new"
        return (
            f"<BulkJob {self.job!r} {state} seen={t.seen} succeeded={t.succeeded} "
            f"failed={t.failed} skipped={t.skipped} in_flight={t.in_flight}>"
        )

    # -- driving ---------------------------------------------------------------------------

    async def _drive(self, emit: Callable[[ItemResult[T, R]], Awaitable[None]]) -> None:
        if self._used:
            raise AlreadyUsedError("a BulkJob runs once; create another for another run")
        self._used = True
        self._started = anyio.current_time()
        stopped: Stopped = "error"
        try:
            if self._journal is not None:
                self._run = await self._journal.begin_run(self.job)
                self._warn_if_stale(self._run, self._journal)
            self._workers_left = self._concurrency
            async with anyio.create_task_group() as tg:
                # The guard shares the workers' task group, so a cancellation reaches it at the
                # same moment as the workers (and starts the grace for shielded calls).
                tg.start_soon(self._guard)
                for _ in range(self._concurrency):
                    tg.start_soon(self._worker, emit, tg.cancel_scope)
            stopped = self._stop_reason or "completed"
        except anyio.get_cancelled_exc_class():
            stopped = "cancelled"
            raise
        except BaseException as exc:
            if _is_interrupt(exc):  # Ctrl-C raised as such (no event loop handler took it)
                stopped = "cancelled"
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await self._finish(stopped)
        if self._interrupted is not None:
            raise self._interrupted

    async def _guard(self) -> None:
        """Tick the progress hook; when cancelled (not at the normal end), start the grace."""
        try:
            if self._on_progress is None:
                await anyio.sleep_forever()
            while True:
                await anyio.sleep(self._progress_interval)
                self._report_progress(finished=False)
        except anyio.get_cancelled_exc_class():
            if not self._winding_down:
                self._begin_grace()
            raise

    def _begin_grace(self) -> None:
        self._cancelling = True
        self._grace_deadline = anyio.current_time() + self._cancel_grace
        for scope in self._inflight.values():
            scope.deadline = min(scope.deadline, self._grace_deadline)

    def _request_stop(self, reason: Stopped) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason

    async def _worker(
        self, emit: Callable[[ItemResult[T, R]], Awaitable[None]], group: anyio.CancelScope
    ) -> None:
        try:
            while True:
                await anyio.lowlevel.checkpoint()  # a pending cancellation lands between items
                work = await self._take()
                if work is None:
                    return
                result = await self._process(work)
                if result is not None:
                    await emit(result)
        finally:
            self._workers_left -= 1
            if self._workers_left == 0:  # the last worker out ends the guard
                self._winding_down = True
                group.cancel()

    async def _take(self) -> _Work[T] | None:
        """The next item, refilling from the input a batch at a time; ``None`` when done."""
        while True:
            if self._stop_reason is not None or self._cancelling:
                return None
            if self._ready:
                return self._ready.popleft()
            if self._exhausted:
                return None
            await self._refill()

    async def _refill(self) -> None:
        # One worker refills at a time: the others wait here, then find the batch ready.
        async with self._lock:
            if self._ready or self._exhausted or self._stop_reason or self._cancelling:
                return
            values = await self._pull(self._batch_size)
            works: list[_Work[T]] = []
            hasher = self._content_hash
            for index, value in enumerate(values, start=self._next_index):
                # these may raise: then nothing of the batch was taken
                item_id = self._id_of(value, index)
                digest = None if hasher is None else _checked_hash(hasher(value), index)
                salt = self._salt if self._journal is None else None  # no journal: all fresh
                key = item_idempotency_key(self.job, item_id, digest, salt=salt)
                item = BulkItem(value, id=item_id, index=index, idempotency_key=key)
                item.content_hash = digest
                works.append(_Work(item))
            self._next_index += len(works)
            self._tally.seen += len(works)
            if self._journal is not None and self._run is not None and works:
                requests = [(w.item.id, w.item.idempotency_key, w.item.content_hash) for w in works]
                with anyio.CancelScope(shield=True):  # a claim must not be lost half-way
                    claims = await self._journal.claim(
                        self.job,
                        self._run.run_id,
                        requests,
                        resend_uncertain=self._resend_uncertain,
                    )
                for work, claim in zip(works, claims, strict=True):
                    if claim.action == "skip" and self._resend_done:
                        # a forced resend of a done item: sent, not journaled (it stays done)
                        work.journaled = False
                        work.item.idempotency_key = item_idempotency_key(
                            self.job, work.item.id, work.item.content_hash, salt=self._salt
                        )
                        continue
                    work.claim = claim
                    work.item.resumed = claim.resumed
                    work.item.uncertain = claim.uncertain
                    work.item.changed = claim.changed
            self._ready.extend(works)

    async def _pull(self, count: int) -> list[T]:
        if self._sync_source is not None:
            values = list(islice(self._sync_source, count))
        else:
            assert self._async_source is not None
            values = []
            while len(values) < count:
                try:
                    values.append(await anext(self._async_source))
                except StopAsyncIteration:
                    break
        if len(values) < count:
            self._exhausted = True
        return values

    def _id_of(self, value: T, index: int) -> str:
        if self._key is None:
            return str(index)
        item_id = self._key(value)
        if item_id is None or item_id == "":
            raise ValueError(f"key() gave no id for item #{index}: {item_id!r}")
        return str(item_id)

    async def _process(self, work: _Work[T]) -> ItemResult[T, R] | None:
        item, claim = work.item, work.claim
        tally = self._tally
        if claim is not None and claim.action != "send":
            return self._settle_unsent(item, claim)
        tally.resumed += item.resumed
        tally.uncertain += item.uncertain
        tally.changed += item.changed
        tally.in_flight += 1
        started = anyio.current_time()
        value: R | None = None
        error: Exception | None = None
        interrupted = False
        with anyio.CancelScope(shield=True) as scope:
            if self._cancelling:
                scope.deadline = self._grace_deadline
            self._inflight[item.index] = scope
            try:
                value = await self._fn(item)
            except Exception as exc:
                error = exc
            except KeyboardInterrupt as exc:
                # Ctrl-C raised in fn (sync code, no event loop handler took it): stop as for a
                # cancellation, then raise it from the run, not from this task, where it would
                # escape the event loop. Its item's outcome is unknown (kept in flight).
                self._interrupted = self._interrupted or exc
                self._request_stop("cancelled")
                self._begin_grace()
                interrupted = True
            finally:
                del self._inflight[item.index]
                tally.in_flight -= 1
        if scope.cancelled_caught or (scope.cancel_called and error is not None) or interrupted:
            self._abandoned.append((item.index, item.id))
            return None
        attempts, replayed, status = reply_facts(item, value, error)
        result: ItemResult[T, R] = ItemResult(
            index=item.index,
            item_id=item.id,
            item=item.value,
            result=value,
            error=error,
            attempts=attempts,
            replayed=replayed,
            resumed=item.resumed,
            uncertain=item.uncertain,
            elapsed=anyio.current_time() - started,
        )
        tally.attempts += attempts
        created = getattr(value, "created", None) if error is None else None
        if error is None:
            tally.succeeded += 1
            tally.replayed += replayed
            if isinstance(created, bool):
                tally.created += created
                tally.updated += not created
        else:
            tally.failed += 1
        if self._journal is not None and self._run is not None and work.journaled:
            result_id = None
            if error is None and self._result_id is not None:
                named = self._result_id(cast("R", value))
                result_id = None if named is None else str(named)
            self._journal.record(
                self.job,
                self._run.run_id,
                item.id,
                ok=error is None,
                maybe_applied=error is not None and _maybe_applied(error),
                status=status,
                outcome=None if error is not None else _outcome_name(created),
                replayed=replayed,
                attempts=attempts,
                error=error,
                result_id=result_id,
            )
        self._keep(result)
        return result

    def _settle_unsent(self, item: BulkItem[T], claim: ItemClaim) -> ItemResult[T, R]:
        tally = self._tally
        if claim.action == "skip":
            tally.skipped += 1
            result: ItemResult[T, R] = ItemResult(
                index=item.index, item_id=item.id, item=item.value, attempts=0, skipped=True
            )
        else:
            error: Exception
            if claim.action == "hold":
                tally.uncertain += 1
                error = UncertainItemError(
                    f"item {item.id!r} was sent by an earlier run more than the replay window "
                    "ago with no recorded outcome: held, not sent (uncertain='skip')"
                )
            else:
                error = DuplicateItemError(
                    f"item id {item.id!r} (#{item.index}) came up earlier in this run: not sent"
                )
            tally.failed += 1
            result = ItemResult(
                index=item.index,
                item_id=item.id,
                item=item.value,
                error=error,
                attempts=0,
                resumed=claim.resumed,
                uncertain=claim.uncertain,
            )
        self._keep(result)
        return result

    def _keep(self, result: ItemResult[T, R]) -> None:
        if result.error is not None:
            if len(self._failures) < self._max_failure_samples:
                self._failures.append(result)
            budget = self._budget
            if budget is not None and budget.exceeded(self._tally.failed, self._tally.sent):
                self._request_stop("error_budget")
        if self._results is not None:
            self._results.append(result)

    # -- the end ---------------------------------------------------------------------------

    async def _finish(self, stopped: Stopped) -> None:
        self._finished_at = anyio.current_time()
        not_started = list(self._ready)
        self._ready.clear()
        try:
            journal, run = self._journal, self._run
            if journal is not None and run is not None:
                claims = [w.claim for w in not_started if w.claim is not None]
                await journal.release(self.job, run.run_id, claims)
                t = self._tally
                await journal.end_run(
                    run.run_id, stopped, succeeded=t.succeeded, failed=t.failed, skipped=t.skipped
                )
        finally:
            unfinished = [w.item.index for w in not_started] + [i for i, _ in self._abandoned]
            self._summary = self._make_summary(stopped, len(not_started), unfinished)
            if stopped == "cancelled" or self._abandoned:
                logger.warning(
                    "bulk job %r %s: %d items finished, %d not started, %d abandoned in flight; "
                    "every item before input position %d is done",
                    self.job,
                    stopped,
                    self._tally.succeeded + self._tally.failed + self._tally.skipped,
                    len(not_started),
                    len(self._abandoned),
                    self._summary.resume_index,
                )
            if self._on_progress is not None:
                self._report_progress(finished=True)

    def _annotated(self, exc: BaseException) -> BaseException:
        """``exc`` carrying the summary, when the run was cancelled or interrupted."""
        summary = self._summary
        if (
            summary is not None
            and summary.stopped == "cancelled"
            and _is_interrupt(exc)
            and getattr(exc, _SUMMARY_ATTRIBUTE, None) is None
        ):
            setattr(exc, _SUMMARY_ATTRIBUTE, summary)
            exc.add_note(summary.describe())
        return exc

    def _finish_or_raise(self) -> BulkSummary[T, R]:
        summary = self._summary
        assert summary is not None
        if summary.stopped == "error_budget":
            assert self._budget is not None
            raise ErrorBudgetExceeded(cast("BulkSummary[object, object]", summary), self._budget)
        return summary

    def _make_summary(
        self, stopped: Stopped, not_started: int, unfinished: list[int]
    ) -> BulkSummary[T, R]:
        t = self._tally
        elapsed = self._elapsed()
        return BulkSummary(
            job=self.job,
            stopped=stopped,
            seen=t.seen,
            succeeded=t.succeeded,
            failed=t.failed,
            skipped=t.skipped,
            replayed=t.replayed,
            created=t.created,
            updated=t.updated,
            resumed=t.resumed,
            uncertain=t.uncertain,
            attempts=t.attempts,
            elapsed=elapsed,
            rate=t.sent / elapsed if elapsed > 0 else 0.0,
            not_started=not_started,
            abandoned=tuple(item_id for _, item_id in sorted(self._abandoned)),
            resume_index=min(unfinished, default=self._next_index),
            replay_window_expired=self._replay_window_expired,
            failures=tuple(self._failures),
            results=None if self._results is None else tuple(self._results),
            changed=t.changed,
            total=self.total,
        )

    def _elapsed(self) -> float:
        if not self._used:
            return 0.0
        end = self._finished_at if self._finished_at is not None else anyio.current_time()
        return end - self._started

    def _snapshot(self, *, finished: bool) -> Progress:
        t = self._tally
        elapsed = self._elapsed()
        if finished:
            rate = t.sent / elapsed if elapsed > 0 else 0.0
        else:
            rate = self._meter.rate(self._started + elapsed, t.sent, self._started)
        done = t.succeeded + t.failed + t.skipped
        eta = None
        if self.total is not None and rate > 0:
            eta = max(self.total - done, 0) / rate
        return Progress(
            job=self.job,
            total=self.total,
            seen=t.seen,
            done=done,
            succeeded=t.succeeded,
            failed=t.failed,
            skipped=t.skipped,
            replayed=t.replayed,
            created=t.created,
            updated=t.updated,
            in_flight=t.in_flight,
            elapsed=elapsed,
            rate=rate,
            eta=eta,
            finished=finished,
        )

    def _report_progress(self, *, finished: bool) -> None:
        assert self._on_progress is not None
        self._on_progress(self._snapshot(finished=finished))

    def _warn_if_stale(self, run: RunStart, journal: Journal) -> None:
        if not run.stale:
            return
        self._replay_window_expired = True
        age = time.time() - run.oldest_stale if run.oldest_stale is not None else math.nan
        then = (
            "they will be sent again with the same key and may be applied twice (harmless for "
            "upserts such as members.create; pass uncertain='skip' to hold them instead)"
            if self._resend_uncertain
            else "they are held in state 'uncertain' and not sent (uncertain='skip')"
        )
        logger.warning(
            "bulk job %r: %d item(s) of an earlier run have an unknown outcome (in flight when "
            "it stopped, or failed without an answer) and were sent %.0f s ago, longer than the "
            "server's %.0f s idempotency replay window: the server no longer replays their keys; "
            "%s",
            self.job,
            run.stale,
            age,
            journal.replay_window,
            then,
        )


async def run_bulk(
    items: Iterable[T] | AsyncIterable[T],
    fn: Callable[[BulkItem[T]], Awaitable[R]],
    *,
    job: str,
    key: Callable[[T], object] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    error_budget: ErrorBudget | int | float | None = None,
    journal: Journal | None = None,
    on_progress: Callable[[Progress], object] | None = None,
    progress_interval: float = 0.5,
    on_result: Callable[[ItemResult[T, R]], object] | None = None,
    keep_results: bool = False,
    total: int | None = None,
    cancel_grace: float = DEFAULT_CANCEL_GRACE,
    uncertain: Literal["resend", "skip"] = "resend",
    batch_size: int | None = None,
    max_failure_samples: int = 20,
    content_hash: Callable[[T], str] | None = None,
    result_id: Callable[[R], object] | None = None,
    resend_done: bool = False,
) -> BulkSummary[T, R]:
    """``await BulkJob(items, fn, job=..., ...).run()``: see :class:`BulkJob`.

    A cancellation or ``KeyboardInterrupt`` propagates carrying the summary::

        try:
            summary = await run_bulk(rows, send, job="sync", journal=journal)
        except BaseException as exc:
            summary = summary_of(exc)   # None: not a stop of the run
            if summary is not None:
                print(summary.describe())
            raise
    """
    job_ = BulkJob(
        items,
        fn,
        job=job,
        key=key,
        concurrency=concurrency,
        error_budget=error_budget,
        journal=journal,
        on_progress=on_progress,
        progress_interval=progress_interval,
        on_result=on_result,
        keep_results=keep_results,
        total=total,
        cancel_grace=cancel_grace,
        uncertain=uncertain,
        batch_size=batch_size,
        max_failure_samples=max_failure_samples,
        content_hash=content_hash,
        result_id=result_id,
        resend_done=resend_done,
    )
    return await job_.run()


def summary_of(exc: BaseException) -> BulkSummary[Any, Any] | None:
    """The summary a cancelled or interrupted run attached to the exception it raised
    (a ``CancelledError`` or ``KeyboardInterrupt``), else ``None``."""
    summary = getattr(exc, _SUMMARY_ATTRIBUTE, None)
    return summary if isinstance(summary, BulkSummary) else None


# -- helpers -------------------------------------------------------------------------------------


async def _iterate(
    receive: anyio.abc.ObjectReceiveStream[ItemResult[T, R]],
) -> AsyncIterator[ItemResult[T, R]]:
    async for result in receive:
        yield result


_SUMMARY_ATTRIBUTE: Final = "tightknit_bulk_summary"


def _is_interrupt(exc: BaseException) -> bool:
    return isinstance(exc, KeyboardInterrupt | anyio.get_cancelled_exc_class())


def _checked_hash(digest: object, index: int) -> str:
    if not isinstance(digest, str) or not digest:
        raise TypeError(f"content_hash() must give a non-empty str for item #{index}: {digest!r}")
    return digest


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")


def _outcome_name(created: object) -> str:
    if isinstance(created, bool):
        return "created" if created else "updated"
    return "ok"


def _maybe_applied(error: BaseException) -> bool:
    """Whether a failed item might have been applied by the server all the same.

    No: refused before sending (validation, a bad key, no governor slot) or answered with a
    4xx other than 408/409 (the server ran nothing, or rejected it). Yes: no answer
    (connection lost, timeout), 408, 409 (still in flight), 5xx, and anything unknown.
    """
    if isinstance(error, RequestValidationError | IdempotencyKeyError | GovernorTimeoutError):
        return False
    if isinstance(error, APIStatusError):
        status = error.status_code
        return status >= 500 or status in (408, 409)
    if isinstance(error, APIConnectionError):
        return True
    return True


def _unwrap(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception of a (nested) group, or the group when it holds several."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    return leaves[0] if len(leaves) == 1 else group
