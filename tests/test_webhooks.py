"""Webhook verification: Svix signatures, rotation, tolerance, delivery identity, decoding.

The interoperability tests sign with the ``svix`` package (what Tightknit's sender runs) and
verify with ours, and the other way round.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime

import msgspec
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError as SvixVerificationError

from tightknit_async import TightknitError
from tightknit_async.models import EventRegistrationStatusChange, WebhookEvent, decode_webhook
from tightknit_async.webhooks import (
    DEFAULT_TOLERANCE,
    WebhookDelivery,
    WebhookVerificationError,
    sign_webhook,
    verify_webhook,
)

KEY = b"a-32-byte-long-secret-for-tests!"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
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
EXPECTED = WebhookDelivery(
    id="msg_2Kx",
    timestamp=datetime(2025, 11, 24, 16, 0, tzinfo=UTC),  # NOW
    payload=decode_webhook(BODY),
    body=BODY,
)


def headers(body: bytes = BODY, secret: str = SECRET, at: float = NOW) -> dict[str, str]:
    return sign_webhook(body, secret, msg_id="msg_2Kx", timestamp=at)


def test_signature_follows_the_svix_formula() -> None:
    expected = base64.b64encode(
        hmac.new(KEY, b"msg_2Kx." + str(int(NOW)).encode() + b"." + BODY, hashlib.sha256).digest()
    ).decode()
    assert headers() == {
        "svix-id": "msg_2Kx",
        "svix-timestamp": "1764000000",
        "svix-signature": f"v1,{expected}",
    }
    assert headers(at=NOW + 0.9)["svix-timestamp"] == "1764000000"  # whole seconds


def test_sign_webhook_defaults_to_the_current_time() -> None:
    before = int(time.time())
    stamp = int(sign_webhook(BODY, SECRET, msg_id="m")["svix-timestamp"])
    assert before <= stamp <= time.time()


def test_a_genuine_delivery_decodes_into_its_model() -> None:
    event = verify_webhook(BODY, headers(), SECRET, now=NOW + 10).payload
    assert isinstance(event, EventRegistrationStatusChange)
    assert event.status == "registered"
    assert event.custom_metadata == "crm-42"
    assert event.user is not None
    assert event.user.email == "ada@example.com"
    assert event.user.profile_fields["COMPANY"].value == "Analytical Engines"


def test_the_delivery_carries_its_id_timestamp_payload_and_body() -> None:
    delivery = verify_webhook(BODY, headers(), SECRET, now=NOW + 10)
    assert delivery == EXPECTED
    assert delivery.timestamp.tzinfo is UTC
    assert delivery.timestamp.timestamp() == NOW
    assert type(delivery.body) is bytes
    with pytest.raises(AttributeError):
        delivery.id = "msg_other"  # type: ignore[misc]


def test_a_str_body_is_verified_and_kept_as_its_utf8_bytes() -> None:
    body = BODY.replace(b"Ada Lovelace", "Ada Lovelace \u00e9\u00e8".encode())
    delivery = verify_webhook(body.decode(), headers(body), SECRET, now=NOW)
    assert delivery.body == body
    assert delivery.payload == decode_webhook(body)


def test_redeliveries_share_the_id_and_differ_in_timestamp() -> None:
    """Svix re-signs each attempt of one message: same id, the attempt's own timestamp."""
    first = verify_webhook(BODY, headers(at=NOW), SECRET, now=NOW)
    retry = verify_webhook(BODY, headers(at=NOW + 5), SECRET, now=NOW + 5)
    assert retry.id == first.id == "msg_2Kx"
    assert retry.timestamp == datetime(2025, 11, 24, 16, 0, 5, tzinfo=UTC)
    assert retry.payload == first.payload


class PlainMapping(Mapping[str, str]):
    """A read-only mapping that is not a dict, as a web framework's headers object is."""

    def __init__(self, items: dict[str, str]) -> None:
        self._items = items

    def __getitem__(self, name: str) -> str:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def _upper(h: dict[str, str]) -> Mapping[str, str]:
    return {k.upper(): v for k, v in h.items()}


