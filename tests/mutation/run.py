"""Mutation testing of the pure cores (``make mutation``); not part of ``make test`` or CI.

Each module in ``MODULES`` is mutated by mutmut 3 and checked against its own test files only, in
its own copy of the package and the tests under ``mutants/<name>/`` (wiped when its run starts,
kept afterwards for ``cd mutants/<name> && ../../.venv/bin/mutmut show <mutant>`` or ``browse``).
The modules run ``--parallel`` at a time, each first through its tests once unmutated (mutmut
does not say why a broken suite fails), then with ``--jobs`` mutmut workers. The survivors are
printed with their diffs (on stderr), then one line per module, ``MODULE killed/total SCORE%``,
and last ``mutation score: X% (lowest module Y%)``.

A mutant counts as killed when a test failed, the tests timed out or the type checker rejected
it. The mutants listed in ``equivalent.txt`` (beside this file) are left out of both counts: each
behaves exactly like the original for every valid input, so no test can tell them apart. An entry
names the mutant, the line(s) it changes (checked against mutmut's diff, so that after an edit an
entry cannot silently come to mean another mutant) and why it is equivalent; an entry that no
longer matches, or whose mutant a test now kills, is reported and fails the run.

Usage: ``python tests/mutation/run.py [--module PATH ...] [--jobs N] [--parallel N]
[--fail-under PCT]``.
Exits 1 when a module scores below ``--fail-under`` (90 by default) or ``equivalent.txt`` is stale.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT = Path(__file__).resolve().with_name("equivalent.txt")
WORK = ROOT / "mutants"

# module -> the test files that specify it (in the order the table is printed)
MODULES: dict[str, list[str]] = {
    "tightknit_async/retry.py": ["tests/test_retry.py"],
    "tightknit_async/governor/_gcra.py": ["tests/governor/test_gcra.py"],
    "tightknit_async/idempotency/_machine.py": ["tests/idempotency/test_machine.py"],
    "tightknit_async/_exceptions.py": [
        "tests/test_exceptions.py",
        "tests/test_error_bodies.py",
        "tests/test_exceptions_pinned.py",
    ],
    "tightknit_async/idempotency/_keys.py": ["tests/test_idempotency_keys.py"],
}
# the slowest first, so that the last to finish is a short one
START_ORDER = (
    "tightknit_async/governor/_gcra.py",
    "tightknit_async/_exceptions.py",
    "tightknit_async/idempotency/_machine.py",
    "tightknit_async/retry.py",
    "tightknit_async/idempotency/_keys.py",
)

# mutmut's exit codes that mean the mutant was detected (mutmut.stats.status_by_exit_code): a test
# failed (1; 3 for a pytest internal error), the tests ran out of time (36, 24, -24, 152, 255) or
# the type checker rejected the mutant (37).
DETECTED: frozenset[int | None] = frozenset({1, 3, 36, 24, -24, 152, 255, 37})
STATUS = {None: "not checked", 0: "survived", 5: "no tests", 33: "no tests", 35: "suspicious"}

_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
module, names = sys.argv[1], sys.argv[2:]
print(json.dumps({name: get_diff_for_mutant(name, path=module) for name in names}))
"""


@dataclass(frozen=True)
class Equivalent:
    name: str
    line: str
    reason: str


