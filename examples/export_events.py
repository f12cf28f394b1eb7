"""Export every calendar event to a JSON Lines file: one event per line, as the API returns it.

Every status (``published``, ``needs_approval``, ``draft``), past and upcoming. Pages are fetched
a few at a time through the key's rate governor, in the bulk lane, and written page by page, so
memory stays flat however many events there are.

    export TIGHTKNIT_API_KEY=sk_...            # TIGHTKNIT_BASE_URL too, for another server
    python examples/export_events.py events.jsonl       # or - for standard output
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import get_args

import anyio
import msgspec

from tightknit_async import AsyncTightknit
from tightknit_async.models import EventStatus

STATUSES: tuple[EventStatus, ...] = get_args(EventStatus)
"""The list call returns published events unless asked for another status: ask for each."""


async def export(tk: AsyncTightknit, out: anyio.AsyncFile[bytes]) -> int:
    """Write every event to ``out``, one JSON document per line; return how many."""
    count = 0
    for status in STATUSES:
        pager = tk.calendar_events.list(time_filter="all", status=status, priority="bulk")
        async for page in pager.pages():
            if page.records:
                await out.write(b"".join(msgspec.json.encode(e) + b"\n" for e in page.records))
                count += len(page.records)
    return count


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("output", help="the .jsonl file to write, or - for standard output")
    args = parser.parse_args(argv)

    async with AsyncTightknit() as tk:  # TIGHTKNIT_API_KEY, TIGHTKNIT_BASE_URL
        if args.output == "-":
            count = await export(tk, anyio.wrap_file(sys.stdout.buffer))
        else:
            async with await anyio.open_file(args.output, "wb") as out:
                count = await export(tk, out)
    print(f"exported {count} events", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