def _title(h: dict[str, str]) -> Mapping[str, str]:
    return {k.title(): v for k, v in h.items()}


def _standard(h: dict[str, str]) -> Mapping[str, str]:
    return {k.replace("svix-", "webhook-"): v for k, v in h.items()}


def _standard_upper(h: dict[str, str]) -> Mapping[str, str]:
    return _upper(dict(_standard(h)))


def _multidict(h: dict[str, str]) -> Mapping[str, str]:
    return CIMultiDict({"Content-Type": "application/json", **_title(h)})


def _multidict_proxy(h: dict[str, str]) -> Mapping[str, str]:
    return CIMultiDictProxy(CIMultiDict(_standard(h)))


def _plain(h: dict[str, str]) -> Mapping[str, str]:
    return PlainMapping({"Host": "example.com", **_title(h)})


@pytest.mark.parametrize(
    "shape",
    [dict, _upper, _title, _standard, _standard_upper, _multidict, _multidict_proxy, _plain],
)
def test_either_header_family_in_any_case_and_any_mapping(
    shape: Callable[[dict[str, str]], Mapping[str, str]],
) -> None:
    assert verify_webhook(BODY, shape(headers()), SECRET, now=NOW) == EXPECTED


def test_with_both_families_present_the_svix_names_are_read() -> None:
    svix, other = headers(), _standard(headers(at=NOW + 60, secret=OTHER))
    assert verify_webhook(BODY, {**svix, **other}, SECRET, now=NOW) == EXPECTED
    forged = {**_standard(svix), **headers(secret=OTHER)}
    with pytest.raises(WebhookVerificationError, match="no signature"):
        verify_webhook(BODY, forged, SECRET, now=NOW)


@pytest.mark.parametrize("name", ["svix-id", "svix-timestamp", "svix-signature"])
def test_an_incomplete_svix_family_gives_way_to_a_complete_standard_one(name: str) -> None:
    partial = headers(secret=OTHER, at=NOW + 60)
    del partial[name]
    assert verify_webhook(BODY, {**partial, **_standard(headers())}, SECRET, now=NOW) == EXPECTED
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify_webhook(BODY, partial, SECRET, now=NOW)


def test_rotation_any_listed_signature_may_match() -> None:
    both = headers()
    old = headers(secret=OTHER)["svix-signature"]
    both["svix-signature"] = f"{old} {both['svix-signature']} v2,ignored"
    assert verify_webhook(BODY, both, SECRET, now=NOW) == EXPECTED
    both["svix-signature"] = f"{both['svix-signature']} {old}"  # the match first, then another
    assert verify_webhook(BODY, both, SECRET, now=NOW) == EXPECTED


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda h: h.pop("svix-id"), "missing"),
        (lambda h: h.pop("svix-timestamp"), "missing"),
        (lambda h: h.pop("svix-signature"), "missing"),
        (lambda h: h.update({"svix-id": ""}), "missing"),
        (lambda h: h.update({"svix-timestamp": ""}), "missing"),
        (lambda h: h.update({"svix-signature": ""}), "missing"),
        (lambda h: h.update({"svix-timestamp": "yesterday"}), "invalid svix-timestamp"),
        (lambda h: h.update({"svix-timestamp": "1764000000.0"}), "invalid svix-timestamp"),
        (lambda h: h.update({"svix-signature": "v1,AAAA"}), "no signature"),
        (lambda h: h.update({"svix-signature": "v2," + h["svix-signature"][3:]}), "no signature"),
        (lambda h: h.update({"svix-signature": h["svix-signature"][3:]}), "no signature"),
        (lambda h: h.update({"svix-id": "msg_other"}), "no signature"),
    ],
)
def test_forged_or_incomplete_headers_are_refused(mutate: object, match: str) -> None:
    signed = headers()
    mutate(signed)  # type: ignore[operator]
    with pytest.raises(WebhookVerificationError, match=match):
        verify_webhook(BODY, signed, SECRET, now=NOW)


