"""Copying calendar events from one workspace to another: the event -> create mapping, and the
whole job (see ``docs/migrations.md``).

::

    async with (
        AsyncTightknit(api_key=SOURCE_KEY) as source,
        AsyncTightknit(api_key=DESTINATION_KEY) as destination,
        Journal("migrate.sqlite3", owner=DESTINATION_KEY) as journal,
    ):
        summary = await migrate_calendar_events(
            source, destination, job="events-2026-11", journal=journal,
            channels=["C0NEWCHANNEL"], hosts={"emails": ["host@example.com"]},
        )
        ids = await journal.results("events-2026-11")   # source event id -> new event id

Each source event is one item, keyed by its id; its create carries the key derived from the job
and that id. A run stopped anywhere (Ctrl-C, a crash, ``SIGKILL``) is resumed by running it again:
events journaled done are skipped, the others sent with the same keys (the server replays what
it already created, within its 1-hour window). Creates are not upserts, so the job never resends
an event because it changed at the source (no content hash), and holds (``uncertain="skip"``)
rather than resends an event whose outcome is unknown past the replay window: check those by
hand (``journal.entries(job, states=["uncertain"])``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from .. import _codec
from ..models import CalendarEvent, CalendarEventCreated, Envelope, UserRefs
from ..models._decoding import decoder_for
from ..models._tolerant import tolerant_convert
from ._budget import ErrorBudget
from ._engine import BulkJob
from ._export import export_pages
from ._journal import Journal
from ._progress import Progress
from ._types import BulkItem, BulkSummary, ItemResult

if TYPE_CHECKING:
    from .._client import AsyncTightknit

__all__ = [
    "EventCreateArgs",
    "calendar_event_from_record",
    "event_create_args",
    "migrate_calendar_events",
]

People = UserRefs | Mapping[str, Sequence[str]]
PeopleOption = People | Callable[[CalendarEvent], People | None] | None
Channels = Sequence[str] | Mapping[str, str] | Callable[[CalendarEvent], Sequence[str]]

_FLAGS: Final = (
    "allow_public_guest_list",
    "enable_registration_button",
    "use_registration_btn_as_link",
    "is_unlisted",
    "publish_to_site",
    "triggers_webhooks",
    "show_end_date",
)
_TEXTS: Final = (
    "external_speakers",
    "link",
    "location",
    "luma_event_id",
    "recording_link",
    "webhook_custom_metadata",
)
_STATUS_MAP: Final = {"published": "published", "needs_approval": "needs_approval"}
_CREATED: Final[Any] = Envelope[CalendarEventCreated]


@dataclass(frozen=True, slots=True)
class EventCreateArgs:
    """The create call for one event: ``kwargs`` for ``tk.calendar_events.create(**kwargs)``,
    and ``unmapped``: what of the event the create cannot carry (or carries changed), one line
    each."""

    kwargs: dict[str, Any]
    unmapped: tuple[str, ...]


def calendar_event_from_record(record: Mapping[str, Any] | bytes) -> CalendarEvent:
    """A :class:`~tightknit_async.models.CalendarEvent` from an exported record (a dict, or its
    raw JSON), decoded as the client decodes replies: tolerantly."""
    raw = record if isinstance(record, bytes) else _codec.encode(dict(record))
    try:
        return decoder_for(CalendarEvent).decode(raw)
    except msgspec.ValidationError:
        event: CalendarEvent
        event, _ = tolerant_convert(CalendarEvent, _codec.decode(raw))
        return event


def _people(
    name: str, given: PeopleOption, event: CalendarEvent, notes: list[str]
) -> dict[str, list[str]] | None:
    chosen = given(event) if callable(given) else given
    if chosen is not None:
        refs = UserRefs.coerce(
            {k: list(v) for k, v in chosen.items()} if isinstance(chosen, Mapping) else chosen,
            field=name,
        )
        return msgspec.to_builtins(refs)  # type: ignore[no-any-return]
    source = event.hosts if name == "hosts" else event.speakers
    if not source:
        return None
    emails = [person.email for person in source if isinstance(person.email, str) and person.email]
    if len(emails) == len(source):
        notes.append(f"{name}: named by e-mail ({', '.join(emails)}): each must be a member there")
        return {"emails": emails}
    if name == "hosts":
        raise ValueError(
            f"event {event.id}: its hosts have no e-mail to find them by in the destination: "
            "pass hosts= (a UserRefs, a mapping such as {'emails': [...]}, or a function of the "
            "event)"
        )
    notes.append("speakers: not copied (they have no e-mail to find them by; pass speakers=)")
    return None


def _channels(given: Channels, event: CalendarEvent, notes: list[str]) -> list[str]:
    if callable(given):
        channels = list(given(event))
    elif isinstance(given, Mapping):
        sources = [p.slack_channel_id for p in event.published_to if p.slack_channel_id]
        channels = [given[c] for c in sources if c in given]
        missing = [c for c in sources if c not in given]
        if missing:
            notes.append(f"publish_to_slack_channels: no destination for {', '.join(missing)}")
    elif isinstance(given, str):
        channels = [given]
    else:
        channels = list(given)
    if not channels:
        raise ValueError(f"event {event.id}: no destination Slack channel to publish it to")
    return channels


def event_create_args(
    event: CalendarEvent | Mapping[str, Any],
    *,
    channels: Channels,
    hosts: PeopleOption = None,
    speakers: PeopleOption = None,
    status: Literal["published", "needs_approval"] | None = None,
    tags: Mapping[str, str] | None = None,
    cover_image_file_id: str | None = None,
    keep_slug: bool = True,
) -> EventCreateArgs:
    """How to create ``event`` (as retrieved or exported from one workspace) in another.

    Copied as they are: the title, start and end, the description and recap (their Slack
    blocks), the flags (guest list, registration button, unlisted, site, webhooks, end date),
    the link, location, Luma id, recording link, external speakers, webhook metadata and slug.

    Args:
        channels: the destination's Slack channels to publish to: a list, a mapping of source
            channel id -> destination channel id (applied to where the event was published), or
            a function of the event. Required: channels are workspace-specific.
        hosts: who hosts it in the destination (a ``UserRefs``, a mapping like
            ``{"emails": [...]}``, or a function of the event). Default: the source hosts by
            e-mail when each has one (a ``ValueError`` otherwise).
        speakers: as ``hosts``; default: by e-mail when each has one, else left out (noted).
        status: the new event's status; default: the source's, with ``draft`` (which the API
            cannot create) created as ``needs_approval`` (noted). ``published`` announces it
            in the channels at once.
        tags: source tag id -> destination tag id; tags without one are left out (noted).
        cover_image_file_id: the cover image, uploaded to the destination beforehand
            (``tk.files.upload``); without it the cover is not copied (noted).
        keep_slug: send the source's slug (the destination refuses one already in use).

    Not carried by a create, so listed in ``unmapped`` when the event has them: its id and
    timestamps, the attendees (registrations), where it was announced (Slack messages),
    reminders.

    Raises:
        ValueError: no title, dates, hosts or channel could be determined.
        RequestValidationError: a ``hosts``/``speakers`` value of the wrong shape.
    """
    if not isinstance(event, CalendarEvent):
        event = calendar_event_from_record(event)
    notes: list[str] = []
    if not event.title or event.start_date is None or event.end_date is None:
        raise ValueError(f"event {event.id}: no title, start or end date to create it with")
    kwargs: dict[str, Any] = {
        "title": event.title,
        "start_date": event.start_date,
        "end_date": event.end_date,
    }
    if event.description_slack_blocks:
        kwargs["description"] = {"blocks": list(event.description_slack_blocks)}
    else:
        kwargs["description"] = {"text": event.title}
        notes.append("description: the source has none; the title is used")
    kwargs["publish_to_slack_channels"] = _channels(channels, event, notes)
    kwargs["hosts"] = _people("hosts", hosts, event, notes)
    chosen_speakers = _people("speakers", speakers, event, notes)
    if chosen_speakers is not None:
        kwargs["speakers"] = chosen_speakers
    if status is None:
        mapped = _STATUS_MAP.get(event.status or "")
        if mapped is None:
            notes.append(f"status: {event.status!r} cannot be created; created needs_approval")
            mapped = "needs_approval"
        kwargs["status"] = mapped
    else:
        kwargs["status"] = status
    if event.recap_slack_blocks:
        kwargs["recap"] = {"blocks": list(event.recap_slack_blocks)}
    if keep_slug and event.slug:
        kwargs["slug"] = event.slug
    for name in _FLAGS:
        kwargs[name] = getattr(event, name)
    for name in _TEXTS:
        value = getattr(event, name)
        if value is not None:
            kwargs[name] = value
    source_tags = [tag.id for tag in event.tags or ()]
    if source_tags:
        mapped_tags = [tags[t] for t in source_tags if tags is not None and t in tags]
        if mapped_tags:
            kwargs["tags"] = mapped_tags
        if len(mapped_tags) < len(source_tags):
            notes.append("tags: not copied without a destination tag for each (tags=)")
    if cover_image_file_id is not None:
        kwargs["cover_image_file_id"] = cover_image_file_id
    elif event.cover_image_url:
        notes.append(
            "cover image: not copied (upload it to the destination, pass cover_image_file_id=)"
        )
    if event.attendees_count:
        notes.append(f"attendees: {event.attendees_count} registrations are not copied")
    if event.published_to:
        notes.append("announcements: the source's Slack messages are not moved; new ones are made")
    if event.reminders_config:
        notes.append("reminders: not settable through the API")
    return EventCreateArgs(kwargs, tuple(notes))


async def migrate_calendar_events(
    source: AsyncTightknit,
    destination: AsyncTightknit,
    *,
    job: str,
    journal: Journal,
    channels: Channels,
    hosts: PeopleOption = None,
    speakers: PeopleOption = None,
    status: Literal["draft", "needs_approval", "published", "all"] = "all",
    time_filter: Literal["upcoming", "past", "all"] | None = None,
    new_status: Literal["published", "needs_approval"] | None = None,
    tags: Mapping[str, str] | None = None,
    keep_slug: bool = True,
    concurrency: int = 4,
    error_budget: ErrorBudget | int | float | None = None,
    on_progress: Callable[[Progress], object] | None = None,
    on_result: Callable[[ItemResult[CalendarEvent, CalendarEventCreated]], object] | None = None,
    cancel_grace: float = 10.0,
) -> BulkSummary[CalendarEvent, CalendarEventCreated]:
    """Create in ``destination`` every calendar event of ``source`` (of ``status``), exactly
    once across runs of the same ``job`` with the same ``journal``; see the module docstring.

    The mapping is :func:`event_create_args` (``channels``, ``hosts``, ``speakers``, ``tags``,
    ``keep_slug``; ``new_status`` is its ``status``); an event it cannot map fails
    (``ValueError``), the others go on. The journal keeps each new event's id:
    ``await journal.results(job)`` is the source id -> destination id map. A cancellation
    propagates carrying the summary (see :func:`~tightknit_async.bulk.summary_of`); run the
    same call again to resume.
    """

    async def events() -> AsyncIterator[CalendarEvent]:
        async for page in export_pages(
            source, "calendar-events", status=status, time_filter=time_filter
        ):
            for raw in page.records:
                yield calendar_event_from_record(raw)

    async def create(item: BulkItem[CalendarEvent]) -> CalendarEventCreated:
        args = event_create_args(
            item.value,
            channels=channels,
            hosts=hosts,
            speakers=speakers,
            status=new_status,
            tags=tags,
            keep_slug=keep_slug,
        )
        response = await destination.calendar_events.with_raw_response.create(
            **args.kwargs, **item.options
        )
        item.observe(response)
        created: CalendarEventCreated = response.parse(
            _CREATED, strict=destination.strict_responses
        ).data
        return created

    bulk: BulkJob[CalendarEvent, CalendarEventCreated] = BulkJob(
        events(),
        create,
        job=job,
        key=lambda event: event.id,
        concurrency=concurrency,
        error_budget=error_budget,
        journal=journal,
        on_progress=on_progress,
        on_result=on_result,
        cancel_grace=cancel_grace,
        uncertain="skip",  # creates are not upserts: never risk a second copy
        result_id=lambda created: created.calendar_event_id,
    )
    return await bulk.run()
