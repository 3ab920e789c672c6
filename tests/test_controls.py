"""Pause and mute: operator decisions that hold across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from signalbots.clock import ManualClock
from signalbots.controls import Controls
from signalbots.store import Store


async def test_pause_and_resume_survive_a_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    path = tmp_path / "state.db"
    async with Store(path=path) as store:
        controls = Controls(store=store, clock=clock)
        assert controls.pause("volume")
        assert not controls.pause("volume")
        assert controls.pause("funding")
    async with Store(path=path) as store:
        controls = Controls(store=store, clock=clock)
        assert controls.paused() == ["funding", "volume"]
        assert controls.resume("volume")
        assert not controls.resume("volume")
    async with Store(path=path) as store:
        assert Controls(store=store, clock=clock).paused() == ["funding"]


async def test_mute_lasts_its_duration_across_a_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    path = tmp_path / "state.db"
    async with Store(path=path) as store:
        until = Controls(store=store, clock=clock).mute(3600)
    assert until == clock.time() + 3600
    clock.advance(1800)
    async with Store(path=path) as store:
        controls = Controls(store=store, clock=clock)
        assert controls.is_muted()
        assert controls.muted_until() == until
        clock.advance(1800)
        assert not controls.is_muted()
        assert controls.muted_until() is None


async def test_unmute_ends_it_now_and_listeners_hear_every_change(tmp_path: Path) -> None:
    clock = ManualClock()
    async with Store(path=tmp_path / "state.db") as store:
        controls = Controls(store=store, clock=clock)
        changes: list[str] = []
        controls.add_listener(lambda: changes.append("changed"))
        assert not controls.unmute()
        controls.mute(60)
        assert controls.unmute()
        assert not controls.is_muted()
        controls.pause("volume")
        controls.pause("volume")  # no change, no call
        assert changes == ["changed"] * 3
        with pytest.raises(ValueError):
            controls.mute(0)
