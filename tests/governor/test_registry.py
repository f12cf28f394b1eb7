"""One governor per API key and event loop; the key itself is never kept or shown."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from tightknit_async.governor import Governor, governor_for
from tightknit_async.governor import _registry as registry

from .conftest import VirtualRunner

KEY = "sk_live_0123456789abcdefSECRET"
OTHER_KEY = "sk_live_fedcba9876543210SECRET"


def test_same_key_shares_a_governor_and_another_key_gets_its_own(run: VirtualRunner) -> None:
    async def main() -> None:
        first = governor_for(KEY, 50)
        assert governor_for(KEY, 50) is first
        assert governor_for(KEY, 50.0, burst=1) is first  # the same settings, spelt differently
        other = governor_for(OTHER_KEY, 50)
        assert other is not first
        # sharing is real: a slot taken through one handle is gone for the other
        assert first.try_acquire_nowait()
        assert not governor_for(KEY, 50).try_acquire_nowait()
        assert other.try_acquire_nowait()

    run(main())


def test_each_event_loop_gets_its_own_governor() -> None:
    async def lookup() -> Governor:
        governor = governor_for(KEY, 50)
        await governor.acquire()
        return governor

    first = asyncio.run(lookup())
    second = asyncio.run(lookup())  # no WrongEventLoopError: a new loop, a new governor
    assert first is not second


def test_other_settings_for_the_same_key_are_refused(run: VirtualRunner) -> None:
    async def main() -> None:
        governor = governor_for(KEY, 50)
        with pytest.raises(ValueError, match=r"rate=50, asked 40") as caught:
            governor_for(KEY, 40)
        assert KEY not in str(caught.value)
        with pytest.raises(ValueError, match=r"burst=1, asked 5"):
            governor_for(KEY, 50, burst=5)
        assert governor_for(KEY, 50) is governor  # the first settings still stand

    run(main())


def test_bad_settings_are_refused_before_anything_is_registered(run: VirtualRunner) -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match="bulk_share"):
            governor_for(KEY, 50, bulk_share=0.9)
        assert governor_for(KEY, 50).settings.bulk_share == 0.1

    run(main())


def test_a_governor_nobody_uses_goes_away(run: VirtualRunner) -> None:
    async def main() -> None:
        governor = governor_for(KEY, 50)
        gone = weakref.ref(governor)
        del governor
        gc.collect()
        assert gone() is None
        assert governor_for(KEY, 40).settings.rate == 40  # a fresh start, other settings allowed

    run(main())


def test_the_key_is_neither_stored_nor_shown(run: VirtualRunner) -> None:
    async def main() -> Governor:
        governor = governor_for(KEY, 50)
        for loop_and_digest in list(registry._governors.keys()):
            assert KEY not in repr(loop_and_digest)
            assert KEY.encode() not in loop_and_digest[1]
        return governor

    governor = run(main())
    assert KEY not in repr(governor)
    assert KEY not in repr(governor.statistics())
    assert KEY not in repr(governor.settings)
    reachable = gc.get_referents(governor, *gc.get_referents(governor))
    assert KEY not in [obj for obj in reachable if isinstance(obj, str)]


def test_needs_a_running_event_loop() -> None:
    with pytest.raises(RuntimeError, match="needs a running event loop"):
        governor_for(KEY, 50)
