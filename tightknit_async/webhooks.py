"""Verifying the webhooks Tightknit sends (signed the Svix way) and decoding them into models.

Each delivery carries three headers (``svix-id``, ``svix-timestamp``, ``svix-signature``; the
Standard Webhooks names ``webhook-id`` / ``-timestamp`` / ``-signature`` are accepted too). With the
endpoint's secret ``whsec_<base64 key>``::

    signed    = f"{id}.{timestamp}.{body}"
    signature = base64(HMAC-SHA256(base64decode(key), signed))

and ``svix-signature`` lists one or more ``v1,<signature>`` entries separated by spaces (several
while a secret is being rotated). A delivery is genuine when one entry matches (compared in
constant time) and its timestamp is within ``tolerance`` seconds of now, which stops replays of an
old captured delivery. Verify the raw body bytes exactly as received, before any JSON parsing.

In an aiohttp app::

    async def tightknit_webhook(request: web.Request) -> web.Response:
        try:
            event = verify_webhook(await request.read(), request.headers, SECRET)
        except WebhookVerificationError:
            return web.Response(status=400)
        if isinstance(event, EventRegistrationStatusChange):
            ...  # event.status is "registered" or "unregistered"
        return web.Response(status=204)   # answer 2xx within ~15 s, or it is redelivered
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Final

import msgspec

from ._exceptions import TightknitError
from .models import WebhookEvent, decode_webhook

__all__ = [
    "DEFAULT_TOLERANCE",
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


def _key(secret: str) -> bytes:
    if not isinstance(secret, str) or not secret:
        raise ValueError("secret must be the endpoint's signing secret, 'whsec_...'")
    encoded = secret.removeprefix(_SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("secret is not a valid 'whsec_<base64>' signing secret") from None


def _signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def sign_webhook(
    payload: bytes | str, secret: str, *, msg_id: str, timestamp: float | None = None
) -> dict[str, str]:
    """The ``svix-*`` headers Tightknit would send with ``payload``: for tests and local tools."""
    body = payload.encode() if isinstance(payload, str) else payload
    stamp = str(int(time.time() if timestamp is None else timestamp))
    return {
        "svix-id": msg_id,
        "svix-timestamp": stamp,
        "svix-signature": "v1," + _signature(_key(secret), msg_id, stamp, body),
    }


def verify_webhook(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> WebhookEvent:
    """Check a delivery's signature and timestamp, then decode it into its model.

    Args:
        payload: the raw request body, exactly as received.
        headers: the request headers (any letter case).
        secret: the endpoint's signing secret, ``whsec_<base64>``.
        tolerance: seconds the timestamp may be off from ``now`` in either direction.
        now: the current Unix time (tests pass one); defaults to ``time.time()``.

    Returns the decoded event: :class:`~tightknit_async.models.EventRegistrationStatusChange` for
    registrations, a plain :class:`~tightknit_async.models.WebhookEvent` for actions not yet known.

    Raises:
        WebhookVerificationError: anything that does not prove the delivery genuine.
        ValueError: ``secret`` is not a valid signing secret (a configuration error).
    """
    key = _key(secret)
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    lowered = {name.lower(): value for name, value in headers.items()}
    id_name, stamp_name, sig_name = next(
        (names for names in _HEADER_SETS if names[0] in lowered), _HEADER_SETS[0]
    )
    msg_id, stamp, signatures = (lowered.get(n) for n in (id_name, stamp_name, sig_name))
    if not msg_id or not stamp or not signatures:
        raise WebhookVerificationError(
            "missing webhook headers: svix-id, svix-timestamp and svix-signature are required"
        )
    try:
        sent_at = int(stamp)
    except ValueError:
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
        return decode_webhook(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise WebhookVerificationError(f"signed body is not a webhook payload: {exc}") from None
