"""Bulk jobs: stream any number of items through an async callable, bounded, resumable.

::

    from tightknit_async.bulk import run_bulk
    from tightknit_async.journal import Journal

    async with AsyncTightknit() as tk, Journal("members.sqlite3") as journal:
        summary = await run_bulk(
            rows,                                      # any iterable or async iterable
            lambda item: tk.members.create(**item.value, **item.options),
            job="crm-sync-2026-11",                    # names the job: keys and journal rows
            key=lambda row: row["email"],              # a stable id per item
            concurrency=16,
            error_budget=0.05,                         # stop if more than 5% fail
            journal=journal,                           # resume after a crash, skip what is done
        )
    print(summary.succeeded, summary.failed, summary.rate)

How it works:

- ``concurrency`` workers (an anyio task group: structured concurrency, nothing outlives the
  call) pull items from the input lazily, a chunk of ``batch_size`` at a time. Memory is bounded
  by ``concurrency + batch_size`` items, whatever the input's length; outcomes are streamed to
  ``on_result`` or :meth:`BulkJob.results` and counted, not kept (``keep_results=True`` keeps
  them).
- ``fn`` receives a :class:`BulkItem`: the item (``.value``), its id, and ``.options`` to pass to
  any resource method or ``request()``: ``idempotency_key=idempotency_key_for(job, item_id)``
  (stable across runs, so a re-run replays instead of applying twice) and ``priority="bulk"``
  (the governor serves interactive calls of the same key first).
- Each item's outcome is an :class:`ItemResult`: its result or the exception ``fn`` raised
  (a failure of that item, never of the job), HTTP attempts and whether it was a replay (read
  from the :class:`~tightknit_async.APIResponse` that ``fn`` returns, or hands to
  :meth:`BulkItem.observe` when it returns a model), and whether a journal skipped it.
- ``error_budget`` (a count, a ratio, or an :class:`ErrorBudget`) stops taking new items once
  exceeded; the items in flight finish; :meth:`BulkJob.run` then raises
  :class:`ErrorBudgetExceeded` carrying the summary. :meth:`BulkJob.stop` stops the same way.
- Cancellation (Ctrl-C under ``asyncio.run``, a cancelled task): no new item starts; items in
  flight get ``cancel_grace`` seconds to finish (their calls are shielded), then are abandoned;
  the journal is flushed; :attr:`BulkJob.summary` says where it stopped (``resume_index``, the
  abandoned ids); the cancellation propagates.
- With a :class:`~tightknit_async.journal.Journal`, items done in an earlier run of the same
  ``job`` are skipped, unfinished ones resent with the same key (see that module for exactly
  what is and is not guaranteed past the server's 1-hour replay window).

Errors of the input itself (its iterator, the ``key`` function), of the journal or of the hooks
stop the job: in-flight items get the ``cancel_grace`` to finish, the journal is flushed, then
the error propagates (``summary.stopped == "error"``).
"""

from ._budget import ErrorBudget, ErrorBudgetExceeded
from ._engine import BulkJob, run_bulk
from ._progress import Progress, ProgressDisplay
from ._types import BulkItem, BulkSummary, DuplicateItemError, ItemResult, UncertainItemError

__all__ = [
    "BulkItem",
    "BulkJob",
    "BulkSummary",
    "DuplicateItemError",
    "ErrorBudget",
    "ErrorBudgetExceeded",
    "ItemResult",
    "Progress",
    "ProgressDisplay",
    "UncertainItemError",
    "run_bulk",
]
