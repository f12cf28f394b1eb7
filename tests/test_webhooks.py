"""Webhook verification: Svix signatures, rotation, tolerance, decoding."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from tightknit_async.models import EventRegistrationStatusChange, WebhookEvent
from tightknit_async.webhooks import WebhookVerificationError, sign_webhook, verify_webhook

SECRET = "whsec_" + base64.b64encode(b"a-32-byte-long-secret-for-tests!").decode()
OTHER = "whsec_" + base64.b64encode(b"another-secret-entirely-xxxxxxx!").decode()
NOW = 1_764_000_000.0
BODY = (
    b'{"version":"1.0","action":"event_registration_status_change","status":"registered",'
    b'"date":"2026-11-28T07:00:00Z","custom_metadata":"crm-42",'
    b'"event":{"id":"gc63t74q8q6u","title":"Cyber Day","slug":"cyber-day"},'
    b'"source":{"slack_workspace_id":"T123"},'
    b'"user":{"id":"U1","first_name":"Ada","last_name":"Lovelace","real_name":"Ada Lovelace",'
    b'"display_name":"ada","email":"ada@example.com",'
    b'"profile_fields":{"COMPANY":{"label":"Company","value":"Analytical Engines"}}}}'
)


def headers(body: bytes = BODY, secret: str = SECRET, at: float = NOW) -> dict[str, str]:
    return sign_webhook(body, secret, msg_id="msg_2Kx", timestamp=at)


def test_signature_follows_the_svix_formula() -> None:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    expected = base64.b64encode(
        hmac.new(key, b"msg_2Kx." + str(int(NOW)).encode() + b"." + BODY, hashlib.sha256).digest()
    ).decode()
    assert headers()["svix-signature"] == f"v1,{expected}"


def test_a_genuine_delivery_decodes_into_its_model() -> None:
    event = verify_webhook(BODY, headers(), SECRET, now=NOW + 10)
    assert isinstance(event, EventRegistrationStatusChange)
    assert event.status == "registered"
    assert event.custom_metadata == "crm-42"
    assert event.user.email == "ada@example.com"
    assert event.user.profile_fields["COMPANY"].value == "Analytical Engines"


def test_header_case_str_body_and_standard_webhooks_names_are_accepted() -> None:
    signed = {k.upper(): v for k, v in headers().items()}
    assert verify_webhook(BODY.decode(), signed, SECRET, now=NOW)
    standard = {k.replace("svix-", "webhook-"): v for k, v in headers().items()}
    assert verify_webhook(BODY, standard, SECRET, now=NOW)


def test_rotation_any_listed_signature_may_match() -> None:
    both = headers()
    old = headers(secret=OTHER)["svix-signature"]
    both["svix-signature"] = f"{old} {both['svix-signature']} v2,ignored"
    assert verify_webhook(BODY, both, SECRET, now=NOW)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda h: h.pop("svix-id"), "missing"),
        (lambda h: h.pop("svix-signature"), "missing"),
        (lambda h: h.update({"svix-timestamp": "yesterday"}), "invalid svix-timestamp"),
        (lambda h: h.update({"svix-signature": "v1,AAAA"}), "no signature"),
        (lambda h: h.update({"svix-signature": "v2," + h["svix-signature"][3:]}), "no signature"),
        (lambda h: h.update({"svix-id": "msg_other"}), "no signature"),
    ],
)
def test_forged_or_incomplete_headers_are_refused(mutate: object, match: str) -> None:
    signed = headers()
    mutate(signed)  # type: ignore[operator]
    with pytest.raises(WebhookVerificationError, match=match):
        verify_webhook(BODY, signed, SECRET, now=NOW)


def test_a_tampered_body_or_wrong_secret_is_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="no signature"):
        verify_webhook(BODY.replace(b"registered", b"unregistered"), headers(), SECRET, now=NOW)
    with pytest.raises(WebhookVerificationError, match="no signature"):
        verify_webhook(BODY, headers(), OTHER, now=NOW)


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_stale_or_future_timestamps_are_refused(offset: float) -> None:
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(BODY, headers(), SECRET, now=NOW + offset)
    assert verify_webhook(BODY, headers(), SECRET, now=NOW + offset, tolerance=abs(offset) + 1)


def test_unknown_actions_decode_to_the_base_model_and_junk_is_refused() -> None:
    body = b'{"version":"1.0","action":"something_new","date":"2026-11-28"}'
    event = verify_webhook(body, headers(body), SECRET, now=NOW)
    assert type(event) is WebhookEvent
    with pytest.raises(WebhookVerificationError, match="not a webhook payload"):
        verify_webhook(b"[1,2]", headers(b"[1,2]"), SECRET, now=NOW)


@pytest.mark.parametrize("bad", ["", "whsec_!!notbase64!!"])
def test_a_bad_secret_is_a_configuration_error_without_echoing_it(bad: str) -> None:
    with pytest.raises(ValueError, match="secret") as info:
        verify_webhook(BODY, headers(), bad, now=NOW)
    assert not isinstance(info.value, WebhookVerificationError)
    if bad:
        assert bad not in str(info.value)


async def test_receiving_deliveries_in_an_aiohttp_app() -> None:
    """The README's receiver, served on loopback: genuine deliveries 204, forged ones 400."""
    import time

    import aiohttp
    from aiohttp import web

    received: list[WebhookEvent] = []

    async def tightknit_webhook(request: web.Request) -> web.Response:
        try:
            event = verify_webhook(await request.read(), request.headers, SECRET)
        except WebhookVerificationError:
            return web.Response(status=400)
        received.append(event)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hooks/tightknit", tightknit_webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/tightknit"
    try:
        async with aiohttp.ClientSession() as session:
            good = sign_webhook(BODY, SECRET, msg_id="msg_1", timestamp=time.time())
            async with session.post(url, data=BODY, headers=good) as resp:
                assert resp.status == 204
            async with session.post(url, data=BODY + b" ", headers=good) as resp:
                assert resp.status == 400
    finally:
        await runner.cleanup()
    assert len(received) == 1
    assert isinstance(received[0], EventRegistrationStatusChange)
