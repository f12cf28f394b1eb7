"""Drift on the fake server: successful GET replies altered the way a live API drifts.

With drift on (``FakeTightknit(drift=True)``, ``serve-fake --drift``, or ``fake.drift.enabled =
True`` at any time), the 2xx JSON reply of every GET endpoint below is changed after its handler
ran, the same way on every call:

- an unknown field, `DRIFT_FIELD`, on the page of a list, on every record, and inside the key's
  ``community`` (``unknown_field``);
- ``null`` where the models do not allow one: a page's ``per_page`` and a calendar event's
  ``hosts`` (``null``);
- a calendar event's ``status`` set to `DRIFT_STATUS`, a value the models do not know (``enum``);
- a feed's ``slack_channel_num_members`` sent as a string (``type``);
- the ``profile_id`` the models require removed from a post's ``author`` (``missing``; the post's
  ``author_profile_id`` still has it).

Ids are never touched, so a client can still follow a list to its records. What was altered is in
`Drift.injected`, one `InjectedDrift` (endpoint path template, JSON path, kind) per change,
so a test can check that a drift report names each of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple, TypeAlias

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler

from ._endpoints import PATH_PREFIX
from ._pipeline import EXCHANGE
from ._responses import JSON_CONTENT_TYPE

__all__ = ["DRIFT_FIELD", "DRIFT_STATUS", "Drift", "InjectedDrift", "inject_drift", "install"]

DRIFT_FIELD: Final = "new_field_x"
"""The name of the field drift adds."""
DRIFT_STATUS: Final = "cancelled"
"""The calendar event status drift sends, unknown to the models."""


class InjectedDrift(NamedTuple):
    """One change drift made: the endpoint's path template (``/admin/v0/feeds/{feed_id}``), the
    JSON path (``$.data.records[*].hosts``, list positions as ``[*]``), and the deviation kind a
    report should give (``unknown_field``, ``null``, ``missing``, ``type`` or ``enum``)."""

    endpoint: str
    path: str
    kind: str


_Note: TypeAlias = Callable[[str, str], None]
"""Records one change: (JSON path, kind)."""
_Rule: TypeAlias = Callable[[dict[str, Any], str, _Note], None]
"""Alters one record (a dict, in place) found at a JSON path."""


def _add_field(record: dict[str, Any], path: str, note: _Note) -> None:
    record[DRIFT_FIELD] = {"added": "by drift"}
    note(f"{path}.{DRIFT_FIELD}", "unknown_field")


def _api_key(record: dict[str, Any], path: str, note: _Note) -> None:
    _add_field(record, path, note)
    community = record.get("community")
    if isinstance(community, dict):
        _add_field(community, f"{path}.community", note)


def _calendar_event(record: dict[str, Any], path: str, note: _Note) -> None:
    _add_field(record, path, note)
    if "hosts" in record:
        record["hosts"] = None
        note(f"{path}.hosts", "null")
    if "status" in record:
        record["status"] = DRIFT_STATUS
        note(f"{path}.status", "enum")


def _feed(record: dict[str, Any], path: str, note: _Note) -> None:
    _add_field(record, path, note)
    members = record.get("slack_channel_num_members")
    if isinstance(members, int) and not isinstance(members, bool):
        record["slack_channel_num_members"] = str(members)
        note(f"{path}.slack_channel_num_members", "type")


def _post(record: dict[str, Any], path: str, note: _Note) -> None:
    _add_field(record, path, note)
    author = record.get("author")
    if isinstance(author, dict) and "profile_id" in author:
        del author["profile_id"]
        note(f"{path}.author.profile_id", "missing")


_RULES: Final[dict[str, _Rule]] = {
    PATH_PREFIX + "/api_key/me": _api_key,
    PATH_PREFIX + "/calendar_events": _calendar_event,
    PATH_PREFIX + "/calendar_events/{calendar_event_id}": _calendar_event,
    PATH_PREFIX + "/feeds": _feed,
    PATH_PREFIX + "/feeds/{feed_id}": _feed,
    PATH_PREFIX + "/feeds/{feed_id}/posts": _post,
    PATH_PREFIX + "/posts/{post_id}": _post,
    PATH_PREFIX + "/search": _post,
}


class Drift:
    """The drift switch of a `FakeTightknit` and the record of what it changed.

    ``enabled`` may be flipped at any time; `injected` lists each distinct change made so far,
    in the order first made.
    """

    def __init__(self, enabled: bool = False) -> None:
        if not isinstance(enabled, bool):
            raise TypeError(f"drift must be a bool, got {enabled!r}")
        self.enabled = enabled
        self._injected: dict[InjectedDrift, None] = {}

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The path templates of the GET endpoints whose replies drift."""
        return tuple(_RULES)

    @property
    def injected(self) -> list[InjectedDrift]:
        """A copy of the distinct changes made so far, oldest first."""
        return list(self._injected)

    def reset(self) -> None:
        """Forget the changes recorded so far (drift stays on or off)."""
        self._injected.clear()

    def alter(self, endpoint: str, body: Any) -> bool:
        """Change the decoded reply ``body`` of ``endpoint`` (a path template) in place, as drift
        does, and record each change; return whether it changed.

        Bodies of other endpoints, and bodies without an object ``data``, are left alone.
        """
        rule = _RULES.get(endpoint)
        if rule is None or not isinstance(body, dict):
            return False
        data = body.get("data")
        if not isinstance(data, dict):
            return False

        def note(path: str, kind: str) -> None:
            self._injected.setdefault(InjectedDrift(endpoint, path, kind), None)

        records = data.get("records")
        if isinstance(records, list):  # a page of a list
            _add_field(data, "$.data", note)
            if "per_page" in data:
                data["per_page"] = None
                note("$.data.per_page", "null")
            for record in records:
                if isinstance(record, dict):
                    rule(record, "$.data.records[*]", note)
        else:
            rule(data, "$.data", note)
        return True  # every rule adds a field at least

    def __repr__(self) -> str:
        return f"<Drift enabled={self.enabled} injected={len(self._injected)}>"


DRIFT: Final = web.AppKey("tightknit_fake_drift", Drift)

_decode: Final = msgspec.json.Decoder().decode
_encode: Final = msgspec.json.Encoder().encode


@web.middleware
async def inject_drift(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The innermost middleware: alter a GET endpoint's 2xx JSON reply while drift is on."""
    response = await handler(request)
    drift = request.app[DRIFT]
    if (
        not drift.enabled
        or request.method != "GET"
        or not 200 <= response.status < 300
        or not isinstance(response, web.Response)
        or response.content_type != JSON_CONTENT_TYPE
        or not isinstance(response.body, bytes)
    ):
        return response
    endpoint = request[EXCHANGE].endpoint
    if endpoint is None:
        return response
    try:
        body = _decode(response.body)
    except msgspec.DecodeError:
        return response
    if drift.alter(PATH_PREFIX + endpoint.path, body):
        response.body = _encode(body)
    return response


def install(app: web.Application, drift: Drift) -> None:
    """Add drift to ``app`` (before it starts): the switch, and `inject_drift` innermost."""
    app[DRIFT] = drift
    app.middlewares.append(inject_drift)
