"""The package's modules import each other without circles.

Every ``import`` and ``from ... import`` statement of every module counts, wherever it stands:
at the top, under ``if TYPE_CHECKING:`` and inside functions (a deferred import is still a
dependency; deferring it only hides the circle from the interpreter). Relative imports are
resolved; ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to
``pkg``. The parent packages an import runs implicitly are not edges (every module would then
sit in a circle with ``tightknit_async/__init__.py``).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "tightknit_async"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

Cycle = tuple[str, ...]
"""The modules of one circle, in import order, starting from the alphabetically first."""


KNOWN_CYCLES: frozenset[Cycle] = frozenset()
"""Circles tolerated for now, each as :func:`cycles` names it: the test fails on any circle not
listed here, and on a listed one that is gone (so the list only ever shrinks)."""


def module_names(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root``: dotted name -> file (a package is its
    ``__init__.py``)."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of ``from <level dots><target> import ...`` written in ``module``."""
    if level == 0:
        assert target is not None
        return target
    base = module.split(".")
    if not is_package:
        base.pop()  # a module's own package is its parent; a package's is itself
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([target] if target else [])])


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports, anywhere in its source."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in modules else source)
    return {target for target in targets if target in modules and target != module}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Each module of the package at ``root`` -> the modules of the package it imports."""
    modules = module_names(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> set[Cycle]:
    """Every elementary circle of ``graph``, each once: rotated to start at its least module."""
    found: set[Cycle] = set()

    def walk(start: str, path: list[str]) -> None:
        # Only modules that sort after ``start``: each circle is found from its least module.
        for nxt in sorted(graph[path[-1]]):
            if nxt == start:
                found.add(tuple(path))
            elif nxt > start and nxt not in path:
                path.append(nxt)
                walk(start, path)
                path.pop()

    for start in sorted(graph):
        walk(start, [start])
    return found


def describe(cycle: Cycle) -> str:
    return " -> ".join([*cycle, cycle[0]])


def test_the_walker_sees_every_kind_of_import(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    sources = {
        "__init__.py": "from .a import A\n",
        "a.py": (
            "from typing import TYPE_CHECKING\n"
            "import json\n"
            "if TYPE_CHECKING:\n"
            "    from .sub.c import C\n"
            "def later():\n"
            "    from . import b\n"
            "    from . import A\n"
        ),
        "b.py": "import pkg.sub.c as c\n",
        "sub/__init__.py": "from . import c\nfrom .c import C\n",
        "sub/c.py": "from .. import b\nfrom ..a import A\nfrom ...elsewhere import x\n",
    }
    for name, source in sources.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(source)
    assert import_graph(root) == {
        "pkg": {"pkg.a"},
        # TYPE_CHECKING, inside a function, ``from . import module``, ``from . import name``
        "pkg.a": {"pkg.sub.c", "pkg.b", "pkg"},
        "pkg.b": {"pkg.sub.c"},
        "pkg.sub": {"pkg.sub.c"},
        "pkg.sub.c": {"pkg.b", "pkg.a"},  # outside the package: not an edge
    }


def test_the_cycle_finder_finds_each_circle_once() -> None:
    graph = {"a": {"b"}, "b": {"a", "c"}, "c": {"a", "b", "d"}, "d": set()}
    assert cycles(graph) == {("a", "b"), ("b", "c"), ("a", "b", "c")}


def test_the_redis_plumbing_is_layered() -> None:
    graph = import_graph()
    base = "tightknit_async._redis_base"
    governor, store = "tightknit_async.governor._redis", "tightknit_async.idempotency._redis_store"
    assert base in graph[governor]
    assert base in graph[store]
    assert store not in graph[governor]
    assert governor not in graph[store]
    builders = {name for name, targets in graph.items() if "tightknit_async._redis" in targets}
    assert builders <= {"tightknit_async._client"}  # only the client asks for the backends
    assert not graph[base] & {governor, store, "tightknit_async._redis"}


def test_no_import_cycles_beyond_the_known_ones() -> None:
    found = cycles(import_graph())
    new = sorted(describe(cycle) for cycle in found - KNOWN_CYCLES)
    gone = sorted(describe(cycle) for cycle in KNOWN_CYCLES - found)
    assert not new, "import cycles:\n" + "\n".join(new)
    assert not gone, "fixed, remove from KNOWN_CYCLES:\n" + "\n".join(gone)
