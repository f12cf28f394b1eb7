"""POST /admin/v0/files: the multipart fields, size checks, the streaming limit, what is kept."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tightknit_async.testing import FakeClock, FakeTightknit, File, StoredFile

from .helpers import PREFIX, Client, validation_error

KEY = "c56a4180-65aa-42ec-a945-5fd21dec0538"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
MiB = 1024 * 1024


def raw_multipart(*parts: tuple[str | None, bytes]) -> tuple[bytes, dict[str, str]]:
    """A hand-made multipart body, for shapes aiohttp's FormData will not send."""
    boundary = "fake-boundary-7MA4YWxkTrZu0gW"
    body = b""
    for name, value in parts:
        disposition = "form-data" if name is None else f'form-data; name="{name}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += value + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


async def test_upload_answers_201_with_the_file(client: Client) -> None:
    fake = client.fake
    content = b"\x89PNG\r\n\x1a\n fake image bytes"
    reply = await client.upload(content, filename="cover.png", description="A cover")
    assert reply.status == 201
    assert reply.body["success"] is True
    data = reply.body["data"]
    assert list(data) == ["id", "created_at", "name", "title", "size", "mimetype", "url"]
    assert UUID.fullmatch(data["id"])
    assert data == {
        "id": data["id"],
        "created_at": data["created_at"],
        "name": "cover.png",
        "title": "cover.png",
        "size": len(content),
        "mimetype": "image/png",
        "url": f"{fake.url}/files/{data['id']}/cover.png",
    }
    assert fake.files[data["id"]] == StoredFile(
        file=File(**data),
        description="A cover",
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
    )
    [entry] = fake.ledger
    assert (entry.method, entry.path, entry.resource_id, entry.status) == (
        "POST",
        PREFIX + "/files",
        data["id"],
        201,
    )


@pytest.mark.parametrize(
    ("filename", "mimetype"),
    [
        ("report.pdf", "application/pdf"),
        ("photo.JPG", "image/jpeg"),
        ("banner.webp", "image/webp"),
        ("notes.txt", "text/plain"),
        ("archive", "application/octet-stream"),
    ],
)
async def test_mimetype_is_guessed_from_the_filename(
    client: Client, filename: str, mimetype: str
) -> None:
    reply = await client.upload(b"content", filename=filename)
    assert reply.body["data"]["mimetype"] == mimetype


async def test_part_content_type_is_the_fallback(client: Client) -> None:
    form = aiohttp.FormData()
    form.add_field("file", b"a,b\n1,2\n", filename="export", content_type="text/csv")
    form.add_field("filename", "export")
    form.add_field("size", "8")
    reply = await client.post("/files", data=form)
    assert reply.status == 201
    assert reply.body["data"]["mimetype"] == "text/csv"


async def test_filename_is_quoted_in_the_url_and_description_is_optional(client: Client) -> None:
    reply = await client.upload(b"x", filename="Team photo #1.jpg")
    data = reply.body["data"]
    assert data["name"] == "Team photo #1.jpg"
    assert data["url"].endswith(f"/files/{data['id']}/Team%20photo%20%231.jpg")
    assert client.fake.files[data["id"]].description is None
    empty = await client.upload(b"x", description="")
    assert client.fake.files[empty.body["data"]["id"]].description is None


@pytest.mark.parametrize(
    ("content", "filename", "size", "message"),
    [
        (None, "cover.png", 5, "file is required"),
        (b"12345", None, 5, "filename is required"),
        (b"12345", "", 5, "filename must not be empty"),
        (b"12345", "x" * 252 + ".png", 5, "filename must be at most 255 characters"),
        (b"12345", "../cover.png", 5, "filename must not contain path separators"),
        (b"12345", "C:\\cover.png", 5, "filename must not contain path separators"),
        (b"12345", "cover.png", None, "size is required"),
        (b"12345", "cover.png", "five", "size must be an integer >= 1"),
        (b"12345", "cover.png", "5.0", "size must be an integer >= 1"),
        (b"12345", "cover.png", "-5", "size must be an integer >= 1"),
        (b"12345", "cover.png", "", "size must be an integer >= 1"),
        (b"", "cover.png", 0, "size must be an integer >= 1"),
    ],
)
async def test_invalid_fields_are_400_naming_the_field(
    client: Client,
    content: bytes | None,
    filename: str | None,
    size: int | str | None,
    message: str,
) -> None:
    reply = await client.upload(content, filename=filename, size=size)
    assert reply.status == 400
    assert reply.body == validation_error(message)
    assert client.fake.files == {}
    assert client.fake.ledger == []


@pytest.mark.parametrize("declared", [4, 6, 1000])
async def test_size_must_match_the_bytes_received(client: Client, declared: int) -> None:
    reply = await client.upload(b"12345", size=declared)
    assert reply.status == 400
    assert reply.body == validation_error(
        "size must equal the number of bytes received (5)", received=5
    )
    assert client.fake.files == {}


async def test_filename_limit_is_inclusive(client: Client) -> None:
    name = "x" * 251 + ".png"
    assert (await client.upload(b"1", filename=name)).body["data"]["name"] == name


@pytest.mark.parametrize(
    "send",
    [
        {"json": {"file": "aGVsbG8=", "filename": "a.txt", "size": 5}},
        {"data": b"file=hello&filename=a.txt&size=5"},
    ],
)
async def test_body_must_be_multipart(client: Client, send: dict[str, object]) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if "data" in send else None
    reply = await client.post("/files", headers=headers, **send)
    assert reply.status == 400
    assert reply.body == validation_error("Request body must be multipart/form-data")


