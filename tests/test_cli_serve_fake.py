"""``tightknit-async serve-fake`` for users' own tests: rate, faults, seed, key, and the admin
routes that tell what the server saw while it runs."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tightknit_async.cli import main
from tightknit_async.testing import FakeTightknit, Faults

REPO = Path(__file__).resolve().parents[1]
MEMBERS = "/admin/v0/members"


async def start(*args: str) -> tuple[subprocess.Popen[str], dict[str, str], list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tightknit_async", "serve-fake", "--port", "0", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    found: dict[str, str] = {}
    while "TIGHTKNIT_BASE_URL" not in found or not any(
        line.startswith("TIGHTKNIT_API_KEY") for line in lines
    ):
        line = await asyncio.to_thread(process.stdout.readline)
        assert line, process.stderr.read() if process.stderr else "no output"
        lines.append(line.rstrip("\n"))
        name, sep, value = line.strip().partition("=")
        if sep:
            found[name] = value
    return process, found, lines


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)  # and close the pipes
    return process.returncode


async def get_json(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with session.get(url) as response:
        return response.status, await response.json()


async def test_rate_faults_seed_and_a_given_key_with_stats_read_while_it_runs() -> None:
    key = "sk_test_given_by_the_user_0123456789"
    process, found, lines = await start(
        "--rate", "3", "--faults", "error_rate=1,error_status=502", "--seed", "7", "--key", key
    )
    try:
        assert not any(key in line for line in lines)  # a given key is not printed
        assert "Faults: error_rate=1.0, error_status=502" in lines
        assert any("3 requests per key in any 1 s; seed 7" in line for line in lines)
        base = found["TIGHTKNIT_BASE_URL"]
        headers = {"Authorization": f"Bearer {key}"}
        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(5):
                async with session.post(
                    base + MEMBERS, json={"email": "a@b.co", "full_name": "A B"}, headers=headers
                ) as response:
                    statuses.append(response.status)
            assert statuses[:3] == [502, 502, 502]  # the key is accepted; every one a fault
            assert 429 in statuses[3:]  # more than 3 in the second
            status, stats = await get_json(session, base + "/_fake/stats")
            assert status == 200
            assert stats["requests"] == 5  # the admin routes are not counted
            assert stats["faults_injected"] == 3
            assert stats["rate_limited"] == 2
            assert stats["ledger"] == 0
            assert stats["in_flight"] == 0
            status, arrivals = await get_json(session, base + "/_fake/arrivals?since=3")
            assert [a["status"] for a in arrivals["entries"]] == [429, 429]
            assert (arrivals["next"], arrivals["total"]) == (5, 5)
    finally:
        assert stop(process) == 0


async def test_a_generated_key_is_printed_and_the_ledger_is_served() -> None:
    process, found, _ = await start("--rate", "0")
    try:
        key = found["TIGHTKNIT_API_KEY"]
        assert key.startswith("sk_test_")
        base = found["TIGHTKNIT_BASE_URL"]
        async with aiohttp.ClientSession() as session:
            for i in range(3):
                async with session.post(
                    base + MEMBERS,
                    json={"email": f"m{i}@example.com", "full_name": "M N"},
                    headers={"Authorization": f"Bearer {key}"},
                ) as response:
                    assert response.status == 201
            _, ledger = await get_json(session, base + "/_fake/ledger?limit=2")
            assert [e["path"] for e in ledger["entries"]] == [MEMBERS, MEMBERS]
            assert ledger["next"] == 2
            _, rest = await get_json(session, base + f"/_fake/ledger?since={ledger['next']}")
            assert len(rest["entries"]) == 1
            assert all("key_id" in e and key not in json.dumps(e) for e in rest["entries"])
    finally:
        assert stop(process) == 0


@pytest.fixture
async def fake() -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit(rate_limit=None, seed_data=False) as server:
        yield server


async def test_admin_routes_in_process(fake: FakeTightknit) -> None:
    async with aiohttp.ClientSession() as session:
        status, body = await get_json(session, fake.url + "/_fake/nothing")
        assert status == 404
        assert "GET /_fake/stats" in body["error"]
        status, body = await get_json(session, fake.url + "/_fake/ledger?since=-1")
        assert status == 400
        async with session.post(fake.url + "/_fake/stats") as response:
            assert response.status == 405
        status, body = await get_json(session, fake.url + "/_fake/stats")
        assert (status, body["requests"], body["max_in_any_second"]) == (200, 0, 0)
    assert fake.stats.requests == 0
    assert fake.arrivals == []


async def test_admin_routes_can_be_turned_off() -> None:
    async with FakeTightknit(admin_routes=False) as fake, aiohttp.ClientSession() as session:
        status, _ = await get_json(session, fake.url + "/_fake/stats")
        assert status == 401  # an API path like any other: no key
        assert fake.stats.requests == 1


def test_fault_specs() -> None:
    faults = Faults()
    faults.apply("error_rate=0.1, latency=0.05,error_html=true,conflict_next=2,retry_after=3")
    assert (faults.error_rate, faults.latency, faults.error_html) == (0.1, 0.05, True)
    assert (faults.conflict_next, faults.retry_after) == (2, 3)
    for bad, message in (
        ("nope=1", "unknown fault setting"),
        ("error_rate=2", "probability"),
        ("latency", "NAME=VALUE"),
        ("conflict_next=1.5", "not a valid value"),
    ):
        with pytest.raises(ValueError, match=message):
            Faults().apply(bad)
    untouched = Faults()
    with pytest.raises(ValueError):
        untouched.apply("latency=1,error_rate=9")
    assert untouched.latency == 0  # all or nothing


def test_bad_options_are_refused_before_starting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve-fake", "--faults", "error_rate=x"]) == 2
    assert "--faults: fault setting error_rate" in capsys.readouterr().err
    assert main(["serve-fake", "--rate", "-1"]) == 2
    assert main(["serve-fake", "--jitter-ms", "-1"]) == 2
