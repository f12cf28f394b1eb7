"""What every file-driven bulk command shares (``import members``, ``bulk METHOD PATH FILE``):
validation, the job name, the journal and resume, sync, progress, the summary and exit status.

Two passes over the file, both streaming (memory does not grow with the file):

1. Validation, on a worker thread: every row is checked by the command (:class:`RowKind`), and
   item ids are checked for repeats (8-byte digests in an open-addressing table: 8 to 16 bytes
   a row). Bad rows are listed with their line numbers; unless ``--skip-invalid``, nothing is
   sent.
2. The job: a :class:`~tightknit_async.bulk.BulkJob` over the valid rows, each keyed by its item
   id and hashed by its content, journaled (default ``FILE.journal.sqlite3``). A re-run of the
   same command over the same file, edited or not, is a *sync*: new and changed rows are sent,
   rows done before with the same content are skipped, rows an earlier run left unfinished are
   resent with the same keys. ``--all`` sends every row, under fresh keys.

The job name defaults to the command's prefix and a digest of the file's resolved path (not of
its bytes): the same file, edited, is the same job.

Exit status: 0 when every row is done (now or by an earlier run); 1 when a row failed, was
invalid and skipped, or the run stopped early; 2 for unusable input or settings (nothing sent);
130 when interrupted (Ctrl-C), 143 on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import os
import signal
import sqlite3
import sys
from abc import ABC, abstractmethod
from array import array
from collections.abc import Callable, Coroutine, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Generic, TextIO, TypeVar

import anyio

from .._config import resolve_api_key
from .._exceptions import AuthenticationError, PermissionDeniedError
from ._budget import ErrorBudget, ErrorBudgetExceeded
from ._content import hash_content
from ._engine import BulkJob
from ._files import Columns, FailedRows, InputError, Row, TableFile, detect_format
from ._journal import JournalError
from ._journals import describe_journal, is_postgres_url, journal_spec, open_journal
from ._progress import ProgressDisplay, format_duration
from ._types import BulkItem, BulkSummary, ItemResult

if TYPE_CHECKING:
    from .._client import AsyncTightknit
    from ..idempotency import IdempotencyStore

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "Entry",
    "ImportOptions",
    "RowKind",
    "add_job_arguments",
    "bounded_store",
    "job_options_from_args",
    "run_file_job",
    "run_job_command",
]

V = TypeVar("V")
R = TypeVar("R")

MAX_LISTED: Final = 20
API_RATE_CAP: Final = 50
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130
EXIT_TERMINATED: Final = 143
_LOOKUP_BATCH: Final = 500


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """What a file-driven bulk command was asked to do (see ``tightknit-async import members
    -h`` and ``tightknit-async bulk -h``)."""

    file: Path
    journal: Path | None = None
    use_journal: bool = True
    job: str | None = None
    concurrency: int = 16
    dry_run: bool = False
    skip_invalid: bool = False
    failed_out: Path | None = None
    rate: float = 50.0
    max_failures: int | None = None
    max_failure_ratio: float | None = None
    grace: float = 10.0
    progress: bool = True
    api_key: str | None = field(default=None, repr=False)  # else TIGHTKNIT_API_KEY
    base_url: str | None = None
    resend_all: bool = False
    column_map: Mapping[str, str] = field(default_factory=dict)
    strict_columns: bool = False

    @property
    def format(self) -> str:
        return detect_format(self.file)

    @property
    def journal_path(self) -> Path | None:
        if not self.use_journal:
            return None
        return self.journal or self.file.with_name(self.file.name + ".journal.sqlite3")

    @property
    def failed_path(self) -> Path:
        return self.failed_out or self.file.with_name(f"{self.file.stem}.failed{self.file.suffix}")


@dataclass(frozen=True, slots=True)
class Entry(Generic[V]):
    """A valid row, ready to send: its first line, its text as read, what the command made of
    it."""

    line: int
    raw: tuple[str, ...] | str
    value: V


class RowKind(ABC, Generic[V, R]):
    """What one command does with the rows of a file: check one, name it, send it."""

    label: str = "bulk"
    """The progress line's label and the first word of the header line."""
    verb: str = "done"
    """``OK: all 60 rows <verb>``."""

    @abstractmethod
    def columns(self, options: ImportOptions) -> Columns:
        """The fields taken from the file."""

    @abstractmethod
    def default_job(self, path: Path) -> str:
        """The job's name when ``--job`` is not given (from the resolved path)."""

    @abstractmethod
    def check(self, fields: dict[str, object]) -> V | str:
        """The row as what to send, or what is wrong with it."""

    @abstractmethod
    def item_id(self, value: V) -> str:
        """The stable id of a row (unique in the file)."""

    def content(self, value: V) -> object:
        """What is hashed to tell a changed row (default: the value itself)."""
        return value

    def duplicate(self, value: V) -> str:
        """The message for a row whose id is on an earlier line too."""
        return f"id {self.item_id(value)!r} is on an earlier line too"

    def describe(self, value: V) -> str:
        """A short name of the row in failure lines."""
        return self.item_id(value)

    @abstractmethod
    async def send(self, client: AsyncTightknit, value: V, item: BulkItem[Entry[V]]) -> R:
        """Send one row; pass ``**item.options`` (its key, the bulk lane) and hand the reply to
        ``item.observe``."""

    def result_id(self, result: R) -> object:
        """What the server's answer names (kept in the journal), or ``None``."""
        return None

    def outcome_rows(self, summary: BulkSummary[Entry[V], R]) -> list[tuple[str, int]]:
        """The summary's lines for the rows sent successfully (they must add up to
        ``summary.succeeded``)."""
        return [("succeeded", summary.succeeded)]


