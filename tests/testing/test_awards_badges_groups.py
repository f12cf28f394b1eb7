"""Awards, legacy badges and groups: assignment, the people references, limits, 404s, replay."""

from __future__ import annotations

from typing import Any

import pytest

from tightknit_async.testing import AwardAssignment, BadgeAssignment, FakeTightknit, Member

from .helpers import PREFIX, Client, validation_error

KEY = "16fd2706-8baf-433b-82eb-8c7fada847da"
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


def linked_members(fake: FakeTightknit) -> list[Member]:
    return [m for m in fake.members.values() if m.slack_profile_id is not None]


def site_only_member(fake: FakeTightknit) -> Member:
    return next(m for m in fake.members.values() if m.slack_profile_id is None)


def award_id(fake: FakeTightknit) -> str:
    return next(iter(fake.awards))


# POST /awards/{id}/assign


async def test_assign_an_award_by_slack_user_id(client: Client) -> None:
    fake = client.fake
    recipient = linked_members(fake)[0]
    slack_user_id = fake.profiles[recipient.id].slack_user_id
    path = f"/awards/{award_id(fake)}/assign"
    reply = await client.post(path, json={"recipient": {"slack_user_id": slack_user_id}})
    assert reply.status == 200
    assert reply.body == {"success": True}
    [given] = fake.award_assignments
    assert given == AwardAssignment(
        award_id=award_id(fake),
        recipient_id=recipient.id,
        sender_id=None,
        send_anonymously=False,
        assigned_at=given.assigned_at,
    )
    [entry] = fake.ledger
    assert (entry.method, entry.path, entry.resource_id, entry.status) == (
        "POST",
        PREFIX + path,
        award_id(fake),
        200,
    )


async def test_assign_by_email_or_profile_id_with_a_sender(client: Client) -> None:
    fake = client.fake
    first, second = linked_members(fake)[:2]
    site_only = site_only_member(fake)
    path = f"/awards/{award_id(fake)}/assign"
    by_email = {
        "recipient": {"email": site_only.email.upper()},
        "sender": {"profile_id": first.id},
        "send_anonymously": True,
    }
    assert (await client.post(path, json=by_email)).status == 200
    by_profile = {"recipient": {"profile_id": second.id}, "sender": {"email": first.email}}
    assert (await client.post(path, json=by_profile)).status == 200
    assert [(a.recipient_id, a.sender_id, a.send_anonymously) for a in fake.award_assignments] == [
        (site_only.id, first.id, True),
        (second.id, first.id, False),
    ]


async def test_an_award_can_be_given_again(client: Client) -> None:
    fake = client.fake
    body = {"recipient": {"profile_id": linked_members(fake)[0].id}}
    for _ in range(2):
        assert (await client.post(f"/awards/{award_id(fake)}/assign", json=body)).status == 200
    assert len(fake.award_assignments) == 2
    assert len(fake.ledger) == 2


async def test_unknown_award_is_404(client: Client) -> None:
    body = {"recipient": {"profile_id": linked_members(client.fake)[0].id}}
    reply = await client.post(f"/awards/{UNKNOWN_UUID}/assign", json=body)
    assert reply.status == 404
    assert reply.body == {"success": False, "error": "Award not found"}
    assert client.fake.award_assignments == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "recipient is required"),
        ({"recipient": None}, "recipient is required"),
        ({"recipient": "U0123456789"}, "recipient must be an object"),
        ({"recipient": {}}, "recipient must have exactly one of: slack_user_id, email, profile_id"),
        (
            {"recipient": {"slack_user_id": "U0123456789", "email": "a@example.com"}},
            "recipient must have exactly one of: slack_user_id, email, profile_id",
        ),
        ({"recipient": {"email": 5}}, "recipient.email must be a string"),
        ({"recipient": {"email": "  "}}, "recipient.email must not be empty"),
        (
            {"recipient": {"email": "nobody@example.com"}},
            "recipient.email names no community member: nobody@example.com",
        ),
        (
            {"recipient": {"slack_user_id": "U0NOBODY01"}},
            "recipient.slack_user_id names no community member: U0NOBODY01",
        ),
        (
            {"recipient": {"profile_id": UNKNOWN_UUID}},
            f"recipient.profile_id names no community member: {UNKNOWN_UUID}",
        ),
        ({"recipient": "RECIPIENT", "sender": []}, "sender must be an object"),
        (
            {"recipient": "RECIPIENT", "sender": {"profile_id": UNKNOWN_UUID}},
            f"sender.profile_id names no community member: {UNKNOWN_UUID}",
        ),
        (
            {"recipient": "RECIPIENT", "send_anonymously": "yes"},
            "send_anonymously must be a boolean",
        ),
    ],
)
async def test_invalid_award_bodies_are_400_naming_the_field(
    client: Client, body: dict[str, Any], message: str
) -> None:
    fake = client.fake
    if body.get("recipient") == "RECIPIENT":
        body = {**body, "recipient": {"profile_id": linked_members(fake)[0].id}}
    reply = await client.post(f"/awards/{award_id(fake)}/assign", json=body)
    assert reply.status == 400
    assert reply.body == validation_error(message)
    assert fake.award_assignments == []
    assert fake.ledger == []


