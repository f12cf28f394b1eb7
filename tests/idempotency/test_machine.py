"""The call state machine, as tables of transitions."""

from __future__ import annotations

import random

import pytest

from tightknit_async.idempotency._machine import (
    Answer,
    CallSpec,
    Completed,
    Failed,
    Fresh,
    NoAnswer,
    Outcome,
    Replayed,
    Sending,
    Waiting,
)
from tightknit_async.retry import RetryPolicy, retry_delay

POLICY = RetryPolicy(max_retries=3, deadline=60.0, initial_backoff=0.5, max_backoff=8.0)


def spec(method: str = "POST", *, keyed: bool = True, paced: bool = False) -> CallSpec:
    return CallSpec(method=method, keyed=keyed, policy=POLICY, started=0.0, paced=paced)


def test_fresh_replays_only_a_keyed_cached_call() -> None:
    assert Fresh(spec()).next(cached=True) == Replayed(spec())
    assert Fresh(spec()).next(cached=False) == Sending(spec(), 1)
    assert Fresh(spec(keyed=False)).next(cached=True) == Sending(spec(keyed=False), 1)


@pytest.mark.parametrize(
    ("method", "keyed", "outcome", "expected"),
    [
        ("POST", True, Answer(201), Completed),
        ("POST", False, Answer(200), Completed),
        ("GET", False, Answer(204), Completed),
        ("GET", False, Answer(302), Failed),
        ("POST", True, Answer(400), Failed),
        ("POST", True, Answer(401), Failed),
        ("POST", True, Answer(403), Failed),
        ("POST", True, Answer(404), Failed),
        ("POST", True, Answer(409, 1.0), Waiting),
        ("POST", False, Answer(409, 1.0), Failed),
        ("POST", False, Answer(429, 1.0), Waiting),
        ("POST", True, Answer(500), Waiting),
        ("POST", False, Answer(500), Failed),
        ("GET", False, Answer(503), Waiting),
        ("GET", False, Answer(501), Failed),
        ("POST", True, NoAnswer(request_sent=True), Waiting),
        ("POST", False, NoAnswer(request_sent=True), Failed),
        ("POST", False, NoAnswer(request_sent=False), Waiting),
        ("GET", False, NoAnswer(), Waiting),
    ],
)
def test_sending_transitions(method: str, keyed: bool, outcome: Outcome, expected: type) -> None:
    state = Sending(spec(method, keyed=keyed), 1).next(outcome, now=0.0, rng=random.Random(1))
    assert type(state) is expected
    assert state.attempt == 1
    if isinstance(state, Waiting):
        assert state.next() == Sending(state.spec, 2)


@pytest.mark.parametrize(
    ("keyed", "status", "cacheable"),
    [
        (True, 200, True),
        (True, 201, True),
        (False, 200, False),
        (True, 400, True),
        (True, 404, True),
        (True, 410, True),
        (True, 422, True),
        (False, 400, False),
        (True, 401, False),
        (True, 403, False),
        (True, 418, False),
    ],
)
def test_what_may_be_cached(keyed: bool, status: int, cacheable: bool) -> None:
    state = Sending(spec(keyed=keyed), 1).next(Answer(status), now=0.0)
    assert isinstance(state, Completed | Failed)
    assert state.cacheable is cacheable


def test_server_errors_and_connection_failures_are_never_cached() -> None:
    final = Sending(spec(), 4).next(Answer(503), now=0.0)  # attempts exhausted
    assert isinstance(final, Failed)
    assert final.cacheable is False
    dropped = Sending(spec(), 4).next(NoAnswer(), now=0.0)
    assert isinstance(dropped, Failed)
    assert dropped.cacheable is False


def test_attempt_budget() -> None:
    s = spec()
    assert isinstance(Sending(s, 3).next(Answer(503), now=0.0), Waiting)
    final = Sending(s, 4).next(Answer(503), now=0.0)
    assert isinstance(final, Failed)
    assert final.note == "gave up after 4 attempts"


def test_deadline_stops_a_wait_that_would_end_past_it() -> None:
    s = spec()
    assert isinstance(Sending(s, 1).next(Answer(503, 10.0), now=49.0), Waiting)
    late = Sending(s, 1).next(Answer(503, 10.0), now=50.0)
    assert isinstance(late, Failed)
    assert late.note is not None
    assert "60s deadline" in late.note
    assert late.out_of_time is True
    assert Sending(s, 1).next(Answer(400), now=50.0) == Failed(s, 1, cacheable=True)


def test_retry_after_beyond_the_cap_fails_with_a_note() -> None:
    state = Sending(spec(), 1).next(Answer(503, 3600.0), now=0.0)
    assert isinstance(state, Failed)
    assert state.note is not None
    assert "Retry-After 3600s" in state.note


def test_409_waits_retry_after_with_up_to_20_percent_jitter() -> None:
    rng = random.Random(3)
    delays = []
    for _ in range(200):
        state = Sending(spec(), 1).next(Answer(409, 2.0), now=0.0, rng=rng)
        assert isinstance(state, Waiting)
        assert state.reason == "in-flight"
        delays.append(state.delay)
    assert min(delays) >= 2.0
    assert max(delays) <= 2.4
    assert max(delays) - min(delays) > 0.2


