"""Reading the rows of a CSV or JSON Lines file for a bulk command, streamed; writing back the
rows not done.

Columns as they come: a command names the fields it knows (``Columns.known``); the file's other
columns (a CRM export's ``company``, ``phone``...) are ignored, and listed once, unless
``strict`` refuses them. ``rename`` maps a field to the file's own column name (``--map
email=E-mail``). A command that knows no fields (``bulk METHOD PATH FILE``) takes every column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, TextIO

import msgspec

from .. import _codec
from .._exceptions import TightknitError

__all__ = [
    "Columns",
    "FailedRows",
    "Format",
    "InputError",
    "Row",
    "TableFile",
    "detect_format",
    "parse_column_map",
]

Format = Literal["csv", "jsonl"]
MAX_IGNORED_LISTED: Final = 50


class InputError(TightknitError):
    """The file cannot be used at all (unreadable, no or a wrong header, a bad option)."""


def detect_format(path: Path) -> Format:
    """``csv`` for ``.csv``; ``jsonl`` for ``.jsonl`` and ``.ndjson``."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise InputError(f"{path}: expected a .csv or .jsonl file")


def parse_column_map(specs: Iterable[str]) -> dict[str, str]:
    """``["email=E-mail", "full_name=Name"]`` as ``{"email": "E-mail", "full_name": "Name"}``.

    Raises:
        ValueError: a spec without ``=``, with an empty side, or a field mapped twice.
    """
    mapping: dict[str, str] = {}
    for spec in specs:
        name, sep, column = spec.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not name or not column:
            raise ValueError(f"--map takes FIELD=COLUMN (e.g. email=E-mail), got {spec!r}")
        if name in mapping:
            raise ValueError(f"--map: field {name!r} mapped twice")
        mapping[name] = column
    return mapping


