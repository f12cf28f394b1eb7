"""The bulk journal in PostgreSQL: a job that outlives its machine, shared by several workers.

:class:`PostgresJournal` keeps the rows of :class:`~tightknit_async.journal.Journal` (the SQLite
journal: same states, same guarantees past the server's replay window, same inspection methods)
in a PostgreSQL database, so that a job survives the loss of the machine that ran it, and several
workers, on one host or many, can run one job at once::

    async with PostgresJournal("postgresql://app@db.internal/jobs", owner=api_key) as journal:
        await run_bulk(rows, fn, job="crm-sync", key=..., journal=journal)

Every worker is given the same input and the same job name; the journal decides who sends what:

- **Claims.** A worker claims a batch of items in one transaction (``SELECT ... FOR UPDATE SKIP
  LOCKED``: it never waits on the row locks of another worker's claim). An item already claimed
  by another live worker is never sent twice: the batch waits, holding none of its items, until
  that worker records it (then it is skipped, or resent if it failed) or stops. Given the same
  input, workers therefore do not split the work: the first sends, the others follow just
  behind it, ready to take over.
- **Runs and leases.** Each worker's run holds a PostgreSQL advisory lock for as long as its
  connection lives, and renews a lease (``lease`` seconds, default 30; on the database's clock,
  so the hosts' clocks do not matter) every ``lease / 3`` seconds. A run is live while both hold.
  A worker killed outright (``SIGKILL``, OOM) closes its connection: its lock goes at once and
  its items in flight are taken over at once. A worker cut off without its connection closing (a
  frozen VM, a lost host) is taken over when its lease runs out; a transaction it left open is
  ended by the server after ``max(lease, 5)`` seconds (``idle_in_transaction_session_timeout``;
  every write is one statement, never a pipeline, so that this always applies).
- **Take-over.** The items of a stopped run are resent by whichever worker reaches them, with the
  same idempotency key (it comes from the item), so the server replays what the stopped worker
  had applied instead of applying it again. A worker that was only paused and comes back finds
  its items taken; what it sends again is replayed too, and its outcomes for items now owned by
  another run are not written.
- **The whole job.** A worker whose input is exhausted has waited for every item of it, so its
  summary covers the whole job: items done by other workers count as skipped.
- **Cancellation.** The engine shields a claim, so a worker waiting for another's batch stops on
  Ctrl-C once that batch is settled (at most the lease, when the other worker is frozen).

Tables (created on first use, in the first schema of the connection's ``search_path``; pass
``options=-csearch_path%3Dmyschema`` in the URL to choose): ``tightknit_journal_items``,
``tightknit_journal_runs``, ``tightknit_journal_owners``, ``tightknit_journal_meta``.

The driver is ``psycopg`` 3 (the ``postgres`` extra), imported when a journal is opened. All
database work runs on one connection per journal, on the event loop (asyncio).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, ParamSpec, Self, TypeAlias, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..idempotency import DEFAULT_REPLAY_TTL
from ._journal import (
    _ENTRY_COLUMNS,
    _RUN_COLUMNS,
    ClaimAction,
    ClaimRequest,
    ItemClaim,
    Journal,
    JournalEntry,
    JournalError,
    RunRecord,
    RunStart,
    _entry,
    _Outcome,
    _requests,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["DEFAULT_LEASE", "PostgresJournal", "is_postgres_url", "redact_url"]

logger: Final = logging.getLogger("tightknit_async.bulk")

SCHEMA_VERSION: Final = 1
DEFAULT_LEASE: Final = 30.0
URL_SCHEMES: Final = ("postgresql", "postgres")
_LOCK_CLASS: Final = 0x746B_6A6C  # "tkjl": the first key of every advisory lock the journal takes
_LOCK_KEYS: Final = 2**31 - 1
_FIRST_POLL: Final = 0.02
_MAX_POLL: Final = 0.25
_LOCK_TIMEOUT_MS: Final = 2000

_ITEMS: Final = "tightknit_journal_items"
_RUNS: Final = "tightknit_journal_runs"
_OWNERS: Final = "tightknit_journal_owners"
_META: Final = "tightknit_journal_meta"
_NOW: Final = "extract(epoch FROM clock_timestamp())::float8"  # the database's clock

_SCHEMA: Final = f"""
CREATE TABLE IF NOT EXISTS {_META} (
    name text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE IF NOT EXISTS {_ITEMS} (
    job text COLLATE "C" NOT NULL,
    item_id text COLLATE "C" NOT NULL,
    idempotency_key text NOT NULL,
    state text NOT NULL
        CHECK (state IN ('pending', 'in_flight', 'done', 'failed', 'uncertain')),
    run_id text,
    sends integer NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    maybe_applied boolean NOT NULL DEFAULT false,
    last_sent_at double precision,
    status integer,
    outcome text,
    replayed boolean NOT NULL DEFAULT false,
    error_class text,
    error_message text,
    first_seen_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    finished_at double precision,
    content_hash text,
    result_id text,
    PRIMARY KEY (job, item_id)
);
CREATE INDEX IF NOT EXISTS {_ITEMS}_by_state ON {_ITEMS} (job, state);
CREATE TABLE IF NOT EXISTS {_RUNS} (
    seq bigint GENERATED ALWAYS AS IDENTITY,
    run_id text PRIMARY KEY,
    job text COLLATE "C" NOT NULL,
    started_at double precision NOT NULL,
    ended_at double precision,
    stopped text,
    succeeded integer,
    failed integer,
    skipped integer,
    worker text,
    lock_key integer NOT NULL,
    lease_until double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS {_RUNS}_by_job ON {_RUNS} (job, started_at, seq);
CREATE TABLE IF NOT EXISTS {_OWNERS} (
    job text COLLATE "C" PRIMARY KEY,
    owner text NOT NULL
);
"""

T = TypeVar("T")
P = ParamSpec("P")

# state, run_id, last_sent_at, maybe_applied, idempotency_key, content_hash
_Known: TypeAlias = tuple[str, str | None, float | None, bool, str, str | None]


class _Held(Exception):
    """Some item of the batch is claimed by another live worker: claim nothing, wait, retry."""


def is_postgres_url(spec: object) -> bool:
    """Whether ``spec`` names a PostgreSQL journal: ``postgresql://`` or ``postgres://``.

    A URL that went through :class:`pathlib.Path` (which folds ``//`` into ``/``) counts too.
    """
    if not isinstance(spec, str | os.PathLike):
        return False
    text = os.fspath(spec)
    if not isinstance(text, str):
        return False
    scheme, sep, _ = text.partition(":/")
    return bool(sep) and scheme.lower() in URL_SCHEMES


def _url_of(spec: str | os.PathLike[str]) -> str:
    """The URL of ``spec``, with the ``//`` a :class:`pathlib.Path` folded away put back."""
    text = os.fspath(spec)
    scheme, _, rest = text.partition(":/")
    if not rest.startswith("/"):
        rest = "/" + rest
    return f"{scheme}:/{rest}"


def redact_url(url: str) -> str:
    """``url`` with its password (in the authority or a ``password=`` parameter) as ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    userinfo, at, hosts = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***@{hosts}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name == "password" for name, _ in pairs):
            query = urlencode(
                [(name, "***" if name == "password" else value) for name, value in pairs],
                safe="*/",
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class PostgresJournal(Journal):
    """A journal of bulk job items in PostgreSQL, shared by the workers of a job; open it with
    ``async with``. A :class:`~tightknit_async.journal.Journal` in every respect the engine
    uses (see the module for how several workers share a job).

    It has :class:`Journal`'s methods, with its own :meth:`open`, :meth:`aclose` and
    :meth:`claim`. Here :meth:`Journal.begin_run` also takes the new run's lock and starts its
    lease, :meth:`Journal.end_run` gives the lock up, and :meth:`Journal.record` writes an
    outcome only while its run still owns the item (another worker may have taken it over).

    Args:
        url: ``postgresql://user:password@host:port/database?...`` (libpq's URL; any of its
            parameters, such as ``sslmode``).
        replay_window, clock, redact, owner: as for :class:`Journal`. ``clock`` stamps the
            rows; leases run on the database's clock.
        lease: seconds after which a run that stopped renewing its lease (a frozen or lost
            worker whose connection did not close) is taken over (default 30). A worker renews
            it every ``lease / 3`` seconds.

    Raises:
        ValueError: a bad option or a URL that is not ``postgresql://``.
        JournalError: on open, when the driver is missing, the database cannot be reached, or
            it holds a journal of another schema version; later, when a write fails.
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        replay_window: float = DEFAULT_REPLAY_TTL,
        clock: Callable[[], float] = time.time,
        redact: Iterable[str] = (),
        owner: str | None = None,
        lease: float = DEFAULT_LEASE,
    ) -> None:
        if not is_postgres_url(url):
            raise ValueError(f"expected a postgresql:// URL, got {redact_url(os.fspath(url))!r}")
        if not lease > 0:
            raise ValueError(f"lease must be > 0 seconds, got {lease!r}")
        real_url = _url_of(url)
        super().__init__(
            real_url, replay_window=replay_window, clock=clock, redact=redact, owner=owner
        )
        self._url = real_url
        self.path = redact_url(real_url)  # what messages show: never the password
        self.lease = float(lease)
        self._pg: psycopg.AsyncConnection[Any] | None = None
        self._db_lock: asyncio.Lock | None = None
        self._error: type[Exception] = Exception
        self._contention: tuple[type[Exception], ...] = ()
        self._outcomes: list[_Outcome] = []
        self._flusher: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._runs: dict[str, int] = {}  # this journal's live runs -> their advisory lock keys
        self._worker = f"{socket.gethostname()}:{os.getpid()}"

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> Self:
        """Connect (creating the tables if needed); idempotent. Also done by ``async with``."""
        if self._closed:
            raise JournalError("this Journal is closed; create a new one")
        if self._opened():
            return self
        psycopg = _import_driver()
        from psycopg import errors

        self._error = psycopg.Error
        self._contention = (
            errors.LockNotAvailable,
            errors.DeadlockDetected,
            errors.SerializationFailure,
        )
        settings: dict[str, Any] = {"autocommit": True}
        try:
            if "application_name" not in psycopg.conninfo.conninfo_to_dict(self._url):
                settings["application_name"] = "tightknit-async journal"
            conn = await psycopg.AsyncConnection.connect(self._url, **settings)
        except psycopg.Error as exc:
            raise JournalError(f"cannot open the journal {self.path}: {exc}") from exc
        try:
            await self._prepare(conn)
        except BaseException as exc:
            await conn.close()
            if isinstance(exc, psycopg.Error):
                raise JournalError(f"cannot open the journal {self.path}: {exc}") from exc
            raise
        self._pg = conn
        self._db_lock = asyncio.Lock()
        self._heartbeat = asyncio.get_running_loop().create_task(
            self._renew_leases(), name="tightknit-journal-lease"
        )
        return self

    async def aclose(self) -> None:
        """Write what is queued and close the connection (which gives up this journal's runs'
        locks); idempotent."""
        if self._closed:
            return
        self._closed = True
        conn, lock = self._pg, self._db_lock
        if conn is None or lock is None:
            return
        try:
            async with lock:
                await self._write_outcomes()
        finally:
            for task in (self._heartbeat, self._flusher):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            self._heartbeat = self._flusher = None
            self._pg = None
            self._runs.clear()
            await conn.close()
        self._raise_write_error()

    # -- the engine's side -----------------------------------------------------------------

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

        As :meth:`Journal.claim`; and when another live worker holds some of the items, claims
        none of them and waits until it records them or stops, then decides.
        """
        if not items:
            return []
        batch = _requests(items)
        delay = _FIRST_POLL
        waiting = False
        while True:
            claims = await self._call(self._try_claim, job, run_id, batch, resend_uncertain)
            if claims is not None:
                self._claims += len(claims)
                if waiting:
                    logger.debug("bulk job %r: the items another worker held are settled", job)
                return claims
            if not waiting:
                waiting = True
                logger.debug(
                    "bulk job %r: another worker holds items of this batch; waiting for it to "
                    "record them, or for its lease (%g s) to run out",
                    job,
                    self.lease,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_POLL, self.lease / 4)

    # -- the backend seam ------------------------------------------------------------------

    async def _call(
        self, operation: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``operation`` alone on the connection, after the queued outcomes are written."""
        self._check_open()
        assert self._db_lock is not None
        async with self._db_lock:
            try:
                await self._write_outcomes()
                result = await operation(*args, **kwargs)
            except self._error as exc:
                raise JournalError(f"the journal {self.path}: {exc}") from exc
        self._raise_write_error()
        return result

    def _opened(self) -> bool:
        return self._pg is not None

    def _enqueue(self, row: _Outcome) -> None:
        """Queue ``row``: written in batches, one transaction each, and only while its run still
        owns the item (another worker may have taken it over)."""
        self._outcomes.append(row)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_in_background())

    async def _barrier(self) -> None:
        """Nothing: :meth:`_call` has written the queued outcomes before it."""

    def _pg_conn(self) -> psycopg.AsyncConnection[Any]:
        if self._pg is None:
            raise JournalError("this Journal is closed")
        return self._pg

    async def _pg_transaction(self, work: Callable[[psycopg.AsyncCursor[Any]], Awaitable[T]]) -> T:
        conn = self._pg_conn()
        async with conn.transaction(), conn.cursor() as cur:
            result = await work(cur)
        self._transactions += 1
        return result

    async def _prepare(self, conn: psycopg.AsyncConnection[Any]) -> None:
        # A worker frozen inside a transaction must not keep its row locks much past its
        # lease: the server ends such a transaction after idle_ms. A claim waits at most
        # _LOCK_TIMEOUT_MS for a lock of another's claim, then treats its rows as held.
        idle_ms = int(max(self.lease, 5.0) * 1000)
        await conn.execute(
            "SELECT set_config('lock_timeout', %s, false), "
            "set_config('idle_in_transaction_session_timeout', %s, false)",
            (f"{_LOCK_TIMEOUT_MS}ms", f"{idle_ms}ms"),
        )
        async with conn.transaction():
            # One opener at a time creates the tables. Wait for another a little longer than
            # the server takes to end the transaction of one frozen half-way through.
            await conn.execute(
                "SELECT set_config('lock_timeout', %s, true)", (f"{idle_ms + _LOCK_TIMEOUT_MS}ms",)
            )
            await conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (_LOCK_CLASS,))
            cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (_META,))
            row = await cur.fetchone()
            if row is None or not row[0]:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        await conn.execute(statement)
                await conn.execute(
                    f"INSERT INTO {_META} (name, value) VALUES ('schema_version', %s) "
                    "ON CONFLICT (name) DO NOTHING",
                    (str(SCHEMA_VERSION),),
                )
            cur = await conn.execute(f"SELECT value FROM {_META} WHERE name = 'schema_version'")
            row = await cur.fetchone()
        version = None if row is None else row[0]
        if version != str(SCHEMA_VERSION):
            raise JournalError(
                f"{self.path} holds a journal of schema version {version}; this version of "
                f"tightknit_async reads version {SCHEMA_VERSION}"
            )

    # -- outcomes --------------------------------------------------------------------------

    async def _flush_in_background(self) -> None:
        assert self._db_lock is not None
        with contextlib.suppress(JournalError):
            async with self._db_lock:
                await self._write_outcomes()

    async def _write_outcomes(self) -> None:
        batch, self._outcomes = self._outcomes, []
        if not batch or self._pg is None:
            return

        columns = list(zip(*batch, strict=True))

        async def work(cur: psycopg.AsyncCursor[Any]) -> None:
            # One statement (never a pipeline): a worker frozen half-way through a write leaves
            # its transaction idle, which the server ends after idle_in_transaction_session_timeout.
            await cur.execute(
                f"UPDATE {_ITEMS} AS i SET state = u.state, maybe_applied = u.maybe_applied, "
                "status = u.status, outcome = u.outcome, replayed = u.replayed, "
                "attempts = i.attempts + u.attempts, error_class = u.error_class, "
                "error_message = u.error_message, result_id = coalesce(u.result_id, i.result_id), "
                "finished_at = u.finished_at, updated_at = u.updated_at "
                "FROM unnest(%s::text[], %s::bool[], %s::int[], %s::text[], %s::bool[], "
                "%s::int[], %s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[], "
                "%s::text[], %s::text[], %s::text[]) AS u(state, maybe_applied, status, outcome, "
                "replayed, attempts, error_class, error_message, result_id, finished_at, "
                "updated_at, job, item_id, run_id) "
                "WHERE i.job = u.job AND i.item_id = u.item_id AND i.run_id = u.run_id",
                [list(column) for column in columns],
            )

        try:
            await self._pg_transaction(work)
        except Exception as exc:
            self._write_error = exc
            return
        self._outcomes_written += len(batch)

    # -- runs ------------------------------------------------------------------------------

    async def _begin_run(self, job: str) -> RunStart:
        """Take the run's lock, start its lease and register it."""
        now = self._clock()
        cutoff = now - self.replay_window
        run_id = uuid.uuid4().hex
        lock_key = await self._take_run_lock()

        async def work(cur: psycopg.AsyncCursor[Any]) -> RunStart:
            if self._owner is not None:
                await cur.execute(
                    f"INSERT INTO {_OWNERS} (job, owner) VALUES (%s, %s) "
                    "ON CONFLICT (job) DO NOTHING",
                    (job, self._owner),
                )
                await cur.execute(f"SELECT owner FROM {_OWNERS} WHERE job = %s", (job,))
                recorded = await cur.fetchone()
                if recorded is None or recorded[0] != self._owner:
                    raise JournalError(
                        f"job {job!r} in {self.path} was journaled under another API key: a "
                        "journal is never shared across keys (use another journal or job name)"
                    )
            await cur.execute(
                "SELECT count(*) FILTER (WHERE state = 'done'), "
                "count(*) FILTER (WHERE state != 'done'), "
                "count(*) FILTER (WHERE state != 'done' AND maybe_applied "
                "AND last_sent_at < %s), "
                "min(last_sent_at) FILTER (WHERE state != 'done' AND maybe_applied "
                f"AND last_sent_at < %s) FROM {_ITEMS} WHERE job = %s",
                (cutoff, cutoff, job),
            )
            counted = await cur.fetchone()
            assert counted is not None
            done, unfinished, stale, oldest = counted
            await cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM {_RUNS} WHERE job = %s "
                "ORDER BY started_at DESC, seq DESC LIMIT 1",
                (job,),
            )
            previous = await cur.fetchone()
            await cur.execute(
                f"INSERT INTO {_RUNS} (run_id, job, started_at, worker, lock_key, lease_until) "
                f"VALUES (%s, %s, %s, %s, %s, {_NOW} + %s)",
                (run_id, job, now, self._worker, lock_key, self.lease),
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

        try:
            start = await self._pg_transaction(work)
        except BaseException:
            with contextlib.suppress(Exception):
                await self._pg_conn().execute(
                    "SELECT pg_advisory_unlock(%s, %s)", (_LOCK_CLASS, lock_key)
                )
            raise
        self._runs[run_id] = lock_key
        return start

    async def _take_run_lock(self) -> int:
        """A session advisory lock of a fresh key: held while this connection lives."""
        conn = self._pg_conn()
        while True:
            key = 1 + secrets.randbelow(_LOCK_KEYS)
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (_LOCK_CLASS, key))
            row = await cur.fetchone()
            if row is not None and row[0]:
                return key

    async def _end_run(
        self, run_id: str, stopped: str, succeeded: int, failed: int, skipped: int
    ) -> None:
        """Record how the run stopped and give up its lock."""
        now = self._clock()

        async def work(cur: psycopg.AsyncCursor[Any]) -> None:
            await cur.execute(
                f"UPDATE {_RUNS} SET ended_at = %s, stopped = %s, succeeded = %s, failed = %s, "
                "skipped = %s WHERE run_id = %s",
                (now, stopped, succeeded, failed, skipped, run_id),
            )

        await self._pg_transaction(work)
        lock_key = self._runs.pop(run_id, None)
        if lock_key is not None:
            await self._pg_conn().execute(
                "SELECT pg_advisory_unlock(%s, %s)", (_LOCK_CLASS, lock_key)
            )

    async def _renew_leases(self) -> None:
        """Every ``lease / 3`` seconds, push this journal's runs' leases forward."""
        assert self._db_lock is not None
        while True:
            await asyncio.sleep(self.lease / 3)
            if not self._runs:
                continue
            try:
                async with self._db_lock:
                    cur = await self._pg_conn().execute(
                        f"WITH old AS (SELECT run_id, lease_until FROM {_RUNS} "
                        "WHERE run_id = ANY(%s) FOR UPDATE) "
                        f"UPDATE {_RUNS} AS r SET lease_until = {_NOW} + %s FROM old "
                        f"WHERE r.run_id = old.run_id RETURNING r.run_id, old.lease_until < {_NOW}",
                        (list(self._runs), self.lease),
                    )
                    renewed = await cur.fetchall()
            except Exception as exc:
                if self._pg is None:
                    return
                self._write_error = exc
                continue
            for run_id, lapsed in renewed:
                if lapsed:
                    logger.warning(
                        "bulk journal run %s: its lease had run out (this process was paused or "
                        "cut off for longer than the %g s lease); other workers may have taken "
                        "over its items in flight and resent them with the same idempotency keys "
                        "(the server replays them)",
                        run_id,
                        self.lease,
                    )

    # -- claims ----------------------------------------------------------------------------

    async def _try_claim(
        self,
        job: str,
        run_id: str,
        items: list[tuple[str, str, str | None]],
        resend_uncertain: bool,
    ) -> list[ItemClaim] | None:
        try:
            return await self._pg_transaction(
                lambda cur: self._claim_batch(cur, job, run_id, items, resend_uncertain)
            )
        except _Held:
            return None
        except self._contention:
            return None  # a row lock of another worker's claim: the same as held

    async def _claim_batch(
        self,
        cur: psycopg.AsyncCursor[Any],
        job: str,
        run_id: str,
        items: list[tuple[str, str, str | None]],
        resend_uncertain: bool,
    ) -> list[ItemClaim]:
        now = self._clock()
        cutoff = now - self.replay_window
        first: dict[str, tuple[str, str | None]] = {}  # item_id -> its first key and hash
        for item_id, key, content_hash in items:
            first.setdefault(item_id, (key, content_hash))
        ids = list(first)
        await cur.execute(
            "SELECT item_id, state, run_id, last_sent_at, maybe_applied, idempotency_key, "
            f"content_hash FROM {_ITEMS} WHERE job = %s AND item_id = ANY(%s) "
            "FOR UPDATE SKIP LOCKED",
            (job, ids),
        )
        known: dict[str, _Known] = {
            row[0]: (row[1], row[2], row[3], bool(row[4]), row[5], row[6])
            for row in await cur.fetchall()
        }
        owners = {
            prior[1]
            for prior in known.values()
            if prior[0] == "in_flight" and prior[1] is not None and prior[1] != run_id
        }
        live = await self._live_runs(cur, owners) if owners else set()
        if any(prior[0] == "in_flight" and prior[1] in live for prior in known.values()):
            raise _Held
        missing = [item_id for item_id in ids if item_id not in known]
        fresh: set[str] = set()
        if missing:
            await cur.execute(
                f"INSERT INTO {_ITEMS} (job, item_id, idempotency_key, state, run_id, sends, "
                "maybe_applied, last_sent_at, first_seen_at, updated_at, content_hash) "
                "SELECT %s, u.item_id, u.key, 'in_flight', %s, 1, true, %s, %s, %s, u.hash "
                "FROM unnest(%s::text[], %s::text[], %s::text[]) AS u(item_id, key, hash) "
                "ORDER BY u.item_id ON CONFLICT (job, item_id) DO NOTHING RETURNING item_id",
                (
                    job,
                    run_id,
                    now,
                    now,
                    now,
                    missing,
                    [first[item_id][0] for item_id in missing],
                    [first[item_id][1] for item_id in missing],
                ),
            )
            fresh = {row[0] for row in await cur.fetchall()}
            if len(fresh) < len(missing):
                raise _Held  # rows another worker's open transaction is claiming
        hashed: list[tuple[str, str]] = []  # item_id, content_hash
        holds: list[str] = []
        sends: list[tuple[str, str, str | None]] = []  # item_id, key, content_hash
        taken_over: set[str] = set()
        claims: list[ItemClaim] = []
        for item_id, key, content_hash in items:
            if item_id in fresh:
                fresh.discard(item_id)
                known[item_id] = ("in_flight", run_id, now, True, key, content_hash)
                claims.append(ItemClaim(item_id, "send"))
                continue
            state, prior_run, last_sent, maybe, prior_key, prior_hash = known[item_id]
            if prior_run == run_id:
                claims.append(ItemClaim(item_id, "duplicate"))
                continue
            changed = (
                content_hash is not None and prior_hash is not None and content_hash != prior_hash
            )
            if state == "done" and not changed:
                if content_hash is not None and prior_hash is None:
                    hashed.append((item_id, content_hash))  # compared with next time
                claims.append(ItemClaim(item_id, "skip"))
                continue
            uncertain = state != "done" and maybe and last_sent is not None and last_sent < cutoff
            action: ClaimAction
            if uncertain and not resend_uncertain:
                holds.append(item_id)
                action = "hold"
            else:
                sends.append((item_id, key, content_hash))
                action = "send"
            if state == "in_flight" and prior_run is not None:
                taken_over.add(prior_run)
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
                    prior_maybe_applied=maybe,
                    changed=changed,
                    prior_idempotency_key=prior_key,
                    prior_content_hash=prior_hash,
                )
            )
        if hashed:
            await cur.execute(
                f"UPDATE {_ITEMS} AS i SET content_hash = u.hash "
                "FROM unnest(%s::text[], %s::text[]) AS u(item_id, hash) "
                "WHERE i.job = %s AND i.item_id = u.item_id",
                ([h[0] for h in hashed], [h[1] for h in hashed], job),
            )
        if holds:
            await cur.execute(
                f"UPDATE {_ITEMS} SET state = 'uncertain', run_id = %s, updated_at = %s "
                "WHERE job = %s AND item_id = ANY(%s)",
                (run_id, now, job, holds),
            )
        if sends:
            await cur.execute(
                f"UPDATE {_ITEMS} AS i SET state = 'in_flight', run_id = %s, "
                "sends = i.sends + 1, maybe_applied = true, last_sent_at = %s, "
                "idempotency_key = u.key, content_hash = coalesce(u.hash, i.content_hash), "
                "updated_at = %s FROM unnest(%s::text[], %s::text[], %s::text[]) "
                "AS u(item_id, key, hash) WHERE i.job = %s AND i.item_id = u.item_id",
                (
                    run_id,
                    now,
                    now,
                    [sent[0] for sent in sends],
                    [sent[1] for sent in sends],
                    [sent[2] for sent in sends],
                    job,
                ),
            )
        if taken_over - set(self._runs):
            logger.info(
                "bulk job %r: taking over items left in flight by %d stopped run(s); they are "
                "resent with the same idempotency keys",
                job,
                len(taken_over),
            )
        return claims

    async def _live_runs(self, cur: psycopg.AsyncCursor[Any], runs: set[str]) -> set[str]:
        """Those of ``runs`` still alive: not ended, lease not run out, lock still held."""
        await cur.execute(
            f"SELECT r.run_id FROM {_RUNS} AS r WHERE r.run_id = ANY(%s) "
            f"AND r.ended_at IS NULL AND r.lease_until > {_NOW} "
            "AND EXISTS (SELECT 1 FROM pg_locks AS l WHERE l.locktype = 'advisory' "
            "AND l.granted AND l.database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database()) AND l.classid = %s::oid "
            "AND l.objid = r.lock_key::oid AND l.objsubid = 2)",
            (list(runs), _LOCK_CLASS),
        )
        return {row[0] for row in await cur.fetchall()}

    async def _release(self, job: str, run_id: str, claims: list[ItemClaim]) -> None:
        now = self._clock()
        # back to the earlier state, run, key and hash (a changed item must stay changed)
        columns = (
            [claim.item_id for claim in claims],
            [claim.prior_state or "pending" for claim in claims],
            [claim.prior_run_id for claim in claims],
            [claim.prior_last_sent_at for claim in claims],
            [claim.prior_maybe_applied for claim in claims],
            [claim.prior_idempotency_key for claim in claims],
            [claim.prior_state is not None for claim in claims],
            [claim.prior_content_hash for claim in claims],
        )

        async def work(cur: psycopg.AsyncCursor[Any]) -> None:
            await cur.execute(
                f"UPDATE {_ITEMS} AS i SET state = u.state, run_id = u.run_id, "
                "last_sent_at = u.last_sent_at, maybe_applied = u.maybe_applied, "
                "idempotency_key = coalesce(u.key, i.idempotency_key), "
                "content_hash = CASE WHEN u.restore THEN u.hash ELSE i.content_hash END, "
                "sends = i.sends - 1, updated_at = %s "
                "FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[], %s::bool[], "
                "%s::text[], %s::bool[], %s::text[]) AS u(item_id, state, run_id, last_sent_at, "
                "maybe_applied, key, restore, hash) "
                "WHERE i.job = %s AND i.item_id = u.item_id AND i.run_id = %s "
                "AND i.state = 'in_flight'",
                (now, *columns, job, run_id),
            )

        await self._pg_transaction(work)

    # -- reading ---------------------------------------------------------------------------

    async def _counts(self, job: str) -> dict[str, int]:
        cur = await self._pg_conn().execute(
            f"SELECT state, count(*) FROM {_ITEMS} WHERE job = %s GROUP BY state", (job,)
        )
        return {str(state): int(count) for state, count in await cur.fetchall()}

    async def _select_entries(
        self,
        job: str,
        states: tuple[str, ...] | None,
        item_id: str | None,
        limit: int | None,
    ) -> list[JournalEntry]:
        sql = f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM {_ITEMS} WHERE job = %s"
        args: list[object] = [job]
        if item_id is not None:
            sql += " AND item_id = %s"
            args.append(item_id)
        if states is not None:
            sql += " AND state = ANY(%s)"
            args.append(list(states))
        sql += " ORDER BY first_seen_at, item_id"
        if limit is not None:
            sql += " LIMIT %s"
            args.append(limit)
        cur = await self._pg_conn().execute(sql, args)
        return [_entry(row) for row in await cur.fetchall()]

    async def _lookup(self, job: str, item_ids: list[str]) -> dict[str, JournalEntry]:
        cur = await self._pg_conn().execute(
            f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM {_ITEMS} "
            "WHERE job = %s AND item_id = ANY(%s)",
            (job, item_ids),
        )
        entries = [_entry(row) for row in await cur.fetchall()]
        return {entry.item_id: entry for entry in entries}

    async def _results(self, job: str) -> dict[str, str]:
        cur = await self._pg_conn().execute(
            f"SELECT item_id, result_id FROM {_ITEMS} WHERE job = %s AND state = 'done' "
            "AND result_id IS NOT NULL ORDER BY first_seen_at, item_id",
            (job,),
        )
        return {str(item_id): str(result_id) for item_id, result_id in await cur.fetchall()}

    async def _select_runs(self, job: str) -> list[RunRecord]:
        cur = await self._pg_conn().execute(
            f"SELECT {_RUN_COLUMNS} FROM {_RUNS} WHERE job = %s ORDER BY started_at, seq", (job,)
        )
        return [RunRecord(*row) for row in await cur.fetchall()]


def _import_driver() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise JournalError(
            "a postgresql:// journal needs the PostgreSQL driver, psycopg 3: "
            "pip install 'tightknit-async[postgres]'"
        ) from exc
    return psycopg
