"""The error budget of a bulk job: when to give up, and the error that says it gave up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._exceptions import TightknitError

if TYPE_CHECKING:
    from ._types import BulkSummary

__all__ = ["ErrorBudget", "ErrorBudgetExceeded"]


@dataclass(frozen=True, slots=True)
class ErrorBudget:
    """When to give up: more than ``max_failures`` failed items, or a failed fraction above
    ``max_ratio`` once at least ``min_items`` items were sent (so one early failure is not 100%).

    ``ErrorBudget.coerce(10)`` is ``ErrorBudget(max_failures=10)``; ``coerce(0.05)`` is
    ``ErrorBudget(max_ratio=0.05)``; ``coerce(0)`` stops at the first failure.
    """

    max_failures: int | None = None
    max_ratio: float | None = None
    min_items: int = 20

    def __post_init__(self) -> None:
        if self.max_failures is not None and (
            isinstance(self.max_failures, bool)
            or not isinstance(self.max_failures, int)
            or self.max_failures < 0
        ):
            raise ValueError(f"max_failures must be an int >= 0, got {self.max_failures!r}")
        if self.max_ratio is not None and not 0 <= self.max_ratio <= 1:
            raise ValueError(f"max_ratio must be between 0 and 1, got {self.max_ratio!r}")
        if isinstance(self.min_items, bool) or self.min_items < 1:
            raise ValueError(f"min_items must be an int >= 1, got {self.min_items!r}")

    @classmethod
    def coerce(cls, value: ErrorBudget | int | float | None) -> ErrorBudget | None:
        """An int is a failure count, a float in [0, 1) a ratio; ``None`` means no budget."""
        if value is None or isinstance(value, ErrorBudget):
            return value
        if isinstance(value, bool):
            raise TypeError("error_budget must be an int, a float, an ErrorBudget or None")
        if isinstance(value, int):
            return cls(max_failures=value)
        if isinstance(value, float) and 0 <= value < 1:
            return cls(max_ratio=value)
        raise ValueError(
            f"error_budget must be an int >= 0 (failures) or a float in [0, 1) (ratio), "
            f"got {value!r}"
        )

    def exceeded(self, failed: int, sent: int) -> bool:
        """Whether ``failed`` failures among ``sent`` items finished is over the budget."""
        if self.max_failures is not None and failed > self.max_failures:
            return True
        return (
            self.max_ratio is not None and sent >= self.min_items and failed > self.max_ratio * sent
        )

    def __str__(self) -> str:
        parts = []
        if self.max_failures is not None:
            parts.append(f"at most {self.max_failures} failures")
        if self.max_ratio is not None:
            parts.append(f"at most {self.max_ratio:.1%} failed after {self.min_items} items")
        return " or ".join(parts) or "unlimited"


class ErrorBudgetExceeded(TightknitError):
    """More items failed than the job's :class:`ErrorBudget` allows; ``summary`` tells the rest."""

    def __init__(self, summary: BulkSummary[object, object], budget: ErrorBudget) -> None:
        super().__init__(
            f"bulk job {summary.job!r} stopped: {summary.failed} of "
            f"{summary.succeeded + summary.failed} items failed, over the error budget "
            f"({budget}); {summary.succeeded} succeeded, {summary.skipped} skipped"
        )
        self.summary = summary
        self.budget = budget
