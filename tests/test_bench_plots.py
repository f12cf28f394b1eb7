"""The figures of docs/benchmarks.md: each drawing function of benchmarks/_plots.py, fed small
synthetic data, writes a well-formed SVG with its title and axis labels as text (and the same
bytes when drawn twice). Skipped without matplotlib (the ``bench`` and ``dev`` extras)."""

from __future__ import annotations

import importlib.util
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("matplotlib")

PLOTS = Path(__file__).resolve().parent.parent / "benchmarks" / "_plots.py"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def plots() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("_bench_plots", PLOTS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def svg_text(path: Path) -> str:
    """The file parsed as XML (it must be): its root is <svg>; all its text, joined."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return " ".join(t.strip() for t in root.itertext() if t.strip())


def test_governor_per_100ms(plots: ModuleType, tmp_path: Path) -> None:
    paced = [(i / 50, 200) for i in range(100)]
    bursty = [(0.001 * i, 200) for i in range(50)] + [(1.0 + i / 50, 429) for i in range(5)]
    path = plots.governor_per_100ms(
        tmp_path / "governor.svg",
        {"ours": paced, "AsyncLimiter(50, 1)": bursty},
        cap=50,
        note="synthetic data",
    )
    assert path == tmp_path / "governor.svg"
    text = svg_text(path)
    for expected in (
        "Requests per 100 ms at the 50 req/s cap",
        "requests / 100 ms",
        "seconds since the trial started",
        "the cap: 5 per 100 ms",
        "ours (429s: 0)",
        "AsyncLimiter(50, 1) (429s: 5)",
        "synthetic data",
    ):
        assert expected in text


def test_per_bin(plots: ModuleType) -> None:
    assert plots.per_bin([0.0, 0.05, 0.1, 0.25, 0.31, 9.0], 0.1, 4) == [2, 1, 1, 1]


def test_bulk_rss(plots: ModuleType, tmp_path: Path) -> None:
    variants = {
        "run_bulk": [(float(n), 50 + n / 2000) for n in range(0, 1001, 100)],
        "gather": [(float(n), 600.0) for n in range(0, 1001, 100)],
    }
    cli = [(0.5 * i, 60.0 + i % 3) for i in range(20)]
    path = plots.bulk_rss(
        tmp_path / "bulk.svg",
        variants,
        items=1000,
        target_mb=150,
        cli=cli,
        cli_rows=5000,
        cli_target_mb=100,
    )
    text = svg_text(path)
    for expected in (
        "RSS over a long bulk run",
        "RSS (MB)",
        "items processed",
        "run_bulk",
        "gather",
        "target: peak < 150 MB",
        "tightknit-async import members, 5,000 rows",
        "seconds since the import started",
    ):
        assert expected in text
    alone = plots.bulk_rss(tmp_path / "alone.svg", variants, items=1000)  # no import panel
    assert "import members" not in svg_text(alone)


def test_jitter_rate(plots: ModuleType, tmp_path: Path) -> None:
    path = plots.jitter_rate(
        tmp_path / "jitter.svg",
        [0, 10, 25, 50],
        {"ours": [99.6, 99.0, 97.9, 96.6], "AsyncLimiter(50, 1)": [98.1, 98.2, 97.4, 96.9]},
        {"ours": [0, 0, 0, 0], "AsyncLimiter(50, 1)": [70, 68, 76, 82]},
    )
    text = svg_text(path)
    for expected in (
        "Full demand at the 50 req/s cap through a network with jitter",
        "achieved rate (% of 50 req/s)",
        "network jitter (ms, uniform 0 to J)",
        "429 responses",
        "ours",
        "AsyncLimiter(50, 1)",
        "99.6",
        "82",
    ):
        assert expected in text


def test_same_data_same_file(plots: ModuleType, tmp_path: Path) -> None:
    arrivals = {"ours": [(i / 50, 200) for i in range(60)]}
    first = plots.governor_per_100ms(tmp_path / "a.svg", arrivals)
    second = plots.governor_per_100ms(tmp_path / "b.svg", arrivals)
    assert first.read_bytes() == second.read_bytes()


def test_figure_dir(plots: ModuleType, tmp_path: Path) -> None:
    assert plots.figure_dir(None) is None
    assert plots.figure_dir("") is None
    assert plots.figure_dir(tmp_path / "img") == tmp_path / "img"
    assert (tmp_path / "img").is_dir()


def test_figure_dir_without_matplotlib(
    plots: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(plots, "available", lambda: False)
    assert plots.figure_dir(tmp_path / "img") is None
    assert capsys.readouterr().out == "figures skipped: matplotlib is not installed\n"
    assert not (tmp_path / "img").exists()
