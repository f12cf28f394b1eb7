"""Export every record of a list endpoint to JSON Lines or CSV, all pages, resumable.

From Python::

    async with AsyncTightknit() as tk:
        async for event in export_records(tk, "calendar-events", status="all"):
            ...                                    # dicts: the records as the server sent them

From the command line::

    tightknit-async export calendar-events --status all --out events.jsonl
    tightknit-async export feed-posts --feed FEED_ID --out posts.csv

Resources: ``calendar-events`` (``--status draft|needs_approval|published|all``: the API has no
"all", so the three are asked for in turn; ``--time-filter upcoming|past|all``), ``feeds``,
``feed-posts`` (``--feed ID``), ``search`` (``--q TEXT``).

- **JSON Lines is exact**: each line is the record's JSON as the server sent it (the bytes of
  the reply, re-encoded only when the server broke a record over several lines), so fields the
  models do not know survive.
- **CSV** has one column per field of the model (in its order), then the fields of the first
  page's records the model does not know, then ``extra``: the JSON of any field seen only later.
  Objects and arrays are JSON text; ``null`` an empty cell. A text cell that a spreadsheet would
  run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is
  prefixed with ``'``, as OWASP advises against CSV injection; ``raw_csv`` (``--raw-csv``)
  writes them as they are.
- **Resumable**: after each page is written and flushed, a small state file
  (``OUT.export-state.json``) records which status and page come next and how many bytes of
  the output are complete. Run the same command again after a failure or Ctrl-C: the output is
  cut back to the last complete page and the export goes on from the next. Once complete, the
  state file says so, and running the command again reports it (``--restart`` exports anew).
- Progress with an ETA: the total is taken from the first page of each status.

Pages are read one after another, 100 records a page. The API pages by offset, not by snapshot:
records created or deleted during the export may shift between pages (one seen twice, or one
missed); export from a quiet workspace, or compare ``total_records`` afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import math
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Literal, TextIO

import anyio
import msgspec

from .. import _codec
from .._exceptions import APIStatusError, TightknitError
from ..models import CalendarEvent, Feed, Post
from ._progress import Progress, ProgressDisplay, RateMeter, format_duration

if TYPE_CHECKING:
    from .._client import AsyncTightknit

__all__ = [
    "RESOURCES",
    "CsvWriter",
    "ExportError",
    "ExportPage",
    "ExportSummary",
    "JsonlWriter",
    "export_file",
    "export_pages",
    "export_records",
    "neutralise_cell",
]

EVENT_STATUSES: Final = ("draft", "needs_approval", "published")
DEFAULT_PER_PAGE: Final = 100
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
STATE_VERSION: Final = 1


class ExportError(TightknitError):
    """An export cannot start or go on: a bad resource or option, a state file of another
    export, an output file in the way."""


@dataclass(frozen=True, slots=True)
class Resource:
    """A list endpoint that can be exported."""

    name: str
    path: str  # may hold {feed}
    model: type[msgspec.Struct]
    needs: tuple[str, ...] = ()


RESOURCES: Final[Mapping[str, Resource]] = {
    "calendar-events": Resource("calendar-events", "/admin/v0/calendar_events", CalendarEvent),
    "feeds": Resource("feeds", "/admin/v0/feeds", Feed),
    "feed-posts": Resource("feed-posts", "/admin/v0/feeds/{feed}/posts", Post, ("feed",)),
    "search": Resource("search", "/admin/v0/search", Post, ("q",)),
}
"""The exportable resources by name (``calendar_events`` is taken for ``calendar-events``)."""


def _resource(name: str) -> Resource:
    found = RESOURCES.get(name.replace("_", "-"))
    if found is None:
        raise ExportError(f"unknown resource {name!r}: one of {', '.join(RESOURCES)}")
    return found


@dataclass(frozen=True, slots=True)
class _Query:
    """One export's question: the resource, its filters, the page size."""

    resource: Resource
    statuses: tuple[str | None, ...]
    time_filter: str | None
    feed: str | None
    q: str | None
    per_page: int

    @property
    def path(self) -> str:
        if self.feed is None:
            return self.resource.path
        from urllib.parse import quote

        return self.resource.path.replace("{feed}", quote(self.feed, safe=""))

    def params(self, segment: int, page: int, per_page: int | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"page": page, "per_page": per_page or self.per_page}
        status = self.statuses[segment]
        if status is not None:
            params["status"] = status
        if self.time_filter is not None:
            params["time_filter"] = self.time_filter
        if self.q is not None:
            params["q"] = self.q
        return params

    def identity(self) -> dict[str, Any]:
        """What a state file must match to be resumed."""
        return {
            "resource": self.resource.name,
            "statuses": list(self.statuses),
            "time_filter": self.time_filter,
            "feed": self.feed,
            "q": self.q,
            "per_page": self.per_page,
        }


