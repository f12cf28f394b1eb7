"""Names that need the ``redis`` extra, imported on first use so the package works without it."""

from __future__ import annotations

import importlib

__all__ = ["import_redis_name"]


def import_redis_name(module: str, name: str) -> object:
    """``getattr(import_module(module), name)``; an ``ImportError`` naming the extra when redis-py
    is not installed (any other missing module is re-raised as it is)."""
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "redis":
            raise
        raise ImportError(
            f"{name} needs the redis extra: pip install 'tightknit-async[redis]'"
        ) from exc
    value: object = getattr(loaded, name)
    return value
