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
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from router.gateway.cooldown import Cooldowns
from router.gateway.pools import PoolBalancer
from router.providers.base import ProviderError
from router.providers.policy import Failure
from router.routing.model import Pool, PoolMember, Route, Target

T = TypeVar("T")
log = logging.getLogger(__name__)
# Final failures that are the target's own doing, not the request's: a refused credential, a target that
# cannot be called as configured, a model the upstream does not know. Counted in its error rate (alerts),
# though retrying would not help.
TARGET_FAULTS = frozenset({Failure.CREDENTIAL, Failure.MISCONFIGURED, Failure.NOT_FOUND})


# An attempt's error text as kept in the usage record (already scrubbed of credentials).
ERROR_TEXT_MAX = 500


@dataclass(slots=True)
class Attempt:
    target: str
    status: int
    error_type: str | None
    latency_ms: int
    # The pool the target was tried as a member of, if any.
    pool: str | None = None
    # What went wrong, in full (the client may be told less, e.g. "upstream unreachable").
    error: str | None = None
    # Why, as the upstream-error policy classed it (router.providers.policy.Failure: "timeout",
    # "upstream_too_large", ...): the reason a report can filter on, where `error` is prose.
    failure: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "target": self.target,
            "status": self.status,
            "error_type": self.error_type,
            "latency_ms": self.latency_ms,
        }
        if self.pool is not None:
            out["pool"] = self.pool
        if self.error:
            out["error"] = self.error[:ERROR_TEXT_MAX]
        if self.failure is not None:
            out["failure"] = self.failure
        return out

    def failed(self, exc: ProviderError) -> None:
        """This attempt's answer failed after all (a stream broken after its first byte)."""
        self.status, self.error_type = exc.status, exc.error_type
        self.error, self.failure = exc.message, exc.failure.value


@dataclass(slots=True)
class Outcome(Generic[T]):
    """The first success (with the target that gave it), and every attempt made on the way."""

    attempts: list[Attempt] = field(default_factory=list)
    target: Target | None = None
    result: T | None = None
    error: ProviderError | None = None
    # The target that gave `error` (its window words a context overflow).
    failed_target: Target | None = None
    # When the answer came from a pool: the pool and its member (whose target is `target`).
    pool: Pool | None = None
    member: PoolMember | None = None
    # Members skipped for their quota: the soonest one of them has room again in this many seconds.
    quota_wait: float | None = None


async def walk_route(
    route: Route,
    cooldowns: Cooldowns,
    call: Callable[[Target], Awaitable[T]],
    *,
    pools: PoolBalancer | None = None,
    session: str | None = None,
    tokens: int = 0,
) -> Outcome[T]:
    """Each entry of the route in turn; a pool's members in the order its strategy gives, skipping members
    over their quota (their earliest time to free up is kept in `quota_wait`)."""
    outcome: Outcome[T] = Outcome()
    retries = route.chain.retries if route.chain else 0
    backoff = (route.chain.backoff_ms if route.chain else 250) / 1000.0
    walk = _Walk(outcome, cooldowns, call, pools)
    # Route order, except that plain targets cooling down go behind everything else (better a cooling
    # target than no answer); a pool keeps its place, its members have their own health.
    cooling = [e for e in route.targets if isinstance(e, Target) and cooldowns.is_cool(e.ref)]
    ordered = [e for e in route.targets if not any(e is c for c in cooling)] + cooling
    for entry in ordered:
        if walk.window_floor is not None and (entry.max_input_tokens or 0) <= walk.window_floor:
            continue
        if isinstance(entry, Pool):
            if pools is None:
                continue
            for choice in pools.order(entry, session):
                member = choice.member
                if (
                    walk.window_floor is not None
                    and (member.target.max_input_tokens or 0) <= walk.window_floor
                ):
                    continue
                wait = await pools.take(member, tokens)
                if wait is not None:
                    outcome.quota_wait = wait if outcome.quota_wait is None else min(outcome.quota_wait, wait)
                    continue
                verdict = await walk.attempt(member.target, 0, 0.0, pool=entry, member=member)
                if verdict != "next":
                    return outcome
                if walk.window_floor is not None:
                    break
            continue
        verdict = await walk.attempt(entry, retries, backoff)
        if verdict != "next":
            return outcome
    return outcome


class _Walk(Generic[T]):
    def __init__(
        self,
        outcome: Outcome[T],
        cooldowns: Cooldowns,
        call: Callable[[Target], Awaitable[T]],
        pools: PoolBalancer | None,
    ) -> None:
        self.outcome = outcome
        self.cooldowns = cooldowns
        self.call = call
        self.pools = pools
        # After a context-window failure: only larger windows are worth a try.
        self.window_floor: int | None = None

    async def attempt(
        self,
        target: Target,
        retries: int,
        backoff: float,
        *,
        pool: Pool | None = None,
        member: PoolMember | None = None,
    ) -> str:
        """ "done" (success, or a failure that is final) or "next" (move on)."""
        outcome, pools = self.outcome, self.pools
        pool_name = pool.name if pool is not None else None
        for try_no in range(retries + 1):
            started = time.perf_counter()
            if pools is not None and member is not None:
                pools.started(target.ref)
            try:
                result = await self.call(target)
            except ProviderError as exc:
                outcome.attempts.append(
                    Attempt(
                        target.ref,
                        exc.status,
                        exc.error_type,
                        _ms_since(started),
                        pool_name,
                        exc.message,
                        exc.failure.value,
                    )
                )
                log.warning("attempt at %s failed (%s): %s", target.ref, exc.status, exc.message)
                outcome.error, outcome.failed_target = exc, target
                if exc.context_window:
                    self.window_floor = target.max_input_tokens or 0
                    return "next"
                if not exc.retryable:
                    if exc.failure in TARGET_FAULTS:
                        self.cooldowns.fault(target.ref)
                    return "done"
                self.cooldowns.failure(target.ref)
                if try_no < retries:
                    delay = exc.retry_after if exc.retry_after is not None else backoff * (2**try_no)
                    await asyncio.sleep(min(delay, 10.0) * random.uniform(0.5, 1.5))
                    continue
                return "next"
            finally:
                if pools is not None and member is not None:
                    pools.finished(target.ref)
            self.cooldowns.success(target.ref)
            elapsed = _ms_since(started)
            if pools is not None and member is not None:
                pools.observe_latency(target.ref, elapsed)
            outcome.attempts.append(Attempt(target.ref, 200, None, elapsed, pool_name))
            outcome.target = target
            outcome.pool = pool
            outcome.member = member
            outcome.result = result
            outcome.error = None
            return "done"
        return "next"


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
