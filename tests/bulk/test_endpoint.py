"""Any endpoint in bulk: ``bulk METHOD PATH FILE`` and ``run_endpoint`` against the fake server."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tightknit_async import AsyncTightknit
from tightknit_async.bulk import RequestTemplate, RowError, run_endpoint
from tightknit_async.bulk._endpoint import run_endpoint_command
from tightknit_async.bulk._runner import ImportOptions
from tightknit_async.cli import main
from tightknit_async.journal import Journal
from tightknit_async.testing import FakeTightknit

from .helpers import MEMBERS_PATH, member_email
from .test_import import Output

GROUP_PATH = "/admin/v0/groups/{group_id}/members"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTightknit]:
    async with FakeTightknit(rate_limit=None) as server:
        yield server


def users(count: int, start: int = 0) -> list[str]:
    return [f"U{i:09d}" for i in range(start, start + count)]


async def command(
    fake: FakeTightknit, template: RequestTemplate, file: Path, **changes: object
) -> tuple[int, Output]:
    options = ImportOptions(
        file=file, api_key=fake.api_key, base_url=fake.url, rate=5000, concurrency=8
    )
    for name, value in changes.items():
        options = type(options)(**{**_fields(options), name: value})
    output = Output()
    status = await run_endpoint_command(
        options, template, stdout=output.out, stderr=output.err, interactive=False
    )
    return status, output


def _fields(options: ImportOptions) -> dict[str, object]:
    return {name: getattr(options, name) for name in options.__dataclass_fields__}


def put_calls(fake: FakeTightknit) -> list[str]:
    return [a.path for a in fake.arrivals if a.method == "PUT"]


async def test_the_path_is_filled_from_each_row_and_the_body_is_the_rest(
    fake: FakeTightknit, tmp_path: Path
) -> None:
    groups = list(fake.groups)
    path = tmp_path / "rows.jsonl"
    rows = [{"group_id": groups[i % 3], "users": users(2, 10 * i)} for i in range(9)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    template = RequestTemplate("PUT", GROUP_PATH)
    status, output = await command(fake, template, path)
    assert status == 0, output.stdout + output.stderr
    assert "OK: all 9 rows done" in output.stdout
    assert output.count("succeeded") == 9
    assert len(put_calls(fake)) == 9
    for i, row in enumerate(rows):
        assert set(row["users"]) <= set(fake.groups[groups[i % 3]].slack_user_ids)  # type: ignore[arg-type]
    assert all(entry.idempotency_key for entry in fake.ledger)

    # again: nothing is sent; one row changed: that row alone
    status, output = await command(fake, template, path)
    assert (status, output.count("skipped (done before)")) == (0, 9)
    rows[4]["users"] = users(3, 500)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    status, output = await command(fake, template, path)
    assert status == 0
    assert len(put_calls(fake)) == 10
    assert output.count("succeeded") == 1


async def test_a_body_template_builds_the_body_from_csv_columns(
    fake: FakeTightknit, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["E-mail", "First", "Last", "Team"])
        for i in range(6):
            writer.writerow([member_email(i), "Member", f"Number{i}", "x"])
    template = RequestTemplate(
        "POST", MEMBERS_PATH, '{"email": "{E-mail}", "full_name": "{First} {Last}"}', key="E-mail"
    )
    status, output = await command(fake, template, path)
    assert status == 0, output.stderr
    for i in range(6):
        member = fake.find_member(member_email(i))
        assert member is not None
        assert member.full_name == f"Member Number{i}"
    # the journal keeps what each reply named: the member's id
    journal = Journal(tmp_path / "people.csv.journal.sqlite3")
    async with journal:
        job = (await journal_jobs(tmp_path / "people.csv.journal.sqlite3"))[0]
        results = await journal.results(job)
    assert results == {
        member_email(i): fake.find_member(member_email(i)).id  # type: ignore[union-attr]
        for i in range(6)
    }


async def journal_jobs(path: Path) -> list[str]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return [job for (job,) in conn.execute("SELECT DISTINCT job FROM items")]
    finally:
        conn.close()


async def test_rows_that_do_not_fill_the_request_are_listed_and_nothing_is_sent(
    fake: FakeTightknit, tmp_path: Path
) -> None:
    path = tmp_path / "rows.jsonl"
    group = next(iter(fake.groups))
    path.write_text(
        json.dumps({"group_id": group, "users": ["U000000001"]})
        + "\n"
        + json.dumps({"users": ["U000000002"]})
        + "\n"
        + json.dumps({"group_id": "", "users": ["U000000003"]})
        + "\n"
        + json.dumps({"group_id": group, "users": ["U000000001"]})
        + "\n"
    )
    status, output = await command(fake, RequestTemplate("PUT", GROUP_PATH), path)
    assert status == 2
    assert f"{path}:2: no field group_id for the path {GROUP_PATH}" in output.stderr
    assert f"{path}:3: group_id: a path value must not be empty" in output.stderr
    assert f"{path}:4: the same request (PUT /admin/v0/groups/{group}/members)" in output.stderr
    assert fake.stats.requests == 0


def test_path_values_are_quoted_as_one_segment() -> None:
    template = RequestTemplate("post", "/admin/v0/things/{id}/do")
    assert template.fill({"id": "a/b c", "x": 1}).path == "/admin/v0/things/a%2Fb%20c/do"
    assert template.fill({"id": 42}).body is None
    assert template.fill({"id": "k", "x": [1, 2]}).body == {"x": [1, 2]}
    typed = RequestTemplate("PUT", "/a/{id}", {"n": "{n}", "label": "n={n}", "list": ["{id}"]})
    assert typed.fill({"id": "z", "n": [1, 2]}).body == {
        "n": [1, 2],
        "label": "n=[1,2]",
        "list": ["z"],
    }
    for bad in ({"id": ".."}, {"id": True}, {"id": None}):
        with pytest.raises(RowError):
            template.fill(bad)
    with pytest.raises(ValueError, match="method"):
        RequestTemplate("GET", "/a")
    with pytest.raises(ValueError, match="start with"):
        RequestTemplate("POST", "a/{b}")
    with pytest.raises(ValueError, match="not valid JSON"):
        RequestTemplate("POST", "/a", "{nope")


async def test_run_endpoint_from_python_with_a_journal(fake: FakeTightknit, tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"email": member_email(i), "full_name": f"Member Number{i}"} for i in range(20)
    ]
    rows.append({"full_name": "no e-mail"})  # fails at the server, not the others
    async with (
        AsyncTightknit(api_key=fake.api_key, base_url=fake.url, rate_limit=None) as tk,
        Journal(tmp_path / "j.sqlite3") as journal,
    ):
        first = await run_endpoint(
            tk, "POST", MEMBERS_PATH, rows, job="members-api", key="full_name", journal=journal
        )
        assert (first.succeeded, first.failed, first.total) == (20, 1, 21)
        again = await run_endpoint(
            tk, "POST", MEMBERS_PATH, rows[:20], job="members-api", key="full_name", journal=journal
        )
        assert (again.succeeded, again.skipped) == (0, 20)
        ids = await journal.results("members-api")
    assert ids["Member Number3"] == fake.find_member(member_email(3)).id  # type: ignore[union-attr]
    assert len(ids) == 20


async def test_run_endpoint_fails_a_row_without_its_path_field(fake: FakeTightknit) -> None:
    async def rows() -> AsyncIterator[dict[str, object]]:
        yield {"group_id": next(iter(fake.groups)), "users": ["U000000009"]}
        yield {"users": ["U000000010"]}

    async with AsyncTightknit(api_key=fake.api_key, base_url=fake.url, rate_limit=None) as tk:
        summary = await run_endpoint(tk, "PUT", GROUP_PATH, rows(), job="groups")
    assert (summary.succeeded, summary.failed) == (1, 1)
    assert isinstance(summary.failures[0].error, RowError)
    assert summary.failures[0].item.row == {"users": ["U000000010"]}


async def test_the_command_line(
    fake: FakeTightknit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIGHTKNIT_API_KEY", fake.api_key)
    monkeypatch.setenv("TIGHTKNIT_BASE_URL", fake.url)
    path = tmp_path / "rows.jsonl"
    group = next(iter(fake.groups))
    path.write_text(json.dumps({"g": group, "u": "U000000077"}) + "\n")
    args = ["bulk", "PUT", GROUP_PATH, str(path), "--no-progress", "--rate", "1000"]
    body = ["--body", '{"users": ["{u}"]}', "--map", "group_id=g"]
    out = io.StringIO()

    def run(*extra: str) -> int:
        import contextlib

        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            return main([*args, *extra])

    assert await asyncio.to_thread(run, "--body", "{nope") == 2
    assert await asyncio.to_thread(run, *body) == 0, out.getvalue()
    assert "U000000077" in fake.groups[group].slack_user_ids
    assert await asyncio.to_thread(run, *body, "--dry-run") == 0
    assert "dry run: would send 0 rows" in out.getvalue()
