import importlib
import inspect

import pytest

import tightknit_async

MODULES = [
    "tightknit_async",
    "tightknit_async.bulk",
    "tightknit_async.governor",
    "tightknit_async.idempotency",
    "tightknit_async.journal",
    "tightknit_async.testing",
    "tightknit_async.transport",
]


def isort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: SCREAMING_CASE, then CamelCase, then the rest."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[0].isupper() else (2, name)


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_exported(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported == sorted(exported, key=isort_key)
    assert len(set(exported)) == len(exported)
    for symbol in exported:
        assert hasattr(module, symbol), symbol
    public = {
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", "").startswith("tightknit_async")
    }
    assert public <= set(exported), public - set(exported)


def test_all_lists_every_public_error() -> None:
    errors = {
        name
        for name, obj in vars(tightknit_async).items()
        if inspect.isclass(obj) and issubclass(obj, tightknit_async.TightknitError)
    }
    assert errors <= set(tightknit_async.__all__)
    assert {"PlanRequiredError", "InsufficientScopeError", "IdempotencyKeyError"} <= errors


def test_version_is_a_string() -> None:
    assert tightknit_async.__version__.count(".") == 2
