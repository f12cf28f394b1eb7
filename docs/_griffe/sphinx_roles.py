"""A Griffe extension for the docs build: the package's docstrings use Sphinx roles
(``:class:`~tightknit_async.APIResponse```, ``:meth:`aclose```) inside Google-style sections.

mkdocstrings renders Markdown, where such a role would show as literal text. This extension
rewrites each role into an *optional* cross-reference: a link when the target is rendered
somewhere in the site, plain code otherwise (so a role naming a private module never fails
``mkdocs build --strict``). Relative names are resolved in the docstring's own scope, the way
Sphinx does. A reST literal-block marker (a line ending in ``::``) becomes a plain colon.

Loaded from ``mkdocs.yml`` (``extensions: [docs/_griffe/sphinx_roles.py]``).
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|func|attr|data|mod|exc|obj):`(?P<target>[^`]+)`")
_LITERAL_MARKER = re.compile(r"(?m)^(?P<text>.*?\S)?[ \t]*::[ \t]*$")


def _identifier(obj: griffe.Object, target: str) -> str:
    if target.startswith("tightknit_async"):
        return target
    if target.startswith("."):  # a relative module: ``._gcra`` next to this module
        package = (
            obj.module.path.rsplit(".", 1)[0] if not obj.module.is_init_module else obj.module.path
        )
        return package + target
    head, _, rest = target.partition(".")
    try:
        resolved = obj.resolve(head)
    except (griffe.NameResolutionError, AttributeError, KeyError):
        return target
    return f"{resolved}.{rest}" if rest else resolved


def _rewrite(obj: griffe.Object, text: str) -> str:
    def role(match: re.Match[str]) -> str:
        written = match["target"].strip()
        target = written.lstrip("~").removesuffix("()")
        shown = target.rsplit(".", 1)[-1] if written.startswith("~") else target
        identifier = html.escape(_identifier(obj, target), quote=True)
        code = f"<code>{html.escape(shown)}</code>"
        return f'<autoref optional identifier="{identifier}">{code}</autoref>'

    def marker(match: re.Match[str]) -> str:
        return f"{match['text']}:" if match["text"] else ""

    return _LITERAL_MARKER.sub(marker, _ROLE.sub(role, text))


def _walk(obj: griffe.Object, seen: set[int]) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if obj.docstring is not None:
        obj.docstring.value = _rewrite(obj, obj.docstring.value)
    for member in obj.members.values():
        if not member.is_alias:
            _walk(member, seen)  # type: ignore[arg-type]


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles into optional cross-references once a package is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        _walk(pkg, set())

    # The hook's name before Griffe 1.13.
    def on_package_loaded(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        _walk(pkg, set())