def _query(
    resource: str,
    *,
    status: str | None,
    time_filter: str | None,
    feed: str | None,
    q: str | None,
    per_page: int,
) -> _Query:
    found = _resource(resource)
    if isinstance(per_page, bool) or not isinstance(per_page, int) or not 1 <= per_page <= 100:
        raise ExportError(f"per_page must be an int from 1 to 100, got {per_page!r}")
    if "feed" in found.needs and not feed:
        raise ExportError(f"{found.name} needs a feed id (--feed)")
    if "q" in found.needs and not q:
        raise ExportError(f"{found.name} needs a search term (--q)")
    if feed is not None and "feed" not in found.needs:
        raise ExportError(f"{found.name} takes no feed (--feed is for feed-posts)")
    if q is not None and "q" not in found.needs:
        raise ExportError(f"{found.name} takes no search term (--q is for search)")
    events = found.name == "calendar-events"
    if (status is not None or time_filter is not None) and not events:
        raise ExportError("--status and --time-filter are for calendar-events")
    statuses: tuple[str | None, ...] = (None,)
    if status == "all":
        statuses = EVENT_STATUSES
    elif status is not None:
        statuses = (status,)
    return _Query(found, statuses, time_filter, feed, q, per_page)


# -- reading pages -------------------------------------------------------------------------------


class _RawPage(msgspec.Struct, kw_only=True):
    page: Any = None
    total_records: Any = None
    total_pages: Any = None
    has_next: Any = None
    records: list[msgspec.Raw] | None = None


class _RawEnvelope(msgspec.Struct, kw_only=True):
    data: _RawPage


_RAW_DECODER: Final = msgspec.json.Decoder(_RawEnvelope)


@dataclass(frozen=True, slots=True)
class ExportPage:
    """One page of an export.

    ``segment`` is the index of its status (``calendar-events --status all``: 0 draft,
    1 needs_approval, 2 published; else 0), ``status`` that status (or ``None``), ``page`` its
    0-based number, ``records`` the raw JSON of each record (bytes as the server sent them),
    ``total_records`` what the page said of its status, ``last`` whether it ends its status.
    """

    segment: int
    status: str | None
    page: int
    records: tuple[bytes, ...]
    total_records: int | None
    last: bool

    def dicts(self) -> list[dict[str, Any]]:
        """The records decoded."""
        return [_codec.decode(raw) for raw in self.records]


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def _fetch(
    tk: AsyncTightknit, query: _Query, segment: int, page: int, per_page: int | None = None
) -> ExportPage:
    response = await tk.request("GET", query.path, params=query.params(segment, page, per_page))
    try:
        envelope = _RAW_DECODER.decode(response.content)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise APIStatusError(
            f"GET {query.path}: the reply is not a page of records ({exc})",
            status_code=response.status_code,
            body=_codec.snippet(response.content),
            headers=response.headers,
            request_id=response.request_id,
        ) from None
    data = envelope.data
    records = tuple(bytes(raw) for raw in data.records or ())
    total_pages = _int(data.total_pages)
    has_next = data.has_next if isinstance(data.has_next, bool) else None
    if has_next is None:
        has_next = total_pages is not None and page + 1 < total_pages
    last = not records or not has_next
    return ExportPage(
        segment, query.statuses[segment], page, records, _int(data.total_records), last
    )


