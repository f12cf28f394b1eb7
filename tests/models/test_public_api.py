"""The models package's public surface: sorted, complete, importable."""

from __future__ import annotations

import importlib
import inspect

import msgspec

import tightknit_async.models as models

AREA_MODULES = [
    "api_key",
    "awards",
    "badges",
    "calendar_events",
    "feeds",
    "files",
    "groups",
    "members",
    "posts",
    "search",
    "webhooks",
]
PRIVATE_MODULES = ["_common", "_decoding", "_scalars", "_validation"]


def isort_key(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: CONSTANTS, then Classes, then functions."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


def test_all_is_sorted_unique_and_resolvable() -> None:
    exported = models.__all__
    assert exported == sorted(exported, key=isort_key)
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert hasattr(models, name), name


def test_every_area_module_name_is_re_exported() -> None:
    for module_name in AREA_MODULES:
        module = importlib.import_module(f"tightknit_async.models.{module_name}")
        assert set(module.__all__) <= set(models.__all__), module_name


def test_every_model_class_is_exported() -> None:
    for module_name in AREA_MODULES + PRIVATE_MODULES:
        module = importlib.import_module(f"tightknit_async.models.{module_name}")
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, msgspec.Struct | Exception)
                and obj.__module__ == module.__name__
                and not name.startswith("_")
            ):
                assert name in models.__all__, f"{module_name}.{name}"


def test_response_and_request_models_are_frozen_and_keyword_only() -> None:
    for name in models.__all__:
        obj = getattr(models, name)
        if inspect.isclass(obj) and issubclass(obj, msgspec.Struct):
            config = obj.__struct_config__
            assert config.frozen, name
            parameters = inspect.signature(obj).parameters.values()
            assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters), name
            assert not config.forbid_unknown_fields, name
            if issubclass(obj, models.RequestModel):
                assert config.omit_defaults, name
