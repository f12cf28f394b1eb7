"""The bulk journal: a SQLite file recording, per job and item, its key, state and outcome.

A bulk job (:mod:`tightknit_async.bulk`) that is given a :class:`Journal` can be stopped at any
point (Ctrl-C, a crash, ``SIGKILL``, a reboot) and run again with the same job name and input:
the re-run **skips** every item recorded ``done`` and **resends** every other one with the same
deterministic ``Idempotency-Key`` (:func:`~tightknit_async.idempotency_key_for`), so an item the
server already applied is answered from its replay cache instead of being applied again.

Rows are keyed by ``(job, item_id)``::

    state          pending -> in_flight -> done | failed          (uncertain: see below)
    idempotency_key, sends (runs that sent it), attempts (HTTP attempts, all runs),
    status, outcome ("created", "updated", "ok"), replayed, error_class, error_message,
    maybe_applied, last_sent_at, first_seen_at, updated_at, finished_at,
    content_hash (the digest of what was sent, when the job gives one),
    result_id (what the server's answer named: the created event's id, the member's id...)

**Sync.** When the job gives each item a content hash (``BulkJob(content_hash=...)``), an item
recorded ``done`` with another hash has changed since: it is claimed and sent again, with the key
of its new content (the engine derives keys from the item id *and* the hash, so the server applies
the change instead of replaying the earlier version). ``done`` with the same hash is skipped. A
``done`` row written without a hash (by a job that gave none, or before hashes were journaled) is
taken as unchanged, and the hash it is now given is recorded for the next run.

An item is marked ``in_flight`` (committed) *before* it is sent, and ``done`` or ``failed`` after
its answer, so after any crash its row says whether its outcome is known.

What is guaranteed, and what is not:

- An item recorded ``done`` is never sent again by a re-run of the job, however much later.
  This is the journal alone: it holds past the server's 1-hour replay window.
- An item whose outcome is unknown (``in_flight`` when the process died, or ``failed`` without an
  answer: a dropped connection, a timeout, a 5xx, a 409) is resent with the same key. Within the
  server's replay window (1 hour) that is exactly-once: the server replays what it applied.
- Past the window the server has forgotten the key, so such an item may be applied a second time.
  The journal cannot know whether the lost request reached the server; it reports these items as
  *uncertain* (a WARNING log line and ``replay_window_expired`` in the job's summary), and by
  default resends them. For upserts such as ``members.create`` (keyed by e-mail) a second apply
  is an update with the same data: harmless. For creates that are not upserts, run the job with
  ``uncertain="skip"``: such items are then held in state ``uncertain`` (reported as failures)
  for you to check, and never sent.
- At most one chunk of items (the engine's ``batch_size``) is marked ``in_flight`` ahead of being
  sent; after a crash those count as unknown too (resent with their key: harmless).
- Durability: WAL with ``synchronous=NORMAL`` survives the process being killed at any moment
  (every commit is in the OS's hands); after a power loss or OS crash the last commits may be
  lost (pass ``synchronous="FULL"`` to fsync every commit). One run of a job at a time: two
  processes running the same job concurrently are not coordinated by the journal (the server's
  idempotency still keeps them from applying an item twice within the window).

Nothing secret is stored: error messages are truncated to 500 characters, ``Bearer`` tokens and
the strings given as ``redact=`` (the CLI passes the API key) are replaced by ``<redacted>``.

All database work runs off the event loop, on one worker thread that owns the only connection.
Outcomes are queued without waiting and written in batches, one write transaction per batch.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Concatenate, Final, Literal, ParamSpec, Self, TypeAlias, TypeVar

from .._exceptions import TightknitError
from ..idempotency import DEFAULT_REPLAY_TTL

__all__ = [
    "ClaimRequest",
    "ItemClaim",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalStatistics",
    "RunRecord",
    "RunStart",
]

State: TypeAlias = Literal["pending", "in_flight", "done", "failed", "uncertain"]
ClaimAction: TypeAlias = Literal["send", "skip", "hold", "duplicate"]

SCHEMA_VERSION: Final = 2
MAX_MESSAGE: Final = 500
_MAX_VARIABLES: Final = 500  # ids per SELECT ... IN (...): far below SQLite's limit

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS items (
    job TEXT NOT NULL,
    item_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('pending', 'in_flight', 'done', 'failed', 'uncertain')),
    run_id TEXT,
    sends INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    maybe_applied INTEGER NOT NULL DEFAULT 0,
    last_sent_at REAL,
    status INTEGER,
    outcome TEXT,
    replayed INTEGER NOT NULL DEFAULT 0,
    error_class TEXT,
    error_message TEXT,
    first_seen_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    finished_at REAL,
    content_hash TEXT,
    result_id TEXT,
    PRIMARY KEY (job, item_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_by_state ON items (job, state);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    stopped TEXT,
    succeeded INTEGER,
    failed INTEGER,
    skipped INTEGER
);
CREATE INDEX IF NOT EXISTS runs_by_job ON runs (job, started_at);
"""
# Version 1 -> 2: the content hash (sync) and the result id (id maps of migrations).
_MIGRATE_1_TO_2: Final = (
    "ALTER TABLE items ADD COLUMN content_hash TEXT",
    "ALTER TABLE items ADD COLUMN result_id TEXT",
)

