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
from ._base import APIResource, RequestOptions, as_list, path_id

__all__ = ["CalendarEventsResource"]


def _text(name: str, value: str | None) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a str or None, got {value!r}")
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
        (``status`` published); ``time_filter`` is ``upcoming``, ``past`` or ``all``. Those
        values come from the legacy spec, not a current reference page, so any string is sent
        and the server judges it. A filter of the wrong type (a flag that is not a bool, a
        ``time_filter`` or ``status`` that is not a str) raises ``ValueError``, unsent.
        """
        params: dict[str, Any] = {
            "time_filter": _text("time_filter", time_filter),
            "status": _text("status", status),
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
        speakers: UserRefs | Mapping[str, Sequence[str]] | msgspec.UnsetType = msgspec.UNSET,
        status: CreateEventStatus | msgspec.UnsetType = msgspec.UNSET,
        slug: str | msgspec.UnsetType | None = msgspec.UNSET,
        recap: MessageContent | Mapping[str, Any] | msgspec.UnsetType = msgspec.UNSET,
        allow_public_guest_list: bool | msgspec.UnsetType = msgspec.UNSET,
        enable_registration_button: bool | msgspec.UnsetType = msgspec.UNSET,
        use_registration_btn_as_link: bool | msgspec.UnsetType = msgspec.UNSET,
        external_speakers: str | msgspec.UnsetType | None = msgspec.UNSET,
        is_unlisted: bool | msgspec.UnsetType = msgspec.UNSET,
        link: str | msgspec.UnsetType | None = msgspec.UNSET,
        location: str | msgspec.UnsetType | None = msgspec.UNSET,
        luma_event_id: str | msgspec.UnsetType | None = msgspec.UNSET,
        publish_to_site: bool | msgspec.UnsetType = msgspec.UNSET,
        triggers_webhooks: bool | msgspec.UnsetType = msgspec.UNSET,
        recording_link: str | msgspec.UnsetType | None = msgspec.UNSET,
        webhook_custom_metadata: str | msgspec.UnsetType | None = msgspec.UNSET,
        show_end_date: bool | msgspec.UnsetType = msgspec.UNSET,
        tags: Sequence[str] | msgspec.UnsetType = msgspec.UNSET,
        cover_image_file_id: str | msgspec.UnsetType = msgspec.UNSET,
        **options: Unpack[RequestOptions],
    ) -> CalendarEventCreated:
        """Create an event (``POST /admin/v0/calendar_events``); returns its id.

        ``published`` (the default status) announces it at once in the Slack channels;
        ``needs_approval`` sends it to the admins. Arguments left out are not sent, so the API's
        defaults apply. The rules the reference page states are checked first (see
        :class:`~tightknit_async.models.CalendarEventCreate`): a field breaking one raises
        :class:`~tightknit_async.models.RequestValidationError` naming it, unsent. The server
        judges the rest (a 400 is :class:`~tightknit_async.BadRequestError`).
        """
        body = CalendarEventCreate(
            title=title,
            start_date=start_date,
            end_date=end_date,
            description=_model(description),
            publish_to_slack_channels=as_list(publish_to_slack_channels),
            hosts=_model(hosts),
            speakers=_model(speakers),
            status=status,
            slug=slug,
            recap=_model(recap),
            allow_public_guest_list=allow_public_guest_list,
            enable_registration_button=enable_registration_button,
            use_registration_btn_as_link=use_registration_btn_as_link,
            external_speakers=external_speakers,
            is_unlisted=is_unlisted,
            link=link,
            location=location,
            luma_event_id=luma_event_id,
            publish_to_site=publish_to_site,
            triggers_webhooks=triggers_webhooks,
            recording_link=recording_link,
            webhook_custom_metadata=webhook_custom_metadata,
            show_end_date=show_end_date,
            tags=tags if isinstance(tags, msgspec.UnsetType) else as_list(tags),
            cover_image_file_id=cover_image_file_id,
        )
        return await self._data(
            "POST", "/admin/v0/calendar_events", CalendarEventCreated, options, body=body
        )

    async def delete(self, calendar_event_id: str, **options: Unpack[RequestOptions]) -> DeletedRef:
        """Delete an event (``DELETE /admin/v0/calendar_events/{id}``); ``NotFoundError`` if
        unknown."""
        path = f"/admin/v0/calendar_events/{path_id('calendar_event_id', calendar_event_id)}"
        return await self._data("DELETE", path, DeletedRef, options)


def _model(value: Any) -> Any:
    """A nested request value as the model takes it: mappings with their sequences as lists
    (the model turns mappings into ``MessageContent`` / ``UserRefs`` and checks them)."""
    if isinstance(value, Mapping):
        return {
            k: list(v) if isinstance(v, Sequence) and not isinstance(v, str) else v
            for k, v in value.items()
        }
    return value