def test_errors_name_the_header_family_that_was_sent() -> None:
    standard = _standard(headers())
    with pytest.raises(WebhookVerificationError, match="invalid webhook-timestamp header: 'x'"):
        verify_webhook(BODY, {**standard, "webhook-timestamp": "x"}, SECRET, now=NOW)
    with pytest.raises(WebhookVerificationError, match=r"webhook-timestamp is \+301s from now"):
        verify_webhook(BODY, standard, SECRET, now=NOW + 301)
    with pytest.raises(WebhookVerificationError, match="webhook-id, webhook-timestamp"):
        verify_webhook(BODY, {}, SECRET, now=NOW)


def test_a_timestamp_beyond_the_calendar_is_invalid_even_without_a_tolerance() -> None:
    signed = {**headers(), "svix-timestamp": "9" * 30}
    with pytest.raises(WebhookVerificationError, match="invalid svix-timestamp"):
        verify_webhook(BODY, signed, SECRET, now=NOW, tolerance=math.inf)


def test_a_tampered_body_or_wrong_secret_is_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="no signature"):
        verify_webhook(BODY.replace(b"registered", b"unregistered"), headers(), SECRET, now=NOW)
    with pytest.raises(WebhookVerificationError, match="no signature"):
        verify_webhook(BODY, headers(), OTHER, now=NOW)


def test_the_module_exports_the_delivery() -> None:
    import tightknit_async.webhooks as webhooks

    assert webhooks.__all__ == [
        "DEFAULT_TOLERANCE",
        "WebhookDelivery",
        "WebhookVerificationError",
        "sign_webhook",
        "verify_webhook",
    ]


def test_verification_errors_are_tightknit_errors_and_value_errors() -> None:
    assert issubclass(WebhookVerificationError, TightknitError)
    assert issubclass(WebhookVerificationError, ValueError)


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_stale_or_future_timestamps_are_refused(offset: float) -> None:
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(BODY, headers(), SECRET, now=NOW + offset)
    delivery = verify_webhook(BODY, headers(), SECRET, now=NOW + offset, tolerance=abs(offset) + 1)
    assert delivery == EXPECTED


@pytest.mark.parametrize("offset", [300, -300])
def test_the_default_tolerance_is_five_minutes_inclusive(offset: float) -> None:
    assert DEFAULT_TOLERANCE == 300
    assert verify_webhook(BODY, headers(), SECRET, now=NOW + offset) == EXPECTED
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(BODY, headers(), SECRET, now=NOW + offset, tolerance=299)


def test_now_defaults_to_the_clock() -> None:
    assert verify_webhook(BODY, headers(at=time.time()), SECRET).id == "msg_2Kx"
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(BODY, headers(), SECRET)  # signed at NOW, in 2025


def test_unknown_actions_decode_to_the_base_model_and_junk_is_refused() -> None:
    body = b'{"version":"1.0","action":"something_new","date":"2026-11-28"}'
    event = verify_webhook(body, headers(body), SECRET, now=NOW).payload
    assert type(event) is WebhookEvent
    assert event == WebhookEvent(version="1.0", action="something_new", date="2026-11-28")
    for junk in (b"[1,2]", b'"registered"', b"not json", b""):
        with pytest.raises(WebhookVerificationError, match="not a webhook payload"):
            verify_webhook(junk, headers(junk), SECRET, now=NOW)


DRIFTED = [
    # (what came, what it decodes to)
    (BODY.replace(b'"registered"', b'"waitlisted"'), {"status": "waitlisted"}),
    (BODY.replace(b'"version":"1.0"', b'"version":"2.0","attempt":3'), {"version": "2.0"}),
    (BODY.replace(b'"crm-42"', b"null"), {"custom_metadata": None}),
    (BODY.replace(b'"crm-42"', b'{"crm":42}'), {"custom_metadata": None}),
    (BODY.replace(b'"version":"1.0"', b'"version":2'), {"version": "2"}),
    (
        BODY.replace(b'{"slack_workspace_id":"T123"}', b'"T123"'),
        {"source": None},
    ),
]