def test_429_waits_nothing_when_a_governor_paces_the_key() -> None:
    paced = Sending(spec(paced=True), 1).next(Answer(429, 5.0), now=0.0)
    assert isinstance(paced, Waiting)
    assert (paced.delay, paced.reason) == (0.0, "rate-limited")
    unpaced = Sending(spec(paced=False), 1).next(Answer(429, 5.0), now=0.0)
    assert isinstance(unpaced, Waiting)
    assert unpaced.delay == 5.0


def test_backoff_without_retry_after() -> None:
    state = Sending(spec("GET", keyed=False), 2).next(Answer(503), now=0.0, rng=random.Random(0))
    assert isinstance(state, Waiting)
    assert state.reason == "backoff"
    assert 0.0 <= state.delay <= 1.0


# -- what callers rely on ------------------------------------------------------------------------


def test_an_unkeyed_post_whose_connection_dropped_is_never_sent_twice() -> None:
    """``NoAnswer()`` means the request may have reached the server: an unkeyed mutation then
    fails rather than risk being applied twice. Only a connection that never opened is resent."""
    s = spec("POST", keyed=False)
    assert Sending(s, 1).next(NoAnswer(), now=0.0) == Failed(s, 1)
    assert isinstance(Sending(s, 1).next(NoAnswer(request_sent=False), now=0.0), Waiting)


@pytest.mark.parametrize("status", [300, 301, 302, 304, 399])
def test_a_3xx_answer_is_a_failure_not_a_success(status: int) -> None:
    s = spec("GET", keyed=False)
    assert Sending(s, 1).next(Answer(status), now=0.0) == Failed(s, 1)


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_every_2xx_completes_the_call_on_the_attempt_that_got_it(status: int) -> None:
    s = spec()
    assert Sending(s, 2).next(Answer(status), now=0.0) == Completed(s, 2, cacheable=True)
    unkeyed = spec(keyed=False)
    assert Sending(unkeyed, 1).next(Answer(status), now=0.0) == Completed(unkeyed, 1)


def test_a_final_error_on_the_first_attempt_has_no_note() -> None:
    s = spec()
    assert Sending(s, 1).next(Answer(400), now=0.0) == Failed(s, 1, cacheable=True, note=None)
    assert Sending(s, 1).next(Answer(403), now=0.0) == Failed(s, 1, note=None)


def test_a_final_error_after_retries_says_how_many_attempts_were_made() -> None:
    s = spec()
    assert Sending(s, 2).next(Answer(404), now=0.0) == Failed(
        s, 2, cacheable=True, note="gave up after 2 attempts"
    )
    assert Sending(s, 3).next(Answer(401), now=0.0) == Failed(s, 3, note="gave up after 3 attempts")


def test_running_out_of_attempts_fails_with_the_spec_attempt_and_note() -> None:
    s = spec("GET", keyed=False)
    assert Sending(s, 4).next(NoAnswer(), now=0.0) == Failed(s, 4, note="gave up after 4 attempts")


def test_a_retry_after_answer_waits_exactly_that_long_for_reason_retry_after() -> None:
    s = spec()
    assert Sending(s, 1).next(Answer(503, 7.5), now=0.0) == Waiting(
        s, 1, delay=7.5, reason="retry-after"
    )
    assert Sending(s, 2).next(Answer(502, 0.0), now=0.0) == Waiting(
        s, 2, delay=0.0, reason="retry-after"
    )


def test_without_retry_after_the_wait_is_the_policy_backoff_drawn_from_the_given_rng() -> None:
    s = spec("GET", keyed=False)
    for attempt in (1, 2, 3):
        expected = retry_delay(POLICY, attempt, None, random.Random(attempt))
        assert expected is not None
        state = Sending(s, attempt).next(Answer(503), now=0.0, rng=random.Random(attempt))
        assert state == Waiting(s, attempt, delay=expected, reason="backoff")


def test_an_in_flight_conflict_waits_even_without_an_rng() -> None:
    state = Sending(spec(), 1).next(Answer(409, 1.0), now=0.0)
    assert isinstance(state, Waiting)
    assert state.reason == "in-flight"
    assert 1.0 <= state.delay <= 1.2


def test_an_in_flight_conflict_draws_its_jitter_from_the_given_rng() -> None:
    first = Sending(spec(), 1).next(Answer(409, 1.0), now=0.0, rng=random.Random(5))
    again = Sending(spec(), 1).next(Answer(409, 1.0), now=0.0, rng=random.Random(5))
    assert first == again


def test_a_retry_after_beyond_the_policy_cap_fails_with_the_spec_and_attempt() -> None:
    s = spec()
    state = Sending(s, 2).next(Answer(503, 3600.0), now=0.0)
    assert state == Failed(
        s,
        2,
        note="not retried: Retry-After 3600s exceeds the 60s the retry policy waits",
    )


def test_a_wait_past_the_deadline_fails_with_the_spec_and_attempt() -> None:
    s = spec()
    state = Sending(s, 2).next(Answer(503, 10.0), now=55.0)
    assert state == Failed(
        s,
        2,
        note="gave up after 2 attempts: the call's 60s deadline would pass before the next one",
        out_of_time=True,
    )
