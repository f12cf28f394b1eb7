"""Idempotency-Key on the fake server: validation, replay, in-flight 409s, TTL, scoping."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tightknit_async.testing import FakeClock
from tightknit_async.testing._idempotency import (
    Claim,
    IdempotencyStore,
    StoredReply,
    is_uuid4,
)

from .helpers import MEMBER, Client

KEY = "0f8fad5b-d9cb-469f-a165-70867728950e"
INVALID_KEY = {
    "success": False,
    "error": "Idempotency-Key must be a UUIDv4",
    "code": "INVALID_IDEMPOTENCY_KEY",
}


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (KEY, True),
        (KEY.upper(), True),
        (str(uuid.uuid4()), True),
        ("0f8fad5b-d9cb-169f-a165-70867728950e", False),  # version 1
        ("0f8fad5b-d9cb-469f-c165-70867728950e", False),  # variant c
        ("0f8fad5bd9cb469fa16570867728950e", False),  # no hyphens
        ("{0f8fad5b-d9cb-469f-a165-70867728950e}", False),
        (f"{KEY}\n", False),
        ("0f8fad5b-d9cb-469f-a165-70867728950", False),
        ("", False),
        ("not-a-uuid", False),
    ],
)
def test_is_uuid4(value: str, valid: bool) -> None:
    assert is_uuid4(value) is valid


@pytest.mark.parametrize(
    "value", ["not-a-uuid", str(uuid.uuid1()), KEY.replace("-", ""), KEY[:-1], ""]
)
async def test_malformed_key_is_400_and_applies_nothing(client: Client, value: str) -> None:
    reply = await client.post("/members", json=MEMBER, idempotency_key=value)
    assert reply.status == 400
    assert reply.body == INVALID_KEY
    assert client.fake.ledger == []


async def test_completed_key_replays_without_applying_again(client: Client) -> None:
    first = await client.post("/members", json=MEMBER, idempotency_key=KEY)
    again = await client.post("/members", json=MEMBER, idempotency_key=KEY)
    assert first.status == again.status == 201
    assert again.body == first.body
    assert "X-Idempotent-Replayed" not in first.headers
    assert again.headers["X-Idempotent-Replayed"] == "true"
    assert again.headers["Content-Type"] == "application/json"
    assert again.headers["X-Request-Id"] != first.headers["X-Request-Id"]
    assert len(client.fake.ledger) == 1
    assert client.fake.stats.replays == 1
    assert [a.replayed for a in client.fake.arrivals] == [False, True]


async def test_key_is_case_insensitive(client: Client) -> None:
    await client.post("/members", json=MEMBER, idempotency_key=KEY)
    again = await client.post("/members", json=MEMBER, idempotency_key=KEY.upper())
    assert again.headers["X-Idempotent-Replayed"] == "true"
    assert len(client.fake.ledger) == 1


async def test_validation_errors_are_stored_too(client: Client) -> None:
    rejected = await client.post("/members", json={"email": "x"}, idempotency_key=KEY)
    assert rejected.status == 400
    again = await client.post("/members", json=MEMBER, idempotency_key=KEY)
    assert again.status == 400
    assert again.body == rejected.body
    assert again.headers["X-Idempotent-Replayed"] == "true"
    assert client.fake.ledger == []


async def test_key_in_flight_gets_409_with_retry_after(client: Client) -> None:
    client.fake.faults.latency = 0.2
    replies = await asyncio.gather(
        client.post("/members", json=MEMBER, idempotency_key=KEY),
        client.post("/members", json=MEMBER, idempotency_key=KEY),
    )
    applied, conflict = sorted(replies, key=lambda reply: reply.status)
    assert applied.status == 201
    assert conflict.status == 409
    assert conflict.headers["Retry-After"] == "1"
    assert conflict.body == {
        "success": False,
        "error": "A request with this Idempotency-Key is in progress",
        "code": "IDEMPOTENCY_IN_FLIGHT",
    }
    client.fake.faults.latency = 0
    replay = await client.post("/members", json=MEMBER, idempotency_key=KEY)
    assert replay.headers["X-Idempotent-Replayed"] == "true"
    assert replay.body == applied.body
    assert len(client.fake.ledger) == 1
    assert client.fake.stats.conflicts == 1


async def test_concurrent_requests_with_one_key_apply_once(client: Client) -> None:
    client.fake.faults.latency = 0.3
    replies = await asyncio.gather(
        *(client.post("/members", json=MEMBER, idempotency_key=KEY) for _ in range(20))
    )
    assert sorted(reply.status for reply in replies) == [201] + [409] * 19
    assert len(client.fake.ledger) == 1


async def test_replies_expire_after_the_ttl(client: Client, clock: FakeClock) -> None:
    assert (await client.post("/members", json=MEMBER, idempotency_key=KEY)).status == 201
    clock.advance(3599)
    replay = await client.post("/members", json=MEMBER, idempotency_key=KEY)
    assert replay.headers["X-Idempotent-Replayed"] == "true"
    clock.advance(2)  # 3601 s after completion
    fresh = await client.post("/members", json=MEMBER, idempotency_key=KEY)
    assert fresh.status == 200  # applied again: the member exists now, so it is updated
    assert "X-Idempotent-Replayed" not in fresh.headers
    assert len(client.fake.ledger) == 2


async def test_keys_are_scoped_per_api_key(client: Client) -> None:
    other = client.fake.add_key()
    first = await client.post("/members", json=MEMBER, idempotency_key=KEY)
    second = await client.post("/members", json=MEMBER, idempotency_key=KEY, api_key=other)
    assert (first.status, second.status) == (201, 200)
    assert "X-Idempotent-Replayed" not in second.headers
    ledger = client.fake.ledger
    assert [entry.key_id for entry in ledger] == [
        client.fake.key_info(client.fake.api_key).id,
        client.fake.key_info(other).id,
    ]


async def test_get_ignores_the_header(client: Client) -> None:
    assert (await client.get("/feeds", idempotency_key="not-a-uuid")).status == 200
    first = await client.get("/feeds", idempotency_key=KEY)
    second = await client.get("/feeds", idempotency_key=KEY)
    assert first.status == second.status == 200
    assert "X-Idempotent-Replayed" not in second.headers
    assert client.fake.stats.replays == 0


async def test_unknown_routes_ignore_the_header(client: Client) -> None:
    reply = await client.post("/nowhere", json={}, idempotency_key="not-a-uuid")
    assert reply.status == 404


# The store alone


def reply_at(completed_at: float) -> StoredReply:
    return StoredReply(201, b"{}", (("Content-Type", "application/json"),), completed_at)


def test_store_claim_complete_replay_release() -> None:
    store = IdempotencyStore(ttl=10)
    scope = ("key-id", KEY)
    assert store.claim(scope, 0) is Claim.ACQUIRED
    assert store.claim(scope, 1) is Claim.IN_FLIGHT
    store.release(scope)
    assert store.claim(scope, 2) is Claim.ACQUIRED
    store.complete(scope, reply_at(3))
    assert store.claim(scope, 12.9) == reply_at(3)
    assert store.claim(("other-key-id", KEY), 4) is Claim.ACQUIRED
    assert store.claim(scope, 13) is Claim.ACQUIRED  # expired at 3 + 10


def test_store_purges_expired_replies() -> None:
    store = IdempotencyStore(ttl=10)
    for index in range(100):
        scope = ("key-id", f"k{index}")
        store.claim(scope, index * 0.1)
        store.complete(scope, reply_at(index * 0.1))
    assert len(store) == 100
    store.claim(("key-id", "late"), 15)
    assert len(store) == 49  # completed at 5.1 .. 9.9 are still young
    store.claim(("key-id", "later"), 100)
    assert len(store) == 0
