from __future__ import annotations

import pytest

import tightknit_async.testing as testing
from tightknit_async.testing import FakeClock


def test_fake_clock_moves_only_when_advanced() -> None:
    clock = FakeClock()
    assert clock() == 0.0
    clock.advance(1.5)
    clock.advance(0)
    assert clock() == 1.5
    assert repr(clock) == "FakeClock(1.5)"
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(-0.1)
    assert FakeClock(10)() == 10.0


def test_all_names_every_public_object() -> None:
    public = {name for name in vars(testing) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(testing, name)).__name__ == "module"}
    assert set(testing.__all__) == public - modules
