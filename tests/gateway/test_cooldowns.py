"""Cool-downs as a unit: when a target is set aside, for how long, and how it comes back."""

from __future__ import annotations

import time

from router.gateway.cooldown import Cooldowns
from tests.routing.builders import target


def test_a_target_cools_only_after_the_configured_number_of_failures() -> None:
    cool = Cooldowns(after_failures=3, seconds=30)
    cool.failure("a/m")
    cool.failure("a/m")
    assert not cool.is_cool("a/m")
    cool.failure("a/m")
    assert cool.is_cool("a/m") and cool.cooled() == ["a/m"]


def test_a_success_forgets_earlier_failures() -> None:
    cool = Cooldowns(after_failures=2, seconds=30)
    cool.failure("a/m")
    cool.success("a/m")
    cool.failure("a/m")
    assert not cool.is_cool("a/m")


def test_a_cooled_target_comes_back_when_its_time_is_up() -> None:
    cool = Cooldowns(after_failures=1, seconds=30)
    cool.failure("a/m")
    assert cool.is_cool("a/m", now=time.monotonic())
    assert not cool.is_cool("a/m", now=time.monotonic() + 31)
    # Coming back also clears the count: one new failure cools it again, not a stale sum.
    assert cool.cooled() == []


def test_cooled_targets_go_last_but_are_never_dropped() -> None:
    cool = Cooldowns(after_failures=1, seconds=30)
    cool.failure("a/m")
    order = cool.order([target("a/m"), target("b/m"), target("c/m")])
    assert [t.ref for t in order] == ["b/m", "c/m", "a/m"]