@dataclass
class Result:
    module: str
    killed: int = 0
    total: int = 0
    report: list[str] = field(default_factory=list)
    stale: bool = False

    @property
    def score(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 100.0


def load_equivalents() -> dict[str, Equivalent]:
    """``equivalent.txt``: ``mutant name | the changed line(s) as mutated | reason`` per line."""
    found: dict[str, Equivalent] = {}
    for number, raw in enumerate(EQUIVALENT.read_text("utf-8").splitlines(), 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        name, _, rest = text.partition(" | ")
        line, _, reason = rest.rpartition(" | ")  # the code may hold " | ", the reason may not
        if not (name and line.strip() and reason):
            sys.exit(f"{EQUIVALENT}:{number}: expected 'mutant | mutated line | reason'")
        found[name] = Equivalent(name, line.strip(), reason)
    return found


def prepare(module: str, workdir: Path) -> None:
    """A copy of the package and the tests, and a pyproject.toml pointing mutmut at one module
    and its tests (mutmut reads ``[tool.mutmut]`` from its working directory)."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for name in ("tightknit_async", "tests"):
        shutil.copytree(ROOT / name, workdir / name, ignore=ignore)
    config = {
        "source_paths": ["tightknit_async"],
        "only_mutate": [module],
        "pytest_add_cli_args_test_selection": [t for t in MODULES[module] if (ROOT / t).exists()],
        "pytest_add_cli_args": ["-p", "no:cacheprovider"],  # nothing to remember between mutants
        "use_git_change_detection": False,
    }
    lines = ["", "[tool.mutmut]", *(f"{key} = {json.dumps(v)}" for key, v in config.items())]
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    (workdir / "pyproject.toml").write_text(text + "\n".join(lines) + "\n", "utf-8")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MUTANT_UNDER_TEST"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def mutmut(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "mutmut"), *args]
    return subprocess.run(
        command, cwd=workdir, env=_env(), capture_output=True, text=True, check=False
    )


def diffs(workdir: Path, module: str, names: list[str]) -> dict[str, str]:
    """mutmut's diff of each mutant (what ``mutmut show`` prints), read in one process."""
    if not names:
        return {}
    command = [sys.executable, "-c", _DIFFS, module, *names]
    done = subprocess.run(
        command, cwd=workdir, env=_env(), capture_output=True, text=True, check=False
    )
    if done.returncode == 0:
        shown: dict[str, str] = json.loads(done.stdout)
        return shown
    return {name: mutmut(workdir, "show", name).stdout for name in names}  # the slow way


def mutated_lines(diff: str) -> str:
    """The lines a mutant changes, as mutated: the ``+`` lines of its diff, whitespace folded."""
    added = [line[1:] for line in diff.splitlines() if line[:1] == "+" and line[:3] != "+++"]
    return " / ".join(" ".join(line.split()) for line in added)


def check_tests_pass(module: str, workdir: Path) -> None:
    """Run the module's tests once, unmutated: mutmut hides why they fail."""
    tests = [t for t in MODULES[module] if (workdir / t).exists()]
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    done = subprocess.run(
        command, cwd=workdir, env=_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        raise RuntimeError(f"the tests of {module} fail without any mutant:\n{tail}")


def run_module(module: str, jobs: int, equivalents: dict[str, Equivalent]) -> Result:
    workdir = WORK / Path(module).stem.lstrip("_")
    prepare(module, workdir)
    started = time.monotonic()
    check_tests_pass(module, workdir)
    done = mutmut(workdir, "run", "--max-children", str(jobs))
    log = done.stdout + done.stderr
    (workdir / "mutmut.log").write_text(log, "utf-8")
    meta = workdir / "mutants" / (module + ".meta")
    if done.returncode != 0 or not meta.exists():
        tail = "\n".join(log.replace("\r", "\n").splitlines()[-30:])
        raise RuntimeError(f"mutmut failed on {module} (see {workdir / 'mutmut.log'}):\n{tail}")
    exit_codes: dict[str, int | None] = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]

    result = Result(module)
    listed = [name for name in exit_codes if name in equivalents]
    undetected = [n for n, code in exit_codes.items() if code not in DETECTED and n not in listed]
    shown = diffs(workdir, module, listed + undetected)
    problems = []
    for name in listed:
        if exit_codes[name] in DETECTED:
            problems.append(f"{name} is listed as equivalent, but a test kills it")
        elif mutated_lines(shown[name]) != " ".join(equivalents[name].line.split()):
            problems.append(f"{name} no longer changes the line listed for it")
    prefix = module.removesuffix(".py").replace("/", ".") + "."
    for name in equivalents:
        if name.startswith(prefix) and name not in exit_codes:
            problems.append(f"{name} is listed as equivalent, but there is no such mutant")
    result.total = len(exit_codes) - len(listed)
    result.killed = sum(1 for n, code in exit_codes.items() if code in DETECTED and n not in listed)
    result.stale = bool(problems)

    report = result.report
    report.append(
        f"{module}: {len(exit_codes)} mutants, {len(listed)} of them equivalent, "
        f"{len(undetected)} not killed ({time.monotonic() - started:.0f}s)"
    )
    for name in undetected:
        report.append(f"  {STATUS.get(exit_codes[name], 'not killed')}: {name}")
        report.extend("    " + line for line in shown[name].splitlines()[2:])
    report.extend(f"  stale entry in {EQUIVALENT.name}: {problem}" for problem in problems)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--module",
        action="append",
        choices=list(MODULES),
        help="mutate only this module (repeatable; default: all)",
    )
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 2, help="mutmut workers per module"
    )
    parser.add_argument(
        "--parallel", type=int, default=2, help="modules mutated at the same time (default 2)"
    )
    parser.add_argument(
        "--fail-under", type=float, default=90.0, help="exit 1 if a module scores below this"
    )
    args = parser.parse_args()
    equivalents = load_equivalents()
    modules = args.module or list(MODULES)
    order = sorted(modules, key=START_ORDER.index)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        futures = {m: pool.submit(run_module, m, args.jobs, equivalents) for m in order}
        results = {}
        for module in order:
            try:
                results[module] = futures[module].result()
            except RuntimeError as error:
                print(error, file=sys.stderr)
                for future in futures.values():
                    future.cancel()
                return 2
            print("\n".join(results[module].report), file=sys.stderr, flush=True)
    print(f"({time.monotonic() - started:.0f}s)", file=sys.stderr, flush=True)

    table = [results[m] for m in MODULES if m in results]
    width = max(len(r.module) for r in table)
    for r in table:
        print(f"{r.module:<{width}} {r.killed}/{r.total} {r.score:.1f}%")
    killed, total = sum(r.killed for r in table), sum(r.total for r in table)
    overall = 100.0 * killed / total if total else 100.0
    lowest = min(r.score for r in table)
    print(f"mutation score: {overall:.1f}% (lowest module {lowest:.1f}%)")
    return 1 if lowest < args.fail_under or any(r.stale for r in table) else 0


if __name__ == "__main__":
    sys.exit(main())
