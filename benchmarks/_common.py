"""What governor.py and jitter.py share: the fake server in a subprocess, driven over a pipe between
trials, and the lines both print (the machine, the verdicts).

Not a benchmark: ``run_all.py`` skips the ``_``-prefixed modules of this directory.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import platform
import sys
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Protocol, cast

import aiohttp
import aiolimiter

from tightknit_async import __version__
from tightknit_async.testing import FakeTightknit

Arrivals = list[tuple[float, int | None]]
"""(server monotonic time, status) of every answered request of one key, in time order."""
Verdicts = list[tuple[bool | None, str]]
"""(passed, what): None for a number reported without a target."""


class Server(Protocol):
    url: str

    def add_key(self) -> tuple[str, str]:
        """A fresh key: (secret, key id as the arrivals record it)."""
        ...

    def arrivals(self, key_id: str) -> Arrivals:
        """(server monotonic time, status) of every request of the key answered so far."""
        ...


def new_key(fake: FakeTightknit) -> tuple[str, str]:
    secret = fake.add_key()
    return secret, fake.key_info(secret).id


def arrivals_of(fake: FakeTightknit, key_id: str) -> Arrivals:
    return sorted((a.time, a.status) for a in fake.arrivals if a.key_id == key_id)


def _serve(conn: Connection, cap: int) -> None:
    asyncio.run(_serve_commands(conn, cap))


async def _serve_commands(conn: Connection, cap: int) -> None:
    loop = asyncio.get_running_loop()
    async with FakeTightknit(rate_limit=cap) as fake:
        conn.send(fake.url)
        while True:
            command, argument = await loop.run_in_executor(None, conn.recv)
            if command == "add_key":
                conn.send(new_key(fake))
            elif command == "network_delay":
                fake.network_delay = argument
                conn.send(None)
            elif command == "arrivals":
                conn.send(arrivals_of(fake, argument))
            else:
                return


class ProcessServer:
    """``FakeTightknit(rate_limit=cap)`` in a subprocess (its own event loop and core), driven over
    a pipe between trials (never during one). It stamps arrivals with ``time.monotonic``, the
    clock the limiters pace on, so client and server times compare directly."""

    def __init__(self, cap: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, cap), daemon=True)
        self._process.start()
        self.url = cast(str, self._conn.recv())

    def _ask(self, command: str, argument: object = None) -> object:
        self._conn.send((command, argument))
        return self._conn.recv()

    def add_key(self) -> tuple[str, str]:
        return cast(tuple[str, str], self._ask("add_key"))

    def network_delay(self, jitter_ms: float) -> None:
        """Hold every request a random 0 to ``jitter_ms`` ms before counting it (0: none)."""
        self._ask("network_delay", (0.0, jitter_ms / 1000) if jitter_ms else None)

    def arrivals(self, key_id: str) -> Arrivals:
        return cast(Arrivals, self._ask("arrivals", key_id))

    def close(self) -> None:
        self._conn.send(("stop", None))
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()


async def settled_arrivals(server: Server, key_id: str, settle: float) -> Arrivals:
    """The key's arrivals once a trial is over, after ``settle`` seconds for the server to record
    the last answers (those of cancelled requests too)."""
    await asyncio.sleep(settle)
    return server.arrivals(key_id)


def machine_line() -> str:
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}, "
        f"aiolimiter {aiolimiter.__version__}, tightknit_async {__version__}"
    )


def report_verdicts(verdicts: Sequence[tuple[bool | None, str]]) -> bool:
    """One line each (INFO, PASS or FAIL); True unless one failed."""
    for passed, line in verdicts:
        print(f"{'INFO' if passed is None else 'PASS' if passed else 'FAIL'} {line}")
    return all(passed is not False for passed, _ in verdicts)
