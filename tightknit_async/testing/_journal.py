"""What the fake saw and did: the ledger of applied mutations, every arrival, and counters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One mutation the fake applied (a replay or a refused request applies nothing).

    ``time`` is the server clock when it was applied; ``key_id`` is the id of the API key, never
    its secret; ``status`` is the status the reply carried (also when the connection was then
    dropped and the client never saw it).
    """

    time: float
    method: str
    path: str
    key_id: str
    idempotency_key: str | None
    resource_id: str
    status: int


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request that reached the server, recorded when it was answered.

    ``time`` is the server clock on arrival (what the rate window counts); ``key_id`` is None when
    authentication failed; ``status`` is None when the connection was dropped instead of answered;
    ``replayed`` marks a stored idempotent reply sent again.
    """

    time: float
    method: str
    path: str
    key_id: str | None
    status: int | None
    idempotency_key: str | None
    replayed: bool


@dataclass(frozen=True, slots=True)
class FakeStats:
    """Counters since the start (or the last `FakeTightknit.reset_stats`).

    ``rate_limited`` and ``conflicts`` count every 429 and 409 answered, injected or not;
    ``faults_injected`` counts forced statuses, 409 storms, random errors and dropped connections
    (latency is not counted); ``dropped_connections`` counts the drops alone.
    """

    requests: int = 0
    rate_limited: int = 0
    replays: int = 0
    conflicts: int = 0
    faults_injected: int = 0
    dropped_connections: int = 0


class Journal:
    """Appends ledger entries and arrivals, and keeps the counters of `FakeStats`."""

    __slots__ = (
        "_conflicts",
        "_dropped",
        "_faults",
        "_rate_limited",
        "_replays",
        "_requests",
        "arrivals",
        "ledger",
    )

    def __init__(self) -> None:
        self.ledger: list[LedgerEntry] = []
        self.arrivals: list[Arrival] = []
        self.reset_stats()

    def record_mutation(self, entry: LedgerEntry) -> None:
        """Append an applied mutation to the ledger."""
        self.ledger.append(entry)

    def record_arrival(self, arrival: Arrival) -> None:
        """Append ``arrival`` and count it by outcome."""
        self.arrivals.append(arrival)
        self._requests += 1
        self._replays += arrival.replayed
        if arrival.status == 429:
            self._rate_limited += 1
        elif arrival.status == 409:
            self._conflicts += 1
        elif arrival.status is None:
            self._dropped += 1

    def record_fault(self) -> None:
        """Count one injected fault."""
        self._faults += 1

    @property
    def stats(self) -> FakeStats:
        """The counters now, as an immutable snapshot."""
        return FakeStats(
            requests=self._requests,
            rate_limited=self._rate_limited,
            replays=self._replays,
            conflicts=self._conflicts,
            faults_injected=self._faults,
            dropped_connections=self._dropped,
        )

    def reset_stats(self) -> None:
        """Set every counter back to zero."""
        self._requests = self._rate_limited = self._replays = 0
        self._conflicts = self._faults = self._dropped = 0


def max_in_window(times: Iterable[float], window: float) -> int:
    """Return the most of ``times`` that lie in any half-open interval ``[s, s + window)``.

    Raises:
        ValueError: if ``window`` is not positive.
    """
    if not window > 0:
        raise ValueError(f"window must be positive, got {window!r}")
    ordered = sorted(times)
    best = start = 0
    for end, time in enumerate(ordered):
        while time - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
