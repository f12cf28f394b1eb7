import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tightknit_async.retry import (
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