async def _pages_from(
    tk: AsyncTightknit, query: _Query, segment: int, page: int
) -> AsyncIterator[ExportPage]:
    for index in range(segment, len(query.statuses)):
        number = page if index == segment else 0
        while True:
            fetched = await _fetch(tk, query, index, number)
            yield fetched
            if fetched.last:
                break
            number += 1


async def export_pages(
    tk: AsyncTightknit,
    resource: str,
    *,
    status: str | None = None,
    time_filter: str | None = None,
    feed: str | None = None,
    q: str | None = None,
    per_page: int = DEFAULT_PER_PAGE,
    start: tuple[int, int] = (0, 0),
) -> AsyncIterator[ExportPage]:
    """Every page of ``resource`` in order, from ``start`` (``(segment, page)``): see
    :class:`ExportPage`. Arguments as :func:`export_records`'s."""
    query = _query(
        resource, status=status, time_filter=time_filter, feed=feed, q=q, per_page=per_page
    )
    async for page in _pages_from(tk, query, *start):
        yield page


async def export_records(
    tk: AsyncTightknit,
    resource: str,
    *,
    status: str | None = None,
    time_filter: str | None = None,
    feed: str | None = None,
    q: str | None = None,
    per_page: int = DEFAULT_PER_PAGE,
) -> AsyncIterator[dict[str, Any]]:
    """Every record of ``resource`` as a dict, as the server sent it (fields the models do not
    know included), page after page.

    Args:
        tk: the client.
        resource: ``calendar-events``, ``feeds``, ``feed-posts`` or ``search``.
        status: calendar events of this status (``draft``, ``needs_approval``, ``published``),
            or ``all`` for the three in turn (the API's default: published).
        time_filter: calendar events ``upcoming``, ``past`` or ``all``.
        feed: the feed of ``feed-posts``.
        q: the search term of ``search``.
        per_page: records a page (1 to 100).

    Raises:
        ExportError: a bad resource or option (before anything is sent).
        APIStatusError, APIConnectionError: as any call.
    """
    async for page in export_pages(
        tk, resource, status=status, time_filter=time_filter, feed=feed, q=q, per_page=per_page
    ):
        for record in page.dicts():
            yield record


# -- writing -------------------------------------------------------------------------------------


def neutralise_cell(text: str) -> str:
    """``text`` made inert for a spreadsheet: prefixed with ``'`` when it starts with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return (OWASP's advice against CSV injection)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class JsonlWriter:
    """Records as JSON Lines: each raw record on a line of its own."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    def write_header(self) -> None:
        return None

    def write(self, raw: bytes) -> None:
        if b"\n" in raw or b"\r" in raw:  # pretty-printed by the server: one line, same JSON
            raw = _codec.encode(_codec.decode(raw))
        self.stream.write(raw + b"\n")


