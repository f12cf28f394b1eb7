"""``tightknit-async import members FILE``: validate a CSV or JSONL file, then sync it in bulk.

Every row is checked with :class:`~tightknit_async.models.MemberCreate` (the rules the API
applies) and keyed by its lower-cased e-mail; columns the command does not use (a CRM export's
``company``, ``phone``...) are ignored and listed, ``--map email=E-mail`` takes a field from a
column of another name, ``--strict-columns`` refuses unknown columns. The rest (validation pass,
journal, sync by content hash, ``--all``, progress, summary, exit status) is
:mod:`tightknit_async.bulk._runner`, shared with ``bulk METHOD PATH FILE``.

The job name defaults to ``members-`` + 12 hex digits of the SHA-256 of the file's resolved
path: running the command again over the same file, edited, sends the new and changed rows and
skips the others. A changed row is sent under a key of its own (derived from its content), so
the server applies the change; a fixed row is not answered with a replay of its rejection.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

import msgspec

from .._exceptions import RequestValidationError
from ..models import Envelope, MemberCreate, MemberResult, MemberUpsert
from ._files import Columns, InputError, detect_format
from ._runner import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Entry,
    ImportOptions,
    RowKind,
    add_job_arguments,
    job_options_from_args,
    path_digest,
    run_file_job,
)
from ._types import BulkItem, BulkSummary

if TYPE_CHECKING:
    from .._client import AsyncTightknit

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "ImportOptions",
    "InputError",
    "MembersKind",
    "add_import_parser",
    "default_job",
    "detect_format",
    "import_members",
    "options_from_args",
]

COLUMNS: Final = ("email", "full_name", "avatar_url_original")
REQUIRED: Final = ("email", "full_name")


def default_job(path: Path) -> str:
    """``members-`` + 12 hex digits of the SHA-256 of the file's resolved path."""
    return f"members-{path_digest(path)}"


class MembersKind(RowKind[MemberCreate, MemberResult]):
    """``import members``: rows of ``email,full_name[,avatar_url_original]``, upserted by e-mail."""

    label = "import members"
    verb = "imported"

    def columns(self, options: ImportOptions) -> Columns:
        return Columns(
            known=COLUMNS,
            required=REQUIRED,
            rename=dict(options.column_map),
            strict=options.strict_columns,
            drop_empty=("avatar_url_original",),
        )

    def default_job(self, path: Path) -> str:
        return default_job(path)

    def check(self, fields: dict[str, object]) -> MemberCreate | str:
        # MemberCreate.coerce's checks, with the model's fields looked up once, not per row
        unknown = sorted(name for name in fields if name not in COLUMNS)
        if unknown:
            return f"unknown field(s) {', '.join(unknown)}"
        missing = [name for name in REQUIRED if name not in fields]
        if missing:
            return f"{missing[0]}: is required"
        try:
            return MemberCreate(**fields)  # type: ignore[arg-type]
        except RequestValidationError as exc:
            return str(exc)
        except (TypeError, msgspec.ValidationError) as exc:
            return str(exc)

    def item_id(self, value: MemberCreate) -> str:
        return value.email.strip().lower()

    def content(self, value: MemberCreate) -> object:
        return value.to_builtins()

    def duplicate(self, value: MemberCreate) -> str:
        return f"email: {value.email!r} is on an earlier line too"

    def describe(self, value: MemberCreate) -> str:
        return value.email

    async def send(
        self, client: AsyncTightknit, value: MemberCreate, item: BulkItem[Entry[MemberCreate]]
    ) -> MemberResult:
        response = await client.members.with_raw_response.create(
            email=value.email,
            full_name=value.full_name,
            avatar_url_original=value.avatar_url_original,
            **item.options,  # the row's deterministic idempotency key, the bulk lane
        )
        item.observe(response)  # attempts, replay and status for the summary and the journal
        return MemberResult.from_response(
            response.parse(Envelope[MemberUpsert], strict=client.strict_responses),
            response.status_code,
        )

    def result_id(self, result: MemberResult) -> object:
        return result.member.id

    def outcome_rows(
        self, summary: BulkSummary[Entry[MemberCreate], MemberResult]
    ) -> list[tuple[str, int]]:
        return [("created", summary.created), ("updated", summary.updated)]


async def import_members(
    options: ImportOptions,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    interactive: bool | None = None,
    log_interval: float = 10.0,
    note: str = "",
) -> int:
    """Run ``import members`` and return the exit status (see
    :mod:`tightknit_async.bulk._runner`)."""
    return await run_file_job(
        options,
        MembersKind(),
        stdout=stdout,
        stderr=stderr,
        interactive=interactive,
        log_interval=log_interval,
        note=note,
    )


# -- the command line ----------------------------------------------------------------------------


def add_import_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``import members`` to the ``tightknit-async`` parser."""
    imp = sub.add_parser("import", help="import records in bulk from a file")
    kinds = imp.add_subparsers(dest="kind", required=True)
    members = kinds.add_parser(
        "members",
        help="add or update members from a CSV or JSONL file",
        description=(
            "Add or update (by e-mail) the members of FILE: a CSV with the columns "
            "email,full_name[,avatar_url_original] (other columns are ignored; --map renames), "
            "or JSON Lines objects with those keys. Every row is validated first; then rows are "
            "sent at the key's rate with idempotency keys and journaled, so re-running the same "
            "command resumes, and over an edited file sends only the new and changed rows. "
            "Key and URL from TIGHTKNIT_API_KEY and TIGHTKNIT_BASE_URL. Exit status 0 only "
            "when every row is imported."
        ),
    )
    members.add_argument("file", type=Path, help="a .csv or .jsonl file")
    add_job_arguments(members)
    members.add_argument(
        "--strict-columns",
        action="store_true",
        help="refuse a file with columns (or JSON keys) the command does not use",
    )


def options_from_args(args: argparse.Namespace) -> ImportOptions:
    """The :class:`ImportOptions` of parsed ``import members`` arguments.

    Raises:
        ValueError: an option out of range.
    """
    return job_options_from_args(args)
