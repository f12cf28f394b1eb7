"""``tightknit-async check-api``: how far the live API's replies have drifted from the models.

The API is only partly documented and changes under its users. This command calls each read-only
endpoint once with the user's key (through :class:`~tightknit_async.AsyncTightknit`, so within
the rate limit) and compares each reply with the model this client decodes it into, using
:func:`~tightknit_async.models._tolerant.deviations`:

- ``unknown_field``: a field the model does not know;
- ``null`` / ``missing``: a field the model treats as always present sent as null, or absent (an
  absent optional field is normal and not reported);
- ``enum``: a value outside the values known for the field;
- ``type``: a value of another JSON type;

and whether the typed decoder rejected the reply, so that the tolerant path was needed. Each
endpoint's deviations are grouped by (JSON path, kind, detail) with a count.

An endpoint answering 403, 404 or 405 is *not checked* (the key lacks a permission, the plan
lacks the feature, or the endpoint is gone), not drift; one whose id comes from a list that gave
no record is not checked either. Exit status: 0 no drift, 1 drift found, 2 nothing could be
checked (no key, the key refused with 401 on the first call, no answer from any endpoint).

The report is built by pure functions (:func:`examine`, :func:`report_to_builtins`,
:func:`format_report`) from :class:`Reply` values; :func:`check_api` alone does I/O.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias
from urllib.parse import quote, urlencode, urlsplit

import msgspec

from . import _codec
from ._exceptions import APIStatusError, TightknitError
from .models import (
    ApiKeyInfo,
    CalendarEvent,
    Envelope,
    Feed,
    ListPage,
    Post,
    SearchHit,
    decoder_for,
)
from .models._tolerant import Deviation, deviations, type_name

if TYPE_CHECKING:
    from ._client import AsyncTightknit

__all__ = [
    "EXIT_DRIFT",
    "EXIT_NO_CHECK",
    "EXIT_OK",
    "NOT_CHECKED_STATUSES",
    "DriftItem",
    "EndpointReport",
    "Probe",
    "Reply",
    "Report",
    "build_report",
    "check_api",
    "check_api_command",
    "examine",
    "first_record_id",
    "format_report",
    "group_deviations",
    "probes",
    "report_to_builtins",
    "skipped",
]

EXIT_OK: Final = 0
EXIT_DRIFT: Final = 1
EXIT_NO_CHECK: Final = 2

NOT_CHECKED_STATUSES: Final = frozenset({403, 404, 405})
"""Statuses that mean the endpoint could not be read with this key, not that it drifted."""

PER_PAGE: Final = 100
"""Records asked of each list: more records, more chances to meet a drifted one, in one call."""

EndpointStatus: TypeAlias = Literal["ok", "drift", "not_checked", "error"]

_API: Final = "/admin/v0"
_EVENT_STATUSES: Final = ("published", "draft", "needs_approval")
_FAILURE_KINDS: Final = frozenset({"null", "missing", "type"})
"""The kinds that make the typed decoder reject a reply (unknown fields and enum values pass)."""


# --- the plan -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Probe:
    """One read-only call: its path template, the model of its reply and its query.

    ``needs`` names the path parameter an earlier list supplies (``{feed_id}``); ``provides``
    names the parameter this list's first record supplies to later probes.
    """

    path: str
    model: Any
    params: tuple[tuple[str, str], ...] = ()
    needs: str | None = None
    provides: str | None = None
    method: str = "GET"

    def target(self, ids: dict[str, str]) -> str | None:
        """The path with its parameter filled from ``ids``; ``None`` when that id is unknown."""
        if self.needs is None:
            return self.path
        value = ids.get(self.needs)
        if value is None:
            return None
        return self.path.replace("{" + self.needs + "}", quote(value, safe=""))


def probes(query: str = "a") -> tuple[Probe, ...]:
    """Every read-only endpoint in calling order; ``query`` is the search term.

    The calendar event list is called once per status (``time_filter=all``); the first record of
    the first list that has one gives the event to retrieve. The first feed gives the feed to
    retrieve and whose posts to list; that list's first post (else the first search hit) gives
    the post to retrieve.
    """
    page = ("per_page", str(PER_PAGE))
    events = tuple(
        Probe(
            f"{_API}/calendar_events",
            Envelope[ListPage[CalendarEvent]],
            (("time_filter", "all"), ("status", status), page),
            provides="calendar_event_id",
        )
        for status in _EVENT_STATUSES
    )
    return (
        Probe(f"{_API}/api_key/me", Envelope[ApiKeyInfo]),
        *events,
        Probe(
            f"{_API}/calendar_events/{{calendar_event_id}}",
            Envelope[CalendarEvent],
            needs="calendar_event_id",
        ),
        Probe(f"{_API}/feeds", Envelope[ListPage[Feed]], (page,), provides="feed_id"),
        Probe(f"{_API}/feeds/{{feed_id}}", Envelope[Feed], needs="feed_id"),
        Probe(
            f"{_API}/feeds/{{feed_id}}/posts",
            Envelope[ListPage[Post]],
            (page,),
            needs="feed_id",
            provides="post_id",
        ),
        Probe(
            f"{_API}/search",
            Envelope[ListPage[SearchHit]],
            (("q", query), page),
            provides="post_id",
        ),
        Probe(f"{_API}/posts/{{post_id}}", Envelope[Post], needs="post_id"),
    )


# --- the report -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """What one call brought back: the status (``None``: no HTTP answer) and body of a success,
    or the error code and message of a failure."""

    http_status: int | None
    content: bytes = b""
    error_code: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DriftItem:
    """One kind of deviation at one JSON path, seen ``count`` times in the reply."""

    kind: str
    path: str
    model: str
    detail: str
    count: int


@dataclass(frozen=True, slots=True)
class EndpointReport:
    """The verdict on one endpoint.

    ``path`` is the template (``/admin/v0/feeds/{feed_id}``); ``request`` the path and query
    actually sent, ``None`` when the endpoint was not called. ``reason`` says why an endpoint was
    not checked or failed, ``error_code`` is the API's code for it.
    """

    method: str
    path: str
    model: str
    status: EndpointStatus
    http_status: int | None = None
    needed_tolerant_path: bool = False
    drift: tuple[DriftItem, ...] = ()
    request: str | None = None
    error_code: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """Every endpoint's verdict; ``could_not_check`` says why nothing could be checked."""

    base_url: str
    endpoints: tuple[EndpointReport, ...]
    could_not_check: str | None = None

    @property
    def drift_found(self) -> bool:
        """Whether any endpoint drifted."""
        return any(endpoint.status == "drift" for endpoint in self.endpoints)

    @property
    def exit_status(self) -> int:
        """2 when nothing could be checked, else 1 when drift was found, else 0."""
        if self.could_not_check is not None:
            return EXIT_NO_CHECK
        return EXIT_DRIFT if self.drift_found else EXIT_OK


