"""A fake network in front of the fake server: each request is held up on its way in.

A real network delays each request by a different amount, so requests sent 20 ms apart can reach
the server 5 ms apart, and the server counts them as they arrive. `NetworkDelay` draws a delay
for every request, uniformly from ``[low, high]`` seconds with a seeded generator, and
`delay_arrivals`, the outermost middleware, sleeps it before the server sees the request: before
the arrival is timed, and so before the rate limit counts it. Answers go back at once.
"""

from __future__ import annotations

import asyncio
import math
import random

from aiohttp import web
from aiohttp.typedefs import Handler

__all__ = ["NETWORK", "NetworkDelay", "delay_arrivals", "install"]


def _check(value: tuple[float, float] | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        low, high = value
    except (TypeError, ValueError):
        raise TypeError(
            f"network_delay must be (low, high) seconds or None, got {value!r}"
        ) from None
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in (low, high)
    ):
        raise TypeError(f"network_delay must be (low, high) seconds or None, got {value!r}")
    if not 0 <= low <= high:
        raise ValueError(f"network_delay must satisfy 0 <= low <= high, got {value!r}")
    return float(low), float(high)


class NetworkDelay:
    """The delay of each request on its way to the server: uniform in ``bounds``, seeded.

    ``bounds`` is ``(low, high)`` seconds, or None for no delay; it can be changed at any time
    (the next request draws from the new bounds).

    Raises:
        TypeError: for bounds that are not two numbers.
        ValueError: unless ``0 <= low <= high``.
    """

    __slots__ = ("_bounds", "_rng")

    def __init__(self, bounds: tuple[float, float] | None = None, *, seed: int | str = 0) -> None:
        self._bounds = _check(bounds)
        self._rng = random.Random(f"tightknit-fake:{seed}:network")

    @property
    def bounds(self) -> tuple[float, float] | None:
        """``(low, high)`` seconds, or None: no delay."""
        return self._bounds

    @bounds.setter
    def bounds(self, value: tuple[float, float] | None) -> None:
        self._bounds = _check(value)

    def draw(self) -> float:
        """The next request's delay in seconds (0 when there are no bounds)."""
        if self._bounds is None:
            return 0.0
        low, high = self._bounds
        return self._rng.uniform(low, high) if high > low else low


NETWORK = web.AppKey("tightknit_fake_network", NetworkDelay)


@web.middleware
async def delay_arrivals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Hold the request for its drawn delay, then let the server see it."""
    delay = request.app[NETWORK].draw()
    if delay > 0:
        await asyncio.sleep(delay)
    return await handler(request)


def install(app: web.Application, network: NetworkDelay) -> None:
    """Put ``network`` in front of ``app`` (before it starts): `delay_arrivals` outermost."""
    app[NETWORK] = network
    app.middlewares.insert(0, delay_arrivals)
