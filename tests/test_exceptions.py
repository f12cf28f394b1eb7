import ast
import builtins
import importlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import tightknit_async
from tightknit_async import (
    AlreadyUsedError,
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
    WrongEventLoopError,
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


def test_the_single_use_errors_are_tightknit_and_runtime_errors() -> None:
    from tightknit_async.resources.files import _once

    async def chunks() -> AsyncIterator[bytes]:
        yield b"x"

    factory = _once(chunks())
    factory()
    with pytest.raises(AlreadyUsedError, match="only once") as caught:
        factory()
    assert isinstance(caught.value, TightknitError)
    assert isinstance(caught.value, RuntimeError)


def test_governor_for_outside_a_loop_raises_a_tightknit_error() -> None:
    from tightknit_async.governor import governor_for

    with pytest.raises(WrongEventLoopError, match="needs a running event loop") as caught:
        governor_for("sk_test_no_loop", 50)
    assert isinstance(caught.value, TightknitError)
    assert isinstance(caught.value, RuntimeError)


def test_the_journal_and_import_errors_are_tightknit_errors() -> None:
    from tightknit_async.bulk._import import InputError
    from tightknit_async.journal import JournalError

    assert issubclass(JournalError, TightknitError)
    assert issubclass(InputError, TightknitError)


# Raised on purpose and allowed outside the hierarchy: argument misuse; Python's protocols
# (attribute and key look-ups, an abstract method, the CLI's exit status); a missing optional
# dependency; an invariant of the package itself broken (a bug, not a condition to handle).
ALLOWED_OUTSIDE = (
    ValueError,
    TypeError,
    AttributeError,
    KeyError,
    NotImplementedError,
    SystemExit,
    ImportError,
    AssertionError,
)


def _raised_classes() -> Iterator[tuple[str, int, str, object]]:
    """(module, line, name, object) for every ``raise Name(...)`` / ``raise Name`` of the package,
    the test helpers under ``testing/`` aside."""
    package = Path(tightknit_async.__file__).parent
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package.parent).with_suffix("")
        if relative.parts[1] in ("testing", "__main__"):  # __main__ runs the CLI when imported
            continue
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts.pop()
        module = importlib.import_module(".".join(parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name):
                found = vars(module).get(target.id, vars(builtins).get(target.id))
                yield module.__name__, node.lineno, target.id, found


def test_every_error_raised_on_purpose_is_a_tightknit_error() -> None:
    outside = [
        f"{module}:{line}: {name}"
        for module, line, name, found in _raised_classes()
        if isinstance(found, type)
        and issubclass(found, BaseException)
        and not issubclass(found, (TightknitError, *ALLOWED_OUTSIDE))
        and not name.startswith("_")  # private control flow, caught inside the package
    ]
    assert not outside, outside
