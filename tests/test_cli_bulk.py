"""The bulk commands' options on the command line: ``import members`` and ``bulk``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tightknit_async.cli import main


def crm_file(tmp_path: Path) -> Path:
    path = tmp_path / "crm.csv"
    path.write_text("E-mail,Name,company\nada@example.com,Ada Lovelace,ACME\n")
    return path


def test_map_strict_columns_and_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = crm_file(tmp_path)
    mapped = ["--map", "email=E-mail", "--map", "full_name=Name"]
    assert main(["import", "members", str(path), *mapped, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "ignored column(s): company" in out
    assert "dry run: would send 1 rows" in out
    assert main(["import", "members", str(path), *mapped, "--strict-columns", "--dry-run"]) == 2
    assert "unknown column(s) company" in capsys.readouterr().err
    assert main(["import", "members", str(path), *mapped, "--all", "--dry-run"]) == 0
    assert main(["import", "members", str(path), "--map", "email", "--dry-run"]) == 2
    assert "--map takes FIELD=COLUMN" in capsys.readouterr().err
    assert main(["import", "members", str(path), *mapped, *mapped, "--dry-run"]) == 2
    assert "mapped twice" in capsys.readouterr().err


def test_the_bulk_command_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"group_id": "g1", "users": ["U0000001"]}\n')
    base = ["bulk", "PUT", "/admin/v0/groups/{group_id}/members", str(path)]
    assert main([*base, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "bulk PUT /admin/v0/groups/{group_id}/members" in out
    assert "job bulk-" in out
    assert "dry run: would send 1 rows" in out
    assert main(["bulk", "GET", "/admin/v0/feeds", str(path)]) == 2
    assert "method must be one of POST, PUT, PATCH, DELETE" in capsys.readouterr().err
    assert main([*base, "--body", "[1,"]) == 2
    assert main([*base, "--key", "missing", "--dry-run"]) == 2
    assert "no value for the key field(s) missing" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bulk", "--help"])
    usage = capsys.readouterr().out
    for flag in ("--body", "--key", "--result-field", "--all", "--map", "--journal"):
        assert flag in usage


def test_export_needs_its_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x.jsonl")
    with pytest.raises(SystemExit):
        main(["export", "members", "--out", out])  # not a resource: argparse refuses it
    assert main(["export", "search", "--out", out]) == 2
    assert "needs a search term" in capsys.readouterr().err
    assert main(["export", "feeds", "--out", str(tmp_path / "x.txt")]) == 2
