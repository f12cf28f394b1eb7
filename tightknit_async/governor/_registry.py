"""One governor per API key and event loop in this process, so every client of a key shares it.

Governors are keyed by the running event loop and a SHA-256 digest of the key; the key itself
is never stored. The registry holds them weakly: once no client uses a governor it goes away
(and its pacing history with it). A governor cannot serve two event loops (its timer and futures
belong to one), so each loop gets its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import threading
from typing import Unpack
from weakref import WeakValueDictionary

from .._exceptions import WrongEventLoopError
from ._local import Governor
from ._settings import GovernorOptions, GovernorSettings

__all__ = ["governor_for"]

_governors: WeakValueDictionary[tuple[asyncio.AbstractEventLoop, bytes], Governor] = (
    WeakValueDictionary()
)
_lock = threading.Lock()  # event loops in other threads may look up keys at the same time


def governor_for(api_key: str, rate: float, **options: Unpack[GovernorOptions]) -> Governor:
    """The governor every client of ``api_key`` in the running event loop shares.

    The first call for a key (in a loop) creates the governor with ``rate`` and ``options``
    (see :class:`GovernorSettings`); later calls return it. They must ask for the same settings:
    two policies on one key would each believe they own the whole cap.

    Raises:
        WrongEventLoopError: no event loop is running (call it from a coroutine); a
            ``RuntimeError`` too.
        ValueError: a setting is out of range, or the key's governor in this loop already runs
            with different settings (the message names them; never the key).
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise WrongEventLoopError(
            "governor_for() needs a running event loop: governors belong to one loop, call it "
            "from a coroutine"
        ) from None
    wanted = GovernorSettings(rate=rate, **options)
    key = (loop, hashlib.sha256(api_key.encode()).digest())
    with _lock:
        governor = _governors.get(key)
        if governor is None:
            governor = _governors[key] = Governor(rate, **options)
        elif governor.settings != wanted:
            raise ValueError(
                "this API key already has a governor in this event loop with other settings "
                f"({_differences(governor.settings, wanted)}); ask for the same settings, or "
                "pass one Governor to every client explicitly"
            )
    return governor


def _differences(current: GovernorSettings, wanted: GovernorSettings) -> str:
    return ", ".join(
        f"{field.name}={getattr(current, field.name)!r}, asked {getattr(wanted, field.name)!r}"
        for field in dataclasses.fields(current)
        if getattr(current, field.name) != getattr(wanted, field.name)
    )
