"""Small shared types: the not-given sentinel, lanes, and the per-call option aliases."""

from __future__ import annotations

import enum
from typing import Final, Literal, TypeAlias, TypeVar

__all__ = [
    "NOT_GIVEN",
    "HTTPMethod",
    "NotGiven",
    "NotGivenOr",
    "Priority",
]

Priority: TypeAlias = Literal["interactive", "bulk"]
"""The governor lane a request waits in: ``interactive`` is served before queued ``bulk``."""

HTTPMethod: TypeAlias = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class NotGiven(enum.Enum):
    """The type of :data:`NOT_GIVEN`: "use the client's default", distinct from ``None`` ("off")."""

    NOT_GIVEN = enum.auto()

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> Literal[False]:
        return False


NOT_GIVEN: Final = NotGiven.NOT_GIVEN

_T = TypeVar("_T")
NotGivenOr: TypeAlias = "_T | NotGiven"