async def test_malformed_multipart_is_400(client: Client) -> None:
    reply = await client.post(
        "/files",
        data=b"this is not multipart at all",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert reply.status == 400
    assert reply.body == validation_error(
        "Request body must be multipart/form-data; the body is malformed"
    )
    no_boundary = await client.post(
        "/files", data=b"--x--\r\n", headers={"Content-Type": "multipart/form-data"}
    )
    assert no_boundary.status == 400


async def test_parts_need_a_name_and_come_once(client: Client) -> None:
    body, headers = raw_multipart((None, b"anonymous"))
    reply = await client.post("/files", data=body, headers=headers)
    assert reply.body == validation_error(
        "Request body must be multipart/form-data: every part needs a field name"
    )
    body, headers = raw_multipart(("file", b"abc"), ("filename", b"a.txt"), ("filename", b"b"))
    reply = await client.post("/files", data=body, headers=headers)
    assert reply.body == validation_error("filename must be given once")
    body, headers = raw_multipart(("file", b"abc"), ("filename", b"\xff.txt"), ("size", b"3"))
    reply = await client.post("/files", data=body, headers=headers)
    assert reply.body == validation_error("filename must be UTF-8 text")
    body, headers = raw_multipart(*[(f"extra{n}", b"x") for n in range(33)])
    reply = await client.post("/files", data=body, headers=headers)
    assert reply.body == validation_error("Request body must have at most 32 parts")
    body, headers = raw_multipart(("description", b"d" * (64 * 1024 + 1)))
    reply = await client.post("/files", data=body, headers=headers)
    assert reply.body == validation_error("description must be at most 65536 bytes")


async def test_unknown_fields_are_ignored(client: Client) -> None:
    body, headers = raw_multipart(
        ("purpose", b"cover"), ("file", b"abc"), ("filename", b"a.txt"), ("size", b"3")
    )
    reply = await client.post("/files", data=body, headers=headers)
    assert reply.status == 201
    assert client.fake.files[reply.body["data"]["id"]].content == b"abc"


# Size limits


async def test_files_over_the_limit_are_413(client: Client) -> None:
    fake = client.fake
    fake.max_upload_bytes = 1000
    assert (await client.upload(b"x" * 1000)).status == 201
    reply = await client.upload(b"x" * 1001)
    assert reply.status == 413
    assert reply.body == {
        "success": False,
        "error": "file must be at most 1000 bytes",
        "code": "REQUEST_ENTITY_TOO_LARGE",
        "max_bytes": 1000,
    }
    assert len(fake.files) == 1
    assert len(fake.ledger) == 1


async def test_a_large_upload_is_refused_while_it_streams(client: Client) -> None:
    client.fake.max_upload_bytes = MiB
    reply = await client.upload(b"x" * (8 * MiB))
    assert reply.status == 413
    assert reply.body["max_bytes"] == MiB
    assert (await client.get("/feeds")).status == 200  # the server is fine afterwards


@pytest.fixture
async def small_keep(clock: FakeClock) -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit(clock=clock, keep_upload_bytes=10) as fake:
        yield fake


async def test_big_files_are_kept_by_digest_only(
    small_keep: FakeTightknit, session: aiohttp.ClientSession
) -> None:
    client = Client(session, small_keep)
    kept = await client.upload(b"0123456789")
    assert small_keep.files[kept.body["data"]["id"]].content == b"0123456789"
    content = bytes(range(256)) * (3 * MiB // 256)  # past aiohttp's own 1 MiB body limit
    reply = await client.upload(content, filename="big.bin")
    assert reply.status == 201
    stored = small_keep.files[reply.body["data"]["id"]]
    assert (stored.file.size, stored.content) == (3 * MiB, None)
    assert stored.sha256 == hashlib.sha256(content).hexdigest()


def test_upload_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="max_upload_bytes"):
        FakeTightknit(max_upload_bytes=-1)
    with pytest.raises(ValueError, match="keep_upload_bytes"):
        FakeTightknit(keep_upload_bytes=1.5)  # type: ignore[arg-type]
    fake = FakeTightknit()
    assert fake.max_upload_bytes == 25 * MiB
    with pytest.raises(ValueError, match="max_upload_bytes"):
        fake.max_upload_bytes = True
    assert fake.max_upload_bytes == 25 * MiB


async def test_upload_replays_with_the_same_idempotency_key(client: Client) -> None:
    first = await client.upload(b"abc", idempotency_key=KEY)
    again = await client.upload(b"abc", idempotency_key=KEY)
    assert (first.status, again.status) == (201, 201)
    assert again.body == first.body
    assert again.headers["X-Idempotent-Replayed"] == "true"
    assert len(client.fake.files) == 1
    assert len(client.fake.ledger) == 1


async def test_an_injected_fault_stores_nothing(client: Client) -> None:
    fake = client.fake
    fake.faults.script("POST", PREFIX + "/files", [503])
    failed = await client.upload(b"abc", idempotency_key=KEY)
    assert failed.status == 503
    assert fake.files == {}
    retried = await client.upload(b"abc", idempotency_key=KEY)
    assert retried.status == 201
    assert "X-Idempotent-Replayed" not in retried.headers
    assert len(fake.files) == 1
    assert len(fake.ledger) == 1
