"""The request example of docs.tightknit.ai/api-reference/calendar-events/create-a-calendar-event,
sent unchanged through ``tk.calendar_events.create``.

The example's ``start_date`` and ``end_date`` are equal: a client that refused an end not after the
start would refuse Tightknit's own example.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import msgspec

from tightknit_async import AsyncTightknit
from tightknit_async.models import CalendarEventCreated
from tightknit_async.testing import FakeTightknit, File, MockTransport, StoredFile, json_response

# The body of the page's curl example, as the page shows it.
EXAMPLE: dict[str, Any] = {
    "allow_public_guest_list": False,
    "description": {
        "blocks": [
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"text": "This is the Slack message content.", "type": "text"}
                        ],
                    }
                ],
            }
        ],
        "text": "This is the event description.",
    },
    "enable_registration_button": False,
    "end_date": "2025-01-07T15:00:00-07:00",
    "external_speakers": "John Doe, Jane Doe",
    "is_unlisted": False,
    "link": "https://example.com/my-event",
    "location": "1 Market Street, San Francisco, CA",
    "luma_event_id": "https://lu.ma/event/evt-6pGPLeDBObis0G4",
    "publish_to_site": False,
    "triggers_webhooks": False,
    "recap": {
        "blocks": [
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"text": "This is the Slack message content.", "type": "text"}
                        ],
                    }
                ],
            }
        ],
        "text": "This is the event recap.",
    },
    "recording_link": "https://www.youtube.com/watch?v=abc123",
    "webhook_custom_metadata": "third-party-event-id",
    "show_end_date": True,
    "slug": "my-event",
    "start_date": "2025-01-07T15:00:00-07:00",
    "status": "published",
    "title": "My Event",
    "use_registration_btn_as_link": False,
    "publish_to_slack_channels": ["C1234567A", "C1234567B"],
    "hosts": {"slack_user_ids": ["U1234567A"]},
    "speakers": {"slack_user_ids": ["U1234567A"]},
    "cover_image_file_id": "97d5c5d6-d036-4223-9bd3-876a0cf47751",
}


async def test_the_docs_example_is_sent_exactly_as_the_docs_show_it() -> None:
    """docs.tightknit.ai/api-reference/calendar-events/create-a-calendar-event (request
    example, start_date equal to end_date)."""
    example = copy.deepcopy(EXAMPLE)
    transport = MockTransport(
        lambda _: json_response(200, {"success": True, "data": {"calendar_event_id": "e1"}})
    )
    async with AsyncTightknit(api_key="sk_test", transport=transport, rate_limit=None) as tk:
        created = await tk.calendar_events.create(**example)
    assert created == CalendarEventCreated(calendar_event_id="e1")
    (request,) = transport.requests
    assert (request.method, request.url) == (
        "POST",
        "https://api.tightknit.ai/admin/v0/calendar_events",
    )
    assert isinstance(request.content, bytes)
    assert json.loads(request.content) == EXAMPLE
    assert example == EXAMPLE  # the caller's arguments are left as they were


async def test_the_fake_server_accepts_the_docs_example(
    tk: AsyncTightknit, fake: FakeTightknit
) -> None:
    """docs.tightknit.ai/api-reference/calendar-events/create-a-calendar-event: the example,
    once the people and the cover file it names exist, creates the event it describes."""
    data = fake._state.data  # the fake has no endpoint that adds a Slack profile or a file by id
    seeded = next(iter(fake.profiles.values()))
    host = msgspec.structs.replace(
        seeded, profile_id="0e6f3bd4-5a7e-4c1a-9a55-7b6d2c1f0a11", slack_user_id="U1234567A"
    )
    member = msgspec.structs.replace(
        fake.members[seeded.profile_id],
        id=host.profile_id,
        email="host@example.com",
        slack_profile_id=host.slack_user_id,
    )
    data.add_members([member])
    data.add_profiles([host])
    cover = File(
        id=EXAMPLE["cover_image_file_id"],
        created_at="2025-01-01T00:00:00+00:00",
        name="cover.png",
        title="cover.png",
        size=3,
        mimetype="image/png",
        url=f"{fake.url}/files/cover.png",
    )
    data.files[cover.id] = StoredFile(file=cover, description=None, sha256="", content=None)

    created = await tk.calendar_events.create(**copy.deepcopy(EXAMPLE))

    event = fake.calendar_events[created.calendar_event_id]
    assert (event.title, event.slug, event.status) == ("My Event", "my-event", "published")
    assert event.start_date == event.end_date == "2025-01-07T22:00:00+00:00"
    assert [p.profile_id for p in event.hosts] == [host.profile_id]
    assert [p.profile_id for p in event.speakers] == [host.profile_id]
    assert [p.slack_channel_id for p in event.published_to] == ["C1234567A", "C1234567B"]
    assert event.cover_image_url == cover.url
    assert event.description_slack_blocks == EXAMPLE["description"]["blocks"]
    assert event.luma_event_id == EXAMPLE["luma_event_id"]
