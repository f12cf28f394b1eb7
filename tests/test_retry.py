import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tightknit_async.retry import (
    SAFE_METHODS,
    RetryPolicy,
    backoff_delay,
    is_retryable_status,
    parse_retry_after,
    retry_delay,
    should_retry,
)

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("method", "status", "keyed", "sent", "expected"),
    [
        # connection errors / timeouts
        ("GET", None, False, True, True),
        ("POST", None, False, True, False),  # may have been applied: never resend unkeyed
        ("POST", None, True, True, True),
        ("POST", None, False, False, True),  # connection never opened: nothing was sent
        ("DELETE", None, False, True, False),
        # 429: refused before running, always safe
        ("GET", 429, False, True, True),
        ("POST", 429, False, True, True),
        # 409: only meaningful with a key in flight
        ("POST", 409, True, True, True),
        ("POST", 409, False, True, False),
        ("GET", 409, False, True, False),
        # 408 / 5xx
        ("GET", 500, False, True, True),
        ("GET", 502, False, True, True),
        ("GET", 503, False, True, True),
        ("GET", 504, False, True, True),
        ("GET", 408, False, True, True),
        ("HEAD", 522, False, True, True),
        ("POST", 503, False, True, False),
        ("POST", 503, True, True, True),
        ("PUT", 500, True, True, True),
        # final answers
        ("GET", 501, False, True, False),
        ("GET", 400, False, True, False),
        ("GET", 401, False, True, False),
        ("GET", 403, False, True, False),
        ("GET", 404, False, True, False),
        ("POST", 400, True, True, False),
    ],
)
def test_should_retry_table(
    method: str, status: int | None, keyed: bool, sent: bool, expected: bool
) -> None:
    assert (
        should_retry(
            method=method, status_code=status, has_idempotency_key=keyed, request_sent=sent
        )
        is expected
    )


def test_retryable_statuses() -> None:
    assert all(is_retryable_status(s) for s in (408, 409, 429, 500, 502, 503, 504))
    assert not any(is_retryable_status(s) for s in (200, 400, 401, 403, 404, 422, 501))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("3", 3.0),
        (" 7 ", 7.0),
        ("0.5", 0.5),
        ("0", 0.0),
        ("-4", 0.0),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
        ("Sat, 28 Nov 2026 12:00:05 GMT", 5.0),
        ("Sat, 28 Nov 2026 12:00:05", 5.0),  # no zone: taken as UTC
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_backoff_is_full_jitter_within_the_exponential_ceiling() -> None:
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=8.0)
    rng = random.Random(7)
    for n, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (500, 8.0)]:
        samples = [backoff_delay(policy, n, rng) for _ in range(300)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.9  # full jitter reaches the ceiling
        assert min(samples) < ceiling * 0.1  # ... and the floor
    with pytest.raises(ValueError, match="retry_number"):
        backoff_delay(policy, 0)


def test_retry_delay_prefers_retry_after_and_caps_it() -> None:
    policy = RetryPolicy(max_retry_after=60.0)
    assert retry_delay(policy, 1, 12.0) == 12.0
    assert retry_delay(policy, 1, 60.0) == 60.0
    assert retry_delay(policy, 1, 61.0) is None
    assert 0.0 <= (retry_delay(policy, 1, None) or 0.0) <= 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"deadline": -1.0}, "deadline"),
        ({"initial_backoff": -0.1}, "initial_backoff"),
    ],
)
def test_policy_rejects_bad_values(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# -- what callers rely on ------------------------------------------------------------------------


def test_a_connection_error_counts_as_sent_unless_told_otherwise() -> None:
    """The default is the safe one: an unkeyed POST whose connection dropped may already have been
    applied, so it is not sent again unless the caller says the request never left."""
    assert should_retry(method="POST", status_code=None, has_idempotency_key=False) is False
    assert should_retry(method="PATCH", status_code=None, has_idempotency_key=False) is False
    assert should_retry(method="GET", status_code=None, has_idempotency_key=False) is True


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "get", "options"])
def test_safe_methods_are_retried_after_a_dropped_connection_and_5xx(method: str) -> None:
    for status in (None, 500, 503):
        assert should_retry(method=method, status_code=status, has_idempotency_key=False)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_unkeyed_mutations_are_not_retried_after_a_5xx(method: str) -> None:
    assert not should_retry(method=method, status_code=502, has_idempotency_key=False)
    assert should_retry(method=method, status_code=502, has_idempotency_key=True)


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504, 520, 521, 522, 523, 524])
def test_transient_statuses_including_the_proxy_52x_family_are_retried(status: int) -> None:
    assert is_retryable_status(status)
    assert should_retry(method="GET", status_code=status, has_idempotency_key=False)
    assert should_retry(method="POST", status_code=status, has_idempotency_key=True)
    assert not should_retry(method="POST", status_code=status, has_idempotency_key=False)


