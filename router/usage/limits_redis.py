"""The Redis limit backend: counters shared by every replica.

Keys: `{namespace}:{scope}:{id}:{kind}:{window}`, e.g. `router:key:42:rpm:29034511` (epoch minute),
`router:tenant:3:budget:2025-05` (month), `router:key:42:budget:2025-W19` (ISO week),
`router:member:3:{digest of the name}:budget:2025-05-07` (day). A budget counter is named by its window,
so a new window starts from zero exactly at its UTC boundary; it expires a while after its window ends. An
admission is one Lua script over every counter of the request. A budget counter is created from the
database's spend since its window's start (SET NX) the first time it is missing, and `consume` only adds
to a counter that exists (otherwise the next admission seeds it, spend included).

Redis down or slow (short socket timeouts, no client retries): ROUTER_LIMITS_ON_REDIS_DOWN decides (open:
serve uncounted and add the spend back later; closed: refuse), logged, and Redis is left alone for
`retry_after_failure` seconds so that requests do not each pay a connection timeout.

The connection pool is a different matter: it is sized from the configured concurrency (`pool_size_for`)
and blocks, so a burst waits its turn for a connection. A request that still finds none within
`pool_timeout` is refused on its own (529, retry shortly): never served uncounted, and Redis is not
declared down for everyone else because this process was busy.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from router.observability.metrics import REDIS_UNAVAILABLE
from router.routing.model import BudgetWindow
from router.routing.windows import same_window, window_label, window_start
from router.usage.limit_rules import (
    WINDOWS_LONGEST_FIRST,
    LimitKind,
    OnRedisDown,
    Reservation,
    Scope,
    SpendSource,
    budget_refusal,
    minute_window,
    refusal,
    seconds_to_window_end,
)
from router.wire.errors import OverloadedError

log = logging.getLogger(__name__)

MINUTE_TTL = 120
# A budget counter outlives its window by a day (late settlements of its requests still find it; then the
# database is the history).
BUDGET_TTL_MARGIN = 86400

# INCRBYFLOAT only when the counter exists: a missing counter is seeded from the database, which will
# include this cost once the recorder has written it.
_ADD_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
end
return false
"""

# One admission, atomically for every counter of the request: refuse on the first limit reached (budgets,
# longest window first, then tpm, then rpm, as limit_rules.verdict orders them), else count the request and
# reserve its worst case. KEYS: per scope its rpm and tpm counters, then every budget counter. ARGV: scope
# count, budget count, tokens, cost, minute TTL, per scope its rpm and tpm limits (-1: none), per budget its
# amount. Returns {0} when admitted, {'rpm'|'tpm', i} when scope i refused, {'budget', j} when budget j is
# spent, {'unseeded', j} when budget j's counter does not exist yet (seed it, then ask again).
_ADMIT = """
local n = tonumber(ARGV[1])
local m = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
for j = 1, m do
  local spent = redis.call('GET', KEYS[2 * n + j])
  if not spent then return {'unseeded', j} end
  if tonumber(spent) >= tonumber(ARGV[5 + 2 * n + j]) then return {'budget', j} end
end
for i = 1, n do
  local rpm, tpm = tonumber(ARGV[4 + 2 * i]), tonumber(ARGV[5 + 2 * i])
  if tpm >= 0 and tonumber(redis.call('GET', KEYS[2 * i]) or '0') >= tpm then return {'tpm', i} end
  if rpm >= 0 and tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0') >= rpm then return {'rpm', i} end
end
for i = 1, n do
  local rpm, tpm = tonumber(ARGV[4 + 2 * i]), tonumber(ARGV[5 + 2 * i])
  if rpm >= 0 then
    redis.call('INCR', KEYS[2 * i - 1])
    redis.call('EXPIRE', KEYS[2 * i - 1], ttl)
  end
  if tpm >= 0 and tokens > 0 then
    redis.call('INCRBY', KEYS[2 * i], tokens)
    redis.call('EXPIRE', KEYS[2 * i], ttl)
  end
end
if cost > 0 then
  for j = 1, m do redis.call('INCRBYFLOAT', KEYS[2 * n + j], ARGV[4]) end
end
return {0}
"""

# Add (possibly negative) to counters, never below zero. ARGV: the deltas, then per key a TTL: a counter that
# does not exist is created with that TTL (a minute's tpm), or left alone when it is 0 (a month's budget is
# seeded from the database, which includes what was recorded).
_ADJUST = """
local n = #KEYS
for i = 1, n do
  local ttl = tonumber(ARGV[n + i])
  if redis.call('EXISTS', KEYS[i]) == 1 or (ttl > 0 and tonumber(ARGV[i]) > 0) then
    local v = tonumber(redis.call('INCRBYFLOAT', KEYS[i], ARGV[i]))
    if v < 0 then redis.call('SET', KEYS[i], '0', 'KEEPTTL') end
    if ttl > 0 then redis.call('EXPIRE', KEYS[i], ttl) end
  end
end
return 1
"""

