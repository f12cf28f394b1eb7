from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tightknit_async.testing import FakeClock, FakeTightknit

from .helpers import Client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(100.0)


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit(clock=clock) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def client(session: aiohttp.ClientSession, fake: FakeTightknit) -> Client:
    return Client(session, fake)