@pytest.mark.parametrize(("body", "changes"), DRIFTED)
def test_a_genuine_payload_that_drifted_still_decodes(
    body: bytes, changes: dict[str, object]
) -> None:
    delivery = verify_webhook(body, headers(body), SECRET, now=NOW)
    assert delivery.body == body
    assert delivery.payload == msgspec.structs.replace(EXPECTED.payload, **changes)


def test_a_drifted_payload_keeps_the_fields_that_fit_inside_nested_objects() -> None:
    body = BODY.replace(b'"email":"ada@example.com"', b'"email":["ada@example.com"]').replace(
        b'"profile_fields":{', b'"profile_fields":{"ODD":"x",'
    )
    event = verify_webhook(body, headers(body), SECRET, now=NOW).payload
    assert isinstance(event, EventRegistrationStatusChange)
    assert EXPECTED.payload.user is not None
    assert event.user == msgspec.structs.replace(EXPECTED.payload.user, email=None)


@pytest.mark.parametrize(
    "bad", ["", "whsec_", "whsec_=", "whsec_!!notbase64!!", "whsec_YWJjZ", "whsec_YWJjZ=="]
)
def test_a_bad_secret_is_a_configuration_error_without_echoing_it(bad: str) -> None:
    with pytest.raises(ValueError, match="secret") as info:
        verify_webhook(BODY, headers(), bad, now=NOW)
    assert not isinstance(info.value, WebhookVerificationError)
    if bad.removeprefix("whsec_"):
        assert bad not in str(info.value)
        assert bad.removeprefix("whsec_") not in str(info.value)


def test_a_secret_that_is_not_a_string_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="must be the endpoint's signing secret"):
        verify_webhook(BODY, headers(), KEY, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="secret is empty"):
        sign_webhook(BODY, "whsec_", msg_id="m")


def test_the_secret_is_read_with_or_without_prefix_and_padding() -> None:
    padded = SECRET.removeprefix("whsec_")
    assert padded.endswith("=")  # 32 bytes: one padding character
    for secret in (SECRET, padded, padded.rstrip("="), "whsec_" + padded.rstrip("=")):
        assert verify_webhook(BODY, headers(), secret, now=NOW) == EXPECTED
        assert sign_webhook(BODY, secret, msg_id="msg_2Kx", timestamp=NOW) == headers()
    two = base64.b64encode(KEY[:31]).decode()
    assert two.endswith("==")  # 31 bytes: two padding characters
    signed = headers(secret=two)
    for secret in (two.rstrip("="), two[:-1], two + "="):
        assert verify_webhook(BODY, signed, "whsec_" + secret, now=NOW).id == "msg_2Kx"


# --- against the svix package ---------------------------------------------------------------------


def svix_headers(
    secret: str = SECRET, *, at: float = NOW, body: bytes = BODY, msg_id: str = "msg_2Kx"
) -> dict[str, str]:
    """The headers the Svix sender puts on a delivery, its signature made by ``svix`` itself."""
    signature = SvixWebhook(secret).sign(msg_id, datetime.fromtimestamp(at, UTC), body.decode())
    return {"svix-id": msg_id, "svix-timestamp": str(int(at)), "svix-signature": signature}


SECRET_FORMS = {
    "prefixed": SECRET,
    "bare": SECRET.removeprefix("whsec_"),
    "prefixed-unpadded": SECRET.rstrip("="),
    "bare-unpadded": SECRET.removeprefix("whsec_").rstrip("="),
}


@pytest.mark.parametrize("ours", SECRET_FORMS.values(), ids=SECRET_FORMS.keys())
@pytest.mark.parametrize("theirs", SECRET_FORMS.values(), ids=SECRET_FORMS.keys())
@pytest.mark.parametrize("family", ["svix", "webhook"])
def test_what_svix_signs_we_verify(ours: str, theirs: str, family: str) -> None:
    signed = svix_headers(theirs)
    if family == "webhook":
        signed = dict(_standard(signed))
    assert verify_webhook(BODY, signed, ours, now=NOW + 10) == EXPECTED