_RUN_COLUMNS: Final = "run_id, job, started_at, ended_at, stopped, succeeded, failed, skipped"
_ENTRY_COLUMNS: Final = (
    "job",
    "item_id",
    "idempotency_key",
    "state",
    "run_id",
    "sends",
    "attempts",
    "maybe_applied",
    "last_sent_at",
    "status",
    "outcome",
    "replayed",
    "error_class",
    "error_message",
    "first_seen_at",
    "updated_at",
    "finished_at",
    "content_hash",
    "result_id",
)
_BEARER: Final = re.compile(r"(?i)(bearer\s+)\S+")

T = TypeVar("T")
P = ParamSpec("P")
J = TypeVar("J", bound="Journal")


class JournalError(TightknitError):
    """The journal file cannot be used: another schema version, or a failed write."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One item's row (timestamps are seconds since the epoch)."""

    job: str
    item_id: str
    idempotency_key: str
    state: State
    run_id: str | None
    sends: int
    attempts: int
    maybe_applied: bool
    last_sent_at: float | None
    status: int | None
    outcome: str | None
    replayed: bool
    error_class: str | None
    error_message: str | None
    first_seen_at: float
    updated_at: float
    finished_at: float | None
    content_hash: str | None = None
    result_id: str | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of a job: when, and how it stopped (``stopped`` is None if it never said: the
    process died)."""

    run_id: str
    job: str
    started_at: float
    ended_at: float | None
    stopped: str | None
    succeeded: int | None
    failed: int | None
    skipped: int | None


@dataclass(frozen=True, slots=True)
class RunStart:
    """What :meth:`Journal.begin_run` found: the new run's id and the job's earlier state.

    ``unfinished``: items of earlier runs not ``done``; ``stale``: those of them whose outcome is
    unknown and which were last sent more than the replay window ago (``oldest_stale``: when the
    oldest was sent); ``previous``: the latest earlier run, if any.
    """

    run_id: str
    job: str
    started_at: float
    done: int
    unfinished: int
    stale: int
    oldest_stale: float | None
    previous: RunRecord | None


@dataclass(frozen=True, slots=True)
class ItemClaim:
    """What to do with one item, decided (and committed) by :meth:`Journal.claim`.

    ``action``: ``send`` (now ``in_flight``), ``skip`` (``done`` in an earlier run, with the same
    content hash or none), ``hold`` (uncertain and ``resend_uncertain=False``: left in state
    ``uncertain``), ``duplicate`` (the same id already came up in this run). ``resumed``: an
    earlier run left it unfinished; ``uncertain``: its outcome is unknown and older than the
    replay window; ``changed``: an earlier run recorded it with another content hash (``done``:
    sent again for the change). The ``prior_*`` fields let :meth:`Journal.release` undo a
    ``send`` claim for an item that was never sent (its earlier state, key and hash back).
    """

    item_id: str
    action: ClaimAction
    resumed: bool = False
    uncertain: bool = False
    prior_state: str | None = None
    prior_run_id: str | None = None
    prior_last_sent_at: float | None = None
    prior_maybe_applied: bool = False
    changed: bool = False
    prior_idempotency_key: str | None = None
    prior_content_hash: str | None = None


@dataclass(frozen=True, slots=True)
class JournalStatistics:
    """Counters since the journal was opened: write transactions and the rows they wrote."""

    transactions: int
    outcomes_written: int
    claims: int


_Outcome: TypeAlias = tuple[
    str,  # state
    bool,  # maybe_applied
    int | None,  # status
    str | None,  # outcome
    bool,  # replayed
    int,  # attempts
    str | None,  # error_class
    str | None,  # error_message
    str | None,  # result_id
    float,  # finished_at
    float,  # updated_at
    str,  # job
    str,  # item_id
    str,  # run_id
]

ClaimRequest: TypeAlias = tuple[str, str] | tuple[str, str, str | None]
"""``(item_id, idempotency_key)`` or ``(item_id, idempotency_key, content_hash)``."""


def _on_worker(
    operation: Callable[Concatenate[J, P], T],
) -> Callable[Concatenate[J, P], Awaitable[T]]:
    """``operation`` as a coroutine run on the journal's worker thread, the one that owns the
    SQLite connection: the database operations the public methods run through
    :meth:`Journal._call` (a subclass keeping the rows elsewhere overrides each of them)."""

    async def on_worker(self: J, /, *args: P.args, **kwargs: P.kwargs) -> T:
        assert self._executor is not None
        return await asyncio.wrap_future(self._executor.submit(operation, self, *args, **kwargs))

    functools.update_wrapper(on_worker, operation)  # its name, docstring and __wrapped__
    return on_worker


class Journal:
    """A SQLite journal of bulk job items; open it with ``async with``.

    Args:
        path: the database file (created with its directory's permissions if missing).
        replay_window: seconds the server replays an idempotency key (Tightknit: 3600); items of
            unknown outcome last sent longer ago than this are *uncertain*.
        clock: wall-clock seconds since the epoch (``time.time``); the journal outlives processes,
            so it cannot use a monotonic clock. Tests pass a fake.
        synchronous: SQLite's ``synchronous`` setting: ``NORMAL`` (survives a killed process) or
            ``FULL`` (also survives power loss, an fsync per commit).
        redact: strings never to store (the API key); replaced by ``<redacted>`` in messages.
        owner: who the jobs belong to (the CLI passes the API key; only its SHA-256 is stored).
            A job begun under one owner raises ``JournalError`` when begun under another, so a
            journal is never shared across API keys.

    Raises:
        JournalError: on open, for a file written by an incompatible version.
        sqlite3.Error: if the file cannot be opened or written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        replay_window: float = DEFAULT_REPLAY_TTL,
        clock: Callable[[], float] = time.time,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        redact: Iterable[str] = (),
        owner: str | None = None,
    ) -> None:
        if not replay_window > 0:
            raise ValueError(f"replay_window must be > 0 seconds, got {replay_window!r}")
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        self.path = os.fspath(path)
        self.replay_window = float(replay_window)
        self._clock = clock
        self._synchronous = synchronous
        self._redact = tuple(secret for secret in redact if secret)
        # A digest of whoever owns the jobs (the CLI passes the API key): a job journaled for one
        # tenant is never resumed, or skipped as done, under another.
        self._owner = None if owner is None else hashlib.sha256(owner.encode()).hexdigest()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # touched by the worker thread only
        self._lock = threading.Lock()
        self._queued: list[_Outcome] = []
        self._flush_scheduled = False
        self._write_error: BaseException | None = None
        self._closed = False
        self._transactions = self._outcomes_written = self._claims = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> Self:
        """Open (creating if needed) the file; idempotent. Also done by ``async with``."""
        if self._closed:
            raise JournalError("this Journal is closed; create a new one")
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="tightknit-journal"
            )
            try:
                await asyncio.wrap_future(self._executor.submit(self._connect))
            except BaseException:
                self._executor.shutdown(wait=False)
                self._executor = None
                raise
        return self

    async def aclose(self) -> None:
        """Write what is queued, close the connection and stop the thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.wrap_future(executor.submit(self._close_connection))
        finally:
            executor.shutdown(wait=False)
        self._raise_write_error()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._opened() else "not opened"
        return f"<{type(self).__name__} {self.path!r} {state} transactions={self._transactions}>"

    def statistics(self) -> JournalStatistics:
        """Write transactions committed and outcome rows written so far."""
        return JournalStatistics(
            transactions=self._transactions,
            outcomes_written=self._outcomes_written,
            claims=self._claims,
        )

    # -- the engine's side -----------------------------------------------------------------

    async def begin_run(self, job: str) -> RunStart:
        """Register a new run of ``job`` and report what earlier runs left behind."""
        return await self._call(self._begin_run, _check_job(job))

    async def claim(
        self,
        job: str,
        run_id: str,
        items: Sequence[ClaimRequest],
        *,
        resend_uncertain: bool = True,
    ) -> list[ItemClaim]:
        """Decide, in one transaction, what to do with each ``(item_id, idempotency_key)`` or
        ``(item_id, idempotency_key, content_hash)``.

        New and unfinished items become ``in_flight`` (committed before this returns, so before
        they are sent), recording the key and hash given; ``done`` items are skipped, unless
        both the row and the request carry a content hash and the two differ: then the item is
        claimed (``changed=True``) and sent with its new key. Returns one :class:`ItemClaim` per
        item, in order.
        """
        if not items:
            return []
        return await self._call(self._claim, job, run_id, _requests(items), resend_uncertain)

    def record(
        self,
        job: str,
        run_id: str,
        item_id: str,
        *,
        ok: bool,
        maybe_applied: bool = False,
        status: int | None = None,
        outcome: str | None = None,
        replayed: bool = False,
        attempts: int = 1,
        error: BaseException | None = None,
        result_id: str | None = None,
    ) -> None:
        """Queue an item's outcome (``done`` if ``ok``, else ``failed``); returns at once.

        ``result_id``: what the answer named (a created record's id), kept for
        :meth:`results`; ``None`` keeps the one recorded before, if any.

        Queued outcomes are written in batches, one transaction each; :meth:`flush` waits for
        them. A failed write is raised by the next awaited call.
        """
        self._check_open()
        now = self._clock()
        error_class = error_message = None
        if error is not None:
            error_class = type(error).__name__
            error_message = self._scrub(str(error))
        self._enqueue(
            (
                "done" if ok else "failed",
                bool(maybe_applied and not ok),
                status,
                outcome,
                bool(replayed),
                attempts,
                error_class,
                error_message,
                result_id,
                now,
                now,
                job,
                item_id,
                run_id,
            )
        )

    def _enqueue(self, row: _Outcome) -> None:
        """Queue ``row`` for the worker thread, which writes what is queued in one transaction."""
        with self._lock:
            self._queued.append(row)
            if self._flush_scheduled:
                return
            self._flush_scheduled = True
        assert self._executor is not None
        self._executor.submit(self._write_queued)

    async def release(self, job: str, run_id: str, claims: Sequence[ItemClaim]) -> None:
        """Undo ``send`` claims of items that were never sent (back to their earlier state, or
        ``pending`` for new ones)."""
        sends = [claim for claim in claims if claim.action == "send"]
        if sends:
            await self._call(self._release, job, run_id, sends)

    async def end_run(
        self, run_id: str, stopped: str, *, succeeded: int, failed: int, skipped: int
    ) -> None:
        """Write what is queued and record how the run stopped."""
        await self._call(self._end_run, run_id, stopped, succeeded, failed, skipped)

    async def flush(self) -> None:
        """Wait until every queued outcome is committed."""
        await self._call(self._barrier)

    # -- inspection ------------------------------------------------------------------------

    async def counts(self, job: str) -> dict[str, int]:
        """Items of ``job`` per state (states with no item are left out)."""
        return await self._call(self._counts, job)

    async def entry(self, job: str, item_id: str) -> JournalEntry | None:
        """One item's row, or ``None``."""
        rows = await self._call(self._select_entries, job, None, item_id, 1)
        return rows[0] if rows else None

    async def entries(
        self, job: str, *, states: Iterable[State] | None = None, limit: int | None = None
    ) -> list[JournalEntry]:
        """Rows of ``job`` (optionally only in ``states``), oldest first, at most ``limit``."""
        wanted = None if states is None else tuple(states)
        return await self._call(self._select_entries, job, wanted, None, limit)

    async def runs(self, job: str) -> list[RunRecord]:
        """The runs of ``job``, oldest first."""
        return await self._call(self._select_runs, job)

    async def lookup(self, job: str, item_ids: Iterable[str]) -> dict[str, JournalEntry]:
        """The rows of these items of ``job`` that exist, by item id (a dry run's question:
        which of these are new, changed or done)."""
        wanted = list(item_ids)
        if not wanted:
            return {}
        return await self._call(self._lookup, job, wanted)

    async def results(self, job: str) -> dict[str, str]:
        """``{item_id: result_id}`` of the items of ``job`` done with a result id recorded: in
        a migration, the source id -> destination id map."""
        return await self._call(self._results, job)

    # -- the backend seam ------------------------------------------------------------------

    async def _call(
        self, operation: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run one database operation of a public method (one of its own, such as
        :meth:`_begin_run`: here, on the worker thread) and raise a failed write of queued
        outcomes. A subclass keeping the rows elsewhere overrides this, :meth:`_opened`,
        :meth:`_enqueue` and the operations."""
        self._check_open()
        result = await operation(*args, **kwargs)
        self._raise_write_error()
        return result

    def _opened(self) -> bool:
        """Whether :meth:`open` has connected, and :meth:`aclose` not yet disconnected."""
        return self._executor is not None

    def _check_open(self) -> None:
        if self._closed:
            raise JournalError("this Journal is closed")
        if not self._opened():
            raise JournalError("open the Journal first (async with Journal(...) as journal)")

    def _raise_write_error(self) -> None:
        error, self._write_error = self._write_error, None
        if error is not None:
            raise JournalError(f"writing to the journal {self.path!r} failed: {error}") from error

    def _scrub(self, text: str) -> str:
        for secret in self._redact:
            text = text.replace(secret, "<redacted>")
        text = _BEARER.sub(r"\1<redacted>", text)
        return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."

    # -- the worker thread -----------------------------------------------------------------

    def _connect(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(f"{self.path!r}: SQLite refused WAL mode (got {mode!r})")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, 1, SCHEMA_VERSION):
                raise JournalError(
                    f"{self.path!r} is a journal of schema version {version}; this version of "
                    f"tightknit_async reads version {SCHEMA_VERSION}"
                )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS owners (job TEXT PRIMARY KEY, owner TEXT NOT NULL) "
                "WITHOUT ROWID"
            )
            if version == 0:
                conn.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            elif version == 1:
                conn.execute("BEGIN IMMEDIATE")
                columns = {row[1] for row in conn.execute("PRAGMA table_info(items)")}
                for statement in _MIGRATE_1_TO_2:
                    if statement.split()[5] not in columns:  # ADD COLUMN <name>
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _close_connection(self) -> None:
        self._write_queued()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _db(self) -> sqlite3.Connection:
        assert self._conn is not None
        return self._conn

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self._transactions += 1
        return result

    def _write_queued(self) -> None:
        with self._lock:
            batch, self._queued = self._queued, []
            self._flush_scheduled = False
        if not batch or self._conn is None:
            return
        try:
            self._transaction(
                lambda conn: conn.executemany(
                    "UPDATE items SET state = ?, maybe_applied = ?, status = ?, outcome = ?, "
                    "replayed = ?, attempts = attempts + ?, error_class = ?, error_message = ?, "
                    "result_id = coalesce(?, result_id), finished_at = ?, updated_at = ? "
                    "WHERE job = ? AND item_id = ? AND run_id = ?",
                    batch,
                )
            )
        except Exception as exc:
            self._write_error = exc
            return
        self._outcomes_written += len(batch)

    @_on_worker
    def _barrier(self) -> None:
        """Nothing: on the worker thread, it runs after every write queued before it."""

    @_on_worker
    def _begin_run(self, job: str) -> RunStart:
        self._write_queued()
        now = self._clock()
        cutoff = now - self.replay_window
        run_id = uuid.uuid4().hex

        def work(conn: sqlite3.Connection) -> RunStart:
            if self._owner is not None:
                conn.execute(
                    "INSERT OR IGNORE INTO owners (job, owner) VALUES (?, ?)", (job, self._owner)
                )
                (recorded,) = conn.execute(
                    "SELECT owner FROM owners WHERE job = ?", (job,)
                ).fetchone()
                if recorded != self._owner:
                    raise JournalError(
                        f"job {job!r} in {self.path!r} was journaled under another API key: a "
                        "journal is never shared across keys (use another journal or job name)"
                    )
            done = conn.execute(
                "SELECT count(*) FROM items WHERE job = ? AND state = 'done'", (job,)
            ).fetchone()[0]
            unfinished = conn.execute(
                "SELECT count(*) FROM items WHERE job = ? AND state != 'done'", (job,)
            ).fetchone()[0]
            stale, oldest = conn.execute(
                "SELECT count(*), min(last_sent_at) FROM items WHERE job = ? AND state != 'done' "
                "AND maybe_applied = 1 AND last_sent_at < ?",
                (job, cutoff),
            ).fetchone()
            previous = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE job = ? ORDER BY started_at DESC LIMIT 1",
                (job,),
            ).fetchone()
            conn.execute(
                "INSERT INTO runs (run_id, job, started_at) VALUES (?, ?, ?)", (run_id, job, now)
            )
            return RunStart(
                run_id=run_id,
                job=job,
                started_at=now,
                done=done,
                unfinished=unfinished,
                stale=stale,
                oldest_stale=oldest,
                previous=None if previous is None else RunRecord(*previous),
            )

        return self._transaction(work)

    @_on_worker
    def _claim(
        self,
        job: str,
        run_id: str,
        items: list[tuple[str, str, str | None]],
        resend_uncertain: bool,
    ) -> list[ItemClaim]:
        self._write_queued()  # earlier outcomes first: a duplicate id must see them
        now = self._clock()
        cutoff = now - self.replay_window

        def work(conn: sqlite3.Connection) -> list[ItemClaim]:
            # item_id -> (state, run_id, last_sent_at, maybe_applied, key, content_hash)
            known: dict[str, tuple[str, str | None, float | None, int, str, str | None]] = {}
            ids = [item_id for item_id, _, _ in items]
            for start in range(0, len(ids), _MAX_VARIABLES):
                chunk = ids[start : start + _MAX_VARIABLES]
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    "SELECT item_id, state, run_id, last_sent_at, maybe_applied, "
                    "idempotency_key, content_hash FROM items "
                    f"WHERE job = ? AND item_id IN ({marks})",
                    (job, *chunk),
                ):
                    known[row[0]] = (row[1], row[2], row[3], row[4], row[5], row[6])
            claims: list[ItemClaim] = []
            for item_id, key, content_hash in items:
                prior = known.get(item_id)
                if prior is None:
                    conn.execute(
                        "INSERT INTO items (job, item_id, idempotency_key, state, run_id, sends, "
                        "maybe_applied, last_sent_at, first_seen_at, updated_at, content_hash) "
                        "VALUES (?, ?, ?, 'in_flight', ?, 1, 1, ?, ?, ?, ?)",
                        (job, item_id, key, run_id, now, now, now, content_hash),
                    )
                    known[item_id] = ("in_flight", run_id, now, 1, key, content_hash)
                    claims.append(ItemClaim(item_id, "send"))
                    continue
                state, prior_run, last_sent, maybe, prior_key, prior_hash = prior
                if prior_run == run_id:
                    claims.append(ItemClaim(item_id, "duplicate"))
                    continue
                changed = (
                    content_hash is not None
                    and prior_hash is not None
                    and content_hash != prior_hash
                )
                if state == "done" and not changed:
                    if content_hash is not None and prior_hash is None:
                        conn.execute(  # taken as unchanged: compare with this hash next time
                            "UPDATE items SET content_hash = ? WHERE job = ? AND item_id = ?",
                            (content_hash, job, item_id),
                        )
                    claims.append(ItemClaim(item_id, "skip"))
                    continue
                uncertain = (
                    state != "done" and bool(maybe) and last_sent is not None and last_sent < cutoff
                )
                if uncertain and not resend_uncertain:
                    conn.execute(
                        "UPDATE items SET state = 'uncertain', run_id = ?, updated_at = ? "
                        "WHERE job = ? AND item_id = ?",
                        (run_id, now, job, item_id),
                    )
                    action: ClaimAction = "hold"
                else:
                    conn.execute(
                        "UPDATE items SET state = 'in_flight', run_id = ?, sends = sends + 1, "
                        "maybe_applied = 1, last_sent_at = ?, idempotency_key = ?, "
                        "content_hash = coalesce(?, content_hash), updated_at = ? "
                        "WHERE job = ? AND item_id = ?",
                        (run_id, now, key, content_hash, now, job, item_id),
                    )
                    action = "send"
                known[item_id] = (state, run_id, last_sent, maybe, key, content_hash)
                claims.append(
                    ItemClaim(
                        item_id,
                        action,
                        resumed=state != "done",
                        uncertain=uncertain,
                        prior_state=state,
                        prior_run_id=prior_run,
                        prior_last_sent_at=last_sent,
                        prior_maybe_applied=bool(maybe),
                        changed=changed,
                        prior_idempotency_key=prior_key,
                        prior_content_hash=prior_hash,
                    )
                )
            return claims

        claims = self._transaction(work)
        self._claims += len(claims)
        return claims

    @_on_worker
    def _release(self, job: str, run_id: str, claims: list[ItemClaim]) -> None:
        self._write_queued()
        now = self._clock()
        rows = [
            (
                claim.prior_state or "pending",
                claim.prior_run_id,
                claim.prior_last_sent_at,
                int(claim.prior_maybe_applied),
                claim.prior_idempotency_key,
                claim.prior_state is not None,
                claim.prior_content_hash,
                now,
                job,
                claim.item_id,
                run_id,
            )
            for claim in claims
        ]
        # A claim of a changed item that was never sent must go back to its earlier key and
        # hash: back to ``done`` with the new hash, the change would be skipped next time.
        self._transaction(
            lambda conn: conn.executemany(
                "UPDATE items SET state = ?, run_id = ?, last_sent_at = ?, maybe_applied = ?, "
                "idempotency_key = coalesce(?, idempotency_key), "
                "content_hash = CASE WHEN ? THEN ? ELSE content_hash END, "
                "sends = sends - 1, updated_at = ? "
                "WHERE job = ? AND item_id = ? AND run_id = ? AND state = 'in_flight'",
                rows,
            )
        )

    @_on_worker
    def _end_run(
        self, run_id: str, stopped: str, succeeded: int, failed: int, skipped: int
    ) -> None:
        self._write_queued()
        now = self._clock()
        self._transaction(
            lambda conn: conn.execute(
                "UPDATE runs SET ended_at = ?, stopped = ?, succeeded = ?, failed = ?, "
                "skipped = ? WHERE run_id = ?",
                (now, stopped, succeeded, failed, skipped, run_id),
            )
        )

    @_on_worker
    def _counts(self, job: str) -> dict[str, int]:
        self._write_queued()
        rows = self._db().execute(
            "SELECT state, count(*) FROM items WHERE job = ? GROUP BY state", (job,)
        )
        return {str(state): int(count) for state, count in rows}

    @_on_worker
    def _select_entries(
        self,
        job: str,
        states: tuple[str, ...] | None,
        item_id: str | None,
        limit: int | None,
    ) -> list[JournalEntry]:
        self._write_queued()
        sql = f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM items WHERE job = ?"
        args: list[object] = [job]
        if item_id is not None:
            sql += " AND item_id = ?"
            args.append(item_id)
        if states is not None:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args.extend(states)
        sql += " ORDER BY first_seen_at, item_id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_entry(row) for row in self._db().execute(sql, args)]

    @_on_worker
    def _lookup(self, job: str, item_ids: list[str]) -> dict[str, JournalEntry]:
        self._write_queued()
        found: dict[str, JournalEntry] = {}
        columns = ", ".join(_ENTRY_COLUMNS)
        for start in range(0, len(item_ids), _MAX_VARIABLES):
            chunk = item_ids[start : start + _MAX_VARIABLES]
            marks = ",".join("?" * len(chunk))
            for row in self._db().execute(
                f"SELECT {columns} FROM items WHERE job = ? AND item_id IN ({marks})",
                (job, *chunk),
            ):
                entry = _entry(row)
                found[entry.item_id] = entry
        return found

    @_on_worker
    def _results(self, job: str) -> dict[str, str]:
        self._write_queued()
        rows = self._db().execute(
            "SELECT item_id, result_id FROM items WHERE job = ? AND state = 'done' "
            "AND result_id IS NOT NULL ORDER BY first_seen_at, item_id",
            (job,),
        )
        return {str(item_id): str(result_id) for item_id, result_id in rows}

    @_on_worker
    def _select_runs(self, job: str) -> list[RunRecord]:
        self._write_queued()
        rows = self._db().execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE job = ? ORDER BY started_at", (job,)
        )
        return [RunRecord(*row) for row in rows]


def _entry(row: Sequence[object]) -> JournalEntry:
    values: dict[str, Any] = dict(zip(_ENTRY_COLUMNS, row, strict=True))
    values["maybe_applied"] = bool(values["maybe_applied"])
    values["replayed"] = bool(values["replayed"])
    return JournalEntry(**values)


def _requests(items: Sequence[ClaimRequest]) -> list[tuple[str, str, str | None]]:
    """Claim requests as ``(item_id, idempotency_key, content_hash)``."""
    return [(entry[0], entry[1], entry[2] if len(entry) > 2 else None) for entry in items]


def _check_job(job: object) -> str:
    if not isinstance(job, str) or not job:
        raise ValueError(f"job must be a non-empty str, got {job!r}")
    return job
