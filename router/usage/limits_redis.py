"""The Redis limit backend: counters shared by every replica.

Keys: `{namespace}:{scope}:{id}:{kind}:{window}`, e.g. `router:key:42:rpm:29034511` (epoch minute) or
`router:tenant:3:budget:2025-05`. An admission is one pipelined round trip (INCR + EXPIRE per rpm limit,
GET per tpm and budget limit); a refusal adds one more to give back the rpm increments. A month's budget
counter is created from the database's month-to-date spend (SET NX) the first time it is missing, and
`consume` only adds to a counter that exists (otherwise the next admission seeds it, spend included).

Redis down or slow (short socket timeouts, no client retries): fail open, log a warning, and leave Redis
alone for `retry_after_failure` seconds so that requests do not each pay a connection timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from router.usage.limit_rules import (
    Scope,
    SpendSource,
    Usage,
    minute_window,
    month_label,
    month_start,
    seconds_to_next_month,
    verdict,
)

log = logging.getLogger(__name__)

MINUTE_TTL = 120
# A month's budget counter outlives its month by a few days (then the database is the history).
BUDGET_TTL_MARGIN = 5 * 86400

# INCRBYFLOAT only when the counter exists: a missing counter is seeded from the database, which will
# include this cost once the recorder has written it.
_ADD_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
end
return false
"""

_REDIS_ERRORS = (RedisError, OSError, TimeoutError)


