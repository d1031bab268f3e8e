"""Walking a route as a unit: fallback order, retries of one target, context-window hops, final errors."""

from __future__ import annotations

import pytest

from router.gateway.attempts import walk_route
from router.gateway.cooldown import Cooldowns
from router.providers.base import ProviderError
from router.providers.policy import Failure
from router.routing.model import ChainSpec, Route, Target
from tests.routing.builders import rule, target


def route(*refs: str, retries: int = 0, windows: dict[str, int] | None = None) -> Route:
    targets = []
    for ref in refs:
        made = target(ref)
        if windows and ref in windows:
            made = Target(
                made.ref, made.provider, made.upstream_model, made.base_model, max_input_tokens=windows[ref]
            )
        targets.append(made)
    chain = ChainSpec(1, "c", tuple(refs), retries=retries, backoff_ms=0)
    return Route(rule("*", chain="c"), tuple(targets), chain)


class Script:
    """Answers each call from a per-target list of results (an exception is raised)."""

    def __init__(self, **answers: list[object]) -> None:
        self.answers = {ref.replace("__", "/"): list(items) for ref, items in answers.items()}
        self.calls: list[str] = []

    async def __call__(self, t: Target) -> str:
        self.calls.append(t.ref)
        item = self.answers[t.ref].pop(0)
        if isinstance(item, BaseException):
            raise item
        return str(item)


def retryable(status: int = 503) -> ProviderError:
    return ProviderError(status, "upstream busy")


def cooldowns() -> Cooldowns:
    return Cooldowns(after_failures=1, seconds=60)


async def test_a_retryable_failure_falls_back_to_the_next_target_and_both_attempts_are_listed() -> None:
    script = Script(a__m=[retryable()], b__m=["answer"])
    outcome = await walk_route(route("a/m", "b/m"), cooldowns(), script)
    assert outcome.result == "answer" and outcome.target is not None and outcome.target.ref == "b/m"
    assert [(a.target, a.status) for a in outcome.attempts] == [("a/m", 503), ("b/m", 200)]
    assert outcome.error is None


async def test_a_chain_retries_the_same_target_before_moving_on() -> None:
    script = Script(a__m=[retryable(), retryable(), "third time"], b__m=["unused"])
    outcome = await walk_route(route("a/m", "b/m", retries=2), cooldowns(), script)
    assert outcome.result == "third time"
    assert script.calls == ["a/m", "a/m", "a/m"]


async def test_a_final_error_stops_the_walk_at_once() -> None:
    bad = ProviderError(400, "bad request")
    script = Script(a__m=[bad], b__m=["never"])
    outcome = await walk_route(route("a/m", "b/m"), cooldowns(), script)
    assert outcome.result is None and outcome.error is bad
    assert script.calls == ["a/m"]
    assert outcome.failed_target is not None and outcome.failed_target.ref == "a/m"


async def test_a_context_window_failure_skips_targets_whose_window_is_not_larger() -> None:
    too_long = ProviderError(400, "prompt is too long", failure=Failure.CONTEXT_WINDOW)
    script = Script(a__m=[too_long], b__m=["same window"], c__m=["larger window"])
    windows = {"a/m": 100_000, "b/m": 100_000, "c/m": 1_000_000}
    outcome = await walk_route(route("a/m", "b/m", "c/m", windows=windows), cooldowns(), script)
    assert outcome.result == "larger window"
    assert script.calls == ["a/m", "c/m"]


async def test_when_every_target_fails_the_last_error_is_reported() -> None:
    last = retryable(529)
    script = Script(a__m=[retryable()], b__m=[last])
    outcome = await walk_route(route("a/m", "b/m"), cooldowns(), script)
    assert outcome.result is None and outcome.error is last and len(outcome.attempts) == 2


@pytest.mark.parametrize("after_failures", [1, 2])
async def test_a_failing_target_cools_down_and_is_tried_last_by_later_requests(after_failures: int) -> None:
    cool = Cooldowns(after_failures=after_failures, seconds=60)
    for _ in range(after_failures):
        await walk_route(route("a/m", "b/m"), cool, Script(a__m=[retryable()], b__m=["ok"]))
    later = Script(a__m=["ok from a"], b__m=["ok from b"])
    outcome = await walk_route(route("a/m", "b/m"), cool, later)
    assert later.calls == ["b/m"] and outcome.result == "ok from b"
