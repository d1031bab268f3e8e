"""Walking a route: each target in turn, retries with backoff and jitter, cool-downs, context-window hops.

Which failure is retryable, which moves to a larger window and which is final is decided by the one
upstream-error policy (`router.providers.policy.POLICY`); this module only walks:
- a retryable failure moves on to the next target, after the chain's retries of the same target;
- a context-window failure skips to the next target with a larger window;
- any other failure is final: the client's request is wrong everywhere;
- a stream falls back only before its first byte: the gateway commits to a target once `start` returned.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from router.gateway.cooldown import Cooldowns
from router.providers.base import ProviderError
from router.routing.model import Route, Target

T = TypeVar("T")


@dataclass(slots=True)
class Attempt:
    target: str
    status: int
    error_type: str | None
    latency_ms: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "status": self.status,
            "error_type": self.error_type,
            "latency_ms": self.latency_ms,
        }


@dataclass(slots=True)
class Outcome(Generic[T]):
    """The first success (with the target that gave it), and every attempt made on the way."""

    attempts: list[Attempt] = field(default_factory=list)
    target: Target | None = None
    result: T | None = None
    error: ProviderError | None = None
    # The target that gave `error` (its window words a context overflow).
    failed_target: Target | None = None


async def walk_route(
    route: Route,
    cooldowns: Cooldowns,
    call: Callable[[Target], Awaitable[T]],
) -> Outcome[T]:
    outcome: Outcome[T] = Outcome()
    retries = route.chain.retries if route.chain else 0
    backoff = (route.chain.backoff_ms if route.chain else 250) / 1000.0
    window_floor: int | None = None  # after a context-window failure: only larger windows are worth a try
    for target in cooldowns.order(route.targets):
        if window_floor is not None and (target.max_input_tokens or 0) <= window_floor:
            continue
        for try_no in range(retries + 1):
            started = time.perf_counter()
            try:
                result = await call(target)
            except ProviderError as exc:
                outcome.attempts.append(
                    Attempt(target.ref, exc.status, exc.error_type, _ms_since(started))
                )
                outcome.error, outcome.failed_target = exc, target
                if exc.context_window:
                    window_floor = target.max_input_tokens or 0
                    break
                if not exc.retryable:
                    return outcome
                cooldowns.failure(target.ref)
                if try_no < retries:
                    delay = exc.retry_after if exc.retry_after is not None else backoff * (2**try_no)
                    await asyncio.sleep(min(delay, 10.0) * random.uniform(0.5, 1.5))
                    continue
                break
            else:
                cooldowns.success(target.ref)
                outcome.attempts.append(Attempt(target.ref, 200, None, _ms_since(started)))
                outcome.target = target
                outcome.result = result
                outcome.error = None
                return outcome
    return outcome


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