async def test_deactivated_members_cannot_receive_or_send_awards(client: Client) -> None:
    fake = client.fake
    site_only = site_only_member(fake)
    assert (await client.post(f"/members/{site_only.id}/deactivate")).status == 200
    path = f"/awards/{award_id(fake)}/assign"
    reply = await client.post(path, json={"recipient": {"profile_id": site_only.id}})
    assert reply.body == validation_error("recipient is a deactivated member")
    reply = await client.post(
        path,
        json={
            "recipient": {"profile_id": linked_members(fake)[0].id},
            "sender": {"email": site_only.email},
        },
    )
    assert reply.body == validation_error("sender is a deactivated member")
    assert fake.award_assignments == []


async def test_award_replays_with_the_same_idempotency_key(client: Client) -> None:
    fake = client.fake
    body = {"recipient": {"profile_id": linked_members(fake)[0].id}}
    path = f"/awards/{award_id(fake)}/assign"
    first = await client.post(path, json=body, idempotency_key=KEY)
    again = await client.post(path, json=body, idempotency_key=KEY)
    assert (first.status, again.status) == (200, 200)
    assert again.body == {"success": True}
    assert again.headers["X-Idempotent-Replayed"] == "true"
    assert len(fake.award_assignments) == 1
    assert [entry.idempotency_key for entry in fake.ledger] == [KEY]


async def test_award_conflict_storm_then_one_assignment(client: Client) -> None:
    fake = client.fake
    fake.faults.conflict_next = 2
    body = {"recipient": {"profile_id": linked_members(fake)[0].id}}
    path = f"/awards/{award_id(fake)}/assign"
    statuses = [(await client.post(path, json=body, idempotency_key=KEY)).status for _ in range(3)]
    assert statuses == [409, 409, 200]
    assert len(fake.award_assignments) == 1


# POST /badges/{id}/assign (legacy)


async def test_assign_a_badge_to_slack_users(client: Client) -> None:
    fake = client.fake
    badge_id = next(iter(fake.badges))
    path = f"/badges/{badge_id}/assign"
    reply = await client.post(path, json={"users": ["U0AAAAAAA1", "U0AAAAAAA2", "U0AAAAAAA1"]})
    assert reply.status == 200
    assert reply.body == {"success": True}
    again = await client.post(path, json={"users": ["U0AAAAAAA2", "W0AAAAAAA3"]})
    assert again.status == 200
    assert [(a.badge_id, a.slack_user_id) for a in fake.badge_assignments] == [
        (badge_id, "U0AAAAAAA1"),
        (badge_id, "U0AAAAAAA2"),
        (badge_id, "W0AAAAAAA3"),
    ]
    assert all(isinstance(a, BadgeAssignment) for a in fake.badge_assignments)
    assert [(e.method, e.path, e.resource_id) for e in fake.ledger] == [
        ("POST", PREFIX + path, badge_id)
    ] * 2


async def test_unknown_badge_is_404(client: Client) -> None:
    reply = await client.post(f"/badges/{UNKNOWN_UUID}/assign", json={"users": ["U0AAAAAAA1"]})
    assert reply.status == 404
    assert reply.body == {"success": False, "error": "Badge not found"}