# -- validation ----------------------------------------------------------------------------------


class _DigestSet:
    """64-bit digests in an open-addressing table of machine words: 8 to 16 bytes an entry
    (a ``set`` of Python ints takes about 60)."""

    __slots__ = ("_count", "_mask", "_table")

    def __init__(self) -> None:
        self._table = array("Q", bytes(8 * 1024))
        self._mask = 1023
        self._count = 0

    def add(self, digest: int) -> bool:
        """Add ``digest``; ``False`` if it was there already."""
        digest = digest or 1  # 0 marks an empty slot
        table, mask = self._table, self._mask
        slot = digest & mask
        while True:
            held = table[slot]
            if held == 0:
                table[slot] = digest
                self._count += 1
                if 2 * self._count > mask:
                    self._grow()
                return True
            if held == digest:
                return False
            slot = (slot + 1) & mask

    def _grow(self) -> None:
        old = self._table
        self._mask = 2 * (self._mask + 1) - 1
        self._table = array("Q", bytes(8 * (self._mask + 1)))
        self._count = 0
        for digest in old:
            if digest:
                self.add(digest)


@dataclass(slots=True)
class Validation:
    """The result of the first pass."""

    rows: int = 0
    invalid: dict[int, str] = field(default_factory=dict)  # line -> problem

    @property
    def valid(self) -> int:
        return self.rows - len(self.invalid)


def _digest(item_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(item_id.encode(), digest_size=8).digest(), "big")


def _checked(kind: RowKind[V, R], row: Row) -> V | str:
    if row.problem is not None or row.fields is None:
        return row.problem or "unreadable row"
    return kind.check(row.fields)


def validate(table: TableFile, kind: RowKind[V, R]) -> Validation:
    """Pass 1: check every row and find repeated ids."""
    result = Validation()
    seen = _DigestSet()
    for row in table.rows():
        result.rows += 1
        checked = _checked(kind, row)
        if isinstance(checked, str):
            result.invalid[row.line] = checked
        elif not seen.add(_digest(kind.item_id(checked))):
            result.invalid[row.line] = kind.duplicate(checked)
    return result


def valid_entries(
    table: TableFile,
    kind: RowKind[V, R],
    invalid: Mapping[int, str],
    on_invalid: Callable[[Row], None],
) -> Generator[Entry[V], None, None]:
    """Pass 2: the valid rows; ``on_invalid`` gets the others."""
    for row in table.rows():
        if row.line in invalid:
            on_invalid(row)
            continue
        checked = _checked(kind, row)
        if isinstance(checked, str):  # the file changed since pass 1
            raise InputError(f"{table.path}: line {row.line} changed during the run: {checked}")
        yield Entry(row.line, row.raw, checked)


