"""POST and DELETE /admin/v0/calendar_events: validation, the stored event, slugs, idempotency."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
import msgspec
import pytest

from tightknit_async.testing import FakeTightknit

from .helpers import PREFIX, Client

KEY = "3b241101-e2bb-4255-8caf-4136c566a962"
SHORT_ID = re.compile(r"[a-z0-9]{12}")
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"
DROP = object()


class _AnyId:
    """Equal to any 12-character event id."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and SHORT_ID.fullmatch(other) is not None

    __hash__ = None  # type: ignore[assignment]


ANY_ID = _AnyId()


def as_json(record: object) -> Any:
    return json.loads(msgspec.json.encode(record))


def event_body(fake: FakeTightknit, **changes: Any) -> dict[str, Any]:
    """A valid body naming the first seeded profile as host; ``DROP`` removes a field."""
    host = next(iter(fake.profiles.values()))
    body: dict[str, Any] = {
        "title": "Quarterly Community Meetup",
        "start_date": "2030-01-07T15:00:00-07:00",
        "end_date": "2030-01-07T17:00:00-07:00",
        "description": {"text": "Meet the community."},
        "publish_to_slack_channels": ["C0123456789"],
        "hosts": {"slack_user_ids": [host.slack_user_id]},
    }
    body.update(changes)
    return {name: value for name, value in body.items() if value is not DROP}


async def create(client: Client, **changes: Any) -> dict[str, Any]:
    """Create an event and return it as GET /calendar_events/{id} shows it."""
    reply = await client.post("/calendar_events", json=event_body(client.fake, **changes))
    assert reply.status == 200, reply.body
    event_id = reply.body["data"]["calendar_event_id"]
    shown = await client.get(f"/calendar_events/{event_id}")
    assert shown.status == 200
    data: dict[str, Any] = shown.body["data"]
    return data


async def test_create_answers_the_new_id_and_stores_the_event(client: Client) -> None:
    fake = client.fake
    host = next(iter(fake.profiles.values()))
    reply = await client.post("/calendar_events", json=event_body(fake))
    assert reply.status == 200
    assert reply.body == {"success": True, "data": {"calendar_event_id": ANY_ID}}
    event_id = reply.body["data"]["calendar_event_id"]
    assert SHORT_ID.fullmatch(event_id)
    event = as_json(fake.calendar_events[event_id])
    assert (await client.get(f"/calendar_events/{event_id}")).body["data"] == event
    assert event["title"] == "Quarterly Community Meetup"
    assert event["slug"] == "quarterly-community-meetup"
    assert event["status"] == "published"
    assert (event["start_date"], event["end_date"]) == (
        "2030-01-07T22:00:00+00:00",
        "2030-01-08T00:00:00+00:00",
    )
    assert event["description_slack_blocks"] == [
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [{"text": "Meet the community.", "type": "text"}],
                }
            ],
        }
    ]
    assert event["hosts"] == [as_json(host)]
    assert event["speakers"] == []
    assert event["published_to"] == [
        {
            "slack_channel_id": "C0123456789",
            "slack_message_permalink": event["published_to"][0]["slack_message_permalink"],
            "feed_id": None,
        }
    ]
    assert event["published_to"][0]["slack_message_permalink"].startswith(
        "https://northwind-makers.slack.com/archives/C0123456789/p"
    )
    defaults: dict[str, object] = {
        "allow_public_guest_list": False,
        "enable_registration_button": False,
        "use_registration_btn_as_link": False,
        "is_unlisted": False,
        "publish_to_site": False,
        "triggers_webhooks": False,
        "show_end_date": True,
        "external_speakers": None,
        "link": None,
        "location": None,
        "luma_event_id": None,
        "recording_link": None,
        "webhook_custom_metadata": None,
        "recap_slack_blocks": None,
        "cover_image_url": None,
        "tags": [],
        "attendees_count": 0,
    }
    assert {name: event[name] for name in defaults} == defaults
    assert event["created_at"] == event["updated_at"]
    [entry] = fake.ledger
    assert (entry.method, entry.path, entry.resource_id, entry.status) == (
        "POST",
        PREFIX + "/calendar_events",
        event_id,
        200,
    )