USERS_CASES = [
    ({}, "users is required"),
    ({"users": None}, "users is required"),
    ({"users": "U0AAAAAAA1"}, "users must be a list of strings"),
    ({"users": []}, "users must have at least 1 entry"),
    ({"users": ["U0AAAAAAA1", 7]}, "users[1] must be a non-empty string"),
    ({"users": ["alice@example.com"]}, "users[0] must be a Slack user id"),
    ({"users": ["C0123456789"]}, "users[0] must be a Slack user id"),
]


@pytest.mark.parametrize(("body", "message"), USERS_CASES)
async def test_invalid_badge_bodies_are_400(
    client: Client, body: dict[str, Any], message: str
) -> None:
    reply = await client.post(f"/badges/{next(iter(client.fake.badges))}/assign", json=body)
    assert reply.status == 400
    assert reply.body == validation_error(message)
    assert client.fake.badge_assignments == []


# PUT /groups/{id}/members


async def test_add_group_members(client: Client) -> None:
    fake = client.fake
    group = next(iter(fake.groups.values()))
    existing = group.slack_user_ids[0]
    path = f"/groups/{group.id}/members"
    reply = await client.put(path, json={"users": ["U0NEWUSER1", existing, "U0NEWUSER1"]})
    assert reply.status == 200
    assert reply.body == {"success": True}
    assert fake.groups[group.id].slack_user_ids == (*group.slack_user_ids, "U0NEWUSER1")
    [entry] = fake.ledger
    assert (entry.method, entry.path, entry.resource_id, entry.status) == (
        "PUT",
        PREFIX + path,
        group.id,
        200,
    )


async def test_adding_existing_members_is_a_no_op(client: Client) -> None:
    fake = client.fake
    group = next(iter(fake.groups.values()))
    reply = await client.put(f"/groups/{group.id}/members", json={"users": [*group.slack_user_ids]})
    assert reply.status == 200
    assert fake.groups[group.id] == group


async def test_groups_hold_at_most_1000_members(client: Client) -> None:
    fake = client.fake
    group = next(iter(fake.groups.values()))
    path = f"/groups/{group.id}/members"
    room = 1000 - len(group.slack_user_ids)
    fill = [f"U{n:010d}" for n in range(room)]
    assert (await client.put(path, json={"users": fill})).status == 200
    assert len(fake.groups[group.id].slack_user_ids) == 1000
    # Members already in the group do not count twice.
    assert (await client.put(path, json={"users": fill[:10]})).status == 200
    reply = await client.put(path, json={"users": [*fill[:5], "U0ONETOOMANY"]})
    assert reply.status == 400
    assert reply.body == {
        "success": False,
        "error": "users would bring the group to 1001 members; a group can have at most 1000",
        "code": "GROUP_MEMBER_LIMIT",
    }
    assert len(fake.groups[group.id].slack_user_ids) == 1000
    assert len(fake.ledger) == 2


async def test_unknown_group_is_404(client: Client) -> None:
    reply = await client.put(f"/groups/{UNKNOWN_UUID}/members", json={"users": ["U0AAAAAAA1"]})
    assert reply.status == 404
    assert reply.body == {"success": False, "error": "Group not found"}
    assert client.fake.ledger == []


@pytest.mark.parametrize(("body", "message"), USERS_CASES)
async def test_invalid_group_bodies_are_400(
    client: Client, body: dict[str, Any], message: str
) -> None:
    group = next(iter(client.fake.groups.values()))
    reply = await client.put(f"/groups/{group.id}/members", json=body)
    assert reply.status == 400
    assert reply.body == validation_error(message)
    assert client.fake.groups[group.id] == group


async def test_group_add_replays_with_the_same_idempotency_key(client: Client) -> None:
    group_id = next(iter(client.fake.groups))
    path = f"/groups/{group_id}/members"
    first = await client.put(path, json={"users": ["U0NEWUSER1"]}, idempotency_key=KEY)
    again = await client.put(path, json={"users": ["U0NEWUSER1"]}, idempotency_key=KEY)
    assert (first.status, again.status) == (200, 200)
    assert again.headers["X-Idempotent-Replayed"] == "true"
    assert len(client.fake.ledger) == 1