def bounded_store() -> IdempotencyStore | None:
    """The idempotency store of a bulk command's client: bounded (1,000 replies, 10,000 key
    bindings), so a run of any length keeps its memory flat. ``None`` (the client's choice)
    when ``TIGHTKNIT_REDIS_URL`` names a shared store: its memory is Redis's, not ours.

    The journal, not the store, is what makes a re-run skip done rows; a bulk job never sends
    one key twice in a process, so older bindings and replies are never needed again.
    """
    if os.environ.get("TIGHTKNIT_REDIS_URL"):
        return None
    from ..idempotency import MemoryIdempotencyStore

    return MemoryIdempotencyStore(max_entries=1_000, max_bytes=8 * 1024 * 1024, max_bindings=10_000)


def path_digest(path: Path) -> str:
    """12 hex digits of the SHA-256 of the file's resolved path: default job names."""
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]


# -- running -------------------------------------------------------------------------------------


async def _dry_run(
    say: Callable[[str], None],
    table: TableFile,
    kind: RowKind[V, R],
    validation: Validation,
    journal_path: Path | None,
    job_name: str,
    resend_all: bool,
) -> None:
    new = changed = unchanged = unfinished = 0
    exists = journal_path is not None and (
        is_postgres_url(journal_path) or await anyio.Path(journal_path).exists()
    )
    if resend_all or journal_path is None or not exists:
        new = validation.valid
    else:
        entries = valid_entries(table, kind, validation.invalid, lambda _: None)
        async with open_journal(journal_path) as journal:
            while batch := list(islice(entries, _LOOKUP_BATCH)):
                ids = [kind.item_id(entry.value) for entry in batch]
                found = await journal.lookup(job_name, ids)
                for entry, item_id in zip(batch, ids, strict=True):
                    known = found.get(item_id)
                    if known is None:
                        new += 1
                    elif known.state != "done":
                        unfinished += 1
                    elif known.content_hash in (None, hash_content(kind.content(entry.value))):
                        unchanged += 1
                    else:
                        changed += 1
    sending = new + changed + unfinished
    say(f"dry run: would send {sending:,} rows")
    if changed or unfinished:
        say(
            f"  ({new:,} new, {changed:,} changed, {unfinished:,} left unfinished by an "
            "earlier run)"
        )
    if unchanged:
        say(
            f"  ({unchanged:,} already {kind.verb} by an earlier run of this job, unchanged: "
            "skipped)"
        )