async def test_every_optional_field_is_stored(client: Client) -> None:
    fake = client.fake
    profiles = list(fake.profiles.values())
    emails = {m.id: m.email for m in fake.members.values()}
    tags = list(fake.tags.values())[:2]
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Bold* plans"}}]
    events_feed = list(fake.feeds.values())[2]
    event = await create(
        client,
        title="  Design Critique: Onboarding  ",
        description={"blocks": blocks, "text": "Bold plans"},
        publish_to_slack_channels=[events_feed.slack_channel_id, "G0ABCDEF12"],
        hosts={"profile_ids": [profiles[3].profile_id, profiles[4].profile_id]},
        speakers={"emails": [emails[profiles[5].profile_id].upper()]},
        slug="design-critique-2030",
        recap={"text": "Thanks for coming!"},
        allow_public_guest_list=True,
        enable_registration_button=True,
        use_registration_btn_as_link=True,
        external_speakers="Jordan Blake, Sam Rivera",
        is_unlisted=True,
        link="https://meet.example.com/abc",
        location="Virtual",
        luma_event_id="evt-123",
        publish_to_site=True,
        triggers_webhooks=True,
        recording_link="https://video.example.com/rec",
        webhook_custom_metadata='{"campaign": "spring"}',
        show_end_date=False,
        tags=[tag.id for tag in tags],
    )
    assert event["title"] == "Design Critique: Onboarding"
    assert event["slug"] == "design-critique-2030"
    assert event["description_slack_blocks"] == blocks
    assert event["recap_slack_blocks"][0]["elements"][0]["elements"] == [
        {"text": "Thanks for coming!", "type": "text"}
    ]
    assert event["hosts"] == [as_json(profiles[3]), as_json(profiles[4])]
    assert event["speakers"] == [as_json(profiles[5])]
    assert [(p["slack_channel_id"], p["feed_id"]) for p in event["published_to"]] == [
        (events_feed.slack_channel_id, events_feed.id),
        ("G0ABCDEF12", None),
    ]
    assert event["tags"] == [as_json(tag) for tag in tags]
    expected = {
        "allow_public_guest_list": True,
        "enable_registration_button": True,
        "use_registration_btn_as_link": True,
        "external_speakers": "Jordan Blake, Sam Rivera",
        "is_unlisted": True,
        "link": "https://meet.example.com/abc",
        "location": "Virtual",
        "luma_event_id": "evt-123",
        "publish_to_site": True,
        "triggers_webhooks": True,
        "recording_link": "https://video.example.com/rec",
        "webhook_custom_metadata": '{"campaign": "spring"}',
        "show_end_date": False,
    }
    assert {name: event[name] for name in expected} == expected


async def test_nulls_count_as_absent(client: Client) -> None:
    event = await create(
        client, speakers=None, slug=None, recap=None, tags=None, link=None, cover_image_file_id=None
    )
    assert event["slug"] == "quarterly-community-meetup"
    assert (event["speakers"], event["tags"], event["recap_slack_blocks"]) == ([], [], None)


async def test_new_events_appear_in_the_lists(client: Client) -> None:
    published = await create(client)
    pending = await create(client, status="needs_approval", title="Pending Review Session")
    assert pending["status"] == "needs_approval"
    assert pending["published_to"] == []
    listed = (await client.get("/calendar_events?per_page=100")).body["data"]["records"]
    assert published in listed
    assert pending not in listed
    waiting = await client.get("/calendar_events?per_page=100&status=needs_approval")
    assert pending in waiting.body["data"]["records"]


async def test_hosts_by_email_resolve_case_insensitively_and_once(client: Client) -> None:
    fake = client.fake
    profile = next(iter(fake.profiles.values()))
    email = fake.members[profile.profile_id].email
    event = await create(client, hosts={"emails": [email.upper(), email]})
    assert event["hosts"] == [as_json(profile)]


