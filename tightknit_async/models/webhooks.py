"""Outbound webhooks: the payloads Tightknit POSTs to your URL (through Svix).

Only event registration is documented: action ``event_registration_status_change`` with status
``registered`` or ``unregistered``. Verify the Svix signature first, then::

    event = decode_webhook(request_body)
    if isinstance(event, EventRegistrationStatusChange) and event.status == "registered":
        ...

Every field is optional, so a payload with fields added or missing still decodes, and values
such as ``status`` and ``action`` are plain strings, so a value not documented yet decodes as it
came. A payload whose shape drifts further (a value of another type, an object where a string was
expected) still decodes: :func:`decode_webhook` leaves each field that does not fit at its default
and keeps the rest. Pass ``strict=True`` to be told instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal, TypeAlias

import msgspec

from ._common import ResponseModel
from ._decoding import decode
from ._scalars import parse_timestamp
from ._tolerant import tolerant_convert, warn_once

__all__ = [
    "EVENT_REGISTRATION_STATUS_CHANGE",
    "EventRegistrationStatusChange",
    "RegistrationStatus",
    "WebhookEvent",
    "WebhookEventRef",
    "WebhookProfileField",
    "WebhookSource",
    "WebhookUser",
    "decode_webhook",
]

EVENT_REGISTRATION_STATUS_CHANGE: Final = "event_registration_status_change"

RegistrationStatus: TypeAlias = Literal["registered", "unregistered"]
"""The documented values of :attr:`EventRegistrationStatusChange.status` (which is typed ``str``,
so a value added later decodes too)."""


class WebhookEvent(ResponseModel, kw_only=True, frozen=True):
    """What every webhook payload carries: format ``version``, ``action`` and ``date``.

    ``date`` stays the string sent (its format is undocumented); :attr:`date_parsed` reads it.
    """

    version: str | None = None
    action: str | None = None
    date: str | None = None

    @property
    def date_parsed(self) -> datetime | None:
        """``date`` as an aware datetime (UTC when it has no offset), None when absent.

        Raises ``ValueError`` if ``date`` is not an ISO 8601 / Postgres-style timestamp.
        """
        return None if self.date is None else parse_timestamp(self.date)


class WebhookEventRef(ResponseModel, kw_only=True, frozen=True):
    """The calendar event a registration is for."""

    id: str | None = None
    title: str | None = None
    slug: str | None = None


class WebhookSource(ResponseModel, kw_only=True, frozen=True):
    """Where the registration happened: the Slack workspace, and channel when known."""

    slack_workspace_id: str | None = None
    slack_channel_id: str | None = None


class WebhookProfileField(ResponseModel, kw_only=True, frozen=True):
    """One custom profile field: its label and value (a string, or richer JSON)."""

    label: str | None = None
    value: Any = None


class WebhookUser(ResponseModel, kw_only=True, frozen=True):
    """The member who registered or unregistered."""

    id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    real_name: str | None = None
    display_name: str | None = None
    email: str | None = None
    profile_fields: dict[str, WebhookProfileField] = msgspec.field(default_factory=dict)
    """Custom profile fields by their API name."""


class EventRegistrationStatusChange(WebhookEvent, kw_only=True, frozen=True):
    """A member registered for (``status="registered"``) or left (``"unregistered"``) an event.

    ``custom_metadata`` is the event's ``webhook_custom_metadata``. ``status`` is kept a string
    (documented values: :data:`RegistrationStatus`), so an undocumented value arrives as sent.
    """

    status: str | None = None
    custom_metadata: str | None = None
    event: WebhookEventRef | None = None
    source: WebhookSource | None = None
    user: WebhookUser | None = None


_BY_ACTION: Final[dict[str, type[WebhookEvent]]] = {
    EVENT_REGISTRATION_STATUS_CHANGE: EventRegistrationStatusChange,
}


def decode_webhook(
    data: bytes | bytearray | memoryview | str, *, strict: bool = False
) -> WebhookEvent:
    """Decode a webhook body into the model for its ``action``.

    Known actions give their subclass (:class:`EventRegistrationStatusChange`); an unknown action
    gives a plain :class:`WebhookEvent` rather than failing. Unknown fields are ignored. A field
    whose value does not fit its type (an object where a string is expected, ``null`` for the
    profile fields) is left at its default, the other fields keeping their values; a number where
    a string is expected is kept as its string.

    Raises ``msgspec.DecodeError`` for a body that is not JSON and ``msgspec.ValidationError`` for
    one that is not an object. With ``strict=True``, also ``msgspec.ValidationError`` (naming the
    field's path) for a field that does not fit, instead of leaving it out.
    """
    try:
        head = decode(WebhookEvent, data)
        model = _BY_ACTION.get(head.action or "")
        return head if model is None else decode(model, data)
    except msgspec.ValidationError:
        if strict:
            raise
    fields = decode(dict[str, Any], data)  # still raises for a body that is not an object
    action = fields.get("action")
    model = _BY_ACTION.get(action, WebhookEvent) if isinstance(action, str) else WebhookEvent
    event: WebhookEvent
    event, found = tolerant_convert(model, fields)
    warn_once(found, where="webhook")
    return event
