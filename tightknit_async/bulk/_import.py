"""``tightknit-async import members FILE``: validate a CSV or JSONL file, then import it in bulk.

Two passes over the file, both streaming (memory does not grow with the file):

1. Validation, on a worker thread: every row is checked with
   :class:`~tightknit_async.models.MemberCreate` (the rules the API applies), and e-mails are
   checked for duplicates (8-byte digests: ~60 bytes per row, the only state that grows). Bad
   rows are listed with their line numbers; unless ``--skip-invalid``, nothing is sent.
2. The import: a :class:`~tightknit_async.bulk.BulkJob` over the valid rows, each item keyed by
   its lower-cased e-mail, journaled (default ``FILE.journal.sqlite3``) so a re-run skips what is
   done and resends the rest with the same idempotency keys.

The job name defaults to ``members-`` + the first 12 hex digits of the file's SHA-256: the same
file resumes the same job; an edited file is new work with new keys (a fixed row must not reuse
the key of its rejected version: the server would replay the rejection).

Exit status: 0 when every row is imported (now or by an earlier run); 1 when a row failed, was
invalid and skipped, or the run stopped early; 2 for unusable input or settings (nothing sent);
130 when interrupted (Ctrl-C), 143 on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import hashlib
import signal
import sqlite3
import sys
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, TextIO

import anyio
import msgspec

from .. import _codec
from .._config import resolve_api_key
from .._exceptions import (
    AuthenticationError,
    PermissionDeniedError,
    RequestValidationError,
    TightknitError,
)
from ..models import Envelope, MemberCreate, MemberResult, MemberUpsert
from ._budget import ErrorBudget, ErrorBudgetExceeded
from ._engine import BulkJob
from ._journal import Journal, JournalError
from ._progress import ProgressDisplay, format_duration
from ._types import BulkItem, BulkSummary, ItemResult

__all__ = ["ImportOptions", "add_import_parser", "import_members", "options_from_args"]

Format = Literal["csv", "jsonl"]
COLUMNS: Final = ("email", "full_name", "avatar_url_original")
REQUIRED: Final = ("email", "full_name")
MAX_LISTED: Final = 20
API_RATE_CAP: Final = 50
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130
EXIT_TERMINATED: Final = 143


class InputError(TightknitError):
    """The file cannot be imported at all (unreadable, no or a wrong header)."""


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """What ``import members`` was asked to do (see ``tightknit-async import members -h``)."""

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

    @property
    def format(self) -> Format:
        return detect_format(self.file)

    @property
    def journal_path(self) -> Path | None:
        if not self.use_journal:
            return None
        return self.journal or self.file.with_name(self.file.name + ".journal.sqlite3")

    @property
    def failed_path(self) -> Path:
        return self.failed_out or self.file.with_name(f"{self.file.stem}.failed{self.file.suffix}")


def detect_format(path: Path) -> Format:
    """``csv`` for ``.csv``; ``jsonl`` for ``.jsonl`` and ``.ndjson``."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise InputError(f"{path}: expected a .csv or .jsonl file")