async def run_file_job(
    options: ImportOptions,
    kind: RowKind[V, R],
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    interactive: bool | None = None,
    log_interval: float = 10.0,
    note: str = "",
) -> int:
    """Run a file-driven bulk command and return its exit status (see the module docstring).

    ``interactive`` forces the progress display's mode; ``note`` is appended to its lines.
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    def warn(text: str) -> None:
        print(text, file=err, flush=True)

    try:
        table = TableFile(options.file, kind.columns(options))
        fmt = table.format
        await anyio.to_thread.run_sync(table.check)
        validation = await anyio.to_thread.run_sync(validate, table, kind)
    except (InputError, ValueError) as exc:
        warn(f"error: {exc}")
        return EXIT_USAGE
    job_name = options.job or kind.default_job(options.file)
    journal_path = options.journal_path
    where = f"journal {describe_journal(journal_path)}" if journal_path else "no journal"
    say(f"{kind.label} {options.file} ({fmt}): job {job_name}, {where}")
    invalid = len(validation.invalid)
    say(f"  {validation.rows:,} rows, {validation.valid:,} valid, {invalid:,} invalid")
    if table.ignored:
        more = "" if len(table.ignored) < 50 else " ..."
        say(
            f"  ignored column(s): {', '.join(table.ignored)}{more} (--strict-columns refuses them)"
        )
    if validation.invalid:
        for line, problem in list(validation.invalid.items())[:MAX_LISTED]:
            warn(f"{options.file}:{line}: {problem}")
        if len(validation.invalid) > MAX_LISTED:
            warn(f"... and {len(validation.invalid) - MAX_LISTED:,} more invalid rows")
        if not options.skip_invalid:
            warn("nothing sent: fix the rows above, or pass --skip-invalid to send the others")
            return EXIT_USAGE
    if options.dry_run:
        try:
            await _dry_run(say, table, kind, validation, journal_path, job_name, options.resend_all)
        except (InputError, sqlite3.Error, JournalError, OSError) as exc:
            warn(f"error: {exc}")
            return EXIT_USAGE
        return EXIT_OK if not validation.invalid else EXIT_FAILED

    from .._client import AsyncTightknit

    try:
        api_key = resolve_api_key(options.api_key)
        client = AsyncTightknit(
            api_key=api_key,
            base_url=options.base_url,
            rate_limit=options.rate,
            idempotency_store=bounded_store(),
        )
    except ValueError as exc:
        warn(f"error: {exc}")
        return EXIT_USAGE
    if options.rate > API_RATE_CAP:
        note = note or f"at {options.rate:g} req/s"
        warn(
            f"note: --rate {options.rate:g} is above the API's {API_RATE_CAP} req/s cap: "
            "for the fake server only (the real API would answer 429s)"
        )

    failed_rows = FailedRows(options.failed_path, table.header)
    with contextlib.suppress(FileNotFoundError):
        options.failed_path.unlink()  # a stale file from an earlier run: this run rewrites it
    display = (
        ProgressDisplay(
            kind.label, stream=err, interactive=interactive, log_interval=log_interval, note=note
        )
        if options.progress
        else None
    )
    echo = display.echo if display is not None else warn
    listed = 0
    fatal: list[str] = []
    invalid_skipped = 0

    def on_invalid(row: Row) -> None:
        nonlocal invalid_skipped
        invalid_skipped += 1
        failed_rows.add(row.raw)

    async def send(item: BulkItem[Entry[V]]) -> R:
        return await kind.send(client, item.value.value, item)

    budget = None
    if options.max_failures is not None or options.max_failure_ratio is not None:
        budget = ErrorBudget(max_failures=options.max_failures, max_ratio=options.max_failure_ratio)
    interrupted: int | None = None
    summary: BulkSummary[Entry[V], R] | None = None
    entries = valid_entries(table, kind, validation.invalid, on_invalid)
    journal = open_journal(journal_path, redact=[api_key], owner=api_key) if journal_path else None

    def report() -> bool:
        return _print_summary(
            say, kind, options, validation, summary, invalid_skipped, failed_rows, fatal
        )

    try:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(client)
            if journal is not None:
                try:
                    await stack.enter_async_context(journal)
                except (sqlite3.Error, JournalError, OSError) as exc:
                    shown = describe_journal(journal_path) if journal_path else ""
                    warn(f"error: cannot use the journal {shown}: {exc}")
                    return EXIT_USAGE
            job: BulkJob[Entry[V], R]

            def on_result(result: ItemResult[Entry[V], R]) -> None:
                nonlocal listed
                error = result.error
                if error is None:
                    return
                failed_rows.add(result.item.raw)
                if listed < MAX_LISTED:
                    listed += 1
                    echo(
                        f"{options.file}:{result.item.line}: {kind.describe(result.item.value)}: "
                        f"{type(error).__name__}: {error}"
                    )
                if isinstance(error, AuthenticationError | PermissionDeniedError) and not fatal:
                    fatal.append(f"{type(error).__name__}: every row would fail the same way")
                    job.stop()

            job = BulkJob(
                entries,
                send,
                job=job_name,
                key=lambda entry: kind.item_id(entry.value),
                concurrency=options.concurrency,
                error_budget=budget,
                journal=journal,
                on_progress=display,
                on_result=on_result,
                total=validation.valid,
                cancel_grace=options.grace,
                content_hash=lambda entry: hash_content(kind.content(entry.value)),
                result_id=kind.result_id,
                resend_done=options.resend_all,
            )
            with _terminate_on_sigterm() as terminated:
                try:
                    summary = await job.run()
                except ErrorBudgetExceeded:
                    pass  # reported from the summary
                except asyncio.CancelledError:
                    interrupted = EXIT_TERMINATED if terminated() else EXIT_INTERRUPTED
                    raise
                finally:
                    summary = job.summary  # set however the run ended
    except asyncio.CancelledError:
        if display is not None:
            display.close()
        report()
        if interrupted == EXIT_TERMINATED:
            raise SystemExit(EXIT_TERMINATED) from None
        raise
    except InputError as exc:
        warn(f"error: {exc}")
        return EXIT_USAGE
    except (sqlite3.Error, JournalError, OSError) as exc:  # the journal or the failed-rows file
        if display is not None:
            display.close()
        report()
        warn(f"error: {exc}")
        return EXIT_FAILED
    finally:
        entries.close()
        failed_rows.close()
    if display is not None:
        display.close()
    return EXIT_OK if report() else EXIT_FAILED


def _print_summary(
    say: Callable[[str], None],
    kind: RowKind[V, R],
    options: ImportOptions,
    validation: Validation,
    summary: BulkSummary[Entry[V], R] | None,
    invalid_skipped: int,
    failed_rows: FailedRows,
    fatal: list[str],
) -> bool:
    """Print the summary table, whose counts add up to the rows of the file; return whether
    every row is done."""
    if summary is None:
        return False
    invalid = len(validation.invalid)
    not_sent = summary.not_sent or 0
    abandoned = len(summary.abandoned)
    rows = [(name, f"{count:,}") for name, count in kind.outcome_rows(summary)]
    rows.append(("failed", f"{summary.failed:,}"))
    rows.append(("skipped (done before)", f"{summary.skipped:,}"))
    if invalid:
        rows.append(("invalid (not sent)", f"{invalid:,}"))
    if not_sent or summary.stopped != "completed":
        rows.append(("not sent (stopped)", f"{not_sent:,}"))
    if abandoned:
        rows.append(("abandoned in flight", f"{abandoned:,}"))
    rows.append(("rows in the file", f"{validation.rows:,}"))
    if summary.changed:
        rows.append(("of the sent: changed", f"{summary.changed:,}"))
    rows.append(("replayed", f"{summary.replayed:,}"))
    rows.append(("elapsed", format_duration(summary.elapsed) + f" ({summary.elapsed:.2f} s)"))
    sent = summary.succeeded + summary.failed
    rows.append(("rate", f"{summary.rate:,.1f} rows/s" if sent else "(nothing sent)"))
    for name, value in rows:
        say(f"  {name:<22}{value:>12}")
    if summary.replay_window_expired:
        say(
            f"  note: {summary.uncertain:,} rows of an earlier run had an unknown outcome older "
            "than the server's 1-hour replay window; they were sent again"
        )
    done = summary.succeeded + summary.skipped
    not_done = validation.rows - done
    ok = summary.stopped == "completed" and not_done == 0 and invalid_skipped == 0
    for reason in fatal:
        say(f"  stopped early: {reason}")
    if summary.stopped == "error_budget":
        say("  stopped early: over the error budget (--max-failures / --max-failure-ratio)")
    if failed_rows.count:
        say(
            f"  {failed_rows.count:,} rows not {kind.verb} are in {failed_rows.path}: fix them and "
            f"run the command on that file, or re-run this command to retry failed rows with the "
            "same keys"
        )
    parts = [f"{summary.failed:,} failed"]
    if invalid:
        parts.append(f"{invalid:,} invalid")
    if not_sent or abandoned:
        parts.append(f"{not_sent + abandoned:,} not sent")
    breakdown = ", ".join(parts)
    if ok:
        say(f"OK: all {validation.rows:,} rows {kind.verb}")
    elif summary.stopped == "cancelled":
        say(
            f"INTERRUPTED: re-run the same command to resume ({not_done:,} of "
            f"{validation.rows:,} rows not {kind.verb} yet: {breakdown})"
        )
    else:
        say(f"FAILED: {not_done:,} of {validation.rows:,} rows not {kind.verb} ({breakdown})")
    return ok


@contextlib.contextmanager
def _terminate_on_sigterm() -> Iterator[Callable[[], bool]]:
    """While active, SIGTERM cancels the current task like Ctrl-C does (a clean stop)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    hit = False

    def handler() -> None:
        nonlocal hit
        hit = True
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, handler)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
        yield lambda: False
        return
    try:
        yield lambda: hit
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