async def test_unknown_people_are_400_listing_them(client: Client) -> None:
    fake = client.fake
    site_only = next(m for m in fake.members.values() if m.slack_profile_id is None)
    known = next(iter(fake.profiles.values())).slack_user_id
    reply = await client.post(
        "/calendar_events",
        json=event_body(fake, hosts={"slack_user_ids": [known, "U0NOBODY01", "U0NOBODY02"]}),
    )
    assert reply.status == 400
    assert reply.body == {
        "success": False,
        "error": "hosts.slack_user_ids names no community member for: U0NOBODY01, U0NOBODY02",
        "code": "VALIDATION_ERROR",
        "unknown": ["U0NOBODY01", "U0NOBODY02"],
    }
    # A member without a Slack-linked profile cannot host or speak.
    reply = await client.post(
        "/calendar_events", json=event_body(fake, speakers={"emails": [site_only.email]})
    )
    assert reply.status == 400
    assert reply.body["unknown"] == [site_only.email]
    reply = await client.post(
        "/calendar_events", json=event_body(fake, tags=["no-such-tag", *list(fake.tags)[:1]])
    )
    assert reply.body["error"] == "tags has unknown tag ids: no-such-tag"
    assert reply.body["unknown"] == ["no-such-tag"]
    assert fake.ledger == []


async def test_slugs_are_unique(client: Client) -> None:
    first = await create(client)
    second = await create(client)
    assert (first["slug"], second["slug"]) == (
        "quarterly-community-meetup",
        "quarterly-community-meetup-2",
    )
    seeded = next(iter(client.fake.calendar_events.values()))
    assert (await create(client, title=seeded.title))["slug"] == f"{seeded.slug}-2"
    taken = await client.post("/calendar_events", json=event_body(client.fake, slug=seeded.slug))
    assert taken.status == 400
    assert taken.body["error"] == f"slug {seeded.slug!r} is already used by another calendar event"
    # A title that slugs to fewer than 3 characters takes the event id instead.
    short = await create(client, title="A?!")
    assert short["slug"] == short["id"]


