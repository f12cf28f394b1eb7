"""Fault injection: latency, random errors, HTML proxy pages, dropped connections, 409 storms,
scripted statuses."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tightknit_async.testing import FakeClock, FakeTightknit, Faults

from .helpers import MEMBER, PREFIX, Client

KEY = "6f1c2a9e-3b7d-4c5e-9f80-1a2b3c4d5e6f"
MEMBERS = PREFIX + "/members"


async def test_latency_delays_every_handled_request(client: Client) -> None:
    loop = asyncio.get_running_loop()
    client.fake.faults.latency = 0.05
    started = loop.time()
    assert (await client.get("/feeds")).status == 200
    assert loop.time() - started >= 0.05


async def test_latency_jitter_adds_up_to_its_value() -> None:
    faults = Faults(latency=0.1, latency_jitter=0.05)
    draws = [faults.draw_latency() for _ in range(200)]
    assert all(0.1 <= draw <= 0.15 for draw in draws)
    assert len(set(draws)) > 100


async def test_error_rate_one_fails_everything_and_applies_nothing(client: Client) -> None:
    client.fake.faults.error_rate = 1.0
    reply = await client.post("/members", json=MEMBER)
    assert reply.status == 503
    assert reply.body == {
        "success": False,
        "error": "Service Unavailable",
        "code": "SERVICE_UNAVAILABLE",
    }
    assert reply.headers["X-Request-Id"].startswith("req_")
    assert client.fake.ledger == []
    assert client.fake.stats.faults_injected == 1


async def test_error_rate_is_seeded(clock: FakeClock, session: aiohttp.ClientSession) -> None:
    runs = []
    for _ in range(2):
        async with FakeTightknit(clock=clock, rate_limit=None, seed=7) as fake:
            fake.faults.error_rate = 0.5
            client = Client(session, fake)
            runs.append([(await client.get("/feeds")).status for _ in range(40)])
    assert runs[0] == runs[1]
    assert {200, 503} == set(runs[0])


async def test_html_error_page_like_a_proxy(client: Client) -> None:
    faults = client.fake.faults
    faults.error_rate, faults.error_status, faults.error_html = 1.0, 502, True
    reply = await client.get("/feeds")
    assert reply.status == 502
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in reply.body


async def test_retry_after_a_5xx_runs_normally(client: Client) -> None:
    client.fake.faults.error_rate = 1.0
    assert (await client.post("/members", json=MEMBER, idempotency_key=KEY)).status == 503
    client.fake.faults.error_rate = 0.0
    retry = await client.post("/members", json=MEMBER, idempotency_key=KEY)
    assert retry.status == 201
    assert "X-Idempotent-Replayed" not in retry.headers
    assert len(client.fake.ledger) == 1


async def test_replays_skip_faults(client: Client) -> None:
    await client.post("/members", json=MEMBER, idempotency_key=KEY)
    client.fake.faults.error_rate = 1.0
    replay = await client.post("/members", json=MEMBER, idempotency_key=KEY)
    assert replay.status == 201
    assert replay.headers["X-Idempotent-Replayed"] == "true"


async def test_drop_after_apply_applies_then_disconnects(client: Client) -> None:
    fake = client.fake
    fake.faults.drop_after_apply = 1
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.post("/members", json=MEMBER, idempotency_key=KEY)
    assert len(fake.ledger) == 1
    assert fake.ledger[0].status == 201
    assert fake.faults.drop_after_apply == 0
    retry = await client.post("/members", json=MEMBER, idempotency_key=KEY)
    assert retry.status == 201
    assert retry.headers["X-Idempotent-Replayed"] == "true"
    assert retry.body["data"]["member"]["id"] == fake.ledger[0].resource_id
    assert len(fake.ledger) == 1
    assert [a.status for a in fake.arrivals] == [None, 201]
    stats = fake.stats
    assert (stats.dropped_connections, stats.faults_injected, stats.replays) == (1, 1, 1)


async def test_drop_without_a_key_means_a_retry_applies_twice(client: Client) -> None:
    client.fake.faults.drop_after_apply = 1
    with pytest.raises(aiohttp.ClientConnectionError):
        await client.post("/members", json=MEMBER)
    assert (await client.post("/members", json=MEMBER)).status == 200
    assert [entry.status for entry in client.fake.ledger] == [201, 200]


async def test_drop_waits_for_a_request_that_applies(client: Client) -> None:
    client.fake.faults.drop_after_apply = 1
    assert (await client.get("/feeds")).status == 200
    assert (await client.post("/members", json={"email": "x"})).status == 400
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.post("/members", json=MEMBER)


async def test_plain_session_sees_a_disconnect_and_recovers(
    fake: FakeTightknit, session: aiohttp.ClientSession
) -> None:
    fake.faults.drop_after_apply = 2
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    for email in ("a@example.org", "b@example.org"):
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await session.post(
                fake.url + MEMBERS, json={"email": email, "full_name": "A B"}, headers=headers
            )
    async with session.post(
        fake.url + MEMBERS, json={"email": "c@example.org", "full_name": "C D"}, headers=headers
    ) as response:
        assert response.status == 201
    assert len(fake.ledger) == 3


async def test_conflict_storm_hits_keyed_mutations_only(client: Client) -> None:
    fake = client.fake
    fake.faults.conflict_next = 2
    fake.faults.retry_after = "Wed, 21 Oct 2026 07:28:00 GMT"
    assert (await client.get("/feeds", idempotency_key=KEY)).status == 200
    unkeyed = await client.post("/members", json=MEMBER)
    assert unkeyed.status == 201
    other = {"email": "grace@example.org", "full_name": "Grace Hopper"}
    for _ in range(2):
        reply = await client.post("/members", json=other, idempotency_key=KEY)
        assert reply.status == 409
        assert reply.headers["Retry-After"] == "Wed, 21 Oct 2026 07:28:00 GMT"
        assert reply.body["code"] == "IDEMPOTENCY_IN_FLIGHT"
    assert (await client.post("/members", json=other, idempotency_key=KEY)).status == 201
    assert len(fake.ledger) == 2
    assert (fake.stats.conflicts, fake.stats.faults_injected) == (2, 2)


async def test_scripted_statuses_per_route(client: Client) -> None:
    faults = client.fake.faults
    faults.retry_after = 3
    faults.script("post", MEMBERS, [503, 429, None, 500])
    assert faults.scripted("POST", MEMBERS) == [503, 429, None, 500]
    assert (await client.get("/feeds")).status == 200  # another route: untouched
    statuses = []
    for _ in range(5):
        reply = await client.post("/members", json=MEMBER)
        statuses.append(reply.status)
        if reply.status == 429:
            assert reply.headers["Retry-After"] == "3"
            assert reply.body == {
                "success": False,
                "error": "Too many requests",
                "code": "RATE_LIMITED",
            }
    assert statuses == [503, 429, 201, 500, 200]
    assert faults.scripted("POST", MEMBERS) == []
    assert [e.status for e in client.fake.ledger] == [201, 200]
    assert client.fake.stats.faults_injected == 3
    assert client.fake.stats.rate_limited == 1


async def test_scripted_404_and_html_5xx(client: Client) -> None:
    faults = client.fake.faults
    faults.error_html = True
    faults.script("GET", PREFIX + "/feeds", [404, 504])
    missing = await client.get("/feeds")
    assert missing.status == 404
    assert missing.body == {"success": False, "error": "Not Found", "code": "NOT_FOUND"}
    timeout = await client.get("/feeds")
    assert timeout.status == 504
    assert "<h1>504 Gateway Timeout</h1>" in timeout.body


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("latency", -0.1),
        ("latency_jitter", "1"),
        ("error_rate", 1.5),
        ("error_rate", True),
        ("error_status", 404),
        ("error_status", 503.0),
        ("error_html", 1),
        ("drop_after_apply", -1),
        ("conflict_next", 1.0),
        ("retry_after", -1),
        ("retry_after", " "),
    ],
)
def test_settings_are_checked(setting: str, value: object) -> None:
    faults = Faults()
    with pytest.raises(ValueError, match=setting):
        setattr(faults, setting, value)
    with pytest.raises(ValueError, match=setting):
        Faults(**{setting: value})  # type: ignore[arg-type]


def test_script_rejects_non_error_statuses() -> None:
    with pytest.raises(ValueError, match="400-599"):
        Faults().script("GET", "/admin/v0/feeds", [200])


def test_reset_restores_defaults_and_drops_scripts() -> None:
    faults = Faults()
    faults.latency, faults.error_rate, faults.error_html = 1.0, 0.5, True
    faults.drop_after_apply, faults.conflict_next, faults.retry_after = 2, 3, "soon"
    faults.script("GET", "/admin/v0/feeds", [503])
    faults.reset()
    assert faults == Faults()
    assert faults.scripted("GET", "/admin/v0/feeds") == []