@pytest.mark.parametrize("status", [501, 505, 511, 519, 525, 526, 599])
def test_other_5xx_statuses_are_final(status: int) -> None:
    assert not is_retryable_status(status)
    assert not should_retry(method="GET", status_code=status, has_idempotency_key=True)


def test_safe_methods_are_get_head_and_options() -> None:
    assert frozenset({"GET", "HEAD", "OPTIONS"}) == SAFE_METHODS


def test_no_retries_is_a_valid_policy() -> None:
    assert RetryPolicy(max_retries=0).max_retries == 0
    policy = RetryPolicy(
        max_retries=0, deadline=0.0, initial_backoff=0.0, max_backoff=0.0, max_retry_after=0.0
    )
    assert (policy.deadline, policy.initial_backoff, policy.max_backoff) == (0.0, 0.0, 0.0)
    assert policy.max_retry_after == 0.0
    assert RetryPolicy(deadline=None).deadline is None


@pytest.mark.parametrize("field", ["deadline", "initial_backoff", "max_backoff", "max_retry_after"])
def test_a_negative_duration_is_rejected_naming_its_field(field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field} must be >= 0") as info:
        RetryPolicy(**{field: -1.0})  # type: ignore[arg-type]
    assert "-1.0" in str(info.value)


@pytest.mark.parametrize("field", ["max_backoff", "max_retry_after"])
def test_a_duration_that_is_not_a_number_is_rejected_naming_its_field(field: str) -> None:
    with pytest.raises(TypeError, match=rf"^{field} must be a number"):
        RetryPolicy(**{field: "5"})  # type: ignore[arg-type]


def test_max_retries_message_shows_the_bad_value() -> None:
    with pytest.raises(ValueError, match=r"max_retries must be an int >= 0, got -2"):
        RetryPolicy(max_retries=-2)


class _TopOfRange(random.Random):
    """Draws the upper end of every range: shows the backoff ceiling itself."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_without_a_ceiling_stops_doubling_at_2_to_the_62_and_never_overflows() -> None:
    policy = RetryPolicy(initial_backoff=1.0, max_backoff=float("inf"))
    top = _TopOfRange()
    assert backoff_delay(policy, 1, top) == 1.0
    assert backoff_delay(policy, 11, top) == 1024.0
    assert backoff_delay(policy, 63, top) == 2.0**62
    assert backoff_delay(policy, 64, top) == 2.0**62
    assert backoff_delay(policy, 10**6, top) == 2.0**62


def test_retry_delay_draws_the_backoff_from_the_given_rng() -> None:
    policy = RetryPolicy(initial_backoff=4.0, max_backoff=64.0)
    for retry_number in (1, 3, 5):
        expected = backoff_delay(policy, retry_number, random.Random(retry_number))
        assert retry_delay(policy, retry_number, None, random.Random(retry_number)) == expected
    assert retry_delay(policy, 5, None, _TopOfRange()) == 64.0


def test_an_http_date_retry_after_is_measured_from_the_real_clock_by_default() -> None:
    ahead = datetime.now(UTC) + timedelta(hours=1)
    seconds = parse_retry_after(format_datetime(ahead, usegmt=True))
    assert seconds is not None
    assert 3590.0 < seconds <= 3600.0
    assert parse_retry_after("Sat, 01 Jan 2000 00:00:00 GMT") == 0.0