async def test_cover_image_must_be_an_uploaded_image(client: Client) -> None:
    image = (await client.upload(b"\x89PNG...", filename="cover.png")).body["data"]
    event = await create(client, cover_image_file_id=image["id"])
    assert event["cover_image_url"] == image["url"]
    text = (await client.upload(b"notes", filename="notes.txt")).body["data"]
    reply = await client.post(
        "/calendar_events", json=event_body(client.fake, cover_image_file_id=text["id"])
    )
    assert reply.body["error"] == "cover_image_file_id must name an image file"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": DROP}, "title is required"),
        ({"title": 7}, "title must be a string"),
        ({"title": "   "}, "title must not be empty"),
        ({"title": "ab"}, "title must be at least 3 characters"),
        ({"title": "  ab  "}, "title must be at least 3 characters"),
        ({"title": "x" * 71}, "title must be at most 70 characters"),
        ({"start_date": DROP}, "start_date is required"),
        *(
            ({"start_date": value}, "start_date must be an ISO-8601 date-time with a UTC offset")
            for value in ("2030-01-07T15:00:00", "2030-01-07", "next tuesday", 1736262000, "")
        ),
        ({"end_date": None}, "end_date is required"),
        (
            {"end_date": "2030-01-07 15:00"},
            "end_date must be an ISO-8601 date-time with a UTC offset",
        ),
        ({"description": DROP}, "description is required"),
        ({"description": "Meet us"}, "description must be an object"),
        ({"description": {}}, "description must have blocks or text"),
        ({"description": {"text": None, "blocks": None}}, "description must have blocks or text"),
        ({"description": {"text": ""}}, "description.text must not be empty"),
        ({"description": {"text": 5}}, "description.text must be a string"),
        (
            {"description": {"text": "x" * 40_001}},
            "description.text must be at most 40000 characters",
        ),
        *(
            (
                {"description": {"blocks": value}},
                "description.blocks must be a list of 1 to 50 Slack blocks",
            )
            for value in ([], "blocks", [{"type": "divider"}] * 51)
        ),
        (
            {"description": {"blocks": [{"type": "divider"}, {"text": "untyped"}]}},
            "description.blocks[1] must be a Slack block (an object with a type)",
        ),
        ({"publish_to_slack_channels": DROP}, "publish_to_slack_channels is required"),
        (
            {"publish_to_slack_channels": "C0123456789"},
            "publish_to_slack_channels must be a list of strings",
        ),
        (
            {"publish_to_slack_channels": []},
            "publish_to_slack_channels must have between 1 and 10 entries",
        ),
        (
            {"publish_to_slack_channels": [f"C{n:010d}" for n in range(11)]},
            "publish_to_slack_channels must have between 1 and 10 entries",
        ),
        (
            {"publish_to_slack_channels": ["#general"]},
            "publish_to_slack_channels[0] must be a Slack channel id",
        ),
        (
            {"publish_to_slack_channels": ["C0123456789", 5]},
            "publish_to_slack_channels[1] must be a non-empty string",
        ),
        ({"hosts": DROP}, "hosts is required"),
        ({"hosts": ["U0123456789"]}, "hosts must be an object"),
        ({"hosts": {}}, "hosts must have exactly one of: slack_user_ids, emails, profile_ids"),
        (
            {"hosts": {"slack_user_ids": ["U0123456789"], "emails": ["a@example.com"]}},
            "hosts must have exactly one of: slack_user_ids, emails, profile_ids",
        ),
        (
            {"hosts": {"user_ids": ["U0123456789"]}},
            "hosts must have exactly one of: slack_user_ids, emails, profile_ids",
        ),
        ({"hosts": {"emails": []}}, "hosts.emails must have between 1 and 5 entries"),
        (
            {"hosts": {"emails": [f"h{n}@example.com" for n in range(6)]}},
            "hosts.emails must have between 1 and 5 entries",
        ),
        (
            {"hosts": {"slack_user_ids": "U0123456789"}},
            "hosts.slack_user_ids must be a list of strings",
        ),
        ({"hosts": {"profile_ids": [""]}}, "hosts.profile_ids[0] must be a non-empty string"),
        ({"speakers": "Jordan"}, "speakers must be an object"),
        (
            {"speakers": {}},
            "speakers must have exactly one of: slack_user_ids, emails, profile_ids",
        ),
        (
            {"speakers": {"profile_ids": [UNKNOWN_UUID] * 6}},
            "speakers.profile_ids must have at most 5 entries",
        ),
        (
            {"status": "draft"},
            "status must be needs_approval or published: the API cannot create drafts",
        ),
        ({"status": "live"}, "status must be one of: needs_approval, published"),
        ({"status": True}, "status must be one of: needs_approval, published"),
        ({"slug": "ab"}, "slug must be at least 3 characters"),
        ({"slug": "s" * 71}, "slug must be at most 70 characters"),
        ({"slug": 12345}, "slug must be a string"),
        ({"slug": "Spring Meetup"}, "slug must contain only lowercase letters, digits and hyphens"),
        ({"recap": []}, "recap must be an object"),
        ({"recap": {}}, "recap must have blocks or text"),
        (
            {"recap": {"blocks": [7]}},
            "recap.blocks[0] must be a Slack block (an object with a type)",
        ),
        *(
            ({name: value}, f"{name} must be a boolean")
            for name, value in (
                ("allow_public_guest_list", "true"),
                ("enable_registration_button", 1),
                ("use_registration_btn_as_link", None),
                ("is_unlisted", "no"),
                ("publish_to_site", 0),
                ("triggers_webhooks", []),
                ("show_end_date", None),
            )
        ),
        *(
            ({name: value}, f"{name} must be a string or null")
            for name, value in (
                ("external_speakers", ["Jordan"]),
                ("location", 5),
                ("luma_event_id", 123),
                ("webhook_custom_metadata", {"campaign": "spring"}),
                ("recording_link", 5),
                ("cover_image_file_id", 5),
            )
        ),
        ({"link": "meet.example.com/abc"}, "link must be an http or https URL"),
        ({"link": "https://example.com/" + "a" * 2029}, "link must be at most 2048 characters"),
        (
            {"recording_link": "ftp://example.com/rec"},
            "recording_link must be an http or https URL",
        ),
        ({"tags": "tag"}, "tags must be a list of strings"),
        ({"tags": [UNKNOWN_UUID] * 6}, "tags must have at most 5 entries"),
        (
            {"cover_image_file_id": UNKNOWN_UUID},
            "cover_image_file_id does not name an uploaded file",
        ),
    ],
)
async def test_invalid_fields_are_400_naming_the_field(
    client: Client, changes: dict[str, Any], message: str
) -> None:
    reply = await client.post("/calendar_events", json=event_body(client.fake, **changes))
    assert reply.status == 400
    assert (reply.body["success"], reply.body["code"], reply.body["error"]) == (
        False,
        "VALIDATION_ERROR",
        message,
    )
    assert client.fake.ledger == []


