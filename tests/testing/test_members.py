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
