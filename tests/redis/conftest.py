"""A real ``redis-server`` for the Redis tests: no mocks of Redis.

``redis_url`` is one server for the whole session (started on a free loopback port with
persistence off, stopped at the end); tests keep apart by using fresh API keys, so each gets its
own ``tightknit:{tag}`` namespace. ``private_redis`` starts a server of the test's own, for tests
that kill and restart it. Without ``redis-server`` on the PATH the tests skip, unless ``CI`` is
set: then they fail, so CI cannot pass by skipping them.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("worker.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process on a loopback port; ``stop()`` and ``start()`` again."""

    def __init__(self, executable: str, port: int | None = None) -> None:
        self.executable = executable
        self.port = port or _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                "--save",
                "",
                "--appendonly",
                "no",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not come up on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill the server at once (SIGKILL: Redis simply goes away)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _executable() -> str:
    found = shutil.which("redis-server")
    if found is None:
        reason = (
            "redis-server is not installed (apt-get install redis-server); the Redis backend "
            "tests need a real server"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}, and CI is set: refusing to skip them", pytrace=False)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(_executable())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A server of this test's own, which it may kill and start again on the same port."""
    server = RedisServer(_executable())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api_key() -> str:
    """A fresh key: its own Redis namespace, its own fake-server window."""
    return f"sk_test_{secrets.token_hex(16)}"


class Worker:
    """A worker process running ``worker.py``: a client of its own, pacing through Redis."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self) -> dict[str, object]:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), 60)
        if not raw:
            assert self.process.stderr is not None
            error = await self.process.stderr.read()
            raise AssertionError(f"worker ended early:\n{error.decode()}")
        message: dict[str, object] = json.loads(raw)
        return message

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")

    async def result(self) -> dict[str, object]:
        message = await self.line()
        await asyncio.wait_for(self.process.wait(), 30)
        return message


async def start_workers(configs: Sequence[dict[str, object]]) -> list[Worker]:
    """Start one worker per config; return once every one is ready (imported, connected)."""
    workers = [
        Worker(
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(WORKER),
                json.dumps(config),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        )
        for config in configs
    ]
    for worker in workers:
        assert (await worker.line()) == {"ready": True}
    return workers


@pytest.fixture
async def workers() -> AsyncIterator[list[Worker]]:
    """Collects the workers a test starts and kills any still running at its end."""
    started: list[Worker] = []
    yield started
    for worker in started:
        if worker.process.returncode is None:
            worker.process.kill()
            await worker.process.wait()
