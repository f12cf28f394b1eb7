"""Any endpoint in bulk: one request per row, the path filled from the row, the body from the rest
of it (or from a template).

From Python, :func:`run_endpoint`::

    async with AsyncTightknit() as tk, Journal("groups.sqlite3") as journal:
        summary = await run_endpoint(
            tk, "PUT", "/admin/v0/groups/{group_id}/members", rows,
            job="groups-2026-11", journal=journal,
        )

From the command line, ``tightknit-async bulk PUT /admin/v0/groups/{group_id}/members rows.jsonl``
with the journal, resume, sync, progress, rate, summary and exit status of ``import members``.

- ``{field}`` placeholders of the path are taken from the row, each quoted as one path segment
  (``a/b`` is sent as ``a%2Fb``), and left out of the body.
- The body is the rest of the row, or ``body``: a JSON template whose strings may hold
  placeholders. A string that is one placeholder alone (``"{users}"``) becomes the row's value
  as it is (a list stays a list); placeholders inside a longer string are replaced by the value
  as text.
- Each row is an item: its id is the ``key`` field(s) when given (``--key email``), else the
  request itself (method, path and a digest of the body), so identical rows are one item. Its
  content hash is that of the path and body: a re-run sends the new and changed rows.
- What the reply names (``data.id``, the one ``data.*_id``, or the ``id`` of the one object in
  ``data``; or ``result_field``, a dotted path) is kept in the journal as the row's result id.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, TextIO

from .. import _codec
from .._response import APIResponse
from ._budget import ErrorBudget
from ._content import hash_content
from ._engine import DEFAULT_CANCEL_GRACE, BulkJob
from ._files import Columns
from ._journal import Journal
from ._progress import Progress
from ._runner import (
    Entry,
    ImportOptions,
    RowKind,
    add_job_arguments,
    job_options_from_args,
    run_file_job,
)
from ._types import BulkItem, BulkSummary, ItemResult

if TYPE_CHECKING:
    from .._client import AsyncTightknit

__all__ = [
    "EndpointCall",
    "EndpointKind",
    "EndpointRow",
    "KeyedCall",
    "RequestTemplate",
    "add_bulk_parser",
    "run_endpoint",
    "run_endpoint_command",
]

METHODS: Final = ("POST", "PUT", "PATCH", "DELETE")
_PLACEHOLDER: Final = re.compile(r"\{([^{}]+)\}")
_SAFE_SEGMENT: Final = re.compile(r"[A-Za-z0-9_.~-]+")


class RowError(ValueError):
    """A row that does not fill the request (a field missing or of the wrong kind): that row
    fails, unsent."""


@dataclass(frozen=True, slots=True)
class EndpointCall:
    """One request: the path filled from a row and its JSON body (``None``: no body)."""

    path: str
    body: object

    def content(self) -> object:
        return {"path": self.path, "body": self.body}


@dataclass(frozen=True, slots=True)
class EndpointRow:
    """An item of :func:`run_endpoint`: the row as given, its request, or why it has none."""

    row: Mapping[str, object]
    call: EndpointCall | None
    problem: str | None = None


def _segment(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RowError(f"{name}: a path value must be a string or an integer, got {value!r}")
    text = str(value).strip() if isinstance(value, str) else str(value)
    if not text or text in (".", ".."):
        raise RowError(f"{name}: a path value must not be empty, got {value!r}")
    if _SAFE_SEGMENT.fullmatch(text):
        return text
    from urllib.parse import quote

    return quote(text, safe="")


class RequestTemplate:
    """A method, a path template and an optional body template: :meth:`fill` makes one row's
    request.

    Raises:
        ValueError: a method other than POST, PUT, PATCH or DELETE; a path that does not start
            with ``/``; a body template that is not JSON (or not an object or array).
    """

    def __init__(
        self,
        method: str,
        path: str,
        body: Mapping[str, object] | Sequence[object] | str | None = None,
        *,
        key: str | Sequence[str] | Callable[[Mapping[str, object]], object] | None = None,
    ) -> None:
        verb = method.upper() if isinstance(method, str) else method
        if verb not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"the path must start with '/', got {path!r}")
        if isinstance(body, str):
            try:
                body = _codec.decode(body.encode())
            except Exception as exc:
                raise ValueError(f"the body template is not valid JSON: {exc}") from None
        if body is not None and not isinstance(body, Mapping | list):
            raise ValueError(f"the body template must be a JSON object or array, got {body!r}")
        self.method: str = verb
        self.path = path
        self.body = body
        self.path_fields = tuple(_PLACEHOLDER.findall(path))
        self._key = (key,) if isinstance(key, str) else key
        if isinstance(self._key, Sequence) and not self._key:
            raise ValueError("key must name at least one field")

    def fill(self, row: Mapping[str, object]) -> EndpointCall:
        """The request of ``row``.

        Raises:
            RowError: a placeholder names no field of the row, or a path value is empty or not
                a string or integer.
        """
        missing = [name for name in self.path_fields if name not in row]
        if missing:
            raise RowError(f"no field {', '.join(missing)} for the path {self.path}")

        def segment(match: re.Match[str]) -> str:
            return _segment(match.group(1), row[match.group(1)])

        path = _PLACEHOLDER.sub(segment, self.path)
        if self.body is not None:
            return EndpointCall(path, _render(self.body, row))
        rest = {name: value for name, value in row.items() if name not in self.path_fields}
        return EndpointCall(path, rest or None)

    def item_id(self, row: Mapping[str, object], call: EndpointCall | None) -> str:
        """The row's id: its ``key`` field(s), else the request (or the row, when it has no
        request)."""
        key = self._key
        if callable(key):
            named = key(row)
            if named is None or named == "":
                raise RowError("key() gave no id for the row")
            return str(named)
        if key is not None:
            missing = [name for name in key if row.get(name) in (None, "")]
            if missing:
                raise RowError(f"no value for the key field(s) {', '.join(missing)}")
            if len(key) == 1:
                return str(row[key[0]])
            return _codec.encode([row[name] for name in key]).decode()
        if call is None:
            return f"row {hash_content(dict(row))[:16]}"
        return f"{self.method} {call.path} {hash_content(call.body)[:16]}"

    @property
    def has_key(self) -> bool:
        """Whether rows are named by a key (else by their request)."""
        return self._key is not None

    def prepare(self, row: Mapping[str, object]) -> EndpointRow:
        try:
            return EndpointRow(row, self.fill(row))
        except RowError as exc:
            return EndpointRow(row, None, str(exc))

    def __repr__(self) -> str:
        return f"<RequestTemplate {self.method} {self.path}>"


def _render(template: object, row: Mapping[str, object]) -> object:
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole is not None:
            name = whole.group(1)
            if name not in row:
                raise RowError(f"no field {name} for the body")
            return row[name]

        def text(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in row:
                raise RowError(f"no field {name} for the body")
            value = row[name]
            return value if isinstance(value, str) else _codec.encode(value).decode()

        return _PLACEHOLDER.sub(text, template)
    if isinstance(template, Mapping):
        return {str(k): _render(v, row) for k, v in template.items()}
    if isinstance(template, list):
        return [_render(v, row) for v in template]
    return template


def result_id_of(response: APIResponse, field: str | None = None) -> object:
    """What a reply names: the value at the dotted path ``field`` of its JSON, else ``data.id``,
    the one ``data.*_id``, or the ``id`` of the one object in ``data``; ``None`` if none."""
    data: Any = response.data
    if field is not None:
        for part in field.split("."):
            if not isinstance(data, Mapping) or part not in data:
                return None
            data = data[part]
        return data if isinstance(data, str | int) and not isinstance(data, bool) else None
    inner = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(inner, Mapping):
        return None
    if isinstance(inner.get("id"), str | int):
        return inner["id"]
    ids = [v for k, v in inner.items() if str(k).endswith("_id") and isinstance(v, str | int)]
    if len(ids) == 1:
        return ids[0]
    nested = [v["id"] for v in inner.values() if isinstance(v, Mapping) and "id" in v]
    if len(nested) == 1 and isinstance(nested[0], str | int):
        return nested[0]
    return None


async def run_endpoint(
    client: AsyncTightknit,
    method: str,
    path: str,
    rows: Iterable[Mapping[str, object]] | AsyncIterable[Mapping[str, object]],
    *,
    job: str,
    body: Mapping[str, object] | Sequence[object] | str | None = None,
    key: str | Sequence[str] | Callable[[Mapping[str, object]], object] | None = None,
    journal: Journal | None = None,
    sync: bool = True,
    resend_all: bool = False,
    result_field: str | None = None,
    concurrency: int = 16,
    error_budget: ErrorBudget | int | float | None = None,
    on_progress: Callable[[Progress], object] | None = None,
    on_result: Callable[[ItemResult[EndpointRow, APIResponse]], object] | None = None,
    keep_results: bool = False,
    total: int | None = None,
    cancel_grace: float = DEFAULT_CANCEL_GRACE,
    uncertain: Literal["resend", "skip"] = "resend",
) -> BulkSummary[EndpointRow, APIResponse]:
    """Send ``method path`` once per row, in bulk (see :mod:`tightknit_async.bulk._endpoint`).

    Args:
        client: the client to send with.
        method: ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
        path: the path template, like ``/admin/v0/groups/{group_id}/members``.
        rows: mappings of field -> value, any iterable or async iterable, read lazily.
        job: the job's name (keys and journal rows).
        body: a JSON template (a mapping, a list or JSON text) with ``{field}`` placeholders;
            default: the row without the path's fields.
        key: the field (or fields, or a function of the row) naming each row; default: the
            request itself.
        journal: a journal to resume, sync and keep each row's result id.
        sync: hash each row's request, so a re-run sends only new and changed rows (with a
            journal); ``False`` for creates that are not upserts: a changed row must then not
            be sent again (with ``key``, it is done; without, it would be a new item).
        resend_all: send every row, those done before too, under fresh keys.
        result_field: a dotted path of the reply's JSON naming what it made (see
            :func:`result_id_of`).

    ``concurrency``, ``error_budget``, ``on_progress``, ``on_result``, ``keep_results``,
    ``total``, ``cancel_grace`` and ``uncertain`` are :class:`~tightknit_async.bulk.BulkJob`'s.
    A row that does not fill the request fails (``RowError``), unsent; the others go on.
    ``ItemResult.item`` is an :class:`EndpointRow` (``.row``, ``.call``); ``.result`` the
    :class:`~tightknit_async.APIResponse`.
    """
    template = RequestTemplate(method, path, body, key=key)

    async def prepared() -> AsyncIterator[EndpointRow]:
        if isinstance(rows, AsyncIterable):
            async for row in rows:
                yield template.prepare(row)
        else:
            for row in rows:
                yield template.prepare(row)

    async def send(item: BulkItem[EndpointRow]) -> APIResponse:
        call = item.value.call
        if call is None:
            raise RowError(item.value.problem or "the row does not fill the request")
        return await _send(client, template.method, call, item.options)

    def content(value: EndpointRow) -> str:
        return hash_content(value.call.content() if value.call is not None else dict(value.row))

    if total is None and isinstance(rows, Sequence):
        total = len(rows)
    bulk: BulkJob[EndpointRow, APIResponse] = BulkJob(
        prepared(),
        send,
        job=job,
        key=lambda value: template.item_id(value.row, value.call),
        concurrency=concurrency,
        error_budget=error_budget,
        journal=journal,
        on_progress=on_progress,
        on_result=on_result,
        keep_results=keep_results,
        total=total,
        cancel_grace=cancel_grace,
        uncertain=uncertain,
        content_hash=content if sync else None,
        result_id=lambda response: result_id_of(response, result_field),
        resend_done=resend_all,
    )
    return await bulk.run()


async def _send(
    client: AsyncTightknit, method: str, call: EndpointCall, options: Mapping[str, Any]
) -> APIResponse:
    if call.body is None:
        return await client.request(method, call.path, **options)
    return await client.request(method, call.path, json=call.body, **options)


# -- the command -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyedCall:
    """A row's request and its id, named when the row was read."""

    call: EndpointCall
    item_id: str


