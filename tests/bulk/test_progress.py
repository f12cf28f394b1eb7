"""The progress display: a redrawn line on a terminal, plain periodic lines elsewhere."""

from __future__ import annotations

import io

import pytest

from tightknit_async.bulk import Progress, ProgressDisplay
from tightknit_async.bulk._progress import format_duration, is_interactive


def snapshot(done: int, *, finished: bool = False, total: int | None = 1000) -> Progress:
    return Progress(
        job="j",
        total=total,
        seen=done + 5,
        done=done,
        succeeded=done - 3,
        failed=3,
        skipped=0,
        replayed=7,
        created=done - 3,
        updated=0,
        in_flight=5,
        elapsed=12.0,
        rate=48.5,
        eta=(1000 - done) / 48.5,
        finished=finished,
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "--"),
        (float("inf"), "--"),
        (0.4, "0s"),
        (59.4, "59s"),
        (125, "2:05"),
        (3725, "1:02:05"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_interactive_only_on_a_terminal_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert is_interactive(Terminal())
    assert not is_interactive(io.StringIO())
    monkeypatch.setenv("CI", "true")
    assert not is_interactive(Terminal())
    monkeypatch.setenv("CI", "false")
    assert is_interactive(Terminal())
    monkeypatch.setenv("TERM", "dumb")
    assert not is_interactive(Terminal())


def test_terminal_line_is_redrawn_in_place() -> None:
    stream = Terminal()
    display = ProgressDisplay("import members", stream=stream, interactive=True)
    display(snapshot(250))
    display(snapshot(500))
    display.echo("line 7: failed")
    display(snapshot(1000, finished=True))
    text = stream.getvalue()
    assert text.startswith("\rimport members")
    assert "500/1,000 (50%)" in text
    assert "48.5/s" in text
    assert "eta 10s" in text
    assert "failed 3" in text
    assert "replayed 7" in text
    assert "\r\x1b[Kline 7: failed\n" in text  # the status line is cleared, then redrawn
    assert text.endswith("in 12s  failed 3  replayed 7\x1b[K\n")
    assert text.count("\n") == 2


def test_plain_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    display = ProgressDisplay("import", stream=stream, interactive=False, log_interval=3600)
    display(snapshot(100))
    display(snapshot(200))  # within the interval: not written
    display(snapshot(1000, finished=True))
    lines = stream.getvalue().splitlines()
    assert lines == [
        "import  100/1,000 (10%)  48.5/s  eta 19s  failed 3  replayed 7",
        "import  1,000/1,000 (100%)  48.5/s  in 12s  failed 3  replayed 7",
    ]
    assert "\r" not in stream.getvalue()


def test_unknown_total_and_ascii_only_streams() -> None:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    display = ProgressDisplay("x", stream=stream, interactive=True)
    display(snapshot(10, total=None))
    display(snapshot(500))
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    text = buffer.getvalue().decode()
    assert "10  48.5/s" in text  # no total, no bar
    assert "############------------" in text  # ASCII for a stream that cannot encode blocks
    assert snapshot(10, total=None).fraction is None
