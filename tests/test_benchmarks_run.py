"""The benchmark scripts still run against today's package: a rename or a changed signature in
the package fails here, not months later in ``make bench``. Small sizes, no figures; what they
measure is not asserted (the scripts print their verdicts; ``make bench`` runs them in full)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

SMALL_RUNS = {
    "idempotency.py": ["--calls", "200", "--rounds", "1"],
    "decode.py": ["--rounds", "1", "--batch-ms", "1"],
}


@pytest.mark.parametrize("script", sorted(SMALL_RUNS))
def test_a_benchmark_runs_end_to_end_on_small_sizes(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *SMALL_RUNS[script]],
        cwd=BENCHMARKS.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    assert "|---" in done.stdout  # printed its table


@pytest.mark.parametrize(
    "script",
    sorted(
        path.name
        for path in BENCHMARKS.glob("*.py")
        if path.name not in SMALL_RUNS and not path.name.startswith("_")
    ),
)
def test_every_other_benchmark_imports_and_parses_its_arguments(script: str) -> None:
    """``--help`` imports the script and everything it imports, and builds its parser."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--help"],
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
