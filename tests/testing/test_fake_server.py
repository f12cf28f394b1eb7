"""FakeTightknit: lifecycle, the envelope every reply shares, authentication, permissions, plans."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from tightknit_async.testing import PERMISSIONS, FakeTightknit, Plan, serve_forever

from .helpers import MEMBER, Client

REQUEST_ID = re.compile(r"req_[0-9a-f]{16}")


# Lifecycle


async def test_listens_on_a_free_loopback_port_with_a_default_key() -> None:
    async with FakeTightknit() as fake:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", fake.url)
        assert not fake.url.endswith(":0")
        assert fake.api_key.startswith("sk_test_")
        info = fake.key_info(fake.api_key)
        assert info.permissions == PERMISSIONS
        assert info.plan == "enterprise"
        assert fake.api_key not in repr(info)


async def test_lifecycle_errors_and_idempotent_close() -> None:
    fake = FakeTightknit()
    with pytest.raises(RuntimeError, match="started"):
        _ = fake.url
    await fake.start()
    with pytest.raises(RuntimeError, match="already started"):
        await fake.start()
    await fake.close()
    await fake.close()
    with pytest.raises(RuntimeError, match="closed"):
        await fake.start()
    assert "closed" in repr(fake)


async def test_close_stops_serving(session: aiohttp.ClientSession) -> None:
    fake = FakeTightknit()
    await fake.start()
    url = fake.url
    await fake.close()
    with pytest.raises(aiohttp.ClientConnectionError):
        await session.get(url + "/admin/v0/api_key/me")


async def test_app_runs_in_aiohttp_test_server() -> None:
    fake = FakeTightknit()
    async with TestClient(TestServer(fake.app)) as test_client:
        response = await test_client.get(
            "/admin/v0/api_key/me", headers={"Authorization": f"Bearer {fake.api_key}"}
        )
        assert response.status == 200
        assert (await response.json())["success"] is True


async def test_constructor_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        FakeTightknit(rate_limit=0)
    with pytest.raises(ValueError, match="rate_window"):
        FakeTightknit(rate_window=0)
    with pytest.raises(ValueError, match="idempotency_ttl"):
        FakeTightknit(idempotency_ttl=-1)


async def test_serve_forever_prints_url_and_key_and_serves_until_cancelled(
    capsys: pytest.CaptureFixture[str], session: aiohttp.ClientSession
) -> None:
    task = asyncio.create_task(serve_forever(0))
    output = ""
    for _ in range(200):
        await asyncio.sleep(0.01)
        output += capsys.readouterr().out
        if "TIGHTKNIT_API_KEY=" in output:
            break
    url = re.search(r"TIGHTKNIT_BASE_URL=(\S+)", output)
    key = re.search(r"TIGHTKNIT_API_KEY=(sk_test_\w+)", output)
    assert url is not None
    assert key is not None
    async with session.get(
        url[1] + "/admin/v0/api_key/me", headers={"Authorization": f"Bearer {key[1]}"}
    ) as response:
        assert response.status == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(aiohttp.ClientConnectionError):
        await session.get(url[1] + "/admin/v0/api_key/me")


# The envelope


async def test_every_reply_has_a_request_id_and_json(client: Client) -> None:
    replies = [
        await client.get("/api_key/me"),
        await client.get("/api_key/me", api_key=None),
        await client.get("/nowhere"),
        await client.post("/members", json={}),
    ]
    assert [reply.status for reply in replies] == [200, 401, 404, 400]
    for reply in replies:
        assert REQUEST_ID.fullmatch(reply.headers["X-Request-Id"])
        assert reply.headers["Content-Type"] == "application/json"
    ids = {reply.headers["X-Request-Id"] for reply in replies}
    assert len(ids) == len(replies)


async def test_unknown_route_is_a_json_404(client: Client, session: aiohttp.ClientSession) -> None:
    reply = await client.get("/no/such/thing")
    assert reply.status == 404
    assert reply.body == {"success": False, "error": "Not found"}
    fake = client.fake
    async with session.get(
        fake.url + "/", headers={"Authorization": f"Bearer {fake.api_key}"}
    ) as response:
        assert response.status == 404
        assert await response.json() == {"success": False, "error": "Not found"}


async def test_wrong_method_is_a_json_405_with_allow(client: Client) -> None:
    reply = await client.request("DELETE", "/members")
    assert reply.status == 405
    assert reply.headers["Allow"] == "POST"
    assert reply.body["success"] is False


# Authentication


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "Missing Authorization header"),
        ("", "Authorization header must be 'Bearer <API key>'"),
        ("Bearer", "Authorization header must be 'Bearer <API key>'"),
        ("Bearer    ", "Authorization header must be 'Bearer <API key>'"),
        ("Token sk_test_abc", "Authorization header must be 'Bearer <API key>'"),
        ("Bearer sk_test_not_a_key", "Invalid API key"),
    ],
)
async def test_unauthenticated_requests_get_401(
    client: Client, authorization: str | None, message: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    reply = await client.get("/api_key/me", api_key=None, headers=headers)
    assert reply.status == 401
    assert reply.body == {"success": False, "error": message, "code": "UNAUTHORIZED"}


async def test_bearer_scheme_is_case_insensitive(client: Client) -> None:
    headers = {"Authorization": f"bearer {client.fake.api_key}"}
    assert (await client.get("/api_key/me", api_key=None, headers=headers)).status == 200


async def test_revoked_key_gets_401_and_others_keep_working(client: Client) -> None:
    fake = client.fake
    key = fake.add_key()
    assert (await client.get("/api_key/me", api_key=key)).status == 200
    fake.revoke_key(key)
    reply = await client.get("/api_key/me", api_key=key)
    assert reply.status == 401
    assert reply.body["error"] == "This API key has been revoked"
    assert key not in str(reply.body)
    assert (await client.get("/api_key/me")).status == 200
    assert fake.key_info(key).revoked


def test_key_management_errors() -> None:
    fake = FakeTightknit()
    with pytest.raises(ValueError, match="unknown permission"):
        fake.add_key(["members:delete"])
    with pytest.raises(ValueError, match="unknown plan"):
        fake.add_key(plan="platinum")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="iterable"):
        fake.add_key("members:write")
    with pytest.raises(ValueError, match="already exists"):
        fake.add_key(key=fake.api_key)
    with pytest.raises(ValueError, match="whitespace"):
        fake.add_key(key="sk test")
    with pytest.raises(KeyError) as error:
        fake.revoke_key("sk_test_never_issued")
    assert "sk_test_never_issued" not in str(error.value)


# /api_key/me


async def test_api_key_me_describes_the_key_without_its_secret(client: Client) -> None:
    fake = client.fake
    key = fake.add_key(["feeds:read", "calendar_events:read"], plan="growth", name="Reader")
    reply = await client.get("/api_key/me", api_key=key)
    assert reply.status == 200
    data = reply.body["data"]
    assert data == {
        "id": fake.key_info(key).id,
        "type": "developer",
        "name": "Reader",
        "community": {"id": fake.community.id, "name": fake.community.name, "plan": "growth"},
        "permissions": ["calendar_events:read", "feeds:read"],
        "created_at": data["created_at"],
    }
    created = datetime.fromisoformat(data["created_at"])
    assert created.tzinfo is not None
    assert abs((datetime.now(UTC) - created).total_seconds()) < 60
    assert key not in str(reply.body)


async def test_api_key_me_needs_no_permission(client: Client) -> None:
    key = client.fake.add_key([], plan="growth")
    reply = await client.get("/api_key/me", api_key=key)
    assert reply.status == 200
    assert reply.body["data"]["permissions"] == []


# Permissions and plans


async def test_missing_permission_is_insufficient_scope(client: Client) -> None:
    key = client.fake.add_key(["feeds:read", "calendar_events:read"])
    reply = await client.post("/members", api_key=key, json=MEMBER)
    assert reply.status == 403
    assert reply.body == {
        "success": False,
        "error": "This API key lacks the permission this endpoint requires",
        "code": "INSUFFICIENT_SCOPE",
        "hint": "Required permission: members:write. "
        "Current permissions: calendar_events:read, feeds:read",
        "required_permissions": ["members:write"],
        "current_permissions": ["calendar_events:read", "feeds:read"],
    }
    assert client.fake.ledger == []


@pytest.mark.parametrize(
    ("path", "permission"),
    [
        ("/calendar_events", "calendar_events:read"),
        ("/calendar_events/abcdefabcdef", "calendar_events:read"),
        ("/feeds", "feeds:read"),
        ("/feeds/00000000-0000-4000-8000-000000000000", "feeds:read"),
    ],
)
async def test_read_endpoints_need_their_permission(
    client: Client, path: str, permission: str
) -> None:
    without = client.fake.add_key([p for p in PERMISSIONS if p != permission])
    reply = await client.get(path, api_key=without)
    assert reply.status == 403
    assert reply.body["required_permissions"] == [permission]
    with_it = client.fake.add_key([permission], plan="growth")
    assert (await client.get(path, api_key=with_it)).status in (200, 404)


WRITES = [
    ("POST", "/members/00000000-0000-4000-8000-000000000000/deactivate", "members:write"),
    ("POST", "/calendar_events", "calendar_events:write"),
    ("DELETE", "/calendar_events/abcdefabcdef", "calendar_events:write"),
    ("POST", "/files", "files:write"),
    ("POST", "/awards/00000000-0000-4000-8000-000000000000/assign", "awards:write"),
    ("POST", "/badges/00000000-0000-4000-8000-000000000000/assign", "badges:write"),
    ("PUT", "/groups/00000000-0000-4000-8000-000000000000/members", "groups:write"),
]
READS = [
    ("GET", "/posts/abcdefabcdef", "posts:read"),
    ("GET", "/search?q=community", "search:read"),
]


@pytest.mark.parametrize(("method", "path", "permission"), WRITES + READS)
async def test_new_endpoints_need_their_permission(
    client: Client, method: str, path: str, permission: str
) -> None:
    fake = client.fake
    without = fake.add_key([p for p in PERMISSIONS if p != permission])
    reply = await client.request(method, path, api_key=without, json={})
    assert reply.status == 403
    assert reply.body["code"] == "INSUFFICIENT_SCOPE"
    assert reply.body["required_permissions"] == [permission]
    assert reply.body["hint"].startswith(f"Required permission: {permission}. ")
    plan: Plan = "enterprise" if permission == "members:write" else "growth"
    only = fake.add_key([permission], plan=plan)
    assert (await client.request(method, path, api_key=only, json={})).status in (200, 400, 404)
    assert fake.ledger == []


@pytest.mark.parametrize(("method", "path", "permission"), WRITES + READS)
async def test_only_member_management_needs_more_than_growth(
    client: Client, method: str, path: str, permission: str
) -> None:
    growth = client.fake.add_key(plan="growth")
    reply = await client.request(method, path, api_key=growth, json={})
    if permission == "members:write":
        assert reply.status == 403
        assert reply.body["code"] == "PLAN_REQUIRED"
        assert reply.body["required_plan"] == "enterprise"
    else:
        assert reply.status in (200, 400, 404)


@pytest.mark.parametrize("plan", ["growth", "momentum"])
async def test_adding_members_needs_enterprise(client: Client, plan: str) -> None:
    key = client.fake.add_key(["members:write"], plan=plan)  # type: ignore[arg-type]
    reply = await client.post("/members", api_key=key, json=MEMBER)
    assert reply.status == 403
    assert reply.body == {
        "success": False,
        "error": "This endpoint requires the Enterprise plan",
        "code": "PLAN_REQUIRED",
        "required_plan": "enterprise",
        "current_plan": plan,
    }
    enterprise = client.fake.add_key(["members:write"])
    assert (await client.post("/members", api_key=enterprise, json=MEMBER)).status == 201


# The order of the rules


async def test_rules_apply_in_order(client: Client) -> None:
    fake = client.fake
    reader = fake.add_key(["feeds:read"])
    bad_key = "not-a-uuid"
    # Permission before idempotency, idempotency before validation and faults.
    assert (await client.post("/members", api_key=reader, idempotency_key=bad_key)).status == 403
    fake.faults.script("POST", "/admin/v0/members", [503])
    reply = await client.post("/members", json={}, idempotency_key=bad_key)
    assert reply.body["code"] == "INVALID_IDEMPOTENCY_KEY"
    assert (await client.post("/members", json={})).status == 503
    # Authentication before the rate limit, the rate limit before permissions.
    for _ in range(49):
        await client.get("/feeds", api_key=reader)
    assert (await client.get("/feeds", api_key="sk_test_unknown")).status == 401
    assert (await client.get("/feeds", api_key=reader)).status == 429
    assert (await client.post("/members", api_key=reader, json=MEMBER)).status == 429
    assert fake.ledger == []


async def test_oversized_body_is_a_json_413(
    fake: FakeTightknit, session: aiohttp.ClientSession
) -> None:
    async with session.post(
        fake.url + "/admin/v0/members",
        data=io.BytesIO(b" " * (1024 * 1024 + 1)),
        headers={"Authorization": f"Bearer {fake.api_key}", "Content-Type": "application/json"},
    ) as response:
        assert response.status == 413
        assert (await response.json())["code"] == "REQUEST_ENTITY_TOO_LARGE"
