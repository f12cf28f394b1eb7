"""The lane order both governor drivers share (:class:`LaneQueue`), without an event loop.

``interactive`` is served first; ``bulk`` gets one grant in every ``bulk_every`` while both
lanes wait; each lane is FIFO; a waiter can be withdrawn from anywhere; ``ahead(p)`` is exactly
how many pops come before a new ``p`` waiter when nobody else arrives or leaves.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tightknit_async import Priority
from tightknit_async.governor._lanes import LaneQueue

PRIORITIES: tuple[Priority, ...] = ("interactive", "bulk")


def drain(queue: LaneQueue[str, int]) -> list[str]:
    """Pop until empty: the keys in the order served."""
    served: list[str] = []
    while (popped := queue.pop()) is not None:
        served.append(popped[0])
    return served


def filled(bulk_every: int, interactive: int, bulk: int) -> LaneQueue[str, int]:
    """A fresh queue with ``i0..`` interactive and ``b0..`` bulk waiters, each carrying its
    index."""
    queue: LaneQueue[str, int] = LaneQueue(bulk_every)
    for i in range(bulk):
        queue.push("bulk", f"b{i}", i)
    for i in range(interactive):
        queue.push("interactive", f"i{i}", i)
    return queue


def pops_before(queue: LaneQueue[str, int], key: str) -> int:
    """How many waiters are served before ``key``."""
    for count in itertools.count():
        popped = queue.pop()
        assert popped is not None, f"{key} was never served"
        if popped[0] == key:
            return count
    raise AssertionError("unreachable")


# -- order -----------------------------------------------------------------------------------


def test_interactive_is_served_before_bulk_queued_earlier() -> None:
    queue = filled(10, interactive=3, bulk=3)
    assert drain(queue) == ["i0", "i1", "i2", "b0", "b1", "b2"]


@pytest.mark.parametrize("bulk_every", [2, 3, 4, 10])
def test_bulk_gets_one_grant_in_bulk_every_while_both_lanes_wait(bulk_every: int) -> None:
    queue = filled(bulk_every, interactive=40, bulk=40)
    lanes = "".join(key[0] for key in drain(queue))
    # bulk_every - 1 interactive, then one bulk, for as long as interactive waiters remain
    rounds = 40 // (bulk_every - 1)
    head = ("i" * (bulk_every - 1) + "b") * rounds
    assert lanes.startswith(head)
    rest = lanes[len(head) :]
    assert rest == "i" * (40 - rounds * (bulk_every - 1)) + "b" * (40 - rounds)


def test_each_lane_is_fifo_whatever_the_interleaving() -> None:
    queue: LaneQueue[str, int] = LaneQueue(3)
    for n in range(30):
        queue.push("bulk" if n % 3 == 0 else "interactive", f"w{n}", n)
    served = drain(queue)
    bulk = [f"w{n}" for n in range(30) if n % 3 == 0]
    interactive = [f"w{n}" for n in range(30) if n % 3]
    assert [key for key in served if key in bulk] == bulk
    assert [key for key in served if key in interactive] == interactive


def test_pop_returns_the_key_what_it_carries_and_its_lane() -> None:
    queue: LaneQueue[str, int] = LaneQueue(2)
    queue.push("bulk", "b", 7)
    queue.push("interactive", "i", 8)
    assert queue.pop() == ("i", 8, "interactive")
    assert queue.pop() == ("b", 7, "bulk")
    assert queue.pop() is None


def test_the_streak_runs_on_across_new_arrivals() -> None:
    queue = filled(3, interactive=2, bulk=1)
    assert [queue.pop(), queue.pop()] == [("i0", 0, "interactive"), ("i1", 1, "interactive")]
    queue.push("interactive", "late", 9)  # arrives after two interactive grants in a row
    assert drain(queue) == ["b0", "late"]


def test_interactive_grants_while_no_bulk_waits_do_not_count_toward_its_turn() -> None:
    queue = filled(3, interactive=3, bulk=0)
    assert queue.pop() == ("i0", 0, "interactive")  # no bulk waiting: the streak stays 0
    queue.push("bulk", "b0", 0)
    assert drain(queue) == ["i1", "i2", "b0"]


def test_a_bulk_grant_restarts_the_count() -> None:
    queue = filled(2, interactive=4, bulk=2)
    assert drain(queue) == ["i0", "b0", "i1", "b1", "i2", "i3"]


# -- withdrawing -----------------------------------------------------------------------------


def test_withdraw_from_the_middle_of_a_lane() -> None:
    queue = filled(10, interactive=3, bulk=3)
    assert queue.withdraw("interactive", "i1")
    assert queue.withdraw("bulk", "b1")
    assert (len(queue), queue.count("interactive"), queue.count("bulk")) == (4, 2, 2)
    assert list(queue.values("interactive")) == [0, 2]
    assert drain(queue) == ["i0", "i2", "b0", "b2"]


def test_withdraw_of_a_waiter_not_queued_in_that_lane_changes_nothing() -> None:
    queue = filled(10, interactive=1, bulk=1)
    assert not queue.withdraw("bulk", "i0")  # it waits in the other lane
    assert not queue.withdraw("interactive", "nobody")
    assert queue.pop() == ("i0", 0, "interactive")
    assert not queue.withdraw("interactive", "i0")  # already served
    assert drain(queue) == ["b0"]


def test_waiters_that_are_gone_are_dropped_by_pop_without_taking_a_turn() -> None:
    cancelled = {"i1", "b0"}
    queue: LaneQueue[str, int] = LaneQueue(2, gone=cancelled.__contains__)
    for key in ("b0", "b1"):
        queue.push("bulk", key, 0)
    for key in ("i0", "i1", "i2"):
        queue.push("interactive", key, 0)
    assert len(queue) == 5  # counted until dropped
    assert drain(queue) == ["i0", "b1", "i2"]
    assert not queue


# -- ahead -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bulk_every", [2, 3, 10])
@pytest.mark.parametrize("priority", PRIORITIES)
@pytest.mark.parametrize(("interactive", "bulk"), [(0, 0), (5, 0), (0, 5), (7, 3), (3, 12)])
def test_ahead_is_the_number_served_before_a_new_waiter(
    bulk_every: int, priority: Priority, interactive: int, bulk: int
) -> None:
    queue = filled(bulk_every, interactive, bulk)
    queue.pop()  # start mid-streak where there is one
    ahead = queue.ahead(priority)
    queue.push(priority, "new", -1)
    assert pops_before(queue, "new") == ahead


def test_ahead_on_a_fresh_queue_with_both_lanes_waiting() -> None:
    queue = filled(10, interactive=20, bulk=5)
    # interactive: all 20 interactive, and the 2 bulk whose turns come up among them
    assert queue.ahead("interactive") == 22
    # bulk: the 5 bulk, and every interactive one (9 come before each bulk turn, its own too)
    assert queue.ahead("bulk") == 5 + 20


# -- validation, counts ----------------------------------------------------------------------


def test_an_unknown_priority_is_a_value_error() -> None:
    queue: LaneQueue[str, int] = LaneQueue(10)
    message = "priority must be 'interactive' or 'bulk', got 'urgent'"
    with pytest.raises(ValueError, match=message):
        queue.check("urgent")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        queue.push("urgent", "w", 0)  # type: ignore[arg-type]
    assert not queue
    assert queue.check("bulk") == "bulk"


def test_bulk_every_below_two_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="bulk_every must be >= 2"):
        LaneQueue(1)


def test_granted_counts_per_lane() -> None:
    queue: LaneQueue[str, int] = LaneQueue(10)
    queue.count_grant("bulk")
    queue.count_grant("interactive")
    queue.count_grant("interactive")
    assert queue.granted == {"interactive": 2, "bulk": 1}


def test_lengths_and_repr() -> None:
    queue = filled(4, interactive=2, bulk=1)
    assert (len(queue), bool(queue), queue.count("interactive"), queue.count("bulk")) == (
        3,
        True,
        2,
        1,
    )
    assert repr(queue) == "<LaneQueue waiting=2+1 bulk_every=4 streak=0>"


# -- the property ----------------------------------------------------------------------------

Op = tuple[str, int]
"""(``"push"``, lane index), (``"withdraw"``, which queued waiter) or (``"pop"``, unused)."""

ops: st.SearchStrategy[Op] = st.tuples(
    st.sampled_from(["push", "withdraw", "pop"]), st.integers(0, 1_000)
)


@settings(deadline=None, max_examples=300)
@given(
    bulk_every=st.integers(2, 12),
    history=st.lists(ops, max_size=80),
    priority=st.sampled_from(PRIORITIES),
)
def test_ahead_predicts_the_pops_before_a_new_waiter(
    bulk_every: int, history: list[Op], priority: Priority
) -> None:
    queue: LaneQueue[str, int] = LaneQueue(bulk_every)
    queued: dict[str, Priority] = {}
    names = itertools.count()
    for op in history:
        kind, arg = op
        if kind == "push":
            key, lane = f"w{next(names)}", PRIORITIES[arg % 2]
            queue.push(lane, key, 0)
            queued[key] = lane
        elif kind == "withdraw" and queued:
            key = list(queued)[arg % len(queued)]
            assert queue.withdraw(queued.pop(key), key)
        elif kind == "pop":
            popped = queue.pop()
            assert (popped is None) == (not queued)
            if popped is not None:
                assert queued.pop(popped[0]) == popped[2]
    assert len(queue) == len(queued)
    ahead = queue.ahead(priority)
    queue.push(priority, "new", 0)
    assert pops_before(queue, "new") == ahead