class EndpointKind(RowKind[KeyedCall, APIResponse]):
    """``bulk METHOD PATH FILE``: every column is a field; one request per row."""

    verb = "done"

    def __init__(self, template: RequestTemplate, *, result_field: str | None = None) -> None:
        self.template = template
        self.result_field = result_field
        self.label = f"bulk {template.method} {template.path}"

    def columns(self, options: ImportOptions) -> Columns:
        return Columns(rename=dict(options.column_map))

    def default_job(self, path: Path) -> str:
        body = "" if self.template.body is None else _codec.encode(self.template.body).decode()
        seed = f"{self.template.method} {self.template.path}\n{body}\n{path.resolve()}"
        return f"bulk-{hashlib.sha256(seed.encode()).hexdigest()[:12]}"

    def check(self, fields: dict[str, object]) -> KeyedCall | str:
        try:
            call = self.template.fill(fields)
            return KeyedCall(call, self.template.item_id(fields, call))
        except RowError as exc:
            return str(exc)

    def item_id(self, value: KeyedCall) -> str:
        return value.item_id

    def content(self, value: KeyedCall) -> object:
        return value.call.content()

    def duplicate(self, value: KeyedCall) -> str:
        if self.template.has_key:
            return f"id {value.item_id!r} is on an earlier line too"
        return f"the same request ({self.describe(value)}) is on an earlier line too"

    def describe(self, value: KeyedCall) -> str:
        return f"{self.template.method} {value.call.path}"

    async def send(
        self, client: AsyncTightknit, value: KeyedCall, item: BulkItem[Entry[KeyedCall]]
    ) -> APIResponse:
        return await _send(client, self.template.method, value.call, item.options)

    def result_id(self, result: APIResponse) -> object:
        return result_id_of(result, self.result_field)


