"""The rate governor: paces every request of an API key to the API's cap, 50 per second.

Every attempt the client makes, retries included, first waits in
:meth:`RateGovernor.acquire`; its answer is reported through :meth:`RateGovernor.on_reply`, and
a 429 through :meth:`RateGovernor.on_rate_limited`. The guarantee: of the requests a governor
lets through, no window of one second at the server holds more than the cap, counted as they
arrive there, from a cold start, after idle and under thousands of waiters, as long as no
request takes more than ``jitter`` (50 ms) longer to arrive than another (``docs/governor.md``).

Modules, one concern each::

    _gcra.py       GCRA      sans-IO slot book: GCRA spacing, a cap on arrivals, answers, 429s
    _settings.py   GovernorSettings, GovernorOptions   the policy as a frozen value
    _protocol.py   RateGovernor, GovernorStatistics    the seam the client calls
    _lanes.py      LaneQueue the lane order both drivers serve waiters in, no I/O
    _local.py      Governor  the in-process driver: two lanes of futures and one loop timer
    _registry.py   governor_for()                      one governor per API key and event loop
    _redis.py           RedisGovernor          the slot book in Redis, for many processes
    _redis_schedule.py  SharedSchedule         the Lua calls, replies mapped onto the loop clock
    _redis_lanes.py     Lanes                  waiters and held slots per lane, no I/O
    _redis_fallback.py  fallback_for()         one local fallback per key per process
    _lua.py             the Redis governor's Lua scripts

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
