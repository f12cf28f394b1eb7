"""A FastAPI app with one Tightknit client for the whole app.

The lifespan opens one ``AsyncTightknit`` when the app starts and closes it when the app stops:
every request shares its connection pool and the key's rate governor. Each call to Tightknit
gets a ``deadline=`` that fits inside the web request's own budget, and a call that cannot
finish in time (``TimeoutError``) becomes a 503 the browser can retry.

    pip install fastapi uvicorn
    export TIGHTKNIT_API_KEY=sk_...            # TIGHTKNIT_BASE_URL too, for another server
    uvicorn examples.fastapi_app:app

Routes:

- ``GET /events`` upcoming events (one page);
- ``GET /events/{event_id}`` one event (404 when Tightknit has none);
- ``POST /members`` add or update a member from ``{"email": ..., "full_name": ...}``. A caller's
  ``Idempotency-Key`` header (a UUIDv4) is passed on, so a retried web request does not add the
  member twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import msgspec
from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tightknit_async import (
    APIStatusError,
    AsyncTightknit,
    IdempotencyKeyError,
    NotFoundError,
    RequestValidationError,
)

DEADLINE = 2.0
"""Seconds one Tightknit call may take in all (queue, attempts, backoff) within a web request."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with AsyncTightknit() as tk:  # TIGHTKNIT_API_KEY, TIGHTKNIT_BASE_URL
        app.state.tightknit = tk
        yield


app = FastAPI(title="Tightknit example", lifespan=lifespan)


def tightknit(request: Request) -> AsyncTightknit:
    """The app's one client, for ``Depends``."""
    tk: AsyncTightknit = request.app.state.tightknit
    return tk


Client = Annotated[AsyncTightknit, Depends(tightknit)]


def json(value: Any, status_code: int = 200) -> Response:
    """A msgspec model (or anything msgspec encodes) as a JSON response."""
    return Response(msgspec.json.encode(value), status_code, media_type="application/json")


def busy() -> Response:
    return JSONResponse(
        {"error": "Tightknit is busy, try again"}, status_code=503, headers={"Retry-After": "1"}
    )


def upstream_error(exc: APIStatusError) -> Response:
    # The request id lets Tightknit's support find this call in their logs.
    return JSONResponse(
        {"error": exc.error_message or "Tightknit error", "request_id": exc.request_id},
        status_code=502,
    )


@app.get("/events")
async def upcoming_events(tk: Client) -> Response:
    try:
        page = await tk.calendar_events.list(time_filter="upcoming", per_page=20, deadline=DEADLINE)
    except TimeoutError:  # DeadlineExceededError, GovernorTimeoutError
        return busy()
    except APIStatusError as exc:
        return upstream_error(exc)
    return json(page.records)


@app.get("/events/{event_id}")
async def event(event_id: str, tk: Client) -> Response:
    try:
        found = await tk.calendar_events.retrieve(event_id, deadline=DEADLINE)
    except TimeoutError:
        return busy()
    except NotFoundError:
        return JSONResponse({"error": "no such event"}, status_code=404)
    except APIStatusError as exc:
        return upstream_error(exc)
    return json(found)


class NewMember(BaseModel):
    email: str
    full_name: str


@app.post("/members")
async def add_member(
    member: NewMember,
    tk: Client,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    try:
        result = await tk.members.create(
            email=member.email,
            full_name=member.full_name,
            idempotency_key=idempotency_key,  # None: the client mints a fresh one
            deadline=DEADLINE,
        )
    except (RequestValidationError, IdempotencyKeyError) as exc:
        # A field Tightknit would refuse, or a key that is not a UUIDv4 (or was used for
        # another member): nothing was sent.
        return JSONResponse({"error": str(exc)}, status_code=422)
    except TimeoutError:
        return busy()
    except APIStatusError as exc:
        return upstream_error(exc)
    return json(result.member, status_code=201 if result.created else 200)
