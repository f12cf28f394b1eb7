"""The public surface of tightknit_async.governor and its settings."""

from __future__ import annotations

import dataclasses
import math
import typing

import pytest

from tightknit_async import governor
from tightknit_async.governor import Governor, GovernorOptions, GovernorSettings


def test_all_is_sorted_complete_and_importable() -> None:
    exported = governor.__all__
    assert exported == sorted(exported)
    for name in exported:
        assert hasattr(governor, name), name
    public = {
        name
        for name, value in vars(governor).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith(governor.__name__)
    }
    assert public <= set(exported)  # exported names may also live elsewhere (the error classes)


def test_options_name_every_setting_but_the_rate() -> None:
    settings = typing.get_type_hints(GovernorSettings)
    del settings["rate"]
    assert typing.get_type_hints(GovernorOptions) == settings


def test_settings_are_frozen_and_compared_by_value() -> None:
    settings = GovernorSettings(rate=50)
    assert settings == GovernorSettings(rate=50.0, burst=1)
    assert settings != GovernorSettings(rate=50, margin=0.01)
    assert settings.bulk_every == 10
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.rate = 10  # type: ignore[misc]
    assert Governor(50, burst=3).settings == GovernorSettings(rate=50, burst=3)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"rate": 0}, "rate must be"),
        ({"rate": 50, "burst": 60}, "burst must be"),
        ({"rate": 50, "margin": 2.0}, "margin must be"),
        ({"rate": 50, "bulk_share": 0}, "bulk_share must be"),
        ({"rate": 50, "bulk_share": 0.75}, "bulk_share must be"),
        ({"rate": 50, "default_pause": -1.0}, "default_pause must be"),
        ({"rate": 50, "default_pause": math.inf}, "default_pause must be"),
        ({"rate": 50, "pause_jitter": math.nan}, "pause_jitter must be"),
    ],
)
def test_settings_out_of_range_are_refused(options: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GovernorSettings(**options)  # type: ignore[arg-type]
