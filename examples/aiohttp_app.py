"""An aiohttp.web app with one Tightknit client for the whole app.

A cleanup context opens one ``AsyncTightknit`` when the app starts and closes it on shutdown:
every handler shares its connection pool and the key's rate governor. Each call to Tightknit
gets a ``deadline=`` inside the web request's own budget; one that cannot finish in time
(``TimeoutError``) becomes a 503.

    export TIGHTKNIT_API_KEY=sk_...            # TIGHTKNIT_BASE_URL too, for another server
    python examples/aiohttp_app.py             # serves http://127.0.0.1:8080

Routes: ``GET /events`` (upcoming events, one page) and ``GET /events/{event_id}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
from aiohttp import web

from tightknit_async import APIStatusError, AsyncTightknit, NotFoundError

DEADLINE = 2.0
"""Seconds one Tightknit call may take in all (queue, attempts, backoff) within a web request."""

TIGHTKNIT = web.AppKey("tightknit", AsyncTightknit)


async def tightknit_client(app: web.Application) -> AsyncIterator[None]:
    """Open the client on startup, close it (and its connection pool) on cleanup."""
    async with AsyncTightknit() as tk:  # TIGHTKNIT_API_KEY, TIGHTKNIT_BASE_URL
        app[TIGHTKNIT] = tk
        yield


def json(value: Any) -> web.Response:
    """A msgspec model (or anything msgspec encodes) as a JSON response."""
    return web.Response(body=msgspec.json.encode(value), content_type="application/json")


def busy() -> web.Response:
    return web.json_response(
        {"error": "Tightknit is busy, try again"}, status=503, headers={"Retry-After": "1"}
    )


def upstream_error(exc: APIStatusError) -> web.Response:
    # The request id lets Tightknit's support find this call in their logs.
    body = {"error": exc.error_message or "Tightknit error", "request_id": exc.request_id}
    return web.json_response(body, status=502)


async def upcoming_events(request: web.Request) -> web.Response:
    tk = request.app[TIGHTKNIT]
    try:
        page = await tk.calendar_events.list(time_filter="upcoming", per_page=20, deadline=DEADLINE)
    except TimeoutError:  # DeadlineExceededError, GovernorTimeoutError
        return busy()
    except APIStatusError as exc:
        return upstream_error(exc)
    return json(page.records)


async def event(request: web.Request) -> web.Response:
    tk = request.app[TIGHTKNIT]
    try:
        found = await tk.calendar_events.retrieve(request.match_info["event_id"], deadline=DEADLINE)
    except TimeoutError:
        return busy()
    except NotFoundError:
        return web.json_response({"error": "no such event"}, status=404)
    except APIStatusError as exc:
        return upstream_error(exc)
    return json(found)


def create_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(tightknit_client)
    app.router.add_get("/events", upcoming_events)
    app.router.add_get("/events/{event_id}", event)
    return app


if __name__ == "__main__":
    web.run_app(create_app(), host="127.0.0.1", port=8080)
