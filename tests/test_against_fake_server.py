"""The client end to end against the embedded fake server: real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

from tightknit_async import (
    AsyncTightknit,
    AuthenticationError,
    BadRequestError,
    InsufficientScopeError,
    InternalServerError,
    NotFoundError,
    PlanRequiredError,
    idempotency_key_for,
)
from tightknit_async.idempotency import MemoryIdempotencyStore
from tightknit_async.testing import FakeTightknit, disable_waits

MEMBERS = "/admin/v0/members"


def member(i: int) -> dict[str, str]:
    return {"email": f"user{i}@example.com", "full_name": f"User Number{i}"}


def connect(fake: FakeTightknit, key: str | None = None, **kwargs: object) -> AsyncTightknit:
    kwargs.setdefault("rate_limit", None)
    kwargs.setdefault("idempotency_store", MemoryIdempotencyStore())
    return AsyncTightknit(api_key=key or fake.api_key, base_url=fake.url, **kwargs)  # type: ignore[arg-type]


async def test_reads_and_an_upsert() -> None:
    async with FakeTightknit() as fake, connect(fake) as tk:
        me = await tk.request("GET", "/admin/v0/api_key/me")
        assert me.data["success"] is True
        assert me.request_id is not None
        page = await tk.request("GET", "/admin/v0/calendar_events", params={"time_filter": "all"})
        first = page.data["data"]["records"][0]
        one = await tk.request("GET", f"/admin/v0/calendar_events/{first['id']}")
        assert one.data["data"]["id"] == first["id"]
        created = await tk.request("POST", MEMBERS, json=member(1))
        updated = await tk.request("POST", MEMBERS, json={**member(1), "full_name": "New Name"})
    assert (created.status_code, updated.status_code) == (201, 200)
    assert created.idempotency_key is not None
    assert created.idempotency_key != updated.idempotency_key
    assert len(fake.ledger) == 2


async def test_status_errors_from_the_server() -> None:
    async with FakeTightknit() as fake:
        scoped = fake.add_key(permissions=["feeds:read"])
        growth = fake.add_key(plan="growth")
        async with connect(fake, "sk_unknown_key") as bad:
            with pytest.raises(AuthenticationError):
                await bad.request("GET", "/admin/v0/api_key/me")
        async with connect(fake, scoped) as tk:
            with pytest.raises(InsufficientScopeError) as scope:
                await tk.request("POST", MEMBERS, json=member(1))
        async with connect(fake, growth) as tk:
            with pytest.raises(PlanRequiredError) as plan:
                await tk.request("POST", MEMBERS, json=member(1))
        async with connect(fake) as tk:
            with pytest.raises(NotFoundError):
                await tk.request("GET", "/admin/v0/calendar_events/nosuchevent1")
            with pytest.raises(BadRequestError, match="email"):
                await tk.request("POST", MEMBERS, json={"full_name": "No Email"})
    assert scope.value.required_permissions == ("members:write",)
    assert scope.value.granted_permissions == ("feeds:read",)
    assert (plan.value.required_plan, plan.value.current_plan) == ("enterprise", "growth")
    assert fake.ledger == []


async def test_html_5xx_page_becomes_a_clear_error() -> None:
    async with FakeTightknit() as fake, connect(fake, max_retries=0) as tk:
        fake.faults.error_rate = 1.0
        fake.faults.error_status = 502
        fake.faults.error_html = True
        with pytest.raises(InternalServerError) as info:
            await tk.request("GET", "/admin/v0/feeds")
    assert info.value.status_code == 502
    assert isinstance(info.value.body, str)
    assert "502" in info.value.body


async def test_dropped_reply_after_apply_is_replayed_not_reapplied() -> None:
    async with FakeTightknit() as fake, connect(fake) as tk:
        fake.faults.drop_after_apply = 1
        with disable_waits():
            response = await tk.request("POST", MEMBERS, json=member(7))
    assert response.attempts == 2
    assert response.replayed is True  # the server's own replay
    assert len(fake.ledger) == 1
    assert fake.stats.dropped_connections == 1


async def test_an_unkeyed_mutation_is_not_resent_after_a_dropped_reply() -> None:
    async with FakeTightknit() as fake, connect(fake) as tk:
        fake.faults.drop_after_apply = 1
        with pytest.raises(Exception) as info:
            await tk.request("POST", MEMBERS, json=member(7), idempotency_key=False)
    assert type(info.value).__name__ == "APIConnectionError"
    assert len(fake.ledger) == 1
    assert len(fake.arrivals) == 1


async def test_thousand_concurrent_creates_under_faults_apply_exactly_once() -> None:
    async with FakeTightknit(rate_limit=None) as fake, connect(fake, max_retries=10) as tk:
        fake.faults.error_rate = 0.05
        fake.faults.drop_after_apply = 40
        fake.faults.conflict_next = 30
        fake.faults.latency = 0.002
        fake.faults.retry_after = 0
        with disable_waits():
            responses = await asyncio.gather(
                *(
                    tk.request(
                        "POST", MEMBERS, json=member(i), idempotency_key=idempotency_key_for("t", i)
                    )
                    for i in range(1000)
                )
            )
    assert all(r.status_code == 201 for r in responses)
    applied = Counter(entry.idempotency_key for entry in fake.ledger)
    assert len(applied) == 1000
    assert set(applied.values()) == {1}
    posts = [a for a in fake.arrivals if a.method == "POST"]
    assert all(a.idempotency_key is not None for a in posts)
    keys_by_body: dict[str, set[str]] = {}
    for entry in fake.ledger:
        keys_by_body.setdefault(entry.resource_id, set()).add(entry.idempotency_key or "")
    assert all(len(keys) == 1 for keys in keys_by_body.values())
    assert fake.stats.faults_injected > 0
    assert fake.stats.dropped_connections == 40


async def test_thousand_concurrent_calls_with_one_key_reach_the_server_once() -> None:
    key = str(uuid.uuid4())
    async with FakeTightknit(rate_limit=None) as fake, connect(fake) as tk:
        fake.faults.latency = 0.05
        responses = await asyncio.gather(
            *(tk.request("POST", MEMBERS, json=member(1), idempotency_key=key) for _ in range(1000))
        )
        again = await tk.request("POST", MEMBERS, json=member(1), idempotency_key=key)
    assert len(fake.arrivals) == 1
    assert {r.status_code for r in responses} == {201}
    assert again.replayed is True


async def test_same_key_from_two_processes_worth_of_clients_is_replayed_by_the_server() -> None:
    """Two clients with separate stores (as two processes would be): the server replays."""
    key = str(uuid.uuid4())
    async with FakeTightknit() as fake, connect(fake) as one, connect(fake) as two:
        first = await one.request("POST", MEMBERS, json=member(3), idempotency_key=key)
        second = await two.request("POST", MEMBERS, json=member(3), idempotency_key=key)
    assert (first.replayed, second.replayed) == (False, True)
    assert second.status_code == 201
    assert len(fake.ledger) == 1


async def test_without_pacing_the_server_answers_429_and_the_client_recovers() -> None:
    async with FakeTightknit() as fake, connect(fake, rate_limit=None, max_retries=10) as tk:
        fake.faults.retry_after = 0
        responses = await asyncio.gather(*(tk.request("GET", "/admin/v0/feeds") for _ in range(70)))
    assert len(responses) == 70
    assert fake.stats.rate_limited > 0
    assert tk.statistics().rate_limited == fake.stats.rate_limited
