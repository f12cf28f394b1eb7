"""How a run ends when it is stopped from outside: the summary travels with the exception."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tightknit_async.bulk import BulkItem, run_bulk, summary_of
from tightknit_async.journal import Journal

from .helpers import REPO


async def test_a_cancelled_run_bulk_raises_the_cancellation_carrying_its_summary(
    tmp_path: Path,
) -> None:
    started = asyncio.Event()

    async def fn(item: BulkItem[int]) -> int:
        if item.value >= 40:
            started.set()
            await asyncio.sleep(3600)
        return item.value

    async with Journal(tmp_path / "j.sqlite3") as journal:
        task = asyncio.ensure_future(
            run_bulk(range(1000), fn, job="stop", concurrency=4, cancel_grace=0, journal=journal)
        )
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as caught:
            await task
        counts = await journal.counts("stop")
    summary = summary_of(caught.value)
    assert summary is not None
    assert summary.stopped == "cancelled"
    assert summary.total == 1000
    assert summary.succeeded == 40
    assert len(summary.abandoned) == 4
    assert summary.not_sent == 1000 - 40 - 4
    assert summary.finished + len(summary.abandoned) + (summary.not_sent or 0) == 1000
    assert counts["done"] == 40
    assert counts["in_flight"] == 4  # unknown outcome: resent with the same key next time
    note = " ".join(getattr(caught.value, "__notes__", []))
    assert "bulk job 'stop' cancelled of 1,000: 40 succeeded" in note
    assert "956 not sent" in note
    assert "run the same job again" in note


async def test_a_keyboard_interrupt_in_an_item_stops_the_run_with_its_summary(
    tmp_path: Path,
) -> None:
    async def fn(item: BulkItem[int]) -> int:
        if item.value == 25:
            raise KeyboardInterrupt
        return item.value

    async with Journal(tmp_path / "j.sqlite3") as journal:
        with pytest.raises(KeyboardInterrupt) as caught:
            await run_bulk(range(200), fn, job="ctrl-c", concurrency=1, journal=journal)
        counts = await journal.counts("ctrl-c")
    summary = summary_of(caught.value)
    assert summary is not None
    assert (summary.stopped, summary.succeeded, summary.abandoned) == ("cancelled", 25, ("25",))
    assert summary.not_sent == 200 - 25 - 1
    assert counts["done"] == 25
    assert summary_of(ValueError()) is None


_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from tightknit_async.bulk import run_bulk

    async def fn(item):
        if item.value == 30:
            print("started", flush=True)
        if item.value >= 30:
            await asyncio.sleep(3600)
        return item.value

    async def main():
        summary = await run_bulk(range(500), fn, job="script", concurrency=2, cancel_grace=0)
        print(summary)

    asyncio.run(main())
    """
)


def test_ctrl_c_under_asyncio_run_prints_the_summary_with_the_traceback() -> None:
    if sys.platform == "win32":
        return
    process = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "started"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "KeyboardInterrupt" in stderr
    assert "bulk job 'script' cancelled of 500: 30 succeeded, 0 failed" in stderr
    assert "2 abandoned in flight" in stderr
    assert "468 not sent" in stderr
