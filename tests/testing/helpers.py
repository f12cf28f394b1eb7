"""A small aiohttp client for the fake server's tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from tightknit_async.testing import FakeTightknit

PREFIX = "/admin/v0"
MEMBER = {"email": "ada@example.org", "full_name": "Ada Lovelace"}


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: Any


class Client:
    """A thin aiohttp client for the fake: adds the prefix, the key and an Idempotency-Key."""

    def __init__(self, session: aiohttp.ClientSession, fake: FakeTightknit) -> None:
        self.session = session
        self.fake = fake

    async def request(
        self,
        method: str,
        path: str,
        *,
        api_key: str | None = "default",
        json: Any = None,
        data: bytes | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if api_key is not None:
            sent["Authorization"] = (
                f"Bearer {self.fake.api_key if api_key == 'default' else api_key}"
            )
        if idempotency_key is not None:
            sent["Idempotency-Key"] = idempotency_key
        async with self.session.request(
            method, self.fake.url + PREFIX + path, json=json, data=data, headers=sent
        ) as response:
            is_json = response.content_type == "application/json"
            body = await response.json() if is_json else await response.text()
            return Reply(response.status, response.headers, body)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("POST", path, **kwargs)
