"""POST /admin/v0/members: validation, and the upsert by e-mail."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import MEMBER, Client


def validation_error(message: str) -> dict[str, Any]:
    return {"success": False, "error": message, "code": "VALIDATION_ERROR"}


async def test_create_then_update_by_email(client: Client) -> None:
    created = await client.post("/members", json=MEMBER)
    assert created.status == 201
    assert created.body["success"] is True
    assert created.body["message"] == "Member created"
    member = created.body["data"]["member"]
    assert member == {
        "id": member["id"],
        "email": "ada@example.org",
        "full_name": "Ada Lovelace",
        "preferred_name": "Ada",
        "avatar_url_original": None,
        "slack_profile_id": None,
    }
    updated = await client.post(
        "/members",
        json={
            "email": "ADA@Example.org",
            "full_name": "  Augusta Ada King  ",
            "avatar_url_original": "https://example.org/ada.png",
        },
    )
    assert updated.status == 200
    assert updated.body["message"] == "Member updated"
    assert updated.body["data"]["member"] == {
        **member,
        "full_name": "Augusta Ada King",
        "preferred_name": "Augusta",
        "avatar_url_original": "https://example.org/ada.png",
    }
    fake = client.fake
    assert fake.members[member["id"]].full_name == "Augusta Ada King"
    assert fake.find_member("ada@EXAMPLE.org") == fake.members[member["id"]]
    assert [(e.status, e.resource_id) for e in fake.ledger] == [
        (201, member["id"]),
        (200, member["id"]),
    ]


async def test_update_keeps_the_avatar_unless_given(client: Client) -> None:
    await client.post("/members", json={**MEMBER, "avatar_url_original": "http://a.example/x"})
    kept = await client.post("/members", json=MEMBER)
    assert kept.body["data"]["member"]["avatar_url_original"] == "http://a.example/x"
    cleared = await client.post("/members", json={**MEMBER, "avatar_url_original": None})
    assert cleared.body["data"]["member"]["avatar_url_original"] is None


async def test_seeded_members_are_upserted(client: Client) -> None:
    seeded = next(iter(client.fake.members.values()))
    reply = await client.post(
        "/members", json={"email": seeded.email.upper(), "full_name": "New Name"}
    )
    assert reply.status == 200
    assert reply.body["data"]["member"]["id"] == seeded.id
    assert reply.body["data"]["member"]["slack_profile_id"] == seeded.slack_profile_id


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"full_name": "Ada Lovelace"}, "email is required"),
        ({"email": None, "full_name": "Ada Lovelace"}, "email is required"),
        ({"email": 42, "full_name": "Ada Lovelace"}, "email must be a string"),
        ({"email": "", "full_name": "Ada Lovelace"}, "email must not be empty"),
        ({"email": "   ", "full_name": "Ada Lovelace"}, "email must not be empty"),
        ({"email": "ada", "full_name": "Ada"}, "email must be a valid email address"),
        ({"email": "ada@localhost", "full_name": "Ada"}, "email must be a valid email address"),
        ({"email": "a da@x.org", "full_name": "Ada"}, "email must be a valid email address"),
        ({"email": "a@@x.org", "full_name": "Ada"}, "email must be a valid email address"),
        (
            {"email": "a" * 243 + "@example.org", "full_name": "Ada"},
            "email must be at most 254 characters",
        ),
        ({"email": "ada@example.org"}, "full_name is required"),
        ({"email": "ada@example.org", "full_name": ["Ada"]}, "full_name must be a string"),
        ({"email": "ada@example.org", "full_name": " \t "}, "full_name must not be empty"),
        (
            {"email": "ada@example.org", "full_name": "A" * 101},
            "full_name must be at most 100 characters",
        ),
        (
            {**MEMBER, "avatar_url_original": "ftp://example.org/a.png"},
            "avatar_url_original must be an http or https URL",
        ),
        (
            {**MEMBER, "avatar_url_original": "example.org/a.png"},
            "avatar_url_original must be an http or https URL",
        ),
        (
            {**MEMBER, "avatar_url_original": "http://[broken/a.png"},
            "avatar_url_original must be an http or https URL",
        ),
        (
            {**MEMBER, "avatar_url_original": 7},
            "avatar_url_original must be a string or null",
        ),
        (
            {**MEMBER, "avatar_url_original": "https://example.org/" + "a" * 2029},
            "avatar_url_original must be at most 2048 characters",
        ),
    ],
)
async def test_invalid_fields_are_400_naming_the_field(
    client: Client, body: dict[str, Any], message: str
) -> None:
    reply = await client.post("/members", json=body)
    assert reply.status == 400
    assert reply.body == validation_error(message)
    assert client.fake.ledger == []


async def test_limits_are_inclusive(client: Client) -> None:
    email = "a" * 242 + "@example.org"
    assert len(email) == 254
    body = {
        "email": email,
        "full_name": "A" * 100,
        "avatar_url_original": "https://example.org/" + "a" * 2028,
    }
    assert len(body["avatar_url_original"]) == 2048
    assert (await client.post("/members", json=body)).status == 201


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"text"', b"null", b'{"email": '])
async def test_body_must_be_a_json_object(client: Client, raw: bytes) -> None:
    reply = await client.post("/members", data=raw, headers={"Content-Type": "application/json"})
    assert reply.status == 400
    assert reply.body == validation_error("Request body must be a JSON object")


# POST /members/{id}/deactivate

DEACTIVATE_KEY = "7c9e6679-7425-40de-944b-e07fc1f825a6"


async def test_deactivate_a_member_added_through_the_api(client: Client) -> None:
    fake = client.fake
    member_id = (await client.post("/members", json=MEMBER)).body["data"]["member"]["id"]
    reply = await client.post(f"/members/{member_id}/deactivate")
    assert reply.status == 200
    assert reply.body == {"success": True, "data": {"id": member_id, "deactivated": True}}
    assert fake.deactivated_member_ids == {member_id}
    assert [(e.method, e.path, e.resource_id, e.status) for e in fake.ledger[1:]] == [
        ("POST", f"/admin/v0/members/{member_id}/deactivate", member_id, 200)
    ]


async def test_deactivating_again_still_succeeds(client: Client) -> None:
    fake = client.fake
    site_only = next(m for m in fake.members.values() if m.slack_profile_id is None)
    first = await client.post(f"/members/{site_only.id}/deactivate")
    again = await client.post(f"/members/{site_only.id}/deactivate")
    assert first.status == again.status == 200
    assert again.body == first.body
    assert fake.deactivated_member_ids == {site_only.id}
    assert len(fake.ledger) == 2  # the ledger counts requests run, no-ops included


async def test_slack_linked_members_cannot_be_deactivated(client: Client) -> None:
    fake = client.fake
    linked = next(m for m in fake.members.values() if m.slack_profile_id is not None)
    reply = await client.post(f"/members/{linked.id}/deactivate")
    assert reply.status == 400
    assert reply.body == {
        "success": False,
        "error": "This member is linked to a Slack profile and cannot be deactivated through the "
        "API; deactivate them in Slack",
        "code": "MEMBER_SLACK_LINKED",
    }
    assert fake.deactivated_member_ids == set()
    assert fake.ledger == []


async def test_deactivating_an_unknown_member_is_404(client: Client) -> None:
    reply = await client.post("/members/00000000-0000-4000-8000-000000000000/deactivate")
    assert reply.status == 404
    assert reply.body == {"success": False, "error": "Member not found"}
    assert client.fake.ledger == []


async def test_deactivate_ignores_a_body_and_replays_by_key(client: Client) -> None:
    site_only = next(m for m in client.fake.members.values() if m.slack_profile_id is None)
    path = f"/members/{site_only.id}/deactivate"
    first = await client.post(path, json={"reason": "left"}, idempotency_key=DEACTIVATE_KEY)
    again = await client.post(path, idempotency_key=DEACTIVATE_KEY)
    assert first.status == 200
    assert again.headers["X-Idempotent-Replayed"] == "true"
    assert len(client.fake.ledger) == 1


async def test_a_deactivated_member_can_still_be_updated(client: Client) -> None:
    member_id = (await client.post("/members", json=MEMBER)).body["data"]["member"]["id"]
    await client.post(f"/members/{member_id}/deactivate")
    updated = await client.post("/members", json={**MEMBER, "full_name": "Ada King"})
    assert updated.status == 200
    assert client.fake.deactivated_member_ids == {member_id}  # adding does not reactivate