class CsvWriter:
    """Records as CSV rows under ``columns`` (the last, ``extra``, takes the JSON of any other
    field); formula-like text cells neutralised unless ``raw``."""

    def __init__(self, stream: IO[bytes], columns: Sequence[str], *, raw: bool = False) -> None:
        self.stream = stream
        self.columns = tuple(columns)
        self.raw = raw
        self._known = frozenset(self.columns[:-1])

    def write_header(self) -> None:
        self._row(list(self.columns))

    def write(self, raw: bytes) -> None:
        record = _codec.decode(raw)
        if not isinstance(record, dict):
            record = {"extra": record}
        cells = [self._cell(record.get(name)) for name in self.columns[:-1]]
        extra = {k: v for k, v in record.items() if k not in self._known}
        cells.append(_codec.encode(extra).decode() if extra else "")
        self._row(cells)

    def _cell(self, value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return value if self.raw else neutralise_cell(value)
        return _codec.encode(value).decode()  # numbers; objects and arrays as their JSON

    def _row(self, cells: list[str]) -> None:
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerow(cells)
        self.stream.write(text.getvalue().encode())


def csv_columns(model: type[msgspec.Struct], first: Sequence[bytes]) -> list[str]:
    """The model's fields, then the keys of ``first`` records it does not know, then ``extra``."""
    columns = [info.encode_name for info in msgspec.structs.fields(model)]
    seen = set(columns)
    for raw in first:
        record = _codec.decode(raw)
        if isinstance(record, dict):
            for key in record:
                if key not in seen and key != "extra":
                    seen.add(key)
                    columns.append(key)
    columns.append("extra")
    return columns


# -- the resumable export ------------------------------------------------------------------------


@dataclass(slots=True)
class _State:
    identity: dict[str, Any]
    format: str
    columns: list[str] | None = None
    segment: int = 0
    page: int = 0
    written: int = 0
    bytes: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    complete: bool = False

    def dump(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "identity": self.identity,
            "format": self.format,
            "columns": self.columns,
            "segment": self.segment,
            "page": self.page,
            "written": self.written,
            "bytes": self.bytes,
            "totals": self.totals,
            "complete": self.complete,
        }

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> _State:
        if data.get("version") != STATE_VERSION:
            raise ExportError(f"state file of version {data.get('version')!r}")
        return cls(
            identity=dict(data["identity"]),
            format=str(data["format"]),
            columns=None if data.get("columns") is None else list(data["columns"]),
            segment=int(data["segment"]),
            page=int(data["page"]),
            written=int(data["written"]),
            bytes=int(data["bytes"]),
            totals={str(k): int(v) for k, v in dict(data.get("totals") or {}).items()},
            complete=bool(data.get("complete")),
        )


def _save(path: Path, state: _State) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state.dump(), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What :func:`export_file` did: records written (in all, and by this run), whether the
    export is complete, whether it resumed an earlier one, pages fetched now."""

    out: Path
    written: int
    written_now: int
    complete: bool
    resumed: bool
    pages: int
    elapsed: float
    total: int | None


def export_format(path: Path) -> Literal["jsonl", "csv"]:
    """``jsonl`` for ``.jsonl``/``.ndjson``, ``csv`` for ``.csv``."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ExportError(f"{path}: the output must be a .jsonl or .csv file")


def state_path_for(out: Path) -> Path:
    """Where the state of the export to ``out`` is kept: ``OUT.export-state.json``."""
    return out.with_name(out.name + ".export-state.json")


def _begin(
    out: Path, state_file: Path, identity: dict[str, Any], fmt: str, restart: bool
) -> tuple[_State, bool]:
    """The state to go on from (and whether it resumes an earlier run), checked."""
    if not restart and state_file.exists():
        try:
            state = _State.load(json.loads(state_file.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise ExportError(f"{state_file}: unreadable state ({exc}); pass --restart") from None
        if state.identity != identity or state.format != fmt:
            raise ExportError(
                f"{state_file} is the state of another export ({state.identity['resource']}, "
                f"{state.format}): pass --restart to start this one over"
            )
        if not out.exists() and state.bytes:
            raise ExportError(f"{out} is gone but {state_file} says it was begun: pass --restart")
        return state, True
    if not restart and out.exists():
        raise ExportError(
            f"{out} exists and is not an unfinished export: pass --restart to replace it"
        )
    return _State(identity=identity, format=fmt), False


class _Sink:
    """The output file and its state, written page by page (on a worker thread)."""

    def __init__(
        self, out: Path, state: _State, state_file: Path, model: type[msgspec.Struct], raw: bool
    ) -> None:
        self.state = state
        self.state_file = state_file
        self.model = model
        self.raw = raw
        self.stream: IO[bytes] = open(out, "r+b" if state.bytes and out.exists() else "w+b")  # noqa: SIM115
        self.stream.seek(state.bytes)
        self.stream.truncate()  # a page written after the last saved state is written again
        self.writer: JsonlWriter | CsvWriter | None = None
        if state.format == "jsonl":
            self.writer = JsonlWriter(self.stream)
        elif state.columns is not None:
            self.writer = CsvWriter(self.stream, state.columns, raw=raw)

    def _csv(self, first: Sequence[bytes]) -> JsonlWriter | CsvWriter:
        self.state.columns = csv_columns(self.model, first)
        writer = CsvWriter(self.stream, self.state.columns, raw=self.raw)
        writer.write_header()
        return writer

    def write_page(self, page: ExportPage) -> None:
        writer = self.writer = self.writer or self._csv(page.records)
        for raw in page.records:
            writer.write(raw)
        self._commit()
        state = self.state
        state.written += len(page.records)
        if page.last:
            state.segment, state.page = page.segment + 1, 0
        else:
            state.segment, state.page = page.segment, page.page + 1
        _save(self.state_file, state)

    def finish(self) -> None:
        if self.writer is None:  # not one record: a CSV still gets its header
            self.writer = self._csv(())
            self._commit()
        self.state.complete = True
        _save(self.state_file, self.state)

    def _commit(self) -> None:
        self.stream.flush()
        os.fsync(self.stream.fileno())
        self.state.bytes = self.stream.tell()

    def close(self) -> None:
        self.stream.close()


async def export_file(
    tk: AsyncTightknit,
    resource: str,
    out: Path,
    *,
    status: str | None = None,
    time_filter: str | None = None,
    feed: str | None = None,
    q: str | None = None,
    per_page: int = DEFAULT_PER_PAGE,
    raw_csv: bool = False,
    restart: bool = False,
    state_path: Path | None = None,
    on_progress: Callable[[Progress], object] | None = None,
    progress_interval: float = 0.5,
) -> ExportSummary:
    """Export ``resource`` to ``out`` (``.jsonl`` or ``.csv``), resuming an unfinished export
    of the same question (see the module docstring).

    Raises:
        ExportError: bad options; a state file of another export (``restart`` replaces it); an
            output file with no state (``restart`` overwrites it).
        APIStatusError, APIConnectionError: a page could not be fetched; what was written is
            kept and the next run goes on from there.
    """
    query = _query(
        resource, status=status, time_filter=time_filter, feed=feed, q=q, per_page=per_page
    )
    fmt = export_format(out)
    state_file = state_path or state_path_for(out)
    state, resumed = await anyio.to_thread.run_sync(
        _begin, out, state_file, query.identity(), fmt, restart
    )
    started = time.monotonic()
    if state.complete:
        return ExportSummary(out, state.written, 0, True, True, 0, 0.0, state.written)
    meter = RateMeter()
    pages = written_now = 0
    last_report = -math.inf

    def total() -> int | None:
        if len(state.totals) < len(query.statuses):
            return None
        return sum(state.totals.values())

    def report(*, finished: bool = False) -> None:
        nonlocal last_report
        if on_progress is None:
            return
        now = time.monotonic()
        if not finished and now - last_report < progress_interval:
            return
        last_report = now
        elapsed = now - started
        if finished:
            rate = written_now / elapsed if elapsed > 0 else 0.0
        else:
            rate = meter.rate(now, written_now, started)
        known = total()
        eta = max(known - state.written, 0) / rate if known is not None and rate > 0 else None
        on_progress(
            Progress(
                job=f"export {query.resource.name}",
                total=known,
                seen=state.written,
                done=state.written,
                succeeded=state.written,
                failed=0,
                skipped=0,
                replayed=0,
                created=0,
                updated=0,
                in_flight=0,
                elapsed=elapsed,
                rate=rate,
                eta=eta,
                finished=finished,
            )
        )

    # The totals first, for the ETA: of each status not begun yet, page 0 of one record.
    for index in range(len(query.statuses)):
        if str(index) not in state.totals:
            probe = await _fetch(tk, query, index, 0, per_page=1)
            state.totals[str(index)] = probe.total_records or 0

    sink = await anyio.to_thread.run_sync(
        _Sink, out, state, state_file, query.resource.model, raw_csv
    )
    try:
        async for page in _pages_from(tk, query, state.segment, state.page):
            await anyio.to_thread.run_sync(sink.write_page, page)
            pages += 1
            written_now += len(page.records)
            report()
        await anyio.to_thread.run_sync(sink.finish)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(sink.close)
    report(finished=True)
    return ExportSummary(
        out, state.written, written_now, True, resumed, pages, time.monotonic() - started, total()
    )


# -- the command line ----------------------------------------------------------------------------


def add_export_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``export RESOURCE --out FILE`` to the ``tightknit-async`` parser."""
    export = sub.add_parser(
        "export",
        help="export every record of a list endpoint to JSON Lines or CSV (resumable)",
        description=(
            "Write every record of RESOURCE, all pages, to --out: .jsonl (each record's JSON as "
            "the server sent it) or .csv (one column per field; formula-like cells neutralised "
            "unless --raw-csv). Progress with an ETA on stderr. Interrupted or failed, run the "
            "same command again: it goes on after the last page written "
            "(OUT.export-state.json keeps where). Key and URL from TIGHTKNIT_API_KEY and "
            "TIGHTKNIT_BASE_URL."
        ),
    )
    export.add_argument("resource", choices=sorted(RESOURCES), help="what to export")
    export.add_argument("--out", type=Path, required=True, help="the .jsonl or .csv file")
    export.add_argument(
        "--status",
        choices=(*EVENT_STATUSES, "all"),
        help="calendar-events: this status, or all three in turn (default: the API's, published)",
    )
    export.add_argument(
        "--time-filter", choices=("upcoming", "past", "all"), help="calendar-events: when"
    )
    export.add_argument("--feed", help="feed-posts: the feed's id")
    export.add_argument("--q", help="search: the search term")
    export.add_argument(
        "--per-page", type=int, default=DEFAULT_PER_PAGE, help="records a page (1-100, default 100)"
    )
    export.add_argument(
        "--raw-csv", action="store_true", help="write formula-like CSV cells as they are"
    )
    export.add_argument(
        "--restart",
        action="store_true",
        help="start over: replace the output and forget an unfinished export's state",
    )
    export.add_argument("--no-progress", action="store_true", help="no progress display")


async def run_export_command(
    args: argparse.Namespace,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    interactive: bool | None = None,
    log_interval: float = 10.0,
) -> int:
    """Run ``export`` and return the exit status: 0 complete, 1 a page failed (re-run to go on),
    2 bad options, 130 Ctrl-C (re-run to go on)."""
    from .._client import AsyncTightknit
    from ._runner import EXIT_FAILED, EXIT_OK, EXIT_USAGE

    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    display = None
    if not args.no_progress:
        display = ProgressDisplay(
            f"export {args.resource}",
            stream=err,
            interactive=interactive,
            log_interval=log_interval,
        )
    try:
        _query(
            args.resource,
            status=args.status,
            time_filter=args.time_filter,
            feed=args.feed,
            q=args.q,
            per_page=args.per_page,
        )
        export_format(args.out)
        client = AsyncTightknit()
    except (ExportError, ValueError) as exc:
        print(f"error: {exc}", file=err, flush=True)
        return EXIT_USAGE
    where = state_path_for(args.out)
    try:
        async with client:
            summary = await export_file(
                client,
                args.resource,
                args.out,
                status=args.status,
                time_filter=args.time_filter,
                feed=args.feed,
                q=args.q,
                per_page=args.per_page,
                raw_csv=args.raw_csv,
                restart=args.restart,
                on_progress=display,
            )
    except ExportError as exc:
        print(f"error: {exc}", file=err, flush=True)
        return EXIT_USAGE
    except asyncio.CancelledError:
        if display is not None:
            display.close()
        say(f"INTERRUPTED: run the same command to go on from the last page written ({where})")
        raise
    except (TightknitError, OSError) as exc:
        if display is not None:
            display.close()
        print(f"error: {type(exc).__name__}: {exc}", file=err, flush=True)
        say(f"FAILED: run the same command to go on from the last page written ({where})")
        return EXIT_FAILED
    if display is not None:
        display.close()
    if summary.written_now == 0 and summary.resumed and summary.pages == 0:
        say(
            f"export already complete: {summary.written:,} records in {summary.out} "
            "(--restart exports anew)"
        )
        return EXIT_OK
    how = "resumed: " if summary.resumed else ""
    say(
        f"OK: {how}{summary.written:,} records in {summary.out} ({summary.written_now:,} now, "
        f"{summary.pages:,} pages, {format_duration(summary.elapsed)})"
    )
    return EXIT_OK


def export_command(args: argparse.Namespace) -> int:
    """``tightknit-async export ...``: run, and map Ctrl-C to exit status 130."""
    from ._runner import EXIT_INTERRUPTED

    try:
        return asyncio.run(run_export_command(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
