"""The bulk journal: a SQLite file recording, per job and item, its key, state and outcome.

A :class:`Journal` given to a bulk job (:mod:`tightknit_async.bulk`) lets it be stopped at any
point and run again: done items are skipped, the others resent with the same idempotency keys.
What is and is not guaranteed (past the server's 1-hour replay window, after a crash, a power
loss) is described in :mod:`tightknit_async.bulk._journal`, where it is implemented.
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

__all__ = [
    "ItemClaim",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalStatistics",
    "RunRecord",
    "RunStart",
]
