"""The rate governor: paces every request of an API key to the API's cap, 50 per second.

Every attempt the client makes, retries included, first waits in
:meth:`RateGovernor.acquire`; a 429 is reported through :meth:`RateGovernor.on_rate_limited`.
The guarantee: of the requests a governor lets through, no window of one second holds more than
the cap, from a cold start, after idle and under thousands of waiters.

Modules, one concern each::

    _gcra.py       GCRA      sans-IO slot book: GCRA spacing, a hard window cap, 429 pauses, AIMD
    _settings.py   GovernorSettings, GovernorOptions   the policy as a frozen value
    _protocol.py   RateGovernor, GovernorStatistics    the seam the client calls
    _local.py      Governor  the in-process driver: two lanes of futures and one loop timer
    _registry.py   governor_for()                      one governor per API key and event loop
    _redis.py      RedisGovernor                       the slot book in Redis, for many processes
    _lua.py        the Redis governor's Lua scripts

``RedisGovernor`` and ``RedisGovernorStatistics`` need the
``redis`` extra (``pip install 'tightknit-async[redis]'``); they are imported on first use.
"""

from typing import TYPE_CHECKING

from .._exceptions import GovernorUnavailableError
from .._optional import import_redis_name as _import_redis_name
from ._gcra import GCRA, max_in_window
from ._local import Governor
from ._protocol import GovernorStatistics, RateGovernor
from ._registry import governor_for
from ._settings import GovernorOptions, GovernorSettings

if TYPE_CHECKING:
    from ._redis import RedisGovernor, RedisGovernorStatistics

__all__ = [
    "GCRA",
    "Governor",
    "GovernorOptions",
    "GovernorSettings",
    "GovernorStatistics",
    "GovernorUnavailableError",
    "RateGovernor",
    "RedisGovernor",
    "RedisGovernorStatistics",
    "governor_for",
    "max_in_window",
]

_NEED_REDIS = frozenset({"RedisGovernor", "RedisGovernorStatistics"})


def __getattr__(name: str) -> object:
    """Import the Redis names on first use, so the package works without redis."""
    if name not in _NEED_REDIS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = _import_redis_name("tightknit_async.governor._redis", name)
    return value
