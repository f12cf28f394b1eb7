"""A virtual-clock event loop: ``loop.time()`` jumps to the next timer instead of sleeping."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


class _JumpingSelector(selectors.SelectSelector):
    """Polls for I/O without blocking; when idle, moves the loop's clock to the next timer."""

    def __init__(self, loop: VirtualClockLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if not ready:
            if timeout is None:
                raise RuntimeError("deadlock: nothing is scheduled and nothing can wake the loop")
            self._loop.now += timeout
        return ready


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop on a fake clock that starts at 0 and only moves when the loop would sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.now


class VirtualRunner:
    """Runs coroutines on one `VirtualClockLoop`."""

    def __init__(self, loop: VirtualClockLoop) -> None:
        self.loop = loop

    def __call__(self, main: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(main)


@pytest.fixture
def run() -> Iterator[VirtualRunner]:
    """``run(coro)`` runs ``coro`` to completion on a fresh virtual-clock loop; no real sleeping."""
    loop = VirtualClockLoop()
    try:
        yield VirtualRunner(loop)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
