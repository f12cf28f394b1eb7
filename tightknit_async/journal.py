"""The bulk journal: a SQLite file recording, per job and item, its key, state and outcome.

A :class:`Journal` given to a bulk job (:mod:`tightknit_async.bulk`) lets it be stopped at any
point and run again: done items are skipped, the others resent with the same idempotency keys.
What is and is not guaranteed (past the server's 1-hour replay window, after a crash, a power
loss) is described in :mod:`tightknit_async.bulk._journal`, where it is implemented.

:class:`PostgresJournal` keeps the same rows in PostgreSQL, for a job that must outlive its
machine or be shared by several workers (:mod:`tightknit_async.bulk._journal_postgres`).
:func:`open_journal` gives either from a path or a ``postgresql://`` URL.
"""

from .bulk._journal import (
    ItemClaim,
    Journal,
    JournalEntry,
    JournalError,
    JournalStatistics,
    RunRecord,
    RunStart,
)
from .bulk._journal_postgres import PostgresJournal
from .bulk._journals import open_journal

__all__ = [
    "ItemClaim",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalStatistics",
    "PostgresJournal",
    "RunRecord",
    "RunStart",
    "open_journal",
]
