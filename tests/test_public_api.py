import importlib
import inspect

import pytest

import tightknit_async

MODULES = ["tightknit_async", "tightknit_async.transport", "tightknit_async.testing"]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_exported(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(set(exported)) == len(exported)
    for symbol in exported:
        assert hasattr(module, symbol), symbol


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
