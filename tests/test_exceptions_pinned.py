"""The attributes and classes of the errors that callers branch on, through the public API."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tightknit_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GovernorTimeoutError,
    InsufficientScopeError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    PlanRequiredError,
    RateLimitError,
    RequestValidationError,
    ResponseTooLargeError,
    ResponseValidationError,
    TightknitError,
)
from tightknit_async._exceptions import status_error_class

# -- errors raised before anything is sent --------------------------------------------------------


def test_a_request_validation_error_names_the_field_and_the_reason() -> None:
    err = RequestValidationError("hosts.emails[1]", "must be an e-mail address")
    assert (err.field, err.reason) == ("hosts.emails[1]", "must be an e-mail address")
    assert str(err) == "hosts.emails[1]: must be an e-mail address"
    assert isinstance(err, ValueError)
    assert isinstance(err, TightknitError)


def test_a_request_validation_error_about_a_whole_object_is_just_the_reason() -> None:
    err = RequestValidationError("", "exactly one of start_date and all_day_date")
    assert err.field == ""
    assert str(err) == "exactly one of start_date and all_day_date"


def test_within_prefixes_the_parent_field_path() -> None:
    inner = RequestValidationError("emails[1]", "must be an e-mail address")
    outer = inner.within("hosts").within("event")
    assert (outer.field, outer.reason) == ("event.hosts.emails[1]", "must be an e-mail address")
    assert str(outer) == "event.hosts.emails[1]: must be an e-mail address"
    whole = RequestValidationError("", "exactly one of a and b").within("event")
    assert (whole.field, whole.reason) == ("event", "exactly one of a and b")
    assert str(whole) == "event: exactly one of a and b"
    assert inner.field == "emails[1]"  # the original is unchanged


def test_a_governor_timeout_reports_the_wait_needed_and_the_wait_allowed() -> None:
    err = GovernorTimeoutError("no slot within 1s", wait=2.5, deadline=1.0)
    assert (err.wait, err.deadline) == (2.5, 1.0)
    assert str(err) == "no slot within 1s"
    assert isinstance(err, TightknitError)


# -- no answer, or an answer that could not be used -----------------------------------------------


def test_a_connection_error_counts_as_sent_unless_told_otherwise() -> None:
    """A mutation without an idempotency key is only resent when the request certainly never
    left: ``request_sent`` must default to ``True``."""
    dropped = APIConnectionError("connection reset", method="POST", path="/admin/v0/members")
    assert dropped.request_sent is True
    assert (dropped.method, dropped.path) == ("POST", "/admin/v0/members")
    assert str(dropped) == "connection reset"
    refused = APIConnectionError("connection refused", request_sent=False)
    assert refused.request_sent is False
    assert (refused.method, refused.path) == ("", "")
    timeout = APITimeoutError("read timeout", method="GET", path="/x")
    assert isinstance(timeout, APIConnectionError)
    assert (timeout.request_sent, timeout.method, timeout.path) == (True, "GET", "/x")


def test_a_response_too_large_keeps_the_method_and_path() -> None:
    err = ResponseTooLargeError("body over 10 MiB", method="GET", path="/admin/v0/feeds")
    assert (err.method, err.path, str(err)) == ("GET", "/admin/v0/feeds", "body over 10 MiB")
    bare = ResponseTooLargeError("body over 10 MiB")
    assert (bare.method, bare.path) == ("", "")


def test_a_response_validation_error_says_where_the_reply_did_not_fit() -> None:
    err = ResponseValidationError(
        "reply did not fit",
        model="CalendarEvent",
        json_path="$.data.records[3].hosts",
        reason="expected array, got str",
        status_code=200,
        request_id="req_9",
        method="GET",
        path="/admin/v0/calendar_events",
    )
    assert (err.model, err.json_path, err.reason) == (
        "CalendarEvent",
        "$.data.records[3].hosts",
        "expected array, got str",
    )
    assert (err.status_code, err.request_id) == (200, "req_9")
    assert (err.method, err.path) == ("GET", "/admin/v0/calendar_events")
    assert str(err) == "reply did not fit"
    bare = ResponseValidationError(
        "reply did not fit", model="M", json_path="$", reason="r", status_code=200, request_id=None
    )
    assert (bare.method, bare.path, bare.request_id) == ("", "", None)


# -- status errors -------------------------------------------------------------------------------


def test_a_status_error_keeps_what_the_server_answered() -> None:
    headers = {"x-request-id": "req_1", "retry-after": "3", "x-idempotent-replayed": "true"}
    body = {"success": False, "error": "Member not found", "code": "MEMBER_NOT_FOUND"}
    err = NotFoundError(
        "GET /admin/v0/members/m_1: 404 Member not found",
        status_code=404,
        body=body,
        headers=headers,
        request_id="req_1",
        replayed=True,
        method="GET",
        path="/admin/v0/members/m_1",
        retry_after=3.0,
    )
    assert err.status_code == 404
    assert err.body == body
    assert err.headers == headers
    assert err.request_id == "req_1"
    assert err.replayed is True
    assert err.retry_after == 3.0
    assert (err.method, err.path) == ("GET", "/admin/v0/members/m_1")
    assert err.code == "MEMBER_NOT_FOUND"
    assert str(err) == "GET /admin/v0/members/m_1: 404 Member not found"
    headers["x-request-id"] = "changed"  # the error holds its own copy
    assert err.headers["x-request-id"] == "req_1"


def test_a_status_error_has_empty_defaults() -> None:
    err = APIStatusError("418", status_code=418)
    assert err.body is None
    assert err.headers == {}
    assert err.request_id is None
    assert err.replayed is False
    assert err.retry_after is None
    assert (err.method, err.path) == ("", "")
    assert err.code is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (422, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (429, RateLimitError),
        (500, InternalServerError),
        (501, InternalServerError),
        (503, InternalServerError),
        (524, InternalServerError),
        (599, InternalServerError),
        (402, APIStatusError),
        (405, APIStatusError),
        (410, APIStatusError),
        (418, APIStatusError),
        (499, APIStatusError),
    ],
)
def test_each_status_has_its_class(status: int, cls: type[APIStatusError]) -> None:
    assert status_error_class(status, None) is cls
    assert status_error_class(status, {"success": False, "error": "Something"}) is cls


@pytest.mark.parametrize("code", ["PLAN_REQUIRED", "PLAN_RESTRICTED", "UPGRADE_REQUIRED"])
@pytest.mark.parametrize("spell", [str.upper, str.lower])
@pytest.mark.parametrize("nested", [False, True], ids=["top-level", "nested"])
def test_a_403_with_a_plan_code_is_a_plan_restriction(
    code: str, spell: Callable[[str], str], nested: bool
) -> None:
    fields = {"code": spell(code), "message": "Forbidden"}
    body = {"success": False, "error": fields} if nested else {"success": False, **fields}
    assert status_error_class(403, body) is PlanRequiredError


@pytest.mark.parametrize(
    "body",
    [
        {"success": False, "code": "FORBIDDEN", "error": "Forbidden"},
        {"success": False, "code": "PLAN", "error": "Forbidden"},
        {"success": False, "code": "REQUIRED", "error": "Forbidden"},
        {"success": False, "error": "Forbidden"},
        None,
    ],
)
def test_a_403_without_a_plan_code_or_plan_words_is_a_plain_permission_error(
    body: object,
) -> None:
    assert status_error_class(403, body) is PermissionDeniedError


@pytest.mark.parametrize(
    "text",
    [
        "This endpoint requires the Enterprise plan",
        "Plans: Growth and above",
        "Please upgrade to use webhooks",
        "Upgrade required",
    ],
)
def test_a_403_message_about_a_plan_or_an_upgrade_is_a_plan_restriction(text: str) -> None:
    assert status_error_class(403, {"success": False, "error": text}) is PlanRequiredError
    assert status_error_class(403, {"success": False, "message": text}) is PlanRequiredError


@pytest.mark.parametrize(
    "body",
    [
        {"success": False, "error": "Not available on your plan", "hint": "See the pricing page"},
        {"success": False, "error": "Forbidden", "hint": "Upgrade at tightknit.ai/pricing"},
        {"success": False, "error": "Webhooks need a higher plan", "message": "Forbidden"},
        {"success": False, "error": {"message": "Not on your plan", "hint": "Ask an admin"}},
    ],
)
def test_plan_words_count_in_any_of_the_error_message_and_hint(body: object) -> None:
    assert status_error_class(403, body) is PlanRequiredError


@pytest.mark.parametrize("code", ["INSUFFICIENT_SCOPE", "insufficient_scope"])
def test_insufficient_scope_wins_over_plan_words(code: str) -> None:
    body = {"success": False, "code": code, "error": "Upgrade your plan or add the permission"}
    assert status_error_class(403, body) is InsufficientScopeError
    assert status_error_class(401, body) is AuthenticationError  # only a 403 splits


@pytest.mark.parametrize(
    "key", ["required_permissions", "required_permission", "required_scopes", "required"]
)
def test_the_missing_permissions_are_read_under_each_name_the_api_uses(key: str) -> None:
    err = InsufficientScopeError(
        "x", status_code=403, body={"code": "INSUFFICIENT_SCOPE", key: ["members:write"]}
    )
    assert err.required_permissions == ("members:write",)
    assert err.granted_permissions is None


@pytest.mark.parametrize(
    "key",
    ["current_permissions", "granted_permissions", "permissions", "current_scopes", "granted"],
)
def test_the_granted_permissions_are_read_under_each_name_the_api_uses(key: str) -> None:
    err = InsufficientScopeError(
        "x", status_code=403, body={"code": "INSUFFICIENT_SCOPE", key: ["feeds:read"]}
    )
    assert err.granted_permissions == ("feeds:read",)
    assert err.required_permissions is None


def test_permission_lists_may_come_as_comma_separated_text_or_any_sequence() -> None:
    err = InsufficientScopeError(
        "x",
        status_code=403,
        body={
            "code": "INSUFFICIENT_SCOPE",
            "required_scopes": " members:write, feeds:read ,, ",
            "permissions": ("posts:read", 7),
        },
    )
    assert err.required_permissions == ("members:write", "feeds:read")
    assert err.granted_permissions == ("posts:read", "7")


def test_the_first_permission_key_in_the_documented_order_wins() -> None:
    err = InsufficientScopeError(
        "x",
        status_code=403,
        body={
            "code": "INSUFFICIENT_SCOPE",
            "required": ["last"],
            "required_scopes": 5,  # not a list: skipped
            "required_permissions": ["first"],
            "granted": ["last"],
            "current_permissions": ["first"],
        },
    )
    assert err.required_permissions == ("first",)
    assert err.granted_permissions == ("first",)


def test_the_scope_hint_is_the_servers_text() -> None:
    err = InsufficientScopeError(
        "x",
        status_code=403,
        body={"code": "INSUFFICIENT_SCOPE", "hint": "Required permission: members:write"},
    )
    assert err.hint == "Required permission: members:write"
    assert InsufficientScopeError("x", status_code=403, body=None).hint is None


def test_a_plan_error_reports_the_required_and_current_plans() -> None:
    err = PlanRequiredError(
        "x",
        status_code=403,
        body={"code": "PLAN_REQUIRED", "required_plan": "momentum", "current_plan": "growth"},
    )
    assert (err.required_plan, err.current_plan) == ("momentum", "growth")
    bare = PlanRequiredError("x", status_code=403, body={"code": "PLAN_REQUIRED"})
    assert (bare.required_plan, bare.current_plan) == (None, None)


@pytest.mark.parametrize(
    ("text", "plan"),
    [
        ("Requires the Growth plan", "growth"),
        ("Requires the Momentum plan", "momentum"),
        ("Requires the Enterprise plan", "enterprise"),
        ("Your Growth plan does not include this: upgrade to Enterprise", "enterprise"),
        ("Upgrade required", None),
    ],
)
def test_the_required_plan_is_the_highest_plan_the_message_names(
    text: str, plan: str | None
) -> None:
    err = PlanRequiredError("x", status_code=403, body={"success": False, "error": text})
    assert err.required_plan == plan
    assert err.current_plan is None