async def run_endpoint_command(
    options: ImportOptions,
    template: RequestTemplate,
    *,
    result_field: str | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    interactive: bool | None = None,
    log_interval: float = 10.0,
) -> int:
    """Run ``bulk METHOD PATH FILE`` and return the exit status (that of ``import members``)."""
    return await run_file_job(
        options,
        EndpointKind(template, result_field=result_field),
        stdout=stdout,
        stderr=stderr,
        interactive=interactive,
        log_interval=log_interval,
    )


def add_bulk_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``bulk METHOD PATH FILE`` to the ``tightknit-async`` parser."""
    bulk = sub.add_parser(
        "bulk",
        help="send one request per row of a CSV or JSONL file, to any endpoint",
        description=(
            "Send METHOD PATH once per row of FILE (CSV with a header, or JSON Lines objects). "
            "{field} placeholders of PATH are filled from the row (quoted as path segments); "
            "the body is the rest of the row, or --body, a JSON template whose strings may hold "
            "{field} placeholders (a string that is one placeholder takes the value as it is). "
            "Rows are validated first, sent at the key's rate with idempotency keys and "
            "journaled: re-running the command resumes, and over an edited file sends only the "
            "new and changed rows. Key and URL from TIGHTKNIT_API_KEY and TIGHTKNIT_BASE_URL. "
            "Exit status 0 only when every row is done."
        ),
        epilog=(
            "example: tightknit-async bulk PUT /admin/v0/groups/{group_id}/members rows.jsonl "
            '--body \'{"users": {"slack_user_ids": ["{user}"]}}\''
        ),
    )
    bulk.add_argument("method", help="POST, PUT, PATCH or DELETE")
    bulk.add_argument("path", help="the path template, e.g. /admin/v0/groups/{group_id}/members")
    bulk.add_argument("file", type=Path, help="a .csv or .jsonl file")
    bulk.add_argument("--body", help="a JSON template of the body with {field} placeholders")
    bulk.add_argument(
        "--key",
        action="append",
        metavar="FIELD",
        help="the field naming each row (repeatable; default: the request itself)",
    )
    bulk.add_argument(
        "--result-field",
        metavar="PATH",
        help="the dotted path of the reply naming what it made, kept in the journal "
        "(default: data.id, the one data.*_id, or the id of the one object in data)",
    )
    add_job_arguments(bulk)


def template_from_args(args: argparse.Namespace) -> RequestTemplate:
    """The :class:`RequestTemplate` of parsed ``bulk`` arguments.

    Raises:
        ValueError: a bad method, path or body template.
    """
    return RequestTemplate(args.method, args.path, args.body, key=args.key)


def endpoint_options_from_args(args: argparse.Namespace) -> ImportOptions:
    """The :class:`ImportOptions` of parsed ``bulk`` arguments.

    Raises:
        ValueError: an option out of range.
    """
    return job_options_from_args(args)


def bulk_command(args: argparse.Namespace) -> int:
    """``tightknit-async bulk ...``: parse, run, and map Ctrl-C to exit status 130."""
    from ._runner import run_job_command

    return run_job_command(
        lambda: run_endpoint_command(
            endpoint_options_from_args(args),
            template_from_args(args),
            result_field=args.result_field,
        )
    )
