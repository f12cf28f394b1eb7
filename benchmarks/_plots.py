"""The figures of docs/benchmarks.md, drawn from the benchmarks' own numbers.

One function per figure, each taking plain data (lists of floats, dicts of them) and writing one
SVG file. matplotlib (the ``bench`` extra: ``pip install -e '.[bench]'``, which ``make bench``
does) is imported only when a figure is drawn: without it, :func:`figure_dir` prints
:data:`SKIPPED` and the benchmarks run on without figures. The "Agg" backend, no display; the SVG
keeps its text as text, and a fixed hash salt and no date make a re-run with the same data write
the same file.

Not a benchmark: ``run_all.py`` skips the ``_``-prefixed modules of this directory.
"""

from __future__ import annotations

import argparse
import functools
import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "docs" / "img"
SKIPPED = "figures skipped: matplotlib is not installed"

GOVERNOR_FIGURE = "governor-per-100ms.svg"
BULK_FIGURE = "bulk-rss.svg"
JITTER_FIGURE = "jitter-rate.svg"

_METADATA = {"Date": None}
_OK = "#1f77b4"
_REJECTED = "#d62728"
_CAP = "#444444"
_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")


def available() -> bool:
    """Whether matplotlib can be imported (absent or broken: no figures)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def add_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--plots DIR`` option every script with a figure takes."""
    parser.add_argument(
        "--plots",
        metavar="DIR",
        default=str(DEFAULT_DIR),
        help="write the figures (SVG) into DIR (default docs/img; '' for none)",
    )


def figure_dir(plots: str | Path | None) -> Path | None:
    """The directory to write figures into, created; None when no figure is to be drawn: none
    asked for (None or ''), or matplotlib missing (then :data:`SKIPPED` is printed)."""
    if plots is None or str(plots) == "":
        return None
    if not available():
        print(SKIPPED)
        return None
    directory = Path(plots)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _styled(draw: Callable[..., Path]) -> Callable[..., Path]:
    """Runs a figure function under this module's style (and the Agg backend)."""

    @functools.wraps(draw)
    def styled(*args: Any, **kwargs: Any) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        with matplotlib.rc_context(
            {
                "svg.hashsalt": "tightknit-async-benchmarks",  # the same ids in every run
                "svg.fonttype": "none",  # text stays <text>: smaller files, searchable
                "font.size": 9.0,
                "axes.spines.top": False,
                "axes.spines.right": False,
            }
        ):
            return draw(*args, **kwargs)

    return styled


def _figure(width: float, height: float, ncols: int = 1, nrows: int = 1, **kw: Any) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots(nrows, ncols, squeeze=False, **kw)


def _finish(figure: Any, path: Path, title: str, note: str) -> Path:
    """Title and note (a line of small print under the axes), then the SVG file."""
    figure.suptitle(title, fontsize=11, fontweight="bold")
    if note:  # as the figure's x label: the layout makes room for it
        lines = textwrap.wrap(note, width=int(16 * figure.get_size_inches()[0]))
        figure.supxlabel("\n".join(lines), x=0.01, ha="left", fontsize=7.5, color="#555555")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="svg", metadata=_METADATA)
    return path


def _target_line(ax: Any, value: float, label: str) -> None:
    """A dashed horizontal line at ``value``, labelled at the right end."""
    ax.axhline(value, color=_REJECTED, linestyle="--", linewidth=1)
    ax.text(
        1.0,
        value,
        label,
        transform=ax.get_yaxis_transform(),
        ha="right",
        va="bottom",
        fontsize=8,
        color=_REJECTED,
    )