_REDIS_ERRORS = (RedisError, OSError, TimeoutError)


class LimitsUnavailable(OverloadedError):
    """ROUTER_LIMITS_ON_REDIS_DOWN=closed and Redis cannot be asked: a limited request is refused (529)."""


class LimitsBusy(OverloadedError):
    """Every pooled Redis connection stayed busy for the whole pool timeout: this request is refused (529)."""


class PoolExhausted(RedisError):
    """No pooled connection freed up within the pool timeout (Redis itself may be fine)."""


# Concurrent requests per pooled connection: an admission holds one for a single round trip (well under a
# millisecond), so a burst of the whole configured concurrency clears within ~16 round trips per connection.
REQUESTS_PER_CONNECTION = 16
MIN_POOL, MAX_POOL = 4, 256


def pool_size_for(concurrency: int) -> int:
    """The Redis pool for a process configured to serve `concurrency` requests at once (Settings.concurrency);
    Settings.redis_pool_size overrides it."""
    return max(MIN_POOL, min(MAX_POOL, math.ceil(concurrency / REQUESTS_PER_CONNECTION)))


class _WaitingPool(BlockingConnectionPool):  # type: ignore[type-arg]
    """A blocking pool whose timeout says so (PoolExhausted), instead of redis-py's ConnectionError that
    reads like an outage."""

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().get_connection(*args, **kwargs)
        except RedisConnectionError as exc:
            if isinstance(exc.__cause__, TimeoutError):
                raise PoolExhausted(f"no Redis connection free within {self.timeout}s") from exc
            raise