def test_svix_and_we_compute_the_same_signature() -> None:
    assert svix_headers() == headers()
    assert svix_headers(OTHER, at=NOW + 7, msg_id="msg_9") == sign_webhook(
        BODY, OTHER, msg_id="msg_9", timestamp=NOW + 7
    )


def test_svix_signatures_from_several_secrets_verify_with_any_of_them() -> None:
    signed = svix_headers()
    signed["svix-signature"] = f"{svix_headers(OTHER)['svix-signature']} {signed['svix-signature']}"
    assert verify_webhook(BODY, signed, SECRET, now=NOW) == EXPECTED
    assert verify_webhook(BODY, signed, OTHER, now=NOW) == EXPECTED
    third = "whsec_" + base64.b64encode(b"a third secret, never used here").decode()
    with pytest.raises(WebhookVerificationError, match="no signature"):
        verify_webhook(BODY, signed, third, now=NOW)


def test_svix_signed_deliveries_that_are_not_genuine_are_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="no signature"):
        verify_webhook(BODY.replace(b"Ada", b"Eve"), svix_headers(), SECRET, now=NOW)
    with pytest.raises(WebhookVerificationError, match="no signature"):
        verify_webhook(BODY, svix_headers(OTHER), SECRET, now=NOW)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(BODY, svix_headers(at=NOW - 301), SECRET, now=NOW)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(BODY, svix_headers(at=NOW + 301), SECRET, now=NOW)


@pytest.mark.parametrize("ours", SECRET_FORMS.values(), ids=SECRET_FORMS.keys())
@pytest.mark.parametrize("family", ["svix", "webhook"])
def test_what_we_sign_svix_verifies(ours: str, family: str) -> None:
    signed: Mapping[str, str] = sign_webhook(BODY, ours, msg_id="msg_1", timestamp=time.time())
    if family == "webhook":
        signed = _standard(dict(signed))
    SvixWebhook(SECRET).verify(BODY, dict(signed))  # raises unless genuine
    with pytest.raises(SvixVerificationError):
        SvixWebhook(OTHER).verify(BODY, dict(signed))
    with pytest.raises(SvixVerificationError):
        SvixWebhook(SECRET).verify(BODY + b" ", dict(signed))


def test_what_we_sign_long_ago_svix_refuses_as_too_old() -> None:
    signed = sign_webhook(BODY, SECRET, msg_id="msg_1", timestamp=time.time() - 301)
    with pytest.raises(SvixVerificationError, match="too old"):
        SvixWebhook(SECRET).verify(BODY, signed)


async def test_receiving_deliveries_in_an_aiohttp_app() -> None:
    """The README's receiver, served on loopback: genuine deliveries 204, forged ones 400, and a
    redelivery of a message already handled skipped."""
    import aiohttp
    from aiohttp import web

    received: list[WebhookEvent] = []
    handled: set[str] = set()

    async def tightknit_webhook(request: web.Request) -> web.Response:
        try:
            delivery = verify_webhook(await request.read(), request.headers, SECRET)
        except WebhookVerificationError:
            return web.Response(status=400)
        if delivery.id in handled:
            return web.Response(status=204)
        handled.add(delivery.id)
        received.append(delivery.payload)
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
            good = svix_headers(at=time.time(), msg_id="msg_1")
            async with session.post(url, data=BODY, headers=good) as resp:
                assert resp.status == 204
            async with session.post(url, data=BODY + b" ", headers=good) as resp:
                assert resp.status == 400
            again = _standard(svix_headers(at=time.time(), msg_id="msg_1"))
            async with session.post(url, data=BODY, headers=dict(again)) as resp:
                assert resp.status == 204
    finally:
        await runner.cleanup()
    assert handled == {"msg_1"}
    assert received == [decode_webhook(BODY)]