def per_bin(times: Sequence[float], width: float, bins: int) -> list[int]:
    """How many of ``times`` (seconds, >= 0) fall in each of ``bins`` bins ``width`` wide."""
    counts = [0] * bins
    for t in times:
        i = int(t // width)
        if 0 <= i < bins:
            counts[i] += 1
    return counts


@_styled
def governor_per_100ms(
    path: Path,
    arrivals: Mapping[str, Sequence[tuple[float, int | None]]],
    *,
    cap: int = 50,
    bin_seconds: float = 0.1,
    note: str = "",
) -> Path:
    """Requests per ``bin_seconds`` at the server over time, a panel per contender.

    ``arrivals``: contender -> (seconds since the trial started, HTTP status) per request; 429s
    are stacked in red on the accepted ones and counted in the panel's title. A line marks the
    cap's share of a bin (5 per 100 ms at 50/s)."""
    names = list(arrivals)
    end = max((t for a in arrivals.values() for t, _ in a), default=0.0)
    bins = max(1, math.ceil(end / bin_seconds + 1e-9))
    edges = [i * bin_seconds for i in range(bins + 1)]
    per_bin_cap = cap * bin_seconds
    ms = round(1e3 * bin_seconds)
    ceiling = 3 * per_bin_cap  # taller bins are clipped, their count written above them
    figure, axes = _figure(8.0, 1.0 + 1.6 * len(names), nrows=len(names), sharex=True)
    for ax, name in zip(axes[:, 0], names, strict=True):
        accepted = per_bin([t for t, s in arrivals[name] if s != 429], bin_seconds, bins)
        rejected = per_bin([t for t, s in arrivals[name] if s == 429], bin_seconds, bins)
        stacked = [a + r for a, r in zip(accepted, rejected, strict=True)]
        ax.stairs(accepted, edges, fill=True, color=_OK, alpha=0.85, label="accepted (200)")
        n429 = sum(rejected)
        if n429:
            ax.stairs(stacked, edges, baseline=accepted, fill=True, color=_REJECTED, label="429")
        ax.axhline(
            per_bin_cap,
            color=_CAP,
            linestyle="--",
            linewidth=1,
            label=f"the cap: {per_bin_cap:g} per {ms} ms",
        )
        for i, count in enumerate(stacked):
            if count > ceiling:
                ax.text(
                    edges[i] + bin_seconds / 2,
                    ceiling,
                    f"{count}",
                    ha="left",
                    va="top",
                    fontsize=7,
                    color=_REJECTED if rejected[i] else _OK,
                )
        ax.set_title(f"{name} (429s: {n429})", loc="left", fontsize=9)
        ax.set_ylabel(f"requests / {ms} ms")
        ax.set_ylim(0, ceiling)
        ax.margins(x=0)
    axes[-1, 0].set_xlabel("seconds since the trial started (arrivals at the server)")
    handles: dict[str, Any] = {}
    for ax in axes[:, 0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    axes[0, 0].legend(handles.values(), handles.keys(), loc="upper right", ncols=3, fontsize=8)
    return _finish(figure, path, f"Requests per {ms} ms at the {cap} req/s cap", note)


@_styled
def bulk_rss(
    path: Path,
    variants: Mapping[str, Sequence[tuple[float, float]]],
    *,
    items: int,
    target_mb: float | None = None,
    cli: Sequence[tuple[float, float]] | None = None,
    cli_rows: int = 0,
    cli_target_mb: float | None = None,
    note: str = "",
) -> Path:
    """RSS (MB) over a bulk run: ``variants`` maps a name to (items processed, MB) samples of
    a run of ``items`` items; ``cli``, if given, is (seconds, MB) samples of ``tightknit-async
    import members`` over ``cli_rows`` rows, drawn in a second panel."""
    figure, axes = _figure(9.0 if cli else 6.0, 4.4, ncols=2 if cli else 1)
    ax = axes[0, 0]
    for color, (name, samples) in zip(_COLORS, variants.items(), strict=False):
        ax.plot([n for n, _ in samples], [mb for _, mb in samples], color=color, label=name, lw=1.5)
    if target_mb is not None:
        _target_line(ax, target_mb, f"target: peak < {target_mb:g} MB")
    ax.set_title(f"run_bulk vs asyncio.gather, {items:,} items", loc="left", fontsize=9)
    ax.set_xlabel("items processed")
    ax.set_ylabel("RSS (MB)")
    ax.set_xlim(0, items)
    ax.xaxis.set_major_formatter("{x:,.0f}")
    ax.set_ylim(bottom=0)
    # under the axes, where it hides no line (the layout makes room for it)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, fontsize=8)
    if cli:
        ax = axes[0, 1]
        ax.plot([t for t, _ in cli], [mb for _, mb in cli], color=_COLORS[0], lw=1.5)
        if cli_target_mb is not None:
            _target_line(ax, cli_target_mb, f"target: < {cli_target_mb:g} MB")
        ax.set_title(f"tightknit-async import members, {cli_rows:,} rows", loc="left", fontsize=9)
        ax.set_xlabel("seconds since the import started")
        ax.set_ylabel("RSS (MB)")
        ax.set_xlim(left=0)
        top = max([mb for _, mb in cli] + [cli_target_mb or 0.0])
        ax.set_ylim(0, top * 1.15)
    return _finish(figure, path, "RSS over a long bulk run", note)


@_styled
def jitter_rate(
    path: Path,
    jitters_ms: Sequence[float],
    rate_pct: Mapping[str, Sequence[float]],
    rate_limited: Mapping[str, Sequence[int]],
    *,
    cap: int = 50,
    note: str = "",
) -> Path:
    """Achieved rate (% of the cap) and 429s per network jitter, a line and a bar group per
    contender: ``rate_pct[name][i]`` and ``rate_limited[name][i]`` at ``jitters_ms[i]``."""
    names = list(rate_pct)
    labels = [f"{j:g}" for j in jitters_ms]
    figure, axes = _figure(9.0, 3.8, ncols=2)
    left, right = axes[0, 0], axes[0, 1]
    low = min((p for v in rate_pct.values() for p in v), default=100.0)
    for color, name in zip(_COLORS, names, strict=False):
        left.plot(labels, rate_pct[name], marker="o", color=color, label=name, lw=1.5)
        for i, (x, pct) in enumerate(zip(labels, rate_pct[name], strict=True)):
            best = max(names, key=lambda n: rate_pct[n][i])
            left.annotate(  # the best value at this jitter above its point, the others below
                f"{pct:.1f}",
                (x, pct),
                textcoords="offset points",
                xytext=(0, 6 if name == best else -7),
                ha="center",
                va="bottom" if name == best else "top",
                fontsize=7,
                color=color,
            )
    left.axhline(100, color=_CAP, linestyle="--", linewidth=1)
    left.text(
        1.0,
        100,
        "the cap",
        transform=left.get_yaxis_transform(),
        ha="right",
        va="bottom",
        fontsize=8,
        color=_CAP,
    )
    left.set_ylim(min(90.0, math.floor(low) - 1), 101.5)
    left.set_xlabel("network jitter (ms, uniform 0 to J)")
    left.set_ylabel(f"achieved rate (% of {cap} req/s)")
    left.set_title("achieved rate", loc="left", fontsize=9)
    left.legend(loc="lower left", fontsize=8)
    width = 0.8 / max(len(names), 1)
    top = max((n for v in rate_limited.values() for n in v), default=0)
    for k, (color, name) in enumerate(zip(_COLORS, names, strict=False)):
        xs = [i + (k - (len(names) - 1) / 2) * width for i in range(len(labels))]
        bars = right.bar(xs, rate_limited[name], width, color=color, label=name)
        right.bar_label(bars, fontsize=7, padding=2)
    right.set_xticks(range(len(labels)), labels)
    right.set_ylim(0, max(top, 1) * 1.2)
    right.set_xlabel("network jitter (ms, uniform 0 to J)")
    right.set_ylabel("429 responses")
    right.set_title("429s (no retries)", loc="left", fontsize=9)
    title = f"Full demand at the {cap} req/s cap through a network with jitter"
    return _finish(figure, path, title, note)
