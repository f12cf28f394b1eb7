"""``tightknit-async request``: the one-request command against the fake server, keys included."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest

from tightknit_async.cli import main
from tightknit_async.testing import FakeTightknit

MEMBERS = "/admin/v0/members"
BODY = json.dumps({"email": "ada@example.com", "full_name": "Ada Lovelace"})


@pytest.fixture
async def fake() -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit(rate_limit=None, seed_data=False) as server:
        yield server


@pytest.fixture(autouse=True)
def environment(fake: FakeTightknit, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIGHTKNIT_API_KEY", fake.api_key)
    monkeypatch.setenv("TIGHTKNIT_BASE_URL", fake.url)


async def request(*args: str) -> int:
    # main() starts its own event loop: run it in a thread while the fake serves on this one.
    return await asyncio.to_thread(main, ["request", *args])


def keys_of_posts(fake: FakeTightknit) -> list[str | None]:
    return [a.idempotency_key for a in fake.arrivals if a.method == "POST" and a.path == MEMBERS]


def is_uuid4(key: str | None) -> bool:
    if key is None:
        return False
    try:
        parsed = uuid.UUID(key)
    except ValueError:
        return False
    return parsed.version == 4 and str(parsed) == key.lower()


async def test_a_post_carries_a_fresh_uuid4_idempotency_key(
    fake: FakeTightknit, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await request("POST", MEMBERS, "--data", BODY) == 0
    assert await request("POST", MEMBERS, "--data", BODY) == 0
    keys = keys_of_posts(fake)
    assert len(keys) == 2
    assert all(is_uuid4(key) for key in keys), keys
    assert keys[0] != keys[1]  # a fresh key per command: two runs are two requests
    assert [entry.idempotency_key for entry in fake.ledger] == keys
    assert json.loads(capsys.readouterr().out.splitlines()[0])["success"] is True


async def test_a_caller_key_is_sent_as_given(fake: FakeTightknit) -> None:
    key = str(uuid.uuid4())
    assert await request("POST", MEMBERS, "--data", BODY, "--idempotency-key", key) == 0
    assert await request("POST", MEMBERS, "--data", BODY, "--idempotency-key", key) == 0
    assert set(keys_of_posts(fake)) == {key}
    assert [entry.idempotency_key for entry in fake.ledger] == [key]  # applied once


async def test_no_idempotency_key_sends_none(fake: FakeTightknit) -> None:
    assert await request("POST", MEMBERS, "--data", BODY, "--no-idempotency-key") == 0
    assert keys_of_posts(fake) == [None]


async def test_a_get_carries_no_key(fake: FakeTightknit) -> None:
    assert await request("GET", "/admin/v0/api_key/me") == 0
    assert [a.idempotency_key for a in fake.arrivals] == [None]


async def test_a_bad_key_is_refused_before_sending(
    fake: FakeTightknit, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await request("POST", MEMBERS, "--data", BODY, "--idempotency-key", "nope") == 1
    assert "error:" in capsys.readouterr().err
    assert fake.arrivals == []


def test_a_key_and_no_key_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    key = str(uuid.uuid4())
    with pytest.raises(SystemExit) as exit_:
        main(["request", "POST", MEMBERS, "--idempotency-key", key, "--no-idempotency-key"])
    assert exit_.value.code == 2
    assert "not allowed with" in capsys.readouterr().err
