"""A process-wide switch that turns retry waits off, for users' own test suites."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["disable_waits", "waits_enabled"]

_enabled = True


def waits_enabled() -> bool:
    """Whether backoff and ``Retry-After`` waits between attempts are honoured (the default)."""
    return _enabled


@contextlib.contextmanager
def disable_waits() -> Iterator[None]:
    """Within this block, retries happen at once instead of waiting out backoff or ``Retry-After``.

    Meant for tests that exercise retries against :class:`~tightknit_async.testing.FakeTightknit`
    or a :class:`~tightknit_async.testing.MockTransport`; attempt counts and deadlines still apply.
    Not for production: it would hammer a server that asked for a pause.
    """
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous
