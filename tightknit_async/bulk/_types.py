"""The values of a bulk job: the item ``fn`` receives, each item's outcome, a run's summary.

Also the two errors an item fails with without being sent (:class:`DuplicateItemError`,
:class:`UncertainItemError`), :data:`Stopped` (how a run ended), and :func:`reply_facts`: what
an item's outcome says of its HTTP reply, read from an :class:`~tightknit_async.APIResponse` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeAlias, TypeVar

from .._exceptions import APIStatusError, ResponseValidationError, TightknitError
from .._response import APIResponse

if TYPE_CHECKING:
    from ..resources._base import RequestOptions

__all__ = [
    "BulkItem",
    "BulkSummary",
    "DuplicateItemError",
    "ItemResult",
    "Stopped",
    "UncertainItemError",
    "reply_facts",
]

T = TypeVar("T")
R = TypeVar("R")

Stopped: TypeAlias = Literal["completed", "error_budget", "stopped", "cancelled", "error"]
"""How a run ended: every item taken; the error budget ran out; :meth:`BulkJob.stop` (or the
consumer of :meth:`BulkJob.results` left early); cancelled; an error of the input, a hook or
the journal."""


class DuplicateItemError(TightknitError):
    """The same item id came up twice in one run (detected with a journal); the later one is
    not sent: with the same idempotency key it could only replay the first or be refused."""


class UncertainItemError(TightknitError):
    """Held, not sent (``uncertain="skip"``): an earlier run sent this item more than the replay
    window ago and never learned the outcome, so sending it again might apply it twice."""


class BulkItem(Generic[T]):
    """One item as ``fn`` receives it.

    Attributes:
        value: the item from the input.
        id: its id (``key(value)``, else its position in the input), as a str.
        index: its position in the input (0-based).
        idempotency_key: ``idempotency_key_for(job, id)``: the same in every run of the job
            (with a content hash: derived from the hash too, see
            :func:`~tightknit_async.bulk.item_idempotency_key`).
        content_hash: the item's content hash, when the job computes them (sync).
        resumed: an earlier run of the job (per the journal) left it unfinished.
        uncertain: ... and sent it longer ago than the server's replay window.
        changed: an earlier run did it with other content (another hash): sent again.
    """

    __slots__ = (
        "_attempts",
        "_replayed",
        "_status",
        "changed",
        "content_hash",
        "id",
        "idempotency_key",
        "index",
        "resumed",
        "uncertain",
        "value",
    )

    def __init__(
        self,
        value: T,
        *,
        id: str,
        index: int,
        idempotency_key: str,
        content_hash: str | None = None,
    ) -> None:
        self.value = value
        self.id = id
        self.index = index
        self.idempotency_key = idempotency_key
        self.content_hash = content_hash
        self.resumed = False
        self.uncertain = False
        self.changed = False
        self._attempts: int | None = None
        self._replayed: bool | None = None
        self._status: int | None = None

    @property
    def options(self) -> RequestOptions:
        """``{"idempotency_key": ..., "priority": "bulk"}``: pass as ``**item.options``."""
        return {"idempotency_key": self.idempotency_key, "priority": "bulk"}

    def observe(self, response: APIResponse) -> None:
        """Record a reply for this item's :class:`ItemResult` and journal row: its HTTP attempts
        (added up when ``fn`` makes several calls), whether it was a replay, its status.

        For an ``fn`` that returns a model rather than the reply: take the reply through
        ``with_raw_response``, observe it, and return what it parses to. An ``fn`` that returns
        the :class:`~tightknit_async.APIResponse` itself (from ``request()``) need not.
        """
        self._attempts = (self._attempts or 0) + response.attempts
        self._replayed = bool(self._replayed) or response.replayed
        self._status = response.status_code

    def __repr__(self) -> str:
        return f"<BulkItem #{self.index} id={self.id!r}>"


@dataclass(frozen=True, slots=True)
class ItemResult(Generic[T, R]):
    """The outcome of one item.

    ``result`` is what ``fn`` returned, ``error`` what it raised (one of the two, unless the
    item was ``skipped``: done in an earlier run, not sent). ``attempts``: HTTP attempts when
    known (1 otherwise; 0 when skipped); ``replayed``: the answer was a replay.
    """

    index: int
    item_id: str
    item: T
    result: R | None = None
    error: Exception | None = None
    attempts: int = 1
    replayed: bool = False
    skipped: bool = False
    resumed: bool = False
    uncertain: bool = False
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """Succeeded now, or done in an earlier run."""
        return self.error is None

    @property
    def status(self) -> Literal["succeeded", "failed", "skipped"]:
        if self.skipped:
            return "skipped"
        return "succeeded" if self.error is None else "failed"


@dataclass(frozen=True, slots=True)
class BulkSummary(Generic[T, R]):
    """What a run did.

    Attributes:
        job: the job's name.
        stopped: ``completed``, ``error_budget``, ``stopped``, ``cancelled`` or ``error``.
        seen: items taken from the input.
        succeeded, failed, skipped, replayed, created, updated: item counts (see
            :class:`~tightknit_async.bulk.Progress`).
        resumed: items an earlier run left unfinished, sent again with the same key.
        uncertain: of those, items of unknown outcome older than the replay window.
        attempts: HTTP attempts reported by results.
        elapsed: seconds the run took; ``rate``: items sent per second (skips excluded).
        not_started: items taken from the input but never sent (the run stopped first).
        abandoned: ids of items still in flight when the cancel grace ran out (their outcome
            is unknown; the journal keeps them ``in_flight``, and a re-run resends them).
        resume_index: the input position from which some item did not finish: every item
            before it is done (what to skip when restarting without a journal).
        replay_window_expired: the journal found items of unknown outcome from a run older
            than the server's replay window (logged as a WARNING).
        failures: the first ``max_failure_samples`` failed items.
        results: every outcome, in finishing order, when the job kept them.
        changed: items an earlier run had done with other content (sync), sent again.
        total: the number of items of the input, when known (a sized input or ``total=``).

    ``seen - not_started - len(abandoned)`` items finished (succeeded, failed or skipped); with
    a known ``total``, :attr:`not_sent` more were never taken from the input.
    """

    job: str
    stopped: Stopped
    seen: int
    succeeded: int
    failed: int
    skipped: int
    replayed: int
    created: int
    updated: int
    resumed: int
    uncertain: int
    attempts: int
    elapsed: float
    rate: float
    not_started: int
    abandoned: tuple[str, ...]
    resume_index: int
    replay_window_expired: bool
    failures: tuple[ItemResult[T, R], ...] = ()
    results: tuple[ItemResult[T, R], ...] | None = None
    changed: int = 0
    total: int | None = None

    @property
    def ok(self) -> bool:
        """Every item taken succeeded (or was done before) and the input was exhausted."""
        return self.stopped == "completed" and self.failed == 0

    @property
    def finished(self) -> int:
        """Items that reached an outcome: ``succeeded + failed + skipped``."""
        return self.succeeded + self.failed + self.skipped

    @property
    def not_sent(self) -> int | None:
        """Items of a known ``total`` with no outcome: never taken from the input, or taken and
        not started (``None`` when the total is unknown). Abandoned items are not counted."""
        if self.total is None:
            return None
        return max(self.total - self.finished - len(self.abandoned), 0)

    def describe(self) -> str:
        """One line: how the run ended and what every item became, the counts adding up."""
        parts = [f"{self.succeeded:,} succeeded", f"{self.failed:,} failed"]
        parts.append(f"{self.skipped:,} skipped (done before)")
        if self.abandoned:
            parts.append(f"{len(self.abandoned):,} abandoned in flight (outcome unknown)")
        not_sent = self.not_sent
        if not_sent is None:
            not_sent = self.not_started
        if not_sent or self.total is not None:
            parts.append(f"{not_sent:,} not sent")
        of = f" of {self.total:,}" if self.total is not None else ""
        text = f"bulk job {self.job!r} {self.stopped}{of}: " + ", ".join(parts)
        if self.stopped in ("cancelled", "stopped", "error", "error_budget"):
            text += (
                f"; every item before input position {self.resume_index:,} is done; run the "
                "same job again (with its journal) to resume"
            )
        return text


def reply_facts(
    item: BulkItem[Any], result: object, error: Exception | None
) -> tuple[int, bool, int | None]:
    """HTTP attempts (1 when unknown), replay and status of an item's outcome.

    Read from the replies ``fn`` handed to :meth:`BulkItem.observe`, else from the
    :class:`~tightknit_async.APIResponse` it returned; a failure's status and replay from its
    error when the server answered (:class:`~tightknit_async.APIStatusError`, or a reply that did
    not fit its model). Nothing else is read: a result is not a reply because it looks like one.
    """
    reply = result if isinstance(result, APIResponse) else None
    attempts = item._attempts or (reply.attempts if reply is not None else 1)
    replayed = (
        bool(item._replayed)
        or (reply is not None and reply.replayed)
        or (isinstance(error, APIStatusError) and error.replayed)
    )
    status: int | None = None
    if error is not None:
        if isinstance(error, APIStatusError | ResponseValidationError):
            status = error.status_code
    elif item._status is not None:
        status = item._status
    elif reply is not None:
        status = reply.status_code
    return attempts, replayed, status
