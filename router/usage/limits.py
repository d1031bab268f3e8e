"""Rate limits and budgets, per key and per tenant: requests per minute, tokens per minute, monthly USD.

`Limiter.reserve()` runs before any upstream call: it raises `LimitExceeded` (a 429 with retry-after) or
counts the request and charges its worst case (input estimate + max_tokens, priced at the dearest target of
its route) to the tpm and budget counters in the same step, so that a burst cannot overrun them;
`Limiter.settle()` swaps that reservation for the real tokens and cost when the request ends (a failure
settles to nothing). A key or tenant without limits never touches a backend (no I/O on the fast path).

Windows: rpm and tpm use fixed one-minute windows (UTC minute boundaries), so a client can burst up to
twice the limit across a boundary; refusals do not count against rpm. Budgets are per calendar month (UTC).
A limit is reached when its counter (reservations included) is at or past it: the last request admitted may
pass it by at most its own worst case.

Two backends behind one interface:
- in-process (default): exact within one process (the check and the charge have no await between them).
  Month-to-date spend is seeded from the database on first use and refreshed every `refresh_interval`
  seconds. `router serve --workers N` without Redis: each worker keeps to 1/N of every limit (its own count
  times N against the limit), so together they stay within it (refusing early when traffic is uneven).
  Replicas without Redis see each other's spend only through the database refresh. Exact limits across
  replicas need Redis.
- Redis (Settings.redis_url): counters shared by every replica; an admission is one Lua script, atomic for
  all the request's scopes. When Redis is unreachable the limiter fails OPEN: requests are served unlimited
  (a warning is logged) rather than refused, and Redis is retried after a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from router.routing.model import KeySpec, Limits, TenantSpec

if TYPE_CHECKING:
    from router.settings import Settings
    from router.store.db import Database

from router.usage.limit_rules import (
    BudgetStanding,
    LimitBackend,
    Reservation,
    Scope,
    SpendSource,
    Usage,
    minute_window,
    month_label,
    month_start,
    next_month_start,
    verdict,
)

log = logging.getLogger(__name__)

# An upstream may report any count; counters (Redis INCRBY is 64-bit) take at most this per request.
MAX_RESERVED_TOKENS = 2**40
REFRESH_INTERVAL = 30.0
# A spend read runs on the request path the first time a budget is seen: never let it hang there.
SPEND_READ_TIMEOUT = 2.0


# ------------------------------------------------------------------------------------------- the facade


class Limiter:
    """The gateway's one entry point; the backend decides where counters live."""

    def __init__(
        self,
        settings: Settings | None = None,
        database: Database | None = None,
        *,
        backend: LimitBackend | None = None,
        namespace: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Redis when Settings.redis_url is set, in-process counters otherwise (or the `backend` given).
        `database` seeds month-to-date spend for budgets; `namespace` prefixes the Redis keys."""
        if backend is None:
            source = database_spend_source(database) if database is not None else None
            if settings is not None and settings.redis_url:
                from router.usage.limits_redis import RedisBackend, pool_size_for

                prefix = namespace or settings.redis_namespace
                backend = RedisBackend.from_url(
                    settings.redis_url,
                    source,
                    namespace=prefix,
                    pool_size=settings.redis_pool_size or pool_size_for(settings.concurrency),
                    pool_timeout=settings.redis_pool_timeout,
                    on_down=settings.limits_on_redis_down,
                )
            else:
                # Without Redis each worker process counts apart: each keeps to its share of every limit.
                share = settings.workers if settings is not None else 1
                backend = MemoryBackend(source, share=share)
        self.backend: LimitBackend = backend
        self._clock = clock
        rpm = settings.count_tokens_rpm if settings is not None else 0
        self._count_tokens_limits = Limits(rpm=rpm) if rpm else None

    async def start(self) -> None:
        await self.backend.start()

    async def stop(self) -> None:
        await self.backend.stop()

    async def admit(self, key: KeySpec, tenant: TenantSpec) -> None:
        """Raise LimitExceeded when a limit of the key or its tenant is reached; count the request."""
        await self.reserve(key, tenant)

    async def reserve(
        self, key: KeySpec, tenant: TenantSpec, tokens: int = 0, cost_usd: float = 0.0
    ) -> Reservation | None:
        """Admit the request (or raise LimitExceeded) and charge its worst case, `tokens` (input estimate +
        max_tokens) and `cost_usd` (those at the target's price), to its tpm and budget counters at once,
        so that a burst cannot overrun them; `settle` swaps that for the real figures. None when no limit
        applies (nothing to settle)."""
        scopes = _scopes(key, tenant)
        if not scopes:
            return None
        now = self._clock()
        tokens = min(max(tokens, 0), MAX_RESERVED_TOKENS)
        cost_usd = cost_usd if 0.0 <= cost_usd < math.inf else 0.0
        charged = await self.backend.admit(scopes, now, tokens, cost_usd)
        return Reservation(tuple(scopes), tokens, cost_usd, now, charged)

    async def settle(self, reservation: Reservation, tokens: int, cost_usd: float) -> None:
        """Replace a reservation's worst case by what the request used (also when it failed: then 0)."""
        tokens = min(max(tokens, 0), MAX_RESERVED_TOKENS)
        cost_usd = cost_usd if 0.0 <= cost_usd < math.inf else 0.0
        await self.backend.settle(reservation, tokens, cost_usd, self._clock())

    async def admit_count_tokens(self, key: KeySpec) -> None:
        """Raise LimitExceeded past the key's count_tokens requests per minute; count the request."""
        if self._count_tokens_limits is not None:
            scope = Scope("count_tokens", key.id, self._count_tokens_limits)
            await self.backend.admit([scope], self._clock())

    async def budget_used_pct(self, key: KeySpec, tenant: TenantSpec) -> float | None:
        """Read-only: spend against the tightest monthly budget of the key or its tenant, in percent
        (None when neither has a budget). Routing's `budget_used_pct` condition reads it."""
        scopes = [s for s in _scopes(key, tenant) if s.limits.budget_usd is not None]
        if not scopes:
            return None
        spent = await self.backend.budget_spend(scopes, self._clock())
        used = [
            100.0 * amount / s.limits.budget_usd if s.limits.budget_usd else 100.0
            for s, amount in zip(scopes, spent, strict=True)
            if s.limits.budget_usd is not None
        ]
        return max(used)

    async def budgets(self, key: KeySpec, tenant: TenantSpec) -> list[BudgetStanding]:
        """Read-only: the monthly budgets of the key and its tenant and their month-to-date spend (no I/O
        for a caller without a budget). Claude Code's usage notices and /api/oauth/usage read it."""
        scopes = [s for s in _scopes(key, tenant) if s.limits.budget_usd is not None]
        if not scopes:
            return []
        now = self._clock()
        spent = await self.backend.budget_spend(scopes, now)
        resets_at = next_month_start(now)
        return [
            BudgetStanding(s.kind, float(s.limits.budget_usd or 0.0), amount, resets_at)
            for s, amount in zip(scopes, spent, strict=True)
        ]

    async def consume(self, key: KeySpec, tenant: TenantSpec, tokens: int, cost_usd: float) -> None:
        """Add a finished request's tokens and cost to the counters of whichever limits apply."""
        scopes = _scopes(key, tenant)
        if scopes and (tokens or cost_usd):
            await self.backend.consume(scopes, tokens, cost_usd, self._clock())


def _scopes(key: KeySpec, tenant: TenantSpec) -> list[Scope]:
    scopes: list[Scope] = []
    if key.limits.any:
        scopes.append(Scope("key", key.id, key.limits))
    if tenant.limits.any:
        scopes.append(Scope("tenant", tenant.id, tenant.limits))
    return scopes


def database_spend_source(database: Database) -> SpendSource:
    """Month-to-date spend read from usage_records (store/usage_reports.py)."""

    async def source(
        start: datetime, key_ids: Collection[int], tenant_ids: Collection[int]
    ) -> tuple[dict[int, float], dict[int, float]]:
        from router.store.usage_reports import month_to_date_spend

        async with asyncio.timeout(SPEND_READ_TIMEOUT), database.session() as session:
            return await month_to_date_spend(session, start, key_ids=key_ids, tenant_ids=tenant_ids)

    return source


# ------------------------------------------------------------------------------------ in-process backend


class MemoryBackend:
    """Counters in this process; spend seeded from (and periodically re-read from) the database."""

    def __init__(
        self,
        spend_source: SpendSource | None = None,
        *,
        refresh_interval: float = REFRESH_INTERVAL,
        share: int = 1,
    ):
        self._source = spend_source
        self._refresh_interval = refresh_interval
        # (kind, id) -> [minute window, requests admitted, tokens consumed]
        self._minute: dict[tuple[str, int], list[int]] = {}
        self._month = ""
        # Spend as last read from the database, and what this process consumed since that read.
        self._spend_base: dict[tuple[str, int], float] = {}
        self._spend_local: dict[tuple[str, int], float] = {}
        self._seeded: set[tuple[str, int]] = set()
        # Worst-case cost of requests admitted and not yet settled (never part of a database read).
        self._reserved: dict[tuple[str, int], float] = {}
        self._share = max(1, share)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._source is not None and self._task is None:
            self._task = asyncio.create_task(self._refresh_loop(), name="limits-spend-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _roll_month(self, now: float) -> None:
        label = month_label(now)
        if label != self._month:
            self._month = label
            self._spend_base.clear()
            self._spend_local.clear()
            self._seeded.clear()
            self._reserved.clear()

    def _counters(self, ident: tuple[str, int], now: float) -> list[int]:
        window = minute_window(now)
        counters = self._minute.get(ident)
        if counters is None or counters[0] != window:
            counters = [window, 0, 0]
            self._minute[ident] = counters
        return counters

    def spend(self, ident: tuple[str, int]) -> float:
        """Month-to-date spend as this process counts it: the database's, plus its own since, plus what it
        has reserved; its own part times `share` (each worker keeps to its share of the remainder)."""
        own = self._spend_local.get(ident, 0.0) + self._reserved.get(ident, 0.0)
        return self._spend_base.get(ident, 0.0) + own * self._share

    async def admit(
        self, scopes: Sequence[Scope], now: float, tokens: int = 0, cost_usd: float = 0.0
    ) -> bool:
        self._roll_month(now)
        unseeded = [
            s for s in scopes if s.limits.budget_usd is not None and (s.kind, s.id) not in self._seeded
        ]
        if unseeded:
            await self._seed(unseeded, now)
        # No await from here on: the check and the charge are one step for every coroutine of this process.
        for scope in scopes:
            ident = (scope.kind, scope.id)
            _, requests, used_tokens = self._counters(ident, now)
            refusal = verdict(scope, Usage(requests, used_tokens, self.spend(ident)), now, self._share)
            if refusal is not None:
                raise refusal
        for scope in scopes:
            ident = (scope.kind, scope.id)
            counters = self._counters(ident, now)
            if scope.limits.rpm is not None:
                counters[1] += 1
            if scope.limits.tpm is not None:
                counters[2] += tokens
            if scope.limits.budget_usd is not None and cost_usd:
                self._reserved[ident] = self._reserved.get(ident, 0.0) + cost_usd
        return True

    async def settle(self, reservation: Reservation, tokens: int, cost_usd: float, now: float) -> None:
        self._roll_month(now)
        same_month = month_label(reservation.at) == month_label(now)
        same_minute = minute_window(reservation.at) == minute_window(now)
        for scope in reservation.scopes:
            ident = (scope.kind, scope.id)
            if scope.limits.tpm is not None:
                counters = self._counters(ident, now)
                # The reservation sits in its own minute: correct it there, or count afresh in this one.
                counters[2] = max(0, counters[2] + tokens - (reservation.tokens if same_minute else 0))
            if scope.limits.budget_usd is not None:
                if same_month and reservation.cost_usd:
                    left = self._reserved.get(ident, 0.0) - reservation.cost_usd
                    self._reserved[ident] = left if left > 1e-12 else 0.0
                self._spend_local[ident] = self._spend_local.get(ident, 0.0) + cost_usd

    async def budget_spend(self, scopes: Sequence[Scope], now: float) -> list[float]:
        self._roll_month(now)
        unseeded = [s for s in scopes if (s.kind, s.id) not in self._seeded]
        if unseeded:
            await self._seed(unseeded, now)
        return [self.spend((s.kind, s.id)) for s in scopes]

    async def consume(self, scopes: Sequence[Scope], tokens: int, cost_usd: float, now: float) -> None:
        await self.settle(Reservation(tuple(scopes), 0, 0.0, now), tokens, cost_usd, now)

    async def _seed(self, scopes: Sequence[Scope], now: float) -> None:
        idents = [(s.kind, s.id) for s in scopes]
        self._seeded.update(idents)
        await self._read_spend(idents, now)

    async def _read_spend(self, idents: Sequence[tuple[str, int]], now: float) -> None:
        if self._source is None or not idents:
            return
        before = {ident: self._spend_local.get(ident, 0.0) for ident in idents}
        try:
            by_key, by_tenant = await self._source(
                month_start(now),
                [i for kind, i in idents if kind == "key"],
                [i for kind, i in idents if kind == "tenant"],
            )
        except Exception as exc:  # boundary: a database hiccup must not refuse requests (fail open)
            log.warning("could not read month-to-date spend for budgets (%s); using local counts", exc)
            return
        for kind, ident_id in idents:
            ident = (kind, ident_id)
            self._spend_base[ident] = (by_key if kind == "key" else by_tenant).get(ident_id, 0.0)
            # What was consumed before the read is in the database (give or take the recorder's flush
            # interval); what was consumed while it ran is not yet.
            self._spend_local[ident] = self._spend_local.get(ident, 0.0) - before[ident]

    async def refresh(self, now: float | None = None) -> None:
        """Re-read the spend of every budgeted key and tenant seen so far (the loop calls this)."""
        moment = time.time() if now is None else now
        self._roll_month(moment)
        await self._read_spend(sorted(self._seeded), moment)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_interval)
            await self.refresh()
