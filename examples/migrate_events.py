"""Copy calendar events from one Tightknit workspace to another, each exactly once.

The source is ``TIGHTKNIT_API_KEY`` / ``TIGHTKNIT_BASE_URL``; the destination
``TIGHTKNIT_DEST_API_KEY`` / ``TIGHTKNIT_DEST_BASE_URL``. Slack channels and users differ between
workspaces, so the destination's channel and host are given:

    export TIGHTKNIT_API_KEY=sk_source... TIGHTKNIT_DEST_API_KEY=sk_dest...
    python examples/migrate_events.py --channel C0123456789 --host U0123456789

Published and awaiting-approval events are copied, past and upcoming (the API cannot create
drafts: they are counted and left out). Title, dates, description, recap, links, location and
flags are copied; the slug is made afresh by the destination. Copies are created
``needs_approval`` unless ``--status published`` (which announces each one in the channel at once)
or ``--status same``. A mention inside a description still names the source workspace's user or
channel.

Each source event is one item of ``run_bulk`` with an idempotency key derived from the job and
the event's id, and a journal records what is done: run it again after a crash or Ctrl-C and
nothing is created twice. An event whose outcome is unknown and older than the server's 1-hour
replay window is held back and reported as failed rather than possibly created twice
(``uncertain="skip"``): check the destination for it, and if it is missing run again with
``--resend-uncertain``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from tightknit_async import AsyncTightknit
from tightknit_async.bulk import BulkItem, ProgressDisplay, run_bulk
from tightknit_async.journal import Journal
from tightknit_async.models import CalendarEvent, CalendarEventCreated

COPIED = (
    "allow_public_guest_list",
    "enable_registration_button",
    "use_registration_btn_as_link",
    "external_speakers",
    "is_unlisted",
    "link",
    "location",
    "publish_to_site",
    "recording_link",
    "show_end_date",
)
"""Fields copied as they are (``None`` left out: the destination's default applies)."""


async def source_events(tk: AsyncTightknit) -> AsyncIterator[CalendarEvent]:
    """Every event of the source that can be created again, listed in the bulk lane."""
    for status in ("published", "needs_approval"):
        pager = tk.calendar_events.list(time_filter="all", status=status, priority="bulk")
        async for event in pager:
            yield event


async def count_drafts(tk: AsyncTightknit) -> int:
    """How many drafts the source has (the API cannot create drafts)."""
    page = await tk.calendar_events.list(time_filter="all", status="draft", per_page=1)
    return page.total_records or 0


def new_event(event: CalendarEvent, *, channel: str, host: str, status: str) -> dict[str, Any]:
    """The create arguments of ``event``'s copy in the destination."""
    body: dict[str, Any] = {
        "title": event.title,
        "start_date": event.start_date,
        "end_date": event.end_date,
        # The listing gives the description as Slack blocks; create takes blocks or text.
        "description": (
            {"blocks": event.description_slack_blocks}
            if event.description_slack_blocks
            else {"text": event.title or "-"}
        ),
        "publish_to_slack_channels": [channel],
        "hosts": {"slack_user_ids": [host]},
        "status": event.status if status == "same" else status,
    }
    if event.recap_slack_blocks:
        body["recap"] = {"blocks": event.recap_slack_blocks}
    for name in COPIED:
        value = getattr(event, name)
        if value is not None:
            body[name] = value
    return body


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--channel", required=True, help="the destination's Slack channel id")
    parser.add_argument("--host", required=True, help="the destination's Slack user id to host")
    parser.add_argument(
        "--status", choices=("needs_approval", "published", "same"), default="needs_approval"
    )
    parser.add_argument("--job", default="migrate-events", help="one name per source and target")
    parser.add_argument("--journal", type=Path, help="default: JOB.journal.sqlite3")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--resend-uncertain",
        action="store_true",
        help="send events of unknown outcome from a run over an hour ago (may duplicate them)",
    )
    args = parser.parse_args(argv)

    source_key = os.environ.get("TIGHTKNIT_API_KEY")
    dest_key = os.environ.get("TIGHTKNIT_DEST_API_KEY")
    if not source_key or not dest_key:
        print("set TIGHTKNIT_API_KEY (source) and TIGHTKNIT_DEST_API_KEY", file=sys.stderr)
        return 2
    journal_path = args.journal or Path(f"{args.job}.journal.sqlite3")

    async with (
        AsyncTightknit(source_key) as source,  # TIGHTKNIT_BASE_URL
        AsyncTightknit(dest_key, base_url=os.environ.get("TIGHTKNIT_DEST_BASE_URL")) as dest,
        Journal(journal_path, owner=dest_key, redact=[source_key, dest_key]) as journal,
    ):

        async def copy(item: BulkItem[CalendarEvent]) -> CalendarEventCreated:
            body = new_event(item.value, channel=args.channel, host=args.host, status=args.status)
            # item.options: the event's idempotency key (the same in every run), the bulk lane
            return await dest.calendar_events.create(**body, **item.options)

        drafts = await count_drafts(source)
        summary = await run_bulk(
            source_events(source),
            copy,
            job=args.job,
            key=lambda event: event.id,
            concurrency=args.concurrency,
            journal=journal,
            uncertain="resend" if args.resend_uncertain else "skip",
            on_progress=ProgressDisplay("events"),
        )

    for failure in summary.failures:
        print(f"{failure.item_id}: {failure.error}", file=sys.stderr)
    print(
        f"{summary.succeeded} copied, {summary.skipped} done before, {summary.failed} failed "
        f"({summary.uncertain} of them held back: unknown outcome), {drafts} drafts left out, "
        f"in {summary.elapsed:.1f}s"
    )
    return 0 if summary.failed == 0 and summary.stopped == "completed" else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
