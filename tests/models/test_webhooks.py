"""Outbound webhook payloads decode into their models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from tightknit_async.models import (
    EVENT_REGISTRATION_STATUS_CHANGE,
    EventRegistrationStatusChange,
    WebhookEvent,
    WebhookEventRef,
    WebhookProfileField,
    WebhookSource,
    decode_webhook,
)


def payload(status: str = "registered", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": "1.0",
        "action": "event_registration_status_change",
        "status": status,
        "date": "2025-03-11T13:06:35.552988+00:00",
        "custom_metadata": "crm-42",
        "event": {"id": "cqquykanltdo", "title": "Digital Marketing", "slug": "digital-marketing"},
        "source": {"slack_workspace_id": "T08FTAZT2S3", "slack_channel_id": "C08HCRJ9Z7B"},
        "user": {
            "id": "f02f2a84-22e2-4398-8786-6598260d5aca",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "real_name": "Ada Lovelace",
            "display_name": "ada",
            "email": "ada@example.com",
            "profile_fields": {
                "company": {"label": "Company", "value": "Analytical Engines"},
                "interests": {"label": "Interests", "value": ["math", "poetry"]},
            },
        },
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize("status", ["registered", "unregistered"])
def test_registration_status_change(status: str) -> None:
    event = decode_webhook(msgspec.json.encode(payload(status)))

    assert isinstance(event, EventRegistrationStatusChange)
    assert event.action == EVENT_REGISTRATION_STATUS_CHANGE
    assert event.status == status
    assert event.version == "1.0"
    assert event.custom_metadata == "crm-42"
    assert event.event == WebhookEventRef(
        id="cqquykanltdo", title="Digital Marketing", slug="digital-marketing"
    )
    assert event.source == WebhookSource(
        slack_workspace_id="T08FTAZT2S3", slack_channel_id="C08HCRJ9Z7B"
    )
    assert event.user is not None
    assert event.user.email == "ada@example.com"
    assert event.user.real_name == "Ada Lovelace"
    assert event.user.profile_fields["company"] == WebhookProfileField(
        label="Company", value="Analytical Engines"
    )
    assert event.user.profile_fields["interests"].value == ["math", "poetry"]
    assert event.date_parsed == datetime(2025, 3, 11, 13, 6, 35, 552988, tzinfo=UTC)


def test_optional_parts_may_be_missing_or_null() -> None:
    body = payload(custom_metadata=None, source={"slack_workspace_id": "T1"}, date=None)
    del body["user"]["profile_fields"]
    event = decode_webhook(msgspec.json.encode(body))

    assert isinstance(event, EventRegistrationStatusChange)
    assert event.custom_metadata is None
    assert event.source is not None
    assert event.source.slack_channel_id is None
    assert event.user is not None
    assert event.user.profile_fields == {}
    assert event.date_parsed is None


def test_postgres_style_date_is_read_too() -> None:
    event = decode_webhook(msgspec.json.encode(payload(date="2025-03-11 13:06:35+00")))
    assert event.date_parsed == datetime(2025, 3, 11, 13, 6, 35, tzinfo=UTC)


def test_unknown_fields_are_ignored() -> None:
    body = payload(attempt=3)
    body["user"]["timezone"] = "Europe/London"
    assert decode_webhook(msgspec.json.encode(body)) == decode_webhook(
        msgspec.json.encode(payload())
    )


def test_an_unknown_action_decodes_as_the_base_event() -> None:
    event = decode_webhook(b'{"version": "1.0", "action": "post_created", "date": null, "x": 1}')
    assert type(event) is WebhookEvent
    assert event.action == "post_created"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", msgspec.DecodeError),
        (b"[1, 2]", msgspec.ValidationError),
        (b'{"action": "event_registration_status_change", "user": "ada"}', msgspec.ValidationError),
    ],
)
def test_malformed_bodies_raise(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_webhook(body)