class RedisBackend:
    def __init__(
        self,
        client: Redis[Any],
        spend_source: SpendSource | None = None,
        *,
        namespace: str = "router",
        retry_after_failure: float = 5.0,
        on_down: OnRedisDown = "open",
    ) -> None:
        self.client = client
        self._source = spend_source
        self.namespace = namespace
        self._retry_after_failure = retry_after_failure
        self._on_down: OnRedisDown = on_down
        self._down_until = 0.0
        # After a failed database read, budgets count from zero for a while (no re-read per request).
        self._seed_retry_at = 0.0
        # Tokens and spend settled while Redis was away: counter key -> (delta, ttl), added back on return.
        self._owed: dict[str, tuple[float, int]] = {}
        # Budget counters being seeded from the database now: the others finding them missing wait.
        self._seeding: dict[str, asyncio.Future[None]] = {}
        self._add_if_exists = client.register_script(_ADD_IF_EXISTS)
        self._admit_script = client.register_script(_ADMIT)
        self._adjust_script = client.register_script(_ADJUST)

    @classmethod
    def from_url(
        cls,
        url: str,
        spend_source: SpendSource | None = None,
        *,
        namespace: str = "router",
        pool_size: int = 64,
        pool_timeout: float = 2.0,
        on_down: OnRedisDown = "open",
        socket_timeout: float = 2.0,
    ) -> RedisBackend:
        """A blocking pool: when every connection is busy an admission waits for one (up to
        `pool_timeout`) instead of failing as if Redis were down. Each admission holds a connection for one
        round trip, so `pool_size` (`pool_size_for(Settings.concurrency)`, or Settings.redis_pool_size)
        serves many times as many requests at once."""
        pool: BlockingConnectionPool[Any] = _WaitingPool.from_url(
            url,
            max_connections=max(1, pool_size),
            timeout=pool_timeout,
            # A reply slower than this is an outage (a loaded host may be slow; a dead one never answers).
            socket_timeout=socket_timeout,
            socket_connect_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=30,
        )
        return cls(Redis(connection_pool=pool), spend_source, namespace=namespace, on_down=on_down)

    def key(self, scope: Scope, kind: str, window: str | int) -> str:
        return f"{self.namespace}:{scope.label()}:{kind}:{window}"

    def budget_key(self, scope: Scope, window: BudgetWindow, now: float) -> str:
        """The counter of the scope's budget for the `window` holding `now`."""
        return self.key(scope, "budget", window_label(window, now))

    async def start(self) -> None:
        try:
            await self.client.ping()
        except _REDIS_ERRORS as exc:
            self._went_down(exc)

    async def stop(self) -> None:
        # aclose() is redis-py 5+; the types-redis stubs predate it.
        await self.client.aclose()  # type: ignore[attr-defined]

    # --------------------------------------------------------------------------------------- admission

    async def admit(
        self, scopes: Sequence[Scope], now: float, tokens: int = 0, cost_usd: float = 0.0
    ) -> bool:
        if time.monotonic() < self._down_until:
            return self._unavailable()
        if self._owed:
            await self._repay()
        minute = minute_window(now)
        budgets = _budgets(scopes)
        keys: list[str] = []
        args: list[Any] = [len(scopes), len(budgets), int(tokens), repr(float(cost_usd)), MINUTE_TTL]
        for scope in scopes:
            keys += [self.key(scope, "rpm", minute), self.key(scope, "tpm", minute)]
            args += [
                scope.limits.rpm if scope.limits.rpm is not None else -1,
                scope.limits.tpm if scope.limits.tpm is not None else -1,
            ]
        keys += [self.budget_key(scope, window, now) for scope, window, _ in budgets]
        args += [repr(float(amount)) for _, _, amount in budgets]
        try:
            for _ in range(3):
                answer = await self._admit_script(keys=keys, args=args)
                verdict = answer[0].decode() if isinstance(answer[0], bytes) else str(answer[0])
                if verdict != "unseeded":
                    break
                scope, window, _ = budgets[int(answer[1]) - 1]
                await self._seed([(scope, window)], now)
        except PoolExhausted:
            REDIS_UNAVAILABLE.labels("busy").inc()
            raise LimitsBusy("rate limits are busy right now; retry shortly", retry_after=1) from None
        except _REDIS_ERRORS as exc:
            self._went_down(exc)
            return self._unavailable()
        if verdict in ("0", "unseeded"):
            return True
        index = int(answer[1]) - 1
        if verdict == "budget":
            scope, window, _ = budgets[index]
            raise budget_refusal(scope, window, now)
        raise refusal(cast(LimitKind, verdict), scopes[index], now)

    def _unavailable(self) -> bool:
        """Redis cannot be asked: serve uncharged (open) or refuse (closed), as configured; counted."""
        REDIS_UNAVAILABLE.labels(self._on_down).inc()
        if self._on_down == "closed":
            raise LimitsUnavailable("rate limits cannot be checked right now; retry shortly", retry_after=5)
        return False

    async def budget_spend(self, scopes: Sequence[Scope], now: float) -> list[dict[str, float]]:
        wanted = [(s, b.window) for s in scopes for b in s.limits.budgets]
        values: list[Any] = [None] * len(wanted)
        seeded: dict[str, float] = {}
        if time.monotonic() >= self._down_until and wanted:
            try:
                values = await self.client.mget([self.budget_key(s, w, now) for s, w in wanted])
                missing = [pair for pair, v in zip(wanted, values, strict=True) if v is None]
                seeded = await self._seed(missing, now) if missing else {}
            except PoolExhausted:
                # The admission that follows waits (or is refused) in turn.
                values, seeded = [None] * len(wanted), {}
            except _REDIS_ERRORS as exc:
                self._went_down(exc)
                values, seeded = [None] * len(wanted), {}
        out: list[dict[str, float]] = [{} for _ in scopes]
        position = {id(s): i for i, s in enumerate(scopes)}
        for (scope, window), value in zip(wanted, values, strict=True):
            key = self.budget_key(scope, window, now)
            out[position[id(scope)]][window] = float(value) if value is not None else seeded.get(key, 0.0)
        return out

    async def _seed(self, counters: Sequence[tuple[Scope, BudgetWindow]], now: float) -> dict[str, float]:
        """Create the windows' budget counters from the database (first one wins: SET NX), then read them.
        One database read per counter however many requests find it missing at once (single flight); when
        the database cannot be read the counter starts from zero for a minute (then it is seeded again), so
        that a burst is still counted rather than let through."""
        keys = [self.budget_key(scope, window, now) for scope, window in counters]
        waiting = [self._seeding[k] for k in keys if k in self._seeding]
        mine = [(pair, k) for pair, k in zip(counters, keys, strict=True) if k not in self._seeding]
        if mine:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            for _, k in mine:
                self._seeding[k] = done
            try:
                await self._seed_from_database([pair for pair, _ in mine], now)
            finally:
                for _, k in mine:
                    self._seeding.pop(k, None)
                done.set_result(None)
        for other in waiting:
            await asyncio.shield(other)
        values = await self.client.mget(keys)
        return {k: float(v or 0.0) for k, v in zip(keys, values, strict=True)}

    async def _seed_from_database(self, counters: Sequence[tuple[Scope, BudgetWindow]], now: float) -> None:
        pipe = self.client.pipeline(transaction=False)
        for window in WINDOWS_LONGEST_FIRST:
            scopes = [scope for scope, w in counters if w == window]
            if not scopes:
                continue
            spent: dict[tuple[str, int, str], float] = {}
            ttl = seconds_to_window_end(window, now) + BUDGET_TTL_MARGIN
            if self._source is not None and time.monotonic() >= self._seed_retry_at:
                try:
                    spent = await self._source(window_start(window, now), [s.spender for s in scopes])
                except Exception as exc:  # boundary: a database hiccup must not refuse requests nor free them
                    log.warning("could not read %s spend to seed budgets (%r); counting from 0", window, exc)
                    self._seed_retry_at = time.monotonic() + 30.0
                    ttl = 60
            elif self._source is not None:
                ttl = 60
            for scope in scopes:
                amount = spent.get(scope.spender, 0.0)
                pipe.set(self.budget_key(scope, window, now), repr(float(amount)), nx=True, ex=ttl)
        await pipe.execute()

    # ------------------------------------------------------------------------------------- settlement

    async def settle(self, reservation: Reservation, tokens: int, cost_usd: float, now: float) -> None:
        """Swap the reservation for the real figures: add (real - reserved) to the counters it was charged
        to (its own minute and windows), and the real figures afresh to the windows that have rolled."""
        at = reservation.at
        same_minute = minute_window(at) == minute_window(now)
        keys: list[str] = []
        deltas: list[str] = []
        ttls: list[int] = []
        for scope in reservation.scopes:
            if scope.limits.tpm is not None:
                delta = tokens - (reservation.tokens if same_minute and reservation.charged else 0)
                if delta:
                    keys.append(self.key(scope, "tpm", minute_window(now)))
                    deltas.append(str(delta))
                    ttls.append(MINUTE_TTL)
            for budget in scope.limits.budgets:
                charged = same_window(budget.window, at, now) and reservation.charged
                charged_cost = reservation.cost_usd if charged else 0.0
                delta_cost = cost_usd - charged_cost
                if delta_cost:
                    keys.append(self.budget_key(scope, budget.window, now))
                    deltas.append(repr(delta_cost))
                    ttls.append(0)
        if not keys:
            return
        if time.monotonic() >= self._down_until:
            try:
                await self._adjust_script(keys=keys, args=[*deltas, *ttls])
                return
            except PoolExhausted:
                pass  # kept below and added with the next admission, as after an outage
            except _REDIS_ERRORS as exc:
                self._went_down(exc)
        # Redis is away: keep what was spent, and add it back when it returns.
        for key, change, ttl in zip(keys, deltas, ttls, strict=True):
            owed, _ = self._owed.get(key, (0.0, ttl))
            self._owed[key] = (owed + float(change), ttl)

    async def _repay(self) -> None:
        """Add the spend settled while Redis was away to its counters (a budget counter that is gone will be
        seeded from the database, which holds that spend)."""
        owed, self._owed = self._owed, {}
        keys = list(owed)
        try:
            await self._adjust_script(
                keys=keys, args=[*(repr(owed[k][0]) for k in keys), *(owed[k][1] for k in keys)]
            )
        except _REDIS_ERRORS as exc:
            for key, (delta, ttl) in owed.items():
                current, _ = self._owed.get(key, (0.0, ttl))
                self._owed[key] = (current + delta, ttl)
            if not isinstance(exc, PoolExhausted):
                self._went_down(exc)
            return
        log.info("redis is back: added the spend of %d counters settled while it was away", len(keys))

    async def consume(self, scopes: Sequence[Scope], tokens: int, cost_usd: float, now: float) -> None:
        await self.settle(Reservation(tuple(scopes), 0, 0.0, now), tokens, cost_usd, now)

    def _went_down(self, exc: BaseException) -> None:
        if time.monotonic() >= self._down_until:
            behaviour = "serving without limits" if self._on_down == "open" else "refusing limited requests"
            log.warning(
                "redis unavailable for rate limits (%s: %s): %s for %.0fs (ROUTER_LIMITS_ON_REDIS_DOWN=%s)",
                type(exc).__name__,
                exc,
                behaviour,
                self._retry_after_failure,
                self._on_down,
            )
        self._down_until = time.monotonic() + self._retry_after_failure


def _budgets(scopes: Sequence[Scope]) -> list[tuple[Scope, BudgetWindow, float]]:
    """Every budget of these scopes, longest window first (a refusal then names the one that frees up
    last)."""
    found = [(s, b.window, b.amount_usd) for s in scopes for b in s.limits.budgets]
    return sorted(found, key=lambda item: WINDOWS_LONGEST_FIRST.index(item[1]))
