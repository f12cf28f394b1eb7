from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tightknit_async import AsyncTightknit
from tightknit_async.idempotency import MemoryIdempotencyStore
from tightknit_async.testing import FakeTightknit


@pytest.fixture
async def fake() -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit(rate_limit=None) as server:
        yield server


@pytest.fixture
async def tk(fake: FakeTightknit) -> AsyncIterator[AsyncTightknit]:
    async with AsyncTightknit(
        api_key=fake.api_key,
        base_url=fake.url,
        rate_limit=None,
        idempotency_store=MemoryIdempotencyStore(),
    ) as client:
        yield client
