"""A small aiohttp client for the fake server's tests."""

from __future__ import annotations

import io
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
        data: bytes | aiohttp.FormData | None = None,
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

    async def put(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("PUT", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("DELETE", path, **kwargs)

    async def upload(
        self,
        content: bytes | None = b"\x89PNG fake image",
        *,
        filename: str | None = "cover.png",
        size: int | str | None = "auto",
        description: str | None = None,
        **kwargs: Any,
    ) -> Reply:
        """POST /files as multipart; ``size="auto"`` sends ``len(content)``, None leaves it out."""
        form = aiohttp.FormData(default_to_multipart=True)
        if content is not None:
            # BytesIO: aiohttp warns about large raw bytes bodies.
            form.add_field("file", io.BytesIO(content), filename=filename or "blob")
        if filename is not None:
            form.add_field("filename", filename)
        if size == "auto":
            size = len(content or b"")
        if size is not None:
            form.add_field("size", str(size))
        if description is not None:
            form.add_field("description", description)
        return await self.post("/files", data=form, **kwargs)


def validation_error(message: str, **details: Any) -> dict[str, Any]:
    """The body of a 400 ``VALIDATION_ERROR`` with this message."""
    return {"success": False, "error": message, "code": "VALIDATION_ERROR", **details}
