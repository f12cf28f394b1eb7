"""Verifying the webhooks Tightknit sends (signed the Svix way) and decoding them into models.

Each delivery carries three headers (``svix-id``, ``svix-timestamp``, ``svix-signature``; the
Standard Webhooks names ``webhook-id`` / ``-timestamp`` / ``-signature`` are accepted too, in any
letter case). With the endpoint's secret ``whsec_<base64 key>``::

    signed    = f"{id}.{timestamp}.{body}"
    signature = base64(HMAC-SHA256(base64decode(key), signed))

and ``svix-signature`` lists one or more ``v1,<signature>`` entries separated by spaces (several
while a secret is being rotated). A delivery is genuine when one entry matches (compared in
constant time) and its timestamp is within ``tolerance`` seconds of now, which stops replays of an
old captured delivery. Verify the raw body bytes exactly as received, before any JSON parsing.

:func:`verify_webhook` returns a :class:`WebhookDelivery`: the delivery's ``id`` (the same on
every redelivery of one message, so a receiver can skip the ones it has already handled), its
``timestamp``, the decoded ``payload`` and the raw ``body``. In an aiohttp app::

    async def tightknit_webhook(request: web.Request) -> web.Response:
        try:
            delivery = verify_webhook(await request.read(), request.headers, SECRET)
        except WebhookVerificationError:
            return web.Response(status=400)
        if delivery.id in handled:
            return web.Response(status=204)  # a redelivery of a message already handled
        handled.add(delivery.id)
        if isinstance(delivery.payload, EventRegistrationStatusChange):
            ...  # delivery.payload.status is "registered" or "unregistered"
        return web.Response(status=204)   # answer 2xx within ~15 s, or it is redelivered
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

import msgspec

from ._exceptions import TightknitError
from .models import WebhookEvent, decode_webhook

__all__ = [
    "DEFAULT_TOLERANCE",
    "WebhookDelivery",
    "WebhookVerificationError",
    "sign_webhook",
    "verify_webhook",
]

DEFAULT_TOLERANCE: Final = 300.0
"""Seconds a delivery's timestamp may differ from the receiver's clock (Svix uses 5 minutes)."""

_SECRET_PREFIX: Final = "whsec_"
_HEADER_SETS: Final = (
    ("svix-id", "svix-timestamp", "svix-signature"),
    ("webhook-id", "webhook-timestamp", "webhook-signature"),
)


class WebhookVerificationError(TightknitError, ValueError):
    """The delivery is not proven genuine: missing headers, bad signature, stale timestamp, or
    a body that is not a webhook payload. The message never contains the secret."""


class WebhookDelivery(msgspec.Struct, kw_only=True, frozen=True):
    """One verified delivery: who sent it when, and what it says.

    ``id`` is the message id (``svix-id`` / ``webhook-id``): Svix sends every attempt of one
    message with the same id, so a receiver that remembers the ids it has handled can drop
    redeliveries. ``timestamp`` is when this attempt was signed (``svix-timestamp``, an aware UTC
    datetime). ``payload`` is the decoded event (:func:`~tightknit_async.models.decode_webhook`);
    ``body`` the raw bytes that were verified, for logging or reading fields the models lack.
    """

    id: str
    timestamp: datetime
    payload: WebhookEvent
    body: bytes


def _key(secret: str) -> bytes:
    if not isinstance(secret, str) or not secret:
        raise ValueError("secret must be the endpoint's signing secret, 'whsec_...'")
    encoded = secret.removeprefix(_SECRET_PREFIX).rstrip("=")
    try:  # padding may be left off, short or long, as the Svix libraries accept
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("secret is not a valid 'whsec_<base64>' signing secret") from None
    if not key:
        raise ValueError("secret is empty: expected 'whsec_<base64>'")
    return key


def _signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def sign_webhook(
    payload: bytes | str, secret: str, *, msg_id: str, timestamp: float | None = None
) -> dict[str, str]:
    """The ``svix-*`` headers Tightknit would send with ``payload``: for tests and local tools.

    ``secret`` is read as :func:`verify_webhook` reads it; ``timestamp`` is Unix seconds
    (truncated to whole seconds), ``time.time()`` when left out.
    """
    body = payload.encode() if isinstance(payload, str) else payload
    stamp = str(int(time.time() if timestamp is None else timestamp))
    return {
        "svix-id": msg_id,
        "svix-timestamp": stamp,
        "svix-signature": "v1," + _signature(_key(secret), msg_id, stamp, body),
    }


def _delivery_headers(headers: Mapping[str, str]) -> tuple[str, str, str, str]:
    """The id, timestamp and signatures of the first header family sent in full, and the name of
    its timestamp header (for error messages)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    for id_name, stamp_name, signature_name in _HEADER_SETS:
        msg_id, stamp = lowered.get(id_name), lowered.get(stamp_name)
        signatures = lowered.get(signature_name)
        if msg_id and stamp and signatures:
            return msg_id, stamp, signatures, stamp_name
    raise WebhookVerificationError(
        "missing webhook headers: svix-id, svix-timestamp and svix-signature (or webhook-id, "
        "webhook-timestamp and webhook-signature) are required"
    )


def verify_webhook(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> WebhookDelivery:
    """Check a delivery's signature and timestamp, then decode it into its model.

    Args:
        payload: the raw request body, exactly as received.
        headers: the request headers, any mapping (a dict, aiohttp's or Starlette's headers),
            names in any letter case: ``svix-id``, ``svix-timestamp``, ``svix-signature``, or
            the same with ``webhook-`` in place of ``svix-`` (read when the ``svix-`` three are
            not all there).
        secret: the endpoint's signing secret, ``whsec_<base64>`` (the prefix and the base64
            padding may be left off).
        tolerance: seconds the timestamp may be off from ``now`` in either direction.
        now: the current Unix time (tests pass one); defaults to ``time.time()``.

    Returns a :class:`WebhookDelivery` whose ``payload`` is
    :class:`~tightknit_async.models.EventRegistrationStatusChange` for registrations, a plain
    :class:`~tightknit_async.models.WebhookEvent` for actions not yet known. Once the signature
    holds, a payload whose shape has drifted (new fields, an undocumented ``status``, a value of
    another type) still decodes, each field that does not fit left at its default.

    Raises:
        WebhookVerificationError: anything that does not prove the delivery genuine, and a
            genuine body that is not a JSON object.
        ValueError: ``secret`` is not a valid signing secret (a configuration error).
    """
    key = _key(secret)
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    msg_id, stamp, signatures, stamp_name = _delivery_headers(headers)
    try:
        sent_at = int(stamp)
        signed_at = datetime.fromtimestamp(sent_at, UTC)
    except (ValueError, OverflowError, OSError):
        raise WebhookVerificationError(f"invalid {stamp_name} header: {stamp[:40]!r}") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        raise WebhookVerificationError(
            f"{stamp_name} is {current - sent_at:+.0f}s from now, outside the {tolerance:g}s "
            "tolerance (a replayed or delayed delivery, or a wrong clock)"
        )
    expected = _signature(key, msg_id, stamp, body).encode()
    matched = False
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            matched = True  # keep looping: the time taken does not depend on which entry matched
    if not matched:
        raise WebhookVerificationError("no signature in the delivery matches the secret")
    try:
        event = decode_webhook(body)
    except msgspec.DecodeError as exc:  # not JSON, or not an object
        raise WebhookVerificationError(f"signed body is not a webhook payload: {exc}") from None
    return WebhookDelivery(id=msg_id, timestamp=signed_at, payload=event, body=body)