# -- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its first line, its text as read (for the failed-rows file), its fields
    (``None`` when the row could not even be split into fields) and what is wrong with it."""

    line: int
    raw: tuple[str, ...] | str
    fields: dict[str, object] | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Member:
    """A valid row, ready to send."""

    line: int
    raw: tuple[str, ...] | str
    body: MemberCreate

    @property
    def email_key(self) -> str:
        return self.body.email.strip().lower()


def read_header(path: Path) -> tuple[str, ...] | None:
    """The CSV header (checked), or ``None`` for JSONL."""
    if detect_format(path) == "jsonl":
        return None
    with _open_text(path) as f:
        try:
            header = next(csv.reader(f), None)
        except csv.Error as exc:
            raise InputError(f"{path}: line 1: {exc}") from None
    if not header or not any(cell.strip() for cell in header):
        raise InputError(f"{path}: empty file, expected a header line: {','.join(REQUIRED)}")
    names = tuple(cell.strip() for cell in header)
    unknown = [name for name in names if name not in COLUMNS]
    missing = [name for name in REQUIRED if name not in names]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if unknown or missing or repeated:
        problems = []
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown column(s) {', '.join(unknown)}")
        if repeated:
            problems.append(f"repeated column(s) {', '.join(repeated)}")
        raise InputError(
            f"{path}: line 1: {'; '.join(problems)} (the header is "
            f"email,full_name[,avatar_url_original])"
        )
    return names


def read_rows(path: Path) -> Iterator[Row]:
    """Every data row of a CSV or JSONL file, streamed; blank lines are skipped."""
    if detect_format(path) == "csv":
        yield from _csv_rows(path)
    else:
        yield from _jsonl_rows(path)


def _open_text(path: Path) -> TextIO:
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None


def _csv_rows(path: Path) -> Iterator[Row]:
    names = read_header(path)
    assert names is not None
    with _open_text(path) as f:
        reader = csv.reader(f)
        next(reader)
        next_line = reader.line_num + 1
        while True:
            line = next_line
            try:
                cells = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                raise InputError(f"{path}: line {line}: {exc}") from None
            next_line = reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            raw = tuple(cells)
            if len(cells) != len(names):
                problem = f"expected {len(names)} fields ({','.join(names)}), got {len(cells)}"
                yield Row(line, raw, None, problem)
                continue
            fields: dict[str, object] = {}
            for name, cell in zip(names, cells, strict=True):
                value = cell.strip()
                if name == "avatar_url_original" and not value:
                    continue  # an empty optional cell: not given
                fields[name] = value
            yield Row(line, raw, fields)


def _jsonl_rows(path: Path) -> Iterator[Row]:
    with _open_text(path) as f:
        line = 0
        while True:
            try:
                text = f.readline()
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}: line {line + 1}: {exc}") from None
            if not text:
                return
            line += 1
            raw = text.rstrip("\r\n")
            if not raw.strip():
                continue
            try:
                value = _codec.decode(raw.encode())
            except msgspec.DecodeError as exc:
                yield Row(line, raw, None, f"not valid JSON: {exc}")
                continue
            if not isinstance(value, dict):
                yield Row(line, raw, None, f"must be a JSON object, got {type(value).__name__}")
                continue
            yield Row(line, raw, value)


def check_row(row: Row) -> MemberCreate | str:
    """The row as a request body, or what is wrong with it."""
    if row.problem is not None or row.fields is None:
        return row.problem or "unreadable row"
    try:
        return MemberCreate.coerce(row.fields)
    except RequestValidationError as exc:
        return str(exc)


@dataclass(slots=True)
class Validation:
    """The result of the first pass."""

    rows: int = 0
    digest: str = ""
    invalid: dict[int, str] = field(default_factory=dict)  # line -> problem

    @property
    def valid(self) -> int:
        return self.rows - len(self.invalid)


def validate_file(path: Path) -> Validation:
    """Pass 1: check every row and find repeated e-mails; also hash the file (the job name)."""
    result = Validation()
    seen: set[int] = set()
    for row in read_rows(path):
        result.rows += 1
        checked = check_row(row)
        if isinstance(checked, str):
            result.invalid[row.line] = checked
            continue
        email = checked.email.strip().lower()
        digest = int.from_bytes(hashlib.blake2b(email.encode(), digest_size=8).digest(), "big")
        if digest in seen:
            result.invalid[row.line] = f"email: {checked.email!r} is on an earlier line too"
        else:
            seen.add(digest)
    with path.open("rb") as f:
        result.digest = hashlib.file_digest(f, "sha256").hexdigest()
    return result


def valid_members(
    path: Path, invalid: dict[int, str], on_invalid: Callable[[Row], None]
) -> Generator[Member, None, None]:
    """Pass 2: the valid rows as :class:`Member`; ``on_invalid`` gets the skipped ones."""
    for row in read_rows(path):
        if row.line in invalid:
            on_invalid(row)
            continue
        checked = check_row(row)
        if isinstance(checked, str):  # the file changed since pass 1
            raise InputError(f"{path}: line {row.line} changed during the import: {checked}")
        yield Member(row.line, row.raw, checked)


class FailedRows:
    """The rows not imported, written as they come, in the input's own format (and header),
    so the same command can take the file again. Opened on the first row."""

    def __init__(self, path: Path, header: tuple[str, ...] | None) -> None:
        self.path = path
        self.header = header
        self.count = 0
        self._file: TextIO | None = None
        self._writer: csv.DictWriter[str] | None = None

    def add(self, raw: tuple[str, ...] | str) -> None:
        if self._file is None:
            self._file = self.path.open("w", encoding="utf-8", newline="")
        if isinstance(raw, str):
            self._file.write(raw + "\n")
        else:
            writer = csv.writer(self._file)
            if self.count == 0 and self.header is not None:
                writer.writerow(self.header)
            writer.writerow(raw)
        self._file.flush()
        self.count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# -- importing -----------------------------------------------------------------------------------


def default_job(digest: str) -> str:
    return f"members-{digest[:12]}"


async def import_members(
    options: ImportOptions,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    interactive: bool | None = None,
    log_interval: float = 10.0,
    note: str = "",
) -> int:
    """Run ``import members`` and return the exit status (see the module docstring).

    ``interactive`` forces the progress display's mode; ``note`` is appended to its lines.
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    def warn(text: str) -> None:
        print(text, file=err, flush=True)

    try:
        fmt = options.format
        header = read_header(options.file)
        validation = await anyio.to_thread.run_sync(validate_file, options.file)
    except InputError as exc:
        warn(f"error: {exc}")
        return EXIT_USAGE
    job_name = options.job or default_job(validation.digest)
    journal_path = options.journal_path
    where = f"journal {journal_path}" if journal_path else "no journal"
    say(f"import members {options.file} ({fmt}): job {job_name}, {where}")
    invalid = len(validation.invalid)
    say(f"  {validation.rows:,} rows, {validation.valid:,} valid, {invalid:,} invalid")
    if validation.invalid:
        for line, problem in list(validation.invalid.items())[:MAX_LISTED]:
            warn(f"{options.file}:{line}: {problem}")
        if len(validation.invalid) > MAX_LISTED:
            warn(f"... and {len(validation.invalid) - MAX_LISTED:,} more invalid rows")
        if not options.skip_invalid:
            warn("nothing sent: fix the rows above, or pass --skip-invalid to import the others")
            return EXIT_USAGE
    if options.dry_run:
        done = 0
        if journal_path is not None and journal_path.exists():
            async with Journal(journal_path) as existing:
                done = (await existing.counts(job_name)).get("done", 0)
        say(f"dry run: would send {max(validation.valid - done, 0):,} rows")
        if done:
            say(f"  ({done:,} already imported by an earlier run of this job: skipped)")
        return EXIT_OK if not validation.invalid else EXIT_FAILED

    from .._client import AsyncTightknit

    try:
        api_key = resolve_api_key(options.api_key)
        client = AsyncTightknit(api_key=api_key, base_url=options.base_url, rate_limit=options.rate)
    except ValueError as exc:
        warn(f"error: {exc}")
        return EXIT_USAGE
    if options.rate > API_RATE_CAP:
        note = note or f"at {options.rate:g} req/s"
        warn(
            f"note: --rate {options.rate:g} is above the API's {API_RATE_CAP} req/s cap: "
            "for the fake server only (the real API would answer 429s)"
        )

    failed_rows = FailedRows(options.failed_path, header)
    with contextlib.suppress(FileNotFoundError):
        options.failed_path.unlink()  # a stale file from an earlier run: this run rewrites it
    display = (
        ProgressDisplay(
            "import members",
            stream=err,
            interactive=interactive,
            log_interval=log_interval,
            note=note,
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

    async def send(item: BulkItem[Member]) -> MemberResult:
        body = item.value.body  # a MemberCreate: these three fields are all it holds
        response = await client.members.with_raw_response.create(
            email=body.email,
            full_name=body.full_name,
            avatar_url_original=body.avatar_url_original,
            **item.options,  # the item's deterministic idempotency key, the bulk lane
        )
        item.observe(response)  # attempts, replay and status for the summary and the journal
        return MemberResult.from_response(
            response.parse(Envelope[MemberUpsert], strict=client.strict_responses),
            response.status_code,
        )

    budget = None
    if options.max_failures is not None or options.max_failure_ratio is not None:
        budget = ErrorBudget(max_failures=options.max_failures, max_ratio=options.max_failure_ratio)
    interrupted: int | None = None
    summary: BulkSummary[Member, MemberResult] | None = None
    members = valid_members(options.file, validation.invalid, on_invalid)
    journal = Journal(journal_path, redact=[api_key], owner=api_key) if journal_path else None
    try:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(client)
            if journal is not None:
                try:
                    await stack.enter_async_context(journal)
                except (sqlite3.Error, JournalError, OSError) as exc:
                    warn(f"error: cannot use the journal {journal_path}: {exc}")
                    return EXIT_USAGE
            job: BulkJob[Member, MemberResult]

            def on_result(result: ItemResult[Member, MemberResult]) -> None:
                nonlocal listed
                error = result.error
                if error is None:
                    return
                failed_rows.add(result.item.raw)
                if listed < MAX_LISTED:
                    listed += 1
                    echo(
                        f"{options.file}:{result.item.line}: {result.item.body.email}: "
                        f"{type(error).__name__}: {error}"
                    )
                if isinstance(error, AuthenticationError | PermissionDeniedError) and not fatal:
                    fatal.append(f"{type(error).__name__}: every row would fail the same way")
                    job.stop()

            job = BulkJob(
                members,
                send,
                job=job_name,
                key=lambda member: member.email_key,
                concurrency=options.concurrency,
                error_budget=budget,
                journal=journal,
                on_progress=display,
                on_result=on_result,
                total=validation.valid,
                cancel_grace=options.grace,
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
        _print_summary(say, options, validation, summary, invalid_skipped, failed_rows, fatal)
        say("INTERRUPTED: re-run the same command to resume (rows already done are skipped)")
        if interrupted == EXIT_TERMINATED:
            raise SystemExit(EXIT_TERMINATED) from None
        raise
    except InputError as exc:
        warn(f"error: {exc}")
        return EXIT_USAGE
    except (sqlite3.Error, JournalError, OSError) as exc:  # the journal or the failed-rows file
        if display is not None:
            display.close()
        _print_summary(say, options, validation, summary, invalid_skipped, failed_rows, fatal)
        warn(f"error: {exc}")
        return EXIT_FAILED
    finally:
        members.close()
        failed_rows.close()
    if display is not None:
        display.close()
    ok = _print_summary(say, options, validation, summary, invalid_skipped, failed_rows, fatal)
    return EXIT_OK if ok else EXIT_FAILED


def _print_summary(
    say: Callable[[str], None],
    options: ImportOptions,
    validation: Validation,
    summary: BulkSummary[Member, MemberResult] | None,
    invalid_skipped: int,
    failed_rows: FailedRows,
    fatal: list[str],
) -> bool:
    """Print the summary table; return whether every row is imported."""
    if summary is None:
        return False
    rows = [
        ("created", f"{summary.created:,}"),
        ("updated", f"{summary.updated:,}"),
        ("failed", f"{summary.failed:,}"),
        ("replayed", f"{summary.replayed:,}"),
        ("skipped (done before)", f"{summary.skipped:,}"),
    ]
    if invalid_skipped:
        rows.append(("invalid (not sent)", f"{invalid_skipped:,}"))
    if summary.not_started or summary.abandoned:
        rows.append(("not sent (stopped)", f"{summary.not_started:,}"))
        rows.append(("abandoned in flight", f"{len(summary.abandoned):,}"))
    rows.append(("elapsed", format_duration(summary.elapsed) + f" ({summary.elapsed:.2f} s)"))
    sent = summary.succeeded + summary.failed
    rows.append(("rate", f"{summary.rate:,.1f} rows/s" if sent else "(nothing sent)"))
    for name, value in rows:
        say(f"  {name:<22}{value:>12}")
    if summary.replay_window_expired:
        say(
            f"  note: {summary.uncertain:,} rows of an earlier run had an unknown outcome older "
            "than the server's 1-hour replay window; they were sent again (an upsert: harmless)"
        )
    remaining = validation.valid - summary.succeeded - summary.skipped
    ok = (
        summary.stopped == "completed"
        and summary.failed == 0
        and invalid_skipped == 0
        and not validation.invalid
        and remaining == 0
    )
    for reason in fatal:
        say(f"  stopped early: {reason}")
    if summary.stopped == "error_budget":
        say("  stopped early: over the error budget (--max-failures / --max-failure-ratio)")
    if failed_rows.count:
        say(
            f"  {failed_rows.count:,} rows not imported are in {failed_rows.path}: fix them and "
            f"import that file, or re-run this command to retry failed rows with the same keys"
        )
    if ok:
        say(f"OK: all {validation.rows:,} rows imported")
    elif summary.stopped != "cancelled":
        say(f"FAILED: {remaining:,} of {validation.valid:,} valid rows not imported")
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


def add_import_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``import members`` to the ``tightknit-async`` parser."""
    imp = sub.add_parser("import", help="import records in bulk from a file")
    kinds = imp.add_subparsers(dest="kind", required=True)
    members = kinds.add_parser(
        "members",
        help="add or update members from a CSV or JSONL file",
        description=(
            "Add or update (by e-mail) the members of FILE: a CSV with the header "
            "email,full_name[,avatar_url_original], or JSON Lines objects with those keys. "
            "Every row is validated first; then rows are sent at the key's rate with "
            "idempotency keys and journaled, so re-running the same command resumes. "
            "Key and URL from TIGHTKNIT_API_KEY and TIGHTKNIT_BASE_URL. Exit status 0 only "
            "when every row is imported."
        ),
    )
    members.add_argument("file", type=Path, help="a .csv or .jsonl file")
    members.add_argument(
        "--journal", type=Path, help="the journal file (default: FILE.journal.sqlite3)"
    )
    members.add_argument(
        "--no-journal", action="store_true", help="keep no journal (a re-run sends every row)"
    )
    members.add_argument(
        "--job", help="the job name: idempotency keys and journal rows (default: from the file)"
    )
    members.add_argument(
        "--concurrency", type=int, default=16, help="rows in flight at once (default 16)"
    )
    members.add_argument(
        "--dry-run", action="store_true", help="validate and report what would be sent"
    )
    members.add_argument(
        "--skip-invalid", action="store_true", help="import the valid rows even if some are not"
    )
    members.add_argument(
        "--failed-out",
        type=Path,
        help="where to write the rows not imported (default: members.failed.csv for members.csv)",
    )
    members.add_argument(
        "--rate",
        type=float,
        default=50.0,
        help="requests per second for the key (default 50, the API's cap)",
    )
    members.add_argument(
        "--max-failures", type=int, help="stop after more than this many rows failed"
    )
    members.add_argument(
        "--max-failure-ratio",
        type=float,
        help="stop once more than this fraction of rows failed (after 20 rows)",
    )
    members.add_argument(
        "--grace",
        type=float,
        default=10.0,
        help="seconds rows in flight may take to finish after Ctrl-C (default 10)",
    )
    members.add_argument("--no-progress", action="store_true", help="no progress display")


def options_from_args(args: argparse.Namespace) -> ImportOptions:
    """The :class:`ImportOptions` of parsed ``import members`` arguments.

    Raises:
        ValueError: an option out of range.
    """
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
    )
