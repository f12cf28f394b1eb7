"""Fault injection settings for the fake server: latency, errors, dropped connections, 409 storms.

`Faults` is plain mutable configuration (``fake.faults.latency = 0.2``); each assignment is
checked. The server consults it for every request that passed authentication, the rate limit,
permissions and the idempotency check, in this order:

1. sleep ``latency`` plus a uniform draw from ``[0, latency_jitter]`` seconds;
2. a status scripted for the route (`Faults.script`), if one is queued;
3. a 409 (``IDEMPOTENCY_IN_FLIGHT``, ``Retry-After``) while ``conflict_next`` is positive, for
   mutations that carry an ``Idempotency-Key``;
4. ``error_status`` with probability ``error_rate`` (a seeded draw);
5. the handler; then, while ``drop_after_apply`` is positive, a request that applied a mutation
   has its connection closed instead of answered.

Injected statuses (2 to 4) apply nothing and are never stored for idempotent replay, so a retry
with the same key runs afresh. Replies replayed from the idempotency store skip steps 1 to 4.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import InitVar, dataclass, field, fields


def _non_negative_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _non_negative_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _probability(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


def _server_error_status(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 500 <= value <= 599


def _retry_after(value: object) -> bool:
    return _non_negative_int(value) or (isinstance(value, str) and bool(value.strip()))


_CHECKS: dict[str, tuple[Callable[[object], bool], str]] = {
    "latency": (_non_negative_number, "a number of seconds >= 0"),
    "latency_jitter": (_non_negative_number, "a number of seconds >= 0"),
    "error_rate": (_probability, "a probability between 0 and 1"),
    "error_status": (_server_error_status, "a 5xx status"),
    "error_html": (lambda value: isinstance(value, bool), "a bool"),
    "drop_after_apply": (_non_negative_int, "an int >= 0"),
    "conflict_next": (_non_negative_int, "an int >= 0"),
    "retry_after": (_retry_after, "whole seconds (int >= 0) or an HTTP-date string"),
}


@dataclass
class Faults:
    """Mutable fault-injection settings; `reset` restores these defaults.

    Attributes:
        latency: seconds added to every request that reaches the handler stage.
        latency_jitter: up to this many more seconds, drawn uniformly per request.
        error_rate: probability (0 to 1) of answering ``error_status`` instead of running the
            handler; nothing is applied.
        error_status: the 5xx status of random errors.
        error_html: send injected 5xx statuses as an HTML page (``text/html``), as a proxy does,
            instead of the API's JSON error body.
        drop_after_apply: the next this many requests that apply a mutation are applied (ledger
            entry, stored idempotent reply) and then get their connection closed, unanswered.
        conflict_next: the next this many mutations carrying an ``Idempotency-Key`` get
            409 + ``Retry-After`` without being applied.
        retry_after: the ``Retry-After`` value of injected 409 and 429 replies: whole seconds
            or an HTTP-date string.
        seed: seeds the draws of jitter and random errors (`FakeTightknit` passes its own).
    """

    latency: float = 0.0
    latency_jitter: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    error_html: bool = False
    drop_after_apply: int = 0
    conflict_next: int = 0
    retry_after: int | str = 1
    seed: InitVar[int] = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _scripts: dict[tuple[str, str], deque[int | None]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self, seed: int) -> None:
        self._rng = random.Random(f"tightknit-fake:{seed}:faults")
        self._scripts = {}

    def __setattr__(self, name: str, value: object) -> None:
        """Set a setting after checking it; raises `ValueError` for an invalid value."""
        if (check := _CHECKS.get(name)) is not None and not check[0](value):
            raise ValueError(f"Faults.{name} must be {check[1]}, got {value!r}")
        super().__setattr__(name, value)

    def script(self, method: str, path: str, statuses: Iterable[int | None]) -> None:
        """Queue forced statuses for the next requests to ``method path``, one per request.

        ``path`` is the request path without the query (``/admin/v0/members``). ``None`` in the
        queue lets that request through to the other faults and the handler. Queuing again for
        the same route appends.

        Raises:
            ValueError: for a status outside 400-599.
        """
        queued = list(statuses)
        if bad := [s for s in queued if s is not None and not 400 <= s <= 599]:
            raise ValueError(f"scripted statuses must be 400-599 or None, got {bad}")
        self._scripts.setdefault((method.upper(), path), deque()).extend(queued)

    def scripted(self, method: str, path: str) -> list[int | None]:
        """Return the statuses still queued for ``method path``."""
        return list(self._scripts.get((method.upper(), path), ()))

    def apply(self, spec: str | Mapping[str, object]) -> None:
        """Set several settings at once: a mapping, or text such as
        ``"error_rate=0.1,latency=0.05"`` (what ``serve-fake --faults`` takes).

        In text, ``error_status``, ``drop_after_apply`` and ``conflict_next`` are integers,
        ``error_html`` is ``true`` or ``false``, ``retry_after`` whole seconds or an HTTP-date,
        the others numbers. Nothing is set unless every setting is valid.

        Raises:
            ValueError: an unknown setting (the message lists them), or an invalid value.
        """
        settings = dict(spec) if isinstance(spec, Mapping) else parse_faults(spec)
        unknown = sorted(name for name in settings if name not in _CHECKS)
        if unknown:
            raise ValueError(
                f"unknown fault setting(s) {', '.join(unknown)}: one of {', '.join(_CHECKS)}"
            )
        for name, value in settings.items():
            check, expected = _CHECKS[name]
            if not check(value):
                raise ValueError(f"Faults.{name} must be {expected}, got {value!r}")
        for name, value in settings.items():
            setattr(self, name, value)

    def settings(self) -> dict[str, object]:
        """The current settings by name (the scripts aside)."""
        return {name: getattr(self, name) for name in _CHECKS}

    def reset(self) -> None:
        """Restore every setting to its default and drop every queued script."""
        for setting in fields(self):
            if setting.init:
                setattr(self, setting.name, setting.default)
        self._scripts.clear()

    # The server consults the settings through these; each call consumes what it reports.

    def next_scripted_status(self, method: str, path: str) -> int | None:
        """Pop the next scripted status of the route; None if the queue is empty or says None."""
        queue = self._scripts.get((method, path))
        if not queue:
            return None
        status = queue.popleft()
        if not queue:
            del self._scripts[(method, path)]
        return status

    def draw_latency(self) -> float:
        """Return this request's added latency in seconds."""
        if self.latency_jitter:
            return self.latency + self._rng.uniform(0, self.latency_jitter)
        return self.latency

    def take_conflict(self) -> bool:
        """Consume one 409 of the storm, if any is left."""
        if self.conflict_next:
            self.conflict_next -= 1
            return True
        return False

    def roll_error(self) -> bool:
        """Draw whether this request gets a random ``error_status``."""
        return self.error_rate > 0 and self._rng.random() < self.error_rate

    def take_drop(self) -> bool:
        """Consume one dropped connection, if any is left."""
        if self.drop_after_apply:
            self.drop_after_apply -= 1
            return True
        return False


_INTEGERS = frozenset({"error_status", "drop_after_apply", "conflict_next"})


def parse_faults(text: str) -> dict[str, object]:
    """``"error_rate=0.1,latency=0.05"`` as ``{"error_rate": 0.1, "latency": 0.05}`` (see
    `Faults.apply` for the types); an empty text is no setting.

    Raises:
        ValueError: an item without ``=``, or a value of the wrong form.
    """
    settings: dict[str, object] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, raw = item.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or not name:
            raise ValueError(f"fault settings are NAME=VALUE, comma-separated; got {item!r}")
        value: object
        try:
            if name == "error_html":
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(raw)
                value = raw.lower() in ("true", "1", "yes")
            elif name in _INTEGERS:
                value = int(raw)
            elif name == "retry_after":
                value = int(raw) if raw.isdigit() else raw
            else:
                value = float(raw)
        except ValueError:
            raise ValueError(f"fault setting {name}: {raw!r} is not a valid value") from None
        settings[name] = value
    return settings