class RedisBackend:
    def __init__(
        self,
        client: Redis[Any],
        spend_source: SpendSource | None = None,
        *,
        namespace: str = "router",
        retry_after_failure: float = 5.0,
    ) -> None:
        self.client = client
        self._source = spend_source
        self.namespace = namespace
        self._retry_after_failure = retry_after_failure
        self._down_until = 0.0
        # After a failed database read, budgets count from zero for a while (no re-read per request).
        self._seed_retry_at = 0.0
        self._add_if_exists = client.register_script(_ADD_IF_EXISTS)

    @classmethod
    def from_url(
        cls, url: str, spend_source: SpendSource | None = None, *, namespace: str = "router"
    ) -> RedisBackend:
        client = Redis.from_url(
            url,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=30,
        )
        return cls(client, spend_source, namespace=namespace)

    def key(self, scope: Scope, kind: str, window: str | int) -> str:
        return f"{self.namespace}:{scope.kind}:{scope.id}:{kind}:{window}"

    async def start(self) -> None:
        try:
            await self.client.ping()
        except _REDIS_ERRORS as exc:
            self._went_down(exc)

    async def stop(self) -> None:
        # aclose() is redis-py 5+; the types-redis stubs predate it.
        await self.client.aclose()  # type: ignore[attr-defined]

    # --------------------------------------------------------------------------------------- admission

    async def admit(self, scopes: Sequence[Scope], now: float) -> None:
        if time.monotonic() < self._down_until:
            return
        try:
            usages, incremented = await self._read(scopes, now)
        except _REDIS_ERRORS as exc:
            self._went_down(exc)
            return
        for scope, usage in zip(scopes, usages, strict=True):
            refusal = verdict(scope, usage, now)
            if refusal is not None:
                await self._give_back(incremented)
                raise refusal

    async def _read(self, scopes: Sequence[Scope], now: float) -> tuple[list[Usage], list[str]]:
        minute = minute_window(now)
        month = month_label(now)
        pipe = self.client.pipeline(transaction=False)
        plan: list[tuple[Scope, str]] = []
        for scope in scopes:
            if scope.limits.rpm is not None:
                key = self.key(scope, "rpm", minute)
                pipe.incr(key)
                pipe.expire(key, MINUTE_TTL)
                plan.extend([(scope, "rpm"), (scope, "expire")])
            if scope.limits.tpm is not None:
                pipe.get(self.key(scope, "tpm", minute))
                plan.append((scope, "tpm"))
            if scope.limits.budget_usd is not None:
                pipe.get(self.key(scope, "budget", month))
                plan.append((scope, "budget"))
        results: list[Any] = await pipe.execute()
        counts: dict[tuple[str, int], dict[str, Any]] = {(s.kind, s.id): {} for s in scopes}
        incremented: list[str] = []
        unseeded: list[Scope] = []
        for (scope, kind), value in zip(plan, results, strict=True):
            if kind == "expire":
                continue
            if kind == "rpm":
                incremented.append(self.key(scope, "rpm", minute))
            if kind == "budget" and value is None:
                unseeded.append(scope)
            counts[(scope.kind, scope.id)][kind] = value
        if unseeded:
            seeded = await self._seed(unseeded, now)
            for scope in unseeded:
                counts[(scope.kind, scope.id)]["budget"] = seeded[(scope.kind, scope.id)]
        usages = [
            Usage(
                # INCR counted this request already; the verdict compares the requests before it.
                requests=int(c["rpm"]) - 1 if c.get("rpm") is not None else 0,
                tokens=int(c["tpm"]) if c.get("tpm") is not None else 0,
                spend=float(c["budget"]) if c.get("budget") is not None else 0.0,
            )
            for c in (counts[(s.kind, s.id)] for s in scopes)
        ]
        return usages, incremented

    async def budget_spend(self, scopes: Sequence[Scope], now: float) -> list[float]:
        if time.monotonic() < self._down_until:
            return [0.0 for _ in scopes]
        month = month_label(now)
        try:
            values = await self.client.mget([self.key(s, "budget", month) for s in scopes])
            missing = [s for s, v in zip(scopes, values, strict=True) if v is None]
            seeded = await self._seed(missing, now) if missing else {}
        except _REDIS_ERRORS as exc:
            self._went_down(exc)
            return [0.0 for _ in scopes]
        return [
            float(v) if v is not None else seeded.get((s.kind, s.id), 0.0)
            for s, v in zip(scopes, values, strict=True)
        ]

    async def _seed(self, scopes: Sequence[Scope], now: float) -> dict[tuple[str, int], float]:
        """Create the month's budget counters from the database (first one wins: SET NX), then read them."""
        by_key: dict[int, float] = {}
        by_tenant: dict[int, float] = {}
        if time.monotonic() < self._seed_retry_at:
            return {(s.kind, s.id): 0.0 for s in scopes}
        if self._source is not None:
            try:
                by_key, by_tenant = await self._source(
                    month_start(now),
                    [s.id for s in scopes if s.kind == "key"],
                    [s.id for s in scopes if s.kind == "tenant"],
                )
            except Exception as exc:  # boundary: a database hiccup leaves the counters unseeded, not a 5xx
                log.warning("could not read month-to-date spend to seed budgets (%r); retrying in 30s", exc)
                self._seed_retry_at = time.monotonic() + 30.0
                return {(s.kind, s.id): 0.0 for s in scopes}
        ttl = seconds_to_next_month(now) + BUDGET_TTL_MARGIN
        month = month_label(now)
        pipe = self.client.pipeline(transaction=False)
        for scope in scopes:
            spent = (by_key if scope.kind == "key" else by_tenant).get(scope.id, 0.0)
            key = self.key(scope, "budget", month)
            pipe.set(key, repr(float(spent)), nx=True, ex=ttl)
            pipe.get(key)
        results = await pipe.execute()
        return {(s.kind, s.id): float(results[2 * i + 1] or 0.0) for i, s in enumerate(scopes)}

    async def _give_back(self, keys: list[str]) -> None:
        """A refused request does not count against rpm."""
        if not keys:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.decr(key)
            await pipe.execute()
        except _REDIS_ERRORS as exc:
            self._went_down(exc)

    # ------------------------------------------------------------------------------------- consumption

    async def consume(self, scopes: Sequence[Scope], tokens: int, cost_usd: float, now: float) -> None:
        if time.monotonic() < self._down_until:
            return
        minute = minute_window(now)
        month = month_label(now)
        try:
            pipe = self.client.pipeline(transaction=False)
            queued = False
            for scope in scopes:
                if scope.limits.tpm is not None and tokens:
                    key = self.key(scope, "tpm", minute)
                    pipe.incrby(key, tokens)
                    pipe.expire(key, MINUTE_TTL)
                    queued = True
                if scope.limits.budget_usd is not None and cost_usd:
                    await self._add_if_exists(
                        keys=[self.key(scope, "budget", month)], args=[repr(float(cost_usd))], client=pipe
                    )
                    queued = True
            if queued:
                await pipe.execute()
        except _REDIS_ERRORS as exc:
            self._went_down(exc)

    def _went_down(self, exc: BaseException) -> None:
        if time.monotonic() >= self._down_until:
            log.warning(
                "redis unavailable for rate limits (%s: %s): serving without limits for %.0fs (fail open)",
                type(exc).__name__,
                exc,
                self._retry_after_failure,
            )
        self._down_until = time.monotonic() + self._retry_after_failure
