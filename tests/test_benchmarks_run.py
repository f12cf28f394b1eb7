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


def test_instructions_reads_cachegrinds_totals(monkeypatch: pytest.MonkeyPatch) -> None:
    """``instructions.py --cache`` takes its counts from the ``summary:`` line of cachegrind's
    output file, named by its ``events:`` line (the layout of valgrind 3.19's cachegrind)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import instructions

    report = (
        "desc: I1 cache:         32768 B, 64 B, 8-way associative\n"
        "cmd: python instructions.py --child x 300 1\n"
        "events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw\n"
        "fl=???\nfn=0x0000000000001140\n0 3 1 1 0 0 0 0 0 0\n"
        "summary: 2863786028 36300623 27564 841871428 25082125 101898 414101474 3540010 498510\n"
    )
    totals = instructions._summary(report)
    assert totals["Ir"] == 2_863_786_028
    assert (totals["I1mr"], totals["D1mr"], totals["D1mw"]) == (36_300_623, 25_082_125, 3_540_010)
    with pytest.raises(RuntimeError, match="no summary"):
        instructions._summary("events: Ir\nfl=x\n")
