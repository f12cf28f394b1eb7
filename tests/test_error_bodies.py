"""Error replies of every body shape: class, code, message and request id at every status.

Each shape is sent at each error status through a real client over a MockTransport, and the
error it raises is checked whole: class, status, ``code``, ``error_message``, request id, the
exception message, and that no decoding error escaped or was chained.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import pytest

from tightknit_async import (
    APIStatusError,
    AsyncTightknit,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InsufficientScopeError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    PlanRequiredError,
    RateLimitError,
)
from tightknit_async._exceptions import error_fields, status_error_class
from tightknit_async._response import error_from_response
from tightknit_async.testing import MockTransport
from tightknit_async.transport import Response

from .conftest import TEST_KEY

BASE_URL = "https://api.tightknit.test"
PATH = "/admin/v0/api_key/me"
JSON = "application/json"

STATUSES = (400, 401, 403, 404, 409, 422, 429, 500, 502, 503)
CLASS_OF_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: BadRequestError,
    429: RateLimitError,
    500: InternalServerError,
    502: InternalServerError,
    503: InternalServerError,
}


class Shape(NamedTuple):
    name: str
    content: bytes
    content_type: str | None
    code: str | None
    message: str | None
    described: str  # what follows "GET <path>: <status> " in str(error)
    on_403: type[APIStatusError] = PermissionDeniedError


def _json(body: object) -> bytes:
    return json.dumps(body).encode()


CLOUDFLARE_502 = (
    b"<!DOCTYPE html>\n<html>\n<head><title>api.tightknit.ai | 502: Bad gateway</title></head>\n"
    b"<body><h1>Bad gateway</h1> <p>Error code 502</p></body>\n</html>\n"
)
CLOUDFLARE_502_TEXT = " ".join(CLOUDFLARE_502.decode().split())
HTML_403 = b"<html><body>Forbidden: please upgrade your plan</body></html>"

SHAPES = [
    # -- the nested envelope {"success": false, "error": {...}} ----------------------------------
    Shape(
        "nested",
        _json({"success": False, "error": {"code": "EVENT_NOT_FOUND", "message": "No such event"}}),
        JSON,
        "EVENT_NOT_FOUND",
        "No such event",
        "[EVENT_NOT_FOUND] No such event",
    ),
    Shape(
        "nested-scope-with-hint-and-permissions",
        _json(
            {
                "success": False,
                "error": {
                    "code": "INSUFFICIENT_SCOPE",
                    "message": "This API key lacks a permission",
                    "hint": "Required permission: members:write",
                    "required_permissions": ["members:write"],
                    "current_permissions": ["feeds:read"],
                },
            }
        ),
        JSON,
        "INSUFFICIENT_SCOPE",
        "This API key lacks a permission",
        "[INSUFFICIENT_SCOPE] This API key lacks a permission Required permission: members:write",
        InsufficientScopeError,
    ),
    Shape(
        "nested-plan-code",
        _json(
            {
                "success": False,
                "error": {
                    "code": "PLAN_REQUIRED",
                    "message": "Members need Enterprise",
                    "required_plan": "enterprise",
                },
            }
        ),
        JSON,
        "PLAN_REQUIRED",
        "Members need Enterprise",
        "[PLAN_REQUIRED] Members need Enterprise",
        PlanRequiredError,
    ),
    Shape(
        "nested-code-top-message",
        _json({"success": False, "message": "Denied", "error": {"code": "INSUFFICIENT_SCOPE"}}),
        JSON,
        "INSUFFICIENT_SCOPE",
        "Denied",
        "[INSUFFICIENT_SCOPE] Denied",
        InsufficientScopeError,
    ),
    # -- an error code as the "error" string ------------------------------------------------------
    Shape(
        "error-is-scope-code",
        _json({"error": "INSUFFICIENT_SCOPE"}),
        JSON,
        "INSUFFICIENT_SCOPE",
        None,
        "[INSUFFICIENT_SCOPE] (no error message)",
        InsufficientScopeError,
    ),
    Shape(
        "success-false-error-is-scope-code",
        _json({"success": False, "error": "INSUFFICIENT_SCOPE"}),
        JSON,
        "INSUFFICIENT_SCOPE",
        None,
        "[INSUFFICIENT_SCOPE] (no error message)",
        InsufficientScopeError,
    ),
    Shape(
        "success-false-error-is-plan-code",
        _json({"success": False, "error": "PLAN_REQUIRED"}),
        JSON,
        "PLAN_REQUIRED",
        None,
        "[PLAN_REQUIRED] (no error message)",
        PlanRequiredError,
    ),
    Shape(
        "error-is-one-word-code",
        _json({"success": False, "error": "FORBIDDEN"}),
        JSON,
        "FORBIDDEN",
        None,
        "[FORBIDDEN] (no error message)",
    ),
    Shape(
        "error-is-a-sentence",
        _json({"success": False, "error": "Calendar event not found"}),
        JSON,
        None,
        "Calendar event not found",
        "Calendar event not found",
    ),
    Shape(
        "error-is-one-capitalised-word",
        _json({"error": "Unauthorized"}),
        JSON,
        None,
        "Unauthorized",
        "Unauthorized",
    ),
    # -- "error" code beside a "message" ----------------------------------------------------------
    Shape(
        "error-code-and-message",
        _json({"error": "INSUFFICIENT_SCOPE", "message": "Missing members:write"}),
        JSON,
        "INSUFFICIENT_SCOPE",
        "Missing members:write",
        "[INSUFFICIENT_SCOPE] Missing members:write",
        InsufficientScopeError,
    ),
    Shape(
        "error-sentence-and-message",
        _json({"success": False, "error": "Forbidden", "message": "Ask an admin"}),
        JSON,
        None,
        "Ask an admin",
        "Forbidden Ask an admin",
    ),
    # -- "code" and "message" ---------------------------------------------------------------------
    Shape(
        "code-and-message",
        _json({"code": "VALIDATION_ERROR", "message": "email is invalid"}),
        JSON,
        "VALIDATION_ERROR",
        "email is invalid",
        "[VALIDATION_ERROR] email is invalid",
    ),
    Shape(
        "code-plan-restricted",
        _json({"code": "PLAN_RESTRICTED", "message": "Search is not included"}),
        JSON,
        "PLAN_RESTRICTED",
        "Search is not included",
        "[PLAN_RESTRICTED] Search is not included",
        PlanRequiredError,
    ),
    Shape(
        "code-upgrade-required-error-sentence",
        _json({"success": False, "error": "Forbidden", "code": "UPGRADE_REQUIRED"}),
        JSON,
        "UPGRADE_REQUIRED",
        "Forbidden",
        "[UPGRADE_REQUIRED] Forbidden",
        PlanRequiredError,
    ),
    Shape(
        "code-lower-case-scope",
        _json({"code": "insufficient_scope", "message": "No"}),
        JSON,
        "insufficient_scope",
        "No",
        "[insufficient_scope] No",
        InsufficientScopeError,
    ),
    Shape(
        "code-and-scope-in-error",
        _json({"code": "FORBIDDEN", "error": "INSUFFICIENT_SCOPE"}),
        JSON,
        "FORBIDDEN",
        None,
        "[FORBIDDEN] INSUFFICIENT_SCOPE",
        InsufficientScopeError,
    ),
    Shape(
        "code-is-a-number",
        _json({"code": 1020, "message": "Access denied"}),
        JSON,
        "1020",
        "Access denied",
        "[1020] Access denied",
    ),
    # -- "message" alone --------------------------------------------------------------------------
    Shape(
        "message",
        _json({"message": "Something went wrong"}),
        JSON,
        None,
        "Something went wrong",
        "Something went wrong",
    ),
    Shape(
        "message-names-a-plan",
        _json({"message": "Upgrade to the Growth plan to use search"}),
        JSON,
        None,
        "Upgrade to the Growth plan to use search",
        "Upgrade to the Growth plan to use search",
        PlanRequiredError,
    ),
    Shape(
        "message-is-scope-code",
        _json({"message": "INSUFFICIENT_SCOPE"}),
        JSON,
        "INSUFFICIENT_SCOPE",
        None,
        "[INSUFFICIENT_SCOPE] (no error message)",
        InsufficientScopeError,
    ),
    Shape(
        "message-about-planned-maintenance",
        _json({"message": "Closed for planned maintenance"}),
        JSON,
        None,
        "Closed for planned maintenance",
        "Closed for planned maintenance",
    ),
    Shape(
        "no-error-fields",
        _json({"success": False, "error": "  ", "message": ""}),
        JSON,
        None,
        None,
        "(no error message)",
    ),
    # -- bodies that are not an error object ------------------------------------------------------
    Shape(
        "cloudflare-html-502",
        CLOUDFLARE_502,
        "text/html; charset=UTF-8",
        None,
        None,
        f"(non-JSON body) {CLOUDFLARE_502_TEXT!r}",
    ),
    Shape(
        "html-page-naming-a-plan",
        HTML_403,
        "text/html",
        None,
        None,
        f"(non-JSON body) {HTML_403.decode()!r}",
    ),
    Shape("empty", b"", JSON, None, None, "(empty body)"),
    Shape("empty-no-content-type", b"", None, None, None, "(empty body)"),
    Shape(
        "truncated-json",
        b'{"error": "X"',
        JSON,
        None,
        None,
        '(non-JSON body) \'{"error": "X"\'',
    ),
    Shape(
        "truncated-json-list",
        b'[{"error": "INSUFFICIENT_SCOPE"',
        JSON,
        None,
        None,
        '(non-JSON body) \'[{"error": "INSUFFICIENT_SCOPE"\'',
    ),
    Shape(
        "invalid-utf8-in-json",
        b'{"error": "\xc3\x28"}',
        JSON,
        None,
        None,
        '(non-JSON body) \'{"error": "\ufffd("}\'',
    ),
    Shape(
        "json-list",
        _json([{"error": "INSUFFICIENT_SCOPE"}]),
        JSON,
        None,
        None,
        '(no error message) [{"error":"INSUFFICIENT_SCOPE"}]',
    ),
    Shape(
        "json-string-sentence",
        b'"Service unavailable"',
        JSON,
        None,
        "Service unavailable",
        "Service unavailable",
    ),
    Shape(
        "json-string-code",
        b'"INSUFFICIENT_SCOPE"',
        JSON,
        "INSUFFICIENT_SCOPE",
        None,
        "[INSUFFICIENT_SCOPE] (no error message)",
        InsufficientScopeError,
    ),
    Shape("json-number", b"500", JSON, None, None, "(no error message) 500"),
    Shape("json-null", b"null", JSON, None, None, "(empty body)"),
    Shape(
        "plain-text",
        b"error code: 1020",
        "text/plain",
        None,
        "error code: 1020",
        "error code: 1020",
    ),
]


def _expected_class(shape: Shape, status: int) -> type[APIStatusError]:
    return shape.on_403 if status == 403 else CLASS_OF_STATUS[status]


def _reply(shape: Shape, status: int) -> Response:
    headers = {"x-request-id": f"req_{status}_{shape.name}"}
    if shape.content_type is not None:
        headers["content-type"] = shape.content_type
    return Response(status, headers, shape.content)


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("shape", SHAPES, ids=[shape.name for shape in SHAPES])
async def test_every_body_shape_at_every_error_status(shape: Shape, status: int) -> None:
    transport = MockTransport(lambda _: _reply(shape, status))
    async with AsyncTightknit(
        api_key=TEST_KEY, base_url=BASE_URL, transport=transport, max_retries=0, rate_limit=None
    ) as tk:
        with pytest.raises(APIStatusError) as info:
            await tk.request("GET", PATH)
    error = info.value
    expected = _expected_class(shape, status)
    assert type(error) is expected
    assert status_error_class(status, error.body) is expected
    assert error.status_code == status
    assert error.code == shape.code
    assert error.error_message == shape.message
    assert error.request_id == f"req_{status}_{shape.name}"
    assert (error.method, error.path, error.replayed) == ("GET", PATH, False)
    assert str(error) == f"GET {PATH}: {status} {shape.described}"
    assert [type(e) for e in _chain(error)] == [expected]
    assert len(transport.requests) == 1


@pytest.mark.parametrize("shape", SHAPES, ids=[shape.name for shape in SHAPES])
def test_error_from_response_agrees_with_the_client(shape: Shape) -> None:
    error = error_from_response("POST", "/x", _reply(shape, 403), replayed=True, secret=TEST_KEY)
    assert type(error) is shape.on_403
    assert (error.code, error.error_message) == (shape.code, shape.message)
    assert str(error) == f"POST /x: 403 {shape.described}"
    assert error.replayed is True


def test_no_decode_error_escapes_from_hostile_bodies() -> None:
    for content in (b"{", b"[1,", b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b'{"a": 1e999999}'):
        error = error_from_response(
            "GET", "/x", Response(500, {"content-type": JSON}, content), replayed=False, secret="k"
        )
        assert type(error) is InternalServerError
        assert error.code is None


# -- the attributes -------------------------------------------------------------------------------


def test_code_and_error_message_are_read_only() -> None:
    error = BadRequestError("x", status_code=400, body={"code": "BAD", "message": "m"})
    assert (error.code, error.error_message) == ("BAD", "m")
    with pytest.raises(AttributeError):
        error.code = "OTHER"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        error.error_message = "other"  # type: ignore[misc]
    assert (error.code, error.error_message) == ("BAD", "m")


def test_a_bare_status_error_has_no_code_or_message() -> None:
    error = APIStatusError("x", status_code=500)
    assert (error.code, error.error_message, error.body) == (None, None, None)


def test_scope_details_are_read_from_the_nested_object() -> None:
    body = {
        "success": False,
        "hint": "top-level hint",
        "required_permissions": ["ignored:top"],
        "error": {
            "code": "INSUFFICIENT_SCOPE",
            "message": "Missing a permission",
            "hint": "Required permission: members:write",
            "required_permissions": ["members:write"],
            "current_permissions": "feeds:read, ,posts:read,",
        },
    }
    error = InsufficientScopeError("x", status_code=403, body=body)
    assert error.hint == "Required permission: members:write"
    assert error.required_permissions == ("members:write",)
    assert error.granted_permissions == ("feeds:read", "posts:read")
    assert error.body is body


def test_scope_details_fall_back_to_the_top_level() -> None:
    body = {
        "error": {"code": "INSUFFICIENT_SCOPE"},
        "hint": "Required permission: posts:read",
        "required_permissions": ["posts:read"],
    }
    error = InsufficientScopeError("x", status_code=403, body=body)
    assert error.hint == "Required permission: posts:read"
    assert error.required_permissions == ("posts:read",)
    assert error.granted_permissions is None


def test_scope_error_from_a_bare_code_string_has_no_details() -> None:
    error = InsufficientScopeError("x", status_code=403, body={"error": "INSUFFICIENT_SCOPE"})
    assert (error.hint, error.required_permissions, error.granted_permissions) == (None, None, None)


def test_plan_details_are_read_from_the_nested_object() -> None:
    body = {
        "success": False,
        "error": {"code": "PLAN_REQUIRED", "required_plan": "momentum", "current_plan": "growth"},
    }
    error = PlanRequiredError("x", status_code=403, body=body)
    assert (error.required_plan, error.current_plan) == ("momentum", "growth")


@pytest.mark.parametrize(
    ("body", "plan"),
    [
        ({"error": {"code": "PLAN_REQUIRED", "message": "Needs the Momentum plan"}}, "momentum"),
        ({"message": "Upgrade from Growth to Enterprise"}, "enterprise"),
        ({"error": "PLAN_REQUIRED", "hint": "Growth or higher"}, "growth"),
        ({"error": "PLAN_REQUIRED"}, None),
        ("Requires the Growth plan", "growth"),
    ],
)
def test_required_plan_from_the_text(body: object, plan: str | None) -> None:
    error = PlanRequiredError("x", status_code=403, body=body)
    assert error.required_plan == plan
    assert error.current_plan is None


@pytest.mark.parametrize(
    ("text", "cls"),
    [
        ("Requires a paid plan", PlanRequiredError),
        ("Available on paid plans", PlanRequiredError),
        ("Upgrade required", PlanRequiredError),
        ("Please upgrade", PlanRequiredError),
        ("Planned maintenance", PermissionDeniedError),
        ("The planner is off", PermissionDeniedError),
        ("Forbidden", PermissionDeniedError),
    ],
)
def test_plan_words_in_a_403_message(text: str, cls: type[APIStatusError]) -> None:
    assert status_error_class(403, {"message": text}) is cls
    assert status_error_class(403, {"error": {"message": text}}) is cls
    assert status_error_class(403, {"hint": text}) is cls
    assert status_error_class(400, {"message": text}) is BadRequestError


# -- error_fields, the one reader of error bodies ------------------------------------------------


def test_error_fields_prefers_message_over_the_error_sentence() -> None:
    fields = error_fields({"error": "Forbidden", "message": "Ask an admin", "hint": "See docs"})
    assert fields.message == "Ask an admin"
    assert fields.texts == ("Forbidden", "Ask an admin", "See docs")
    assert fields.hint == "See docs"
    assert fields.code is None
    assert fields.codes == ()


def test_error_fields_nested_first_then_top_level() -> None:
    body = {
        "code": "TOP_CODE",
        "message": "top message",
        "hint": "top hint",
        "extra": 1,
        "error": {"code": "NESTED_CODE", "message": "nested message", "hint": "nested hint"},
    }
    fields = error_fields(body)
    assert fields.code == "NESTED_CODE"
    assert fields.codes == ("NESTED_CODE", "TOP_CODE")
    assert fields.message == "nested message"
    assert fields.hint == "nested hint"
    assert fields.texts == ("nested message", "top message", "nested hint")
    assert fields.extra["code"] == "NESTED_CODE"
    assert fields.extra["extra"] == 1


def test_error_fields_explicit_code_beats_a_code_string() -> None:
    fields = error_fields({"error": "FORBIDDEN", "code": "INSUFFICIENT_SCOPE"})
    assert fields.code == "INSUFFICIENT_SCOPE"
    assert fields.codes == ("INSUFFICIENT_SCOPE", "FORBIDDEN")
    assert fields.texts == ("FORBIDDEN",)
    assert fields.message is None


def test_error_fields_repeats_nothing() -> None:
    fields = error_fields({"code": "X", "error": "X", "message": "Oops", "hint": "Oops"})
    assert fields.codes == ("X",)
    assert fields.texts == ("Oops",)


def test_error_fields_strips_and_ignores_blank_or_non_text_values() -> None:
    fields = error_fields({"code": True, "error": 12, "message": "  padded  ", "hint": ["x"]})
    assert (fields.code, fields.message, fields.hint) == (None, "padded", None)
    assert fields.texts == ("padded",)
    assert error_fields({"code": "  "}).code is None
    assert error_fields({"code": 0}).code == "0"


@pytest.mark.parametrize(
    "body", [None, 500, 1.5, True, [], [{"code": "X"}], "", "   ", "<p>x</p>", "{x", "[x"]
)
def test_error_fields_of_a_body_without_an_error(body: object) -> None:
    fields = error_fields(body)
    assert (fields.code, fields.codes, fields.message, fields.hint, fields.texts) == (
        None,
        (),
        None,
        None,
        (),
    )
    assert dict(fields.extra) == {}


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("RATE_LIMITED", "RATE_LIMITED", None),
        ("E2", "E2", None),
        (" NOT_FOUND \n", "NOT_FOUND", None),
        ("Not_Found", None, "Not_Found"),
        ("NOT FOUND", None, "NOT FOUND"),
        ("_X", None, "_X"),
        ("X_", None, "X_"),
        ("2FA_REQUIRED", None, "2FA_REQUIRED"),
        ("bad gateway", None, "bad gateway"),
    ],
)
def test_error_fields_of_a_string(text: str, code: str | None, message: str | None) -> None:
    fields = error_fields(text)
    assert (fields.code, fields.message) == (code, message)
    assert fields.codes == ((code,) if code else ())
    assert fields.texts == ((message,) if message else ())
    assert error_fields({"error": text}).code == code


# -- the API key ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (
            _json({"error": {"code": "BAD_KEY", "message": f"Bearer {TEST_KEY} is revoked"}}),
            JSON,
        ),
        (_json({"error": f"Bearer {TEST_KEY} is revoked"}), JSON),
        (_json(f"Bearer {TEST_KEY} is revoked"), JSON),
        (f"Bearer {TEST_KEY} is revoked".encode(), "text/plain"),
        (_json([f"Bearer {TEST_KEY} is revoked"]), JSON),
    ],
)
async def test_the_api_key_is_scrubbed_from_every_shape(content: bytes, content_type: str) -> None:
    transport = MockTransport(lambda _: Response(401, {"content-type": content_type}, content))
    async with AsyncTightknit(
        api_key=TEST_KEY, base_url=BASE_URL, transport=transport, rate_limit=None
    ) as tk:
        with pytest.raises(AuthenticationError) as info:
            await tk.request("GET", PATH)
    error = info.value
    for text in (str(error), repr(error), repr(error.body), repr(error.error_message)):
        assert TEST_KEY not in text
        assert "SECRET" not in text
    assert "Bearer <redacted> is revoked" in str(error)
    if error.error_message is not None:
        assert error.error_message == "Bearer <redacted> is revoked"
