"""Outbound webhook payloads decode into their models."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from tightknit_async.models import (
    EVENT_REGISTRATION_STATUS_CHANGE,
    EventRegistrationStatusChange,
    RegistrationStatus,
    WebhookEvent,
    WebhookEventRef,
    WebhookProfileField,
    WebhookSource,
    WebhookUser,
    decode_webhook,
)
from tightknit_async.models import webhooks as webhook_models


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


def test_documented_statuses_are_the_literal_alias_and_others_decode_as_sent() -> None:
    assert typing.get_args(RegistrationStatus) == ("registered", "unregistered")
    event = decode_webhook(msgspec.json.encode(payload("waitlisted")), strict=True)
    assert isinstance(event, EventRegistrationStatusChange)
    assert event.status == "waitlisted"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", msgspec.DecodeError),
        (b"", msgspec.DecodeError),
        (b"[1, 2]", msgspec.ValidationError),
        (b'"registered"', msgspec.ValidationError),
        (b"null", msgspec.ValidationError),
    ],
)
@pytest.mark.parametrize("strict", [False, True])
def test_bodies_that_are_not_objects_raise(
    body: bytes, error: type[Exception], strict: bool
) -> None:
    with pytest.raises(error):
        decode_webhook(body, strict=strict)


def user(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = payload()["user"]
    body.update(changes)
    return body


def profile(**fields: Any) -> dict[str, Any]:
    return user(profile_fields={**payload()["user"]["profile_fields"], **fields})


# (the drifted fields sent, the same fields as they decode), against payload()
DRIFT = [
    ({"user": "ada"}, {"user": None}),
    ({"user": user(email={"work": "ada@example.com"})}, {"user": user(email=None)}),
    ({"user": user(email=["ada@example.com"], id=7)}, {"user": user(email=None, id="7")}),
    ({"user": user(profile_fields=None)}, {"user": user(profile_fields={})}),
    ({"user": user(profile_fields=["company"])}, {"user": user(profile_fields={})}),
    ({"user": profile(odd="Company")}, {"user": profile()}),
    (
        {"user": profile(odd={"label": 5, "value": None, "x": 1})},
        {"user": profile(odd={"label": "5", "value": None})},
    ),
    ({"event": "cqquykanltdo"}, {"event": None}),
    (
        {"event": {"id": 12.5, "title": ["Digital"], "slug": True}},
        {"event": {"id": "12.5"}},
    ),
    (
        {"source": {"slack_workspace_id": None, "slack_channel_id": 5}},
        {"source": {"slack_channel_id": "5"}},
    ),
    ({"custom_metadata": {"crm": 42}}, {"custom_metadata": None}),
    ({"custom_metadata": False}, {"custom_metadata": None}),
    ({"version": 2, "date": 1741698395}, {"version": "2", "date": "1741698395"}),
]


@pytest.mark.parametrize(("drifted", "decoded"), DRIFT)
def test_a_field_that_does_not_fit_takes_its_default_and_the_rest_decodes(
    drifted: dict[str, Any], decoded: dict[str, Any]
) -> None:
    body = msgspec.json.encode(payload(**drifted))
    expected = decode_webhook(msgspec.json.encode(payload(**decoded)), strict=True)
    event = decode_webhook(body)
    assert type(event) is EventRegistrationStatusChange
    assert event == expected
    with pytest.raises(msgspec.ValidationError, match=r"at `\$\."):
        decode_webhook(body, strict=True)


def test_the_action_chooses_the_model_even_when_a_field_drifted() -> None:
    drifted = decode_webhook(b'{"action": "post_created", "version": [1], "date": "2026"}')
    assert type(drifted) is WebhookEvent
    assert drifted == WebhookEvent(action="post_created", date="2026")
    odd_action = decode_webhook(b'{"action": 5, "version": "1.0", "status": "registered"}')
    assert type(odd_action) is WebhookEvent
    assert odd_action == WebhookEvent(version="1.0", action="5")


def test_a_payload_that_fits_decodes_the_same_either_way() -> None:
    body = msgspec.json.encode(payload())
    assert decode_webhook(body) == decode_webhook(body, strict=True)
    assert decode_webhook(body.decode()) == decode_webhook(bytearray(body))


def test_every_webhook_field_has_a_default_so_a_drifted_payload_can_always_be_built() -> None:
    models = [getattr(webhook_models, name) for name in webhook_models.__all__]
    structs = [m for m in models if isinstance(m, type) and issubclass(m, msgspec.Struct)]
    assert WebhookUser in structs
    for model in structs:
        assert not [f.name for f in msgspec.structs.fields(model) if f.required], model
    assert decode_webhook(b"{}") == WebhookEvent()
