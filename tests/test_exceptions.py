import pytest

from tightknit_async import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InsufficientScopeError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    PlanRequiredError,
    RateLimitError,
    TightknitError,
)
from tightknit_async._exceptions import status_error_class

SCOPE_BODY = {
    "success": False,
    "error": "This API key lacks the permission this endpoint requires",
    "code": "INSUFFICIENT_SCOPE",
    "hint": "Required permission: members:write. Current permissions: feeds:read",
    "required_permissions": ["members:write"],
    "current_permissions": ["feeds:read", "posts:read"],
}
PLAN_BODY = {
    "success": False,
    "error": "This endpoint requires the Enterprise plan",
    "code": "PLAN_REQUIRED",
    "required_plan": "enterprise",
    "current_plan": "growth",
}


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, {"success": False, "error": "email is required"}, BadRequestError),
        (422, None, BadRequestError),
        (401, {"success": False, "error": "Unauthorized"}, AuthenticationError),
        (403, SCOPE_BODY, InsufficientScopeError),
        (403, PLAN_BODY, PlanRequiredError),
        (403, {"success": False, "error": "Upgrade to the Growth plan"}, PlanRequiredError),
        (403, {"success": False, "error": "Forbidden"}, PermissionDeniedError),
        (403, "<html>Forbidden</html>", PermissionDeniedError),
        (403, {"error": "INSUFFICIENT_SCOPE"}, InsufficientScopeError),
        (403, {"success": False, "error": "INSUFFICIENT_SCOPE"}, InsufficientScopeError),
        (403, {"success": False, "error": {"code": "INSUFFICIENT_SCOPE"}}, InsufficientScopeError),
        (403, {"success": False, "error": {"code": "PLAN_REQUIRED"}}, PlanRequiredError),
        (403, {"code": "plan_restricted", "message": "No"}, PlanRequiredError),
        (403, {"success": False, "error": "Planned maintenance"}, PermissionDeniedError),
        (403, ["INSUFFICIENT_SCOPE"], PermissionDeniedError),
        (404, {"success": False, "error": "Calendar event not found"}, NotFoundError),
        (409, None, ConflictError),
        (429, None, RateLimitError),
        (500, None, InternalServerError),
        (502, "<html>bad gateway</html>", InternalServerError),
        (503, None, InternalServerError),
        (418, None, APIStatusError),
    ],
)
def test_status_maps_to_one_class(status: int, body: object, cls: type[APIStatusError]) -> None:
    assert status_error_class(status, body) is cls


def test_insufficient_scope_exposes_permissions() -> None:
    err = InsufficientScopeError("x", status_code=403, body=SCOPE_BODY)
    assert isinstance(err, PermissionDeniedError)
    assert err.code == "INSUFFICIENT_SCOPE"
    assert err.required_permissions == ("members:write",)
    assert err.granted_permissions == ("feeds:read", "posts:read")
    assert err.hint is not None
    assert "members:write" in err.hint


def test_insufficient_scope_without_lists_is_still_usable() -> None:
    err = InsufficientScopeError(
        "x", status_code=403, body={"success": False, "code": "INSUFFICIENT_SCOPE"}
    )
    assert err.required_permissions is None
    assert err.granted_permissions is None


def test_plan_required_exposes_plans() -> None:
    err = PlanRequiredError("x", status_code=403, body=PLAN_BODY)
    assert (err.required_plan, err.current_plan) == ("enterprise", "growth")
    text_only = PlanRequiredError(
        "x", status_code=403, body={"error": "Requires the Momentum plan or higher"}
    )
    assert text_only.required_plan == "momentum"


def test_every_error_is_a_tightknit_error_and_repr_is_short() -> None:
    err = RateLimitError(
        "GET /x: 429", status_code=429, body=None, request_id="req_1", method="GET", path="/x"
    )
    assert isinstance(err, TightknitError)
    assert repr(err) == (
        "RateLimitError(status_code=429, code=None, method='GET', path='/x', request_id='req_1')"
    )
