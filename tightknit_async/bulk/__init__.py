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

Built on it (see ``docs/bulk.md`` and ``docs/migrations.md``):

- sync: ``content_hash=hash_content`` sends only new and changed items on a re-run, each
  version under its own key (:func:`item_idempotency_key`); ``result_id=`` keeps what each item
  made (``journal.results(job)``); a stopped run's exception carries its summary
  (:func:`summary_of`);
- :func:`run_endpoint`: one request per row to any endpoint (``tightknit-async bulk``);
- :func:`export_records`, :func:`export_file`: every record of a list endpoint, to JSON Lines or
  CSV, resumable (``tightknit-async export``);
- :func:`event_create_args`, :func:`migrate_calendar_events`: calendar events copied between
  workspaces, exactly once.
"""

from ._budget import ErrorBudget, ErrorBudgetExceeded
from ._content import hash_content, item_idempotency_key
from ._endpoint import EndpointCall, EndpointRow, RequestTemplate, RowError, run_endpoint
from ._engine import BulkJob, run_bulk, summary_of
from ._export import (
    CsvWriter,
    ExportError,
    ExportPage,
    ExportSummary,
    JsonlWriter,
    export_file,
    export_pages,
    export_records,
    neutralise_cell,
)
from ._journals import open_journal
from ._migrate import (
    EventCreateArgs,
    calendar_event_from_record,
    event_create_args,
    migrate_calendar_events,
)
from ._progress import Progress, ProgressDisplay
from ._types import BulkItem, BulkSummary, DuplicateItemError, ItemResult, UncertainItemError

__all__ = [
    "BulkItem",
    "BulkJob",
    "BulkSummary",
    "CsvWriter",
    "DuplicateItemError",
    "EndpointCall",
    "EndpointRow",
    "ErrorBudget",
    "ErrorBudgetExceeded",
    "EventCreateArgs",
    "ExportError",
    "ExportPage",
    "ExportSummary",
    "ItemResult",
    "JsonlWriter",
    "Progress",
    "ProgressDisplay",
    "RequestTemplate",
    "RowError",
    "UncertainItemError",
    "calendar_event_from_record",
    "event_create_args",
    "export_file",
    "export_pages",
    "export_records",
    "hash_content",
    "item_idempotency_key",
    "migrate_calendar_events",
    "neutralise_cell",
    "open_journal",
    "run_bulk",
    "run_endpoint",
    "summary_of",
]