@dataclass(frozen=True, slots=True)
class Columns:
    """Which fields a command takes from a file, and how.

    Attributes:
        known: the fields the command uses (``None``: every column is a field).
        required: fields every CSV header must provide (after ``rename``).
        rename: field -> the file's column (or JSON key) holding it.
        strict: refuse unknown columns (and JSON keys) instead of ignoring them.
        drop_empty: fields whose empty CSV cell means "not given".
    """

    known: tuple[str, ...] | None = None
    required: tuple[str, ...] = ()
    rename: Mapping[str, str] = field(default_factory=dict)
    strict: bool = False
    drop_empty: tuple[str, ...] = ()

    def field_of(self, column: str) -> str | None:
        """The field a file's column holds, or ``None`` when the command ignores it."""
        for name, source in self.rename.items():
            if source == column:
                return name
        if column in self.rename:  # renamed away: this name now comes from another column
            return None
        if self.known is None or column in self.known:
            return column
        return None


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its first line, its text as read (for the failed-rows file), its fields
    (``None`` when the row could not even be split into fields) and what is wrong with it."""

    line: int
    raw: tuple[str, ...] | str
    fields: dict[str, object] | None
    problem: str | None = None


class TableFile:
    """A CSV or JSON Lines file read as rows of fields, under a :class:`Columns` plan.

    :meth:`check` reads and checks the CSV header (``InputError`` if it cannot be used);
    :meth:`rows` streams the data rows (any number of times). :attr:`ignored` lists the columns
    (CSV: from the header; JSON Lines: the keys met so far, up to 50 names) left out.
    """

    def __init__(self, path: Path, columns: Columns | None = None) -> None:
        self.path = path
        self.columns = columns or Columns()
        self.format: Format = detect_format(path)
        self.header: tuple[str, ...] | None = None
        self._fields: tuple[str | None, ...] = ()
        self._ignored: dict[str, None] = {}

    @property
    def ignored(self) -> list[str]:
        return list(self._ignored)

    def check(self) -> None:
        """Read the CSV header and check it against the plan; nothing to do for JSON Lines.

        Raises:
            InputError: unreadable, empty, a required column missing, a field given twice, a
                ``--map`` naming no column, or (strict) an unknown column.
        """
        if self.format == "jsonl":
            with self._open():
                pass
            return
        with self._open() as f:
            try:
                header = next(csv.reader(f), None)
            except (csv.Error, UnicodeDecodeError) as exc:
                raise InputError(f"{self.path}: line 1: {exc}") from None
        expected = ",".join(self.columns.required) or "a header line"
        if not header or not any(cell.strip() for cell in header):
            raise InputError(f"{self.path}: empty file, expected a header line: {expected}")
        names = tuple(cell.strip() for cell in header)
        plan = self.columns
        fields = tuple(plan.field_of(name) for name in names)
        ignored = [name for name, got in zip(names, fields, strict=True) if got is None]
        given = [name for name in fields if name is not None]
        problems = []
        unmapped = [
            f"{name}={column}" for name, column in plan.rename.items() if column not in names
        ]
        if unmapped:
            problems.append(f"--map names no column of the file: {', '.join(unmapped)}")
        missing = [name for name in plan.required if name not in given]
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if plan.strict and ignored:
            problems.append(f"unknown column(s) {', '.join(ignored)}")
        repeated = sorted({name for name in given if given.count(name) > 1})
        if repeated:
            problems.append(f"repeated column(s) {', '.join(repeated)}")
        if problems:
            hint = ""
            if plan.known is not None and missing:
                hint = f" (the command takes {', '.join(plan.known)}"
                if ignored:
                    hint += f"; the file has {', '.join(ignored)}: map one with --map "
                    hint += f"{missing[0]}=COLUMN"
                hint += ")"
            raise InputError(f"{self.path}: line 1: {'; '.join(problems)}{hint}")
        self.header = names
        self._fields = fields
        self._ignored = dict.fromkeys(ignored)

    def rows(self) -> Iterator[Row]:
        """Every data row, streamed; blank lines are skipped."""
        if self.format == "csv":
            if self.header is None:
                self.check()
            return self._csv_rows()
        return self._jsonl_rows()

    def _open(self) -> TextIO:
        try:
            return open(self.path, encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise InputError(f"{self.path}: {exc.strerror or exc}") from None

    def _csv_rows(self) -> Iterator[Row]:
        names = self.header
        assert names is not None
        fields = self._fields
        drop_empty = self.columns.drop_empty
        with self._open() as f:
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
                    raise InputError(f"{self.path}: line {line}: {exc}") from None
                next_line = reader.line_num + 1
                if not any(cell.strip() for cell in cells):
                    continue
                raw = tuple(cells)
                if len(cells) != len(names):
                    problem = f"expected {len(names)} fields ({','.join(names)}), got {len(cells)}"
                    yield Row(line, raw, None, problem)
                    continue
                values: dict[str, object] = {}
                for name, cell in zip(fields, cells, strict=True):
                    if name is None:
                        continue
                    value = cell.strip()
                    if not value and name in drop_empty:
                        continue  # an empty optional cell: not given
                    values[name] = value
                yield Row(line, raw, values)

    def _jsonl_rows(self) -> Iterator[Row]:
        plan = self.columns
        with self._open() as f:
            line = 0
            while True:
                try:
                    text = f.readline()
                except UnicodeDecodeError as exc:
                    raise InputError(f"{self.path}: line {line + 1}: {exc}") from None
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
                    kind = type(value).__name__
                    yield Row(line, raw, None, f"must be a JSON object, got {kind}")
                    continue
                values: dict[str, object] = {}
                unknown: list[str] = []
                for key, item in value.items():
                    name = plan.field_of(str(key))
                    if name is None:
                        unknown.append(str(key))
                    elif name in values:
                        yield Row(line, raw, None, f"field {name!r} given twice (see --map)")
                        break
                    else:
                        values[name] = item
                else:
                    if unknown and plan.strict:
                        problem = f"unknown field(s) {', '.join(unknown)}"
                        yield Row(line, raw, None, problem)
                        continue
                    for key in unknown:
                        if len(self._ignored) < MAX_IGNORED_LISTED:
                            self._ignored.setdefault(key)
                    yield Row(line, raw, values)


class FailedRows:
    """The rows not done, written as they come, in the input's own format (and header), so the
    same command can take the file again. Opened on the first row."""

    def __init__(self, path: Path, header: tuple[str, ...] | None) -> None:
        self.path = path
        self.header = header
        self.count = 0
        self._file: TextIO | None = None

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