# -- the command line ----------------------------------------------------------------------------


def run_job_command(job: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """A job command's shell: ``job()`` reads the parsed arguments and returns the job's
    coroutine (a ``ValueError`` while reading them is printed, exit status 2); the journal's
    warnings go to stderr unless logging is configured; Ctrl-C exits 130."""
    try:
        run = job()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(run)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def add_job_arguments(parser: argparse.ArgumentParser, *, noun: str = "rows") -> None:
    """The options every file-driven bulk command takes."""
    parser.add_argument(
        "--journal",
        type=journal_spec,
        help="the journal: a file (default: FILE.journal.sqlite3) or a postgresql:// URL, "
        "which several workers may share",
    )
    parser.add_argument(
        "--no-journal",
        action="store_true",
        help=f"keep no journal (a re-run sends every {noun[:-1]})",
    )
    parser.add_argument(
        "--job",
        help="the job name: idempotency keys and journal rows (default: from the file's path)",
    )
    parser.add_argument(
        "--all",
        dest="resend_all",
        action="store_true",
        help=f"send every {noun[:-1]}, also those done before and unchanged (under fresh keys)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help=f"{noun} in flight at once (default 16)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="validate and report what would be sent"
    )
    parser.add_argument(
        "--skip-invalid", action="store_true", help=f"send the valid {noun} even if some are not"
    )
    parser.add_argument(
        "--failed-out",
        type=Path,
        help=f"where to write the {noun} not done (default: rows.failed.csv for rows.csv)",
    )
    parser.add_argument(
        "--map",
        dest="column_map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="take FIELD from the file's column COLUMN (repeatable), e.g. --map email=E-mail",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=50.0,
        help="requests per second for the key (default 50, the API's cap)",
    )
    parser.add_argument(
        "--max-failures", type=int, help=f"stop after more than this many {noun} failed"
    )
    parser.add_argument(
        "--max-failure-ratio",
        type=float,
        help=f"stop once more than this fraction of {noun} failed (after 20 {noun})",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        help=f"seconds {noun} in flight may take to finish after Ctrl-C (default 10)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress display")


def job_options_from_args(args: argparse.Namespace) -> ImportOptions:
    """The :class:`ImportOptions` of parsed arguments (:func:`add_job_arguments`).

    Raises:
        ValueError: an option out of range.
    """
    from ._files import parse_column_map

    if args.concurrency < 1:
        raise ValueError(f"--concurrency must be >= 1, got {args.concurrency}")
    if not args.rate > 0:
        raise ValueError(f"--rate must be > 0, got {args.rate}")
    if args.max_failures is not None and args.max_failures < 0:
        raise ValueError(f"--max-failures must be >= 0, got {args.max_failures}")
    ratio = args.max_failure_ratio
    if ratio is not None and not 0 <= ratio <= 1:
        raise ValueError(f"--max-failure-ratio must be between 0 and 1, got {ratio}")
    if args.job is not None and not args.job.strip():
        raise ValueError("--job must not be empty")
    if args.journal is not None and args.no_journal:
        raise ValueError("pass --journal PATH or --no-journal, not both")
    return ImportOptions(
        file=args.file,
        journal=args.journal,
        use_journal=not args.no_journal,
        job=args.job,
        concurrency=args.concurrency,
        dry_run=args.dry_run,
        skip_invalid=args.skip_invalid,
        failed_out=args.failed_out,
        rate=args.rate,
        max_failures=args.max_failures,
        max_failure_ratio=ratio,
        grace=args.grace,
        progress=not args.no_progress,
        resend_all=args.resend_all,
        column_map=parse_column_map(args.column_map),
        strict_columns=getattr(args, "strict_columns", False),
    )