def group_deviations(found: Iterable[Deviation]) -> tuple[DriftItem, ...]:
    """Deviations grouped by (path, kind, detail) with a count, in order of first appearance."""
    groups: dict[tuple[str, str, str], tuple[str, int]] = {}
    for item in found:
        key = (item.path, item.kind, item.detail)
        model, count = groups.get(key, (item.model, 0))
        groups[key] = (model, count + 1)
    return tuple(
        DriftItem(kind=kind, path=path, model=model, detail=detail, count=count)
        for (path, kind, detail), (model, count) in groups.items()
    )


def _request_line(path: str, params: Sequence[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def skipped(probe: Probe) -> EndpointReport:
    """The verdict on a probe never called: no earlier list gave the id it needs."""
    return EndpointReport(
        method=probe.method,
        path=probe.path,
        model=type_name(probe.model),
        status="not_checked",
        reason=f"no {probe.needs}: no list that gives one returned a record",
    )


def examine(probe: Probe, reply: Reply, *, path: str | None = None) -> EndpointReport:
    """The verdict on one reply to ``probe``, sent to ``path`` (default the probe's own).

    No answer, or an error status other than 403/404/405, is an ``error``; 403/404/405 is
    ``not_checked``. A 2xx body is compared with the model: ``drift`` when anything differs
    (unknown fields included), else ``ok``; ``needed_tolerant_path`` when the typed decoder
    rejected it.
    """
    model = type_name(probe.model)
    request = _request_line(path or probe.path, probe.params)
    status = reply.http_status

    def verdict(kind: EndpointStatus, **fields: Any) -> EndpointReport:
        return EndpointReport(
            method=probe.method,
            path=probe.path,
            model=model,
            status=kind,
            http_status=status,
            request=request,
            **fields,
        )

    if status is None:
        return verdict("error", reason=reply.error or "no answer")
    if not 200 <= status < 300:
        kind: EndpointStatus = "not_checked" if status in NOT_CHECKED_STATUSES else "error"
        return verdict(kind, error_code=reply.error_code, reason=reply.error)
    content = reply.content
    try:
        data = _codec.decode(content) if content.strip() else None
    except _codec.UNDECODABLE as exc:
        return verdict("error", reason=f"the body is not JSON ({_codec.describe_failure(exc)})")
    failure: str | None = None
    try:
        decoder_for(probe.model).decode(content)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        failure = str(exc)
    drift = group_deviations(deviations(probe.model, data, unknown_fields=True))
    if failure is not None and not any(item.kind in _FAILURE_KINDS for item in drift):
        # The typed decoder refused something the walk does not see (a constraint): say so.
        message, _, at = failure.partition(" - at `")
        drift += (
            DriftItem(
                kind="type", path=at.rstrip("`") or "$", model=model, detail=message, count=1
            ),
        )
    return verdict(
        "drift" if drift else "ok", needed_tolerant_path=failure is not None, drift=drift
    )


def first_record_id(reply: Reply) -> str | None:
    """The ``id`` of the first record of a successful list reply that has a string one."""
    if reply.http_status is None or not 200 <= reply.http_status < 300:
        return None
    try:
        body = _codec.decode(reply.content)
    except _codec.UNDECODABLE:
        return None
    data = body.get("data") if isinstance(body, dict) else None
    records = data.get("records") if isinstance(data, dict) else None
    for record in records if isinstance(records, list) else ():
        value = record.get("id") if isinstance(record, dict) else None
        if isinstance(value, str) and value:
            return value
    return None


def _public_url(base_url: str) -> str:
    """``base_url`` without any user or password it may carry."""
    parts = urlsplit(base_url)
    if parts.username is None and parts.password is None:
        return base_url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


def build_report(base_url: str, endpoints: Sequence[EndpointReport]) -> Report:
    """The report, deciding whether anything could be checked at all.

    Nothing could when the first endpoint answered 401 (the key is refused), or when not one of
    the endpoints called answered.
    """
    reason: str | None = None
    called = [endpoint for endpoint in endpoints if endpoint.request is not None]
    if endpoints and endpoints[0].http_status == 401:
        first = endpoints[0]
        detail = " ".join(part for part in (first.error_code, first.reason) if part)
        reason = "the API key was refused (401" + (f" {detail}" if detail else "") + ")"
    elif called and all(endpoint.http_status is None for endpoint in called):
        reason = "no endpoint answered: " + (called[0].reason or "no answer")
    return Report(
        base_url=_public_url(base_url), endpoints=tuple(endpoints), could_not_check=reason
    )


def report_to_builtins(report: Report) -> dict[str, Any]:
    """The report as JSON-ready builtins, with stable keys."""
    return {
        "base_url": report.base_url,
        "drift_found": report.drift_found,
        "could_not_check": report.could_not_check,
        "endpoints": [
            {
                "method": endpoint.method,
                "path": endpoint.path,
                "request": endpoint.request,
                "model": endpoint.model,
                "status": endpoint.status,
                "http_status": endpoint.http_status,
                "error_code": endpoint.error_code,
                "reason": endpoint.reason,
                "needed_tolerant_path": endpoint.needed_tolerant_path,
                "drift": [
                    {
                        "kind": item.kind,
                        "path": item.path,
                        "model": item.model,
                        "detail": item.detail,
                        "count": item.count,
                    }
                    for item in endpoint.drift
                ],
            }
            for endpoint in report.endpoints
        ],
    }


_LABELS: Final[dict[EndpointStatus, str]] = {
    "ok": "ok",
    "drift": "DRIFT",
    "not_checked": "not checked",
    "error": "ERROR",
}


_ASIDES: Final[tuple[tuple[EndpointStatus, str], ...]] = (
    ("not_checked", "not checked"),
    ("error", "failed"),
)


def _endpoint_lines(endpoint: EndpointReport) -> list[str]:
    line = f"{_LABELS[endpoint.status]:<11}  {endpoint.method} {endpoint.request or endpoint.path}"
    if endpoint.status in ("not_checked", "error"):
        why = " ".join(
            str(part)
            for part in (endpoint.http_status, endpoint.error_code, endpoint.reason)
            if part
        )
        if why:
            line += f": {why}"
    elif endpoint.needed_tolerant_path:
        line += "  (typed decoding failed: needed the tolerant path)"
    lines = [line]
    width = max(len(item.kind) for item in endpoint.drift) if endpoint.drift else 0
    for item in endpoint.drift:
        text = f"    {item.kind:<{width}}  {item.path}  {item.model}"
        if item.detail:
            text += f": {item.detail}"
        if item.count > 1:
            text += f"  (x{item.count})"
        lines.append(text)
    return lines


def format_report(report: Report) -> str:
    """The report for people: one line per endpoint, its drift indented below, a summary."""
    lines = [f"Checking {report.base_url} against the models of this client"]
    for endpoint in report.endpoints:
        lines += _endpoint_lines(endpoint)
    total = len(report.endpoints)
    counts = {
        status: sum(endpoint.status == status for endpoint in report.endpoints)
        for status in _LABELS
    }
    if report.could_not_check is not None:
        lines.append(f"Could not check the API: {report.could_not_check}.")
    elif report.drift_found:
        lines.append(f"Drift found on {counts['drift']} of {total} endpoints.")
    else:
        lines.append(f"No drift: {counts['ok']} of {total} endpoints match the models.")
    others = [f"{counts[status]} {label}" for status, label in _ASIDES if counts[status]]
    if others and report.could_not_check is None:
        lines[-1] += f" ({', '.join(others)})"
    return "\n".join(lines)


# --- I/O ------------------------------------------------------------------------------------------


async def _fetch(client: AsyncTightknit, probe: Probe, path: str) -> Reply:
    try:
        response = await client.request(probe.method, path, params=dict(probe.params) or None)
    except APIStatusError as exc:
        return Reply(
            http_status=exc.status_code,
            error_code=exc.code,
            error=exc.error_message or str(exc),
        )
    except TightknitError as exc:  # no answer: connection, timeout, pacing deadline
        return Reply(http_status=None, error=str(exc))
    return Reply(http_status=response.status_code, content=response.content)


async def check_api(client: AsyncTightknit, *, query: str = "a") -> Report:
    """Call every read-only endpoint once through ``client`` (an open
    :class:`~tightknit_async.AsyncTightknit`) and report how each reply fits its model.

    Stops after the first call when it answers 401: the key is refused everywhere.
    """
    ids: dict[str, str] = {}
    results: list[EndpointReport] = []
    for probe in probes(query):
        path = probe.target(ids)
        if path is None:
            results.append(skipped(probe))
            continue
        reply = await _fetch(client, probe, path)
        results.append(examine(probe, reply, path=path))
        if len(results) == 1 and reply.http_status == 401:
            break
        if probe.provides is not None and probe.provides not in ids:
            found = first_record_id(reply)
            if found is not None:
                ids[probe.provides] = found
    return build_report(client.base_url, results)


def _redact(text: str, key: str) -> str:
    return text.replace(key, "<redacted>")


async def check_api_command(*, as_json: bool, query: str) -> int:
    """The ``check-api`` command: key and URL from ``TIGHTKNIT_API_KEY`` /
    ``TIGHTKNIT_BASE_URL``; prints the report (``as_json``: one JSON document) and returns the
    exit status. The key is never printed."""
    from ._client import AsyncTightknit
    from ._config import resolve_api_key

    try:
        key = resolve_api_key(None)
        client = AsyncTightknit(key)
    except (ValueError, TypeError, TightknitError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_CHECK
    async with client:
        report = await check_api(client, query=query)
    text = json.dumps(report_to_builtins(report), indent=2) if as_json else format_report(report)
    # A reply may echo the key back (in a field name, an error message): never print it.
    sys.stdout.write(_redact(text, key) + "\n")
    if report.could_not_check is not None and as_json:
        message = f"error: could not check the API: {report.could_not_check}"
        print(_redact(message, key), file=sys.stderr)
    return report.exit_status