async def test_limits_are_inclusive(client: Client) -> None:
    fake = client.fake
    profiles = list(fake.profiles.values())[:5]
    event = await create(
        client,
        title="x" * 70,
        slug="s" * 70,
        publish_to_slack_channels=[f"C{n:010d}" for n in range(10)],
        hosts={"profile_ids": [p.profile_id for p in profiles]},
        speakers={"slack_user_ids": [p.slack_user_id for p in profiles]},
        tags=list(fake.tags)[:5],
        description={"blocks": [{"type": "divider"}] * 50},
    )
    assert (len(event["hosts"]), len(event["speakers"]), len(event["tags"])) == (5, 5, 5)
    assert len(event["published_to"]) == 10
    short = await create(client, title="abc", slug="abc")
    assert short["slug"] == "abc"


async def test_body_must_be_a_json_object(client: Client) -> None:
    reply = await client.post(
        "/calendar_events", data=b"[]", headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400
    assert reply.body["error"] == "Request body must be a JSON object"


async def test_create_replays_with_the_same_idempotency_key(client: Client) -> None:
    fake = client.fake
    first = await client.post("/calendar_events", json=event_body(fake), idempotency_key=KEY)
    again = await client.post("/calendar_events", json=event_body(fake), idempotency_key=KEY)
    assert first.status == again.status == 200
    assert again.body == first.body
    assert again.headers["X-Idempotent-Replayed"] == "true"
    assert len(fake.calendar_events) == 31
    assert [entry.idempotency_key for entry in fake.ledger] == [KEY]


async def test_create_survives_a_dropped_reply(client: Client) -> None:
    fake = client.fake
    fake.faults.drop_after_apply = 1
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.post("/calendar_events", json=event_body(fake), idempotency_key=KEY)
    retry = await client.post("/calendar_events", json=event_body(fake), idempotency_key=KEY)
    assert retry.headers["X-Idempotent-Replayed"] == "true"
    assert retry.body["data"]["calendar_event_id"] in fake.calendar_events
    assert len(fake.ledger) == 1


# DELETE


async def test_delete_removes_the_event(client: Client) -> None:
    fake = client.fake
    event = next(e for e in fake.calendar_events.values() if e.status == "draft")
    reply = await client.delete(f"/calendar_events/{event.id}")
    assert reply.status == 200
    assert reply.body == {"success": True, "data": {"id": event.id}}
    assert event.id not in fake.calendar_events
    assert (await client.get(f"/calendar_events/{event.id}")).status == 404
    again = await client.delete(f"/calendar_events/{event.id}")
    assert again.status == 404
    assert again.body == {"success": False, "error": "Calendar event not found"}
    [entry] = fake.ledger
    assert (entry.method, entry.path, entry.resource_id, entry.status) == (
        "DELETE",
        f"{PREFIX}/calendar_events/{event.id}",
        event.id,
        200,
    )


async def test_deleted_events_leave_the_list(client: Client) -> None:
    created = await create(client)
    assert (await client.delete(f"/calendar_events/{created['id']}")).status == 200
    listed = (await client.get("/calendar_events?per_page=100")).body["data"]
    assert created["id"] not in [record["id"] for record in listed["records"]]
    assert listed["total_records"] == 24


async def test_delete_replays_with_the_same_idempotency_key(client: Client) -> None:
    event_id = next(iter(client.fake.calendar_events))
    first = await client.delete(f"/calendar_events/{event_id}", idempotency_key=KEY)
    again = await client.delete(f"/calendar_events/{event_id}", idempotency_key=KEY)
    assert (first.status, again.status) == (200, 200)
    assert again.headers["X-Idempotent-Replayed"] == "true"
    assert len(client.fake.ledger) == 1
