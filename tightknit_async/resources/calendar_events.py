"""``/admin/v0/calendar_events``: list, retrieve, create, delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Unpack

import msgspec

from ..models import (
    CalendarEvent,
    CalendarEventCreate,
    CalendarEventCreated,
    CreateEventStatus,
    DeletedRef,
    EventStatus,
    MessageContent,
    TimeFilter,
    UserRefs,
)
from ..pagination import DEFAULT_PAGE_CONCURRENCY, AsyncPager
from ._base import APIResource, RequestOptions, path_id

__all__ = ["CalendarEventsResource"]

_UNSET: Any = msgspec.UNSET
_TIME_FILTERS = ("upcoming", "past", "all")
_STATUSES = ("draft", "needs_approval", "published")


def _choice(name: str, value: str | None, choices: tuple[str, ...]) -> str | None:
    if value is not None and value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _flag(name: str, value: bool | None) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool or None, got {value!r}")
    return value


class CalendarEventsResource(APIResource):
    """``tk.calendar_events``."""

    def list(
        self,
        *,
        time_filter: TimeFilter | None = None,
        status: EventStatus | None = None,
        published_to_site: bool | None = None,
        is_unlisted: bool | None = None,
        page: int = 0,
        per_page: int | None = None,
        max_items: int | None = None,
        max_pages: int | None = None,
        concurrency: int = DEFAULT_PAGE_CONCURRENCY,
        **options: Unpack[RequestOptions],
    ) -> AsyncPager[CalendarEvent]:
        """Calendar events (``GET /admin/v0/calendar_events``).

        ``await`` the result for one page, ``async for`` over it for every event (see
        :mod:`tightknit_async.pagination`). Filters left ``None`` use the API's defaults
        (``status`` published); ``time_filter`` is ``upcoming``, ``past`` or ``all``.
        Bad filter values raise ``ValueError`` before anything is sent.
        """
        params: dict[str, Any] = {
            "time_filter": _choice("time_filter", time_filter, _TIME_FILTERS),
            "status": _choice("status", status, _STATUSES),
            "published_to_site": _flag("published_to_site", published_to_site),
            "is_unlisted": _flag("is_unlisted", is_unlisted),
        }
        return self._pager(
            "/admin/v0/calendar_events",
            CalendarEvent,
            options,
            params=params,
            page=page,
            per_page=per_page,
            max_items=max_items,
            max_pages=max_pages,
            concurrency=concurrency,
        )

    async def retrieve(
        self, calendar_event_id: str, **options: Unpack[RequestOptions]
    ) -> CalendarEvent:
        """One event (``GET /admin/v0/calendar_events/{id}``); ``NotFoundError`` if unknown."""
        path = f"/admin/v0/calendar_events/{path_id('calendar_event_id', calendar_event_id)}"
        return await self._data("GET", path, CalendarEvent, options)

    async def create(
        self,
        *,
        title: str,
        start_date: datetime | str,
        end_date: datetime | str,
        description: MessageContent | Mapping[str, Any],
        publish_to_slack_channels: Sequence[str],
        hosts: UserRefs | Mapping[str, Sequence[str]],
        speakers: UserRefs | Mapping[str, Sequence[str]] = _UNSET,
        status: CreateEventStatus = _UNSET,
        slug: str | None = _UNSET,
        recap: MessageContent | Mapping[str, Any] = _UNSET,
        allow_public_guest_list: bool = _UNSET,
        enable_registration_button: bool = _UNSET,
        use_registration_btn_as_link: bool = _UNSET,
        external_speakers: str | None = _UNSET,
        is_unlisted: bool = _UNSET,
        link: str | None = _UNSET,
        location: str | None = _UNSET,
        luma_event_id: str | None = _UNSET,
        publish_to_site: bool = _UNSET,
        triggers_webhooks: bool = _UNSET,
        recording_link: str | None = _UNSET,
        webhook_custom_metadata: str | None = _UNSET,
        show_end_date: bool = _UNSET,
        tags: Sequence[str] = _UNSET,
        cover_image_file_id: str = _UNSET,
        **options: Unpack[RequestOptions],
    ) -> CalendarEventCreated:
        """Create an event (``POST /admin/v0/calendar_events``); returns its id.

        ``published`` (the default status) announces it at once in the Slack channels;
        ``needs_approval`` sends it to the admins. Arguments left out are not sent, so the API's
        defaults apply. Every field is checked first (see
        :class:`~tightknit_async.models.CalendarEventCreate`): a bad one raises
        :class:`~tightknit_async.models.RequestValidationError` naming it, unsent.
        """
        fields = {k: v for k, v in locals().items() if k not in ("self", "options")}
        for name in ("publish_to_slack_channels", "tags"):
            if isinstance(fields[name], Sequence) and not isinstance(fields[name], str):
                fields[name] = list(fields[name])
        for name in ("description", "recap", "hosts", "speakers"):
            if isinstance(fields[name], Mapping):
                fields[name] = {
                    k: list(v) if isinstance(v, Sequence) and not isinstance(v, str) else v
                    for k, v in fields[name].items()
                }
        body = CalendarEventCreate(**fields)
        return await self._data(
            "POST", "/admin/v0/calendar_events", CalendarEventCreated, options, body=body
        )

    async def delete(self, calendar_event_id: str, **options: Unpack[RequestOptions]) -> DeletedRef:
        """Delete an event (``DELETE /admin/v0/calendar_events/{id}``); ``NotFoundError`` if
        unknown."""
        path = f"/admin/v0/calendar_events/{path_id('calendar_event_id', calendar_event_id)}"
        return await self._data("DELETE", path, DeletedRef, options)
