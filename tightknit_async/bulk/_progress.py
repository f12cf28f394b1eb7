"""Progress of bulk jobs: the snapshot handed to ``on_progress`` hooks, and a small display.

:class:`Progress` is what a :class:`~tightknit_async.bulk.BulkJob` reports every
``progress_interval`` seconds and once at the end. :class:`ProgressDisplay` renders it: on a
terminal, one status line redrawn in place (bar, count, rate, ETA, failures, replays, skips);
elsewhere (a pipe, a log file, ``CI=true``, ``TERM=dumb``) a plain line every ``log_interval``
seconds and at the end.

Why neither rich nor tqdm. Of the two, tqdm is the lighter (one pure-Python package, no
dependencies on POSIX, ~80 kB); rich brings pygments and markdown-it-py (~5 MB) for features a
single status line never uses. But even tqdm would earn its place poorly here:

- the engine already has to compute every number itself (rate over a recent window, ETA,
  failures, replays) for :class:`Progress` and for its callback hook, so tqdm would only draw;
- drawing one line is ``"\\r" + text + "\\x1b[K"`` clipped to the terminal width: ~100 lines with
  the plain-log mode, which we would have to write for tqdm as well (its non-TTY output is a
  stream of carriage returns that logs badly);
- tqdm ships no type information (stubs are a separate package), and this package is checked
  with ``mypy --strict``;
- a library should not add a runtime dependency its users cannot opt out of for a CLI nicety.

So the display is ours and dependency-free; anyone who prefers tqdm or rich passes an
``on_progress`` hook (the README shows tqdm in four lines).
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Final, TextIO

__all__ = ["Progress", "ProgressDisplay", "RateMeter", "format_duration", "is_interactive"]

_CLEAR_TO_END: Final = "\x1b[K"
_BAR_WIDTH: Final = 24
_RATE_WINDOW: Final = 10.0


@dataclass(frozen=True, slots=True)
class Progress:
    """A bulk job's state at one moment.

    Attributes:
        job: the job's name.
        total: how many items the input holds, when known (a sized input, or ``total=``).
        seen: items taken from the input so far.
        done: items finished: ``succeeded + failed + skipped``.
        succeeded, failed: items sent in this run, by outcome.
        skipped: items the journal recorded as done by an earlier run (not sent).
        replayed: succeeded items the server (or the client's cache) answered as a replay.
        created, updated: succeeded items whose result said ``created`` true or false.
        in_flight: items being sent right now.
        elapsed: seconds since the run started.
        rate: items sent per second, over the last 10 seconds (skips excluded).
        eta: seconds left at ``rate``, when ``total`` is known and something was sent.
        finished: whether this is the final snapshot.
    """

    job: str
    total: int | None
    seen: int
    done: int
    succeeded: int
    failed: int
    skipped: int
    replayed: int
    created: int
    updated: int
    in_flight: int
    elapsed: float
    rate: float
    eta: float | None
    finished: bool = False

    @property
    def fraction(self) -> float | None:
        """``done / total`` (0 to 1), or ``None`` when the total is unknown."""
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


@dataclass(slots=True)
class RateMeter:
    """Items sent per second over about the last 10 seconds (:attr:`Progress.rate`); the
    average since the start while fewer than 1 second of samples are kept."""

    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=256))

    def rate(self, now: float, sent: int, started: float) -> float:
        samples = self.samples
        samples.append((now, sent))
        while len(samples) > 2 and now - samples[1][0] >= _RATE_WINDOW:
            samples.popleft()
        then, sent_then = samples[0]
        if now - then < 1.0:  # too short a window: the average since the start
            then, sent_then = started, 0
        span = now - then
        return (sent - sent_then) / span if span > 0 else 0.0


def format_duration(seconds: float | None) -> str:
    """``7s``, ``2:05``, ``1:02:05``; ``--`` for unknown or infinite."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "--"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def is_interactive(stream: TextIO) -> bool:
    """Whether to redraw a status line on ``stream``: a terminal, not ``TERM=dumb``, not CI."""
    ci = os.environ.get("CI", "").strip().lower()
    if ci and ci not in ("0", "false", "no"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class ProgressDisplay:
    """Render :class:`Progress` snapshots: pass an instance as ``on_progress``.

    Args:
        label: what the line starts with (``import members``).
        stream: where to write (default ``sys.stderr``, keeping stdout for results).
        interactive: redraw one line in place; default :func:`is_interactive` of ``stream``.
        log_interval: seconds between plain lines when not interactive (the first snapshot
            with progress and the final one are always written).
        note: a short text appended to every line (``at 400 req/s``).
    """

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        interactive: bool | None = None,
        log_interval: float = 10.0,
        note: str = "",
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = is_interactive(self.stream) if interactive is None else interactive
        self.log_interval = log_interval
        self.note = note
        self._last_log: float | None = None
        self._drawn = False
        self._last: Progress | None = None
        encoding = getattr(self.stream, "encoding", None) or "ascii"
        try:
            "█░".encode(encoding)
        except (LookupError, UnicodeEncodeError):
            self._full, self._empty = "#", "-"
        else:
            self._full, self._empty = "█", "░"

    def __call__(self, progress: Progress) -> None:
        self._last = progress
        if self.interactive:
            self._draw(self.render(progress, bar=True))
            if progress.finished:
                self._end_line()
            return
        now = time.monotonic()
        due = self._last_log is None or now - self._last_log >= self.log_interval
        if progress.finished or (due and (progress.done or progress.in_flight)):
            self._last_log = now
            self._write(self.render(progress, bar=False) + "\n")

    def echo(self, line: str) -> None:
        """Write ``line`` (and a newline) without garbling the status line; it is redrawn."""
        if self.interactive and self._drawn:
            self._write("\r" + _CLEAR_TO_END)
            self._drawn = False
        self._write(line + "\n")
        if self.interactive and self._last is not None and not self._last.finished:
            self._draw(self.render(self._last, bar=True))

    def close(self) -> None:
        """End the status line (if one is drawn) so later output starts on a fresh line."""
        if self.interactive:
            self._end_line()

    def render(self, progress: Progress, *, bar: bool) -> str:
        """The text of one line for ``progress``."""
        parts = [self.label]
        fraction = progress.fraction
        if bar and fraction is not None:
            filled = int(fraction * _BAR_WIDTH)
            parts.append(self._full * filled + self._empty * (_BAR_WIDTH - filled))
        count = f"{progress.done:,}" + (f"/{progress.total:,}" if progress.total else "")
        if fraction is not None:
            count += f" ({fraction:.0%})"
        parts.append(count)
        parts.append(f"{progress.rate:,.1f}/s")
        if progress.finished:
            parts.append(f"in {format_duration(progress.elapsed)}")
        else:
            parts.append(f"eta {format_duration(progress.eta)}")
        parts.append(f"failed {progress.failed:,}")
        parts.append(f"replayed {progress.replayed:,}")
        if progress.skipped:
            parts.append(f"skipped {progress.skipped:,}")
        if self.note:
            parts.append(self.note)
        return "  ".join(parts)

    def _draw(self, text: str) -> None:
        width = shutil.get_terminal_size((100, 24)).columns
        if len(text) >= width:
            text = text[: max(width - 1, 10)]
        self._write("\r" + text + _CLEAR_TO_END)
        self._drawn = True

    def _end_line(self) -> None:
        if self._drawn:
            self._write("\n")
            self._drawn = False

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
