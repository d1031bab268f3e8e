"""Rate limits and budgets: requests and tokens per minute per key and per tenant; USD budgets per day,
week or month per key, per member (their keys in a tenant together) and per tenant.

`Limiter.reserve()` runs before any upstream call: it raises `LimitExceeded` (a 429 with retry-after) or
counts the request and charges its worst case (input estimate + max_tokens, priced at the dearest target of
its route) to the tpm and budget counters in the same step, so that a burst cannot overrun them;
`Limiter.settle()` swaps that reservation for the real tokens and cost when the request ends (a failure
settles to nothing). A key or tenant without limits never touches a backend (no I/O on the fast path).

Windows: rpm and tpm use fixed one-minute windows (UTC minute boundaries), so a client can burst up to
twice the limit across a boundary; refusals do not count against rpm. Budgets are per UTC calendar window:
a day (from 00:00 UTC), an ISO week (from Monday 00:00 UTC) or a month (from the 1st, 00:00 UTC); each
subject (key, member, tenant) may have one of each, and every budget that applies is checked, so the
tightest refuses first. A window's counter starts at zero exactly at its boundary (counters are named by
the window, not expired by a timer). A limit is reached when its counter (reservations included) is at or
past it: the last request admitted may pass it by at most its own worst case.

Two backends behind one interface:
- in-process (default): exact within one process (the check and the charge have no await between them).
  A window's spend so far is seeded from the database (the hourly rollups) on first use and refreshed
  every `refresh_interval` seconds. `router serve --workers N` without Redis: each worker keeps to 1/N
  of every limit (its own count times N against the limit), so together they stay within it (refusing
  early when traffic is uneven). Replicas without Redis see each other's spend only through the database
  refresh. Exact limits across replicas need Redis.
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
from router.routing.windows import DAY, same_window, window_end, window_label, window_start
from router.usage.limit_rules import (
    WINDOWS_LONGEST_FIRST,
    BudgetStanding,
    LimitBackend,
    Reservation,
    Scope,
    Spender,
    SpendSource,
    Usage,
    minute_window,
    verdict,
)

if TYPE_CHECKING:
    from router.settings import Settings
    from router.store.db import Database

# One budget's counter: whose, and which window ("day", "week", "month").
Counter = tuple[Spender, str]

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

    def applies(self, key: KeySpec, tenant: TenantSpec) -> bool:
        """Whether any limit or budget holds this key: its own, its member's or its tenant's (no I/O)."""
        return bool(_scopes(key, tenant))

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
        """Read-only: spend against the tightest budget (any window) of the key, its member or its tenant,
        in percent (None when none has a budget). Routing's `budget_used_pct` condition reads it."""
        standings = await self.budgets(key, tenant)
        if not standings:
            return None
        return max(100.0 * s.spent_usd / s.budget_usd if s.budget_usd else 100.0 for s in standings)

    async def budgets(self, key: KeySpec, tenant: TenantSpec) -> list[BudgetStanding]:
        """Read-only: every budget of the key, its member and its tenant, with its spend in its current
        window (no I/O for a caller without a budget). Claude Code's usage notices, /api/oauth/usage and /me
        read it."""
        scopes = [s for s in _scopes(key, tenant) if s.limits.budgets]
        if not scopes:
            return []
        now = self._clock()
        spent = await self.backend.budget_spend(scopes, now)
        return [
            BudgetStanding(
                s.kind, b.amount_usd, windows.get(b.window, 0.0), window_end(b.window, now), b.window
            )
            for s, windows in zip(scopes, spent, strict=True)
            for b in s.limits.budgets
        ]

    async def consume(self, key: KeySpec, tenant: TenantSpec, tokens: int, cost_usd: float) -> None:
        """Add a finished request's tokens and cost to the counters of whichever limits apply."""
        scopes = _scopes(key, tenant)
        if scopes and (tokens or cost_usd):
            await self.backend.consume(scopes, tokens, cost_usd, self._clock())


def _scopes(key: KeySpec, tenant: TenantSpec) -> list[Scope]:
    """What the request counts against: its key, its member's keys together (budgets), its tenant."""
    scopes: list[Scope] = []
    if key.limits.any:
        scopes.append(Scope("key", key.id, key.limits))
    member_budgets = tenant.member_budgets.get(key.member) if tenant.member_budgets else None
    if member_budgets:
        scopes.append(Scope("member", tenant.id, Limits(budgets=member_budgets), key.member))
    if tenant.limits.any:
        scopes.append(Scope("tenant", tenant.id, tenant.limits))
    return scopes


def budget_counters(scopes: Sequence[Scope]) -> list[Counter]:
    """Every budget counter of these scopes: (spender, window)."""
    return [(s.spender, b.window) for s in scopes for b in s.limits.budgets]


def database_spend_source(database: Database) -> SpendSource:
    """Spend since a window's start, read from the hourly rollups (store/usage_reports.py)."""

    async def source(start: datetime, spenders: Collection[Spender]) -> dict[Spender, float]:
        from router.store.usage_reports import spend_since

        async with asyncio.timeout(SPEND_READ_TIMEOUT), database.session() as session:
            return await spend_since(session, start, spenders)

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
        # The current label of each budget window ("2026-12-07", "2026-W50", "2026-12"): a budget counter is
        # only ever of the current window; when the label moves, that window's counters start again at zero.
        self._labels: dict[str, str] = {}
        # The Unix day the labels are of (nothing rolls within a day).
        self._day = -1.0
        # Per budget counter (spender, window): spend as last read from the database, what this process
        # consumed since that read, and the worst-case cost of requests admitted and not yet settled.
        self._spend_base: dict[Counter, float] = {}
        self._spend_local: dict[Counter, float] = {}
        self._seeded: set[Counter] = set()
        self._reserved: dict[Counter, float] = {}
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

    def _roll(self, now: float) -> None:
        """Start every budget window that has ended afresh (exactly at its UTC boundary)."""
        if now // DAY == self._day:
            return  # every window boundary is a day boundary: within the day nothing can have rolled
        self._day = now // DAY
        for window in WINDOWS_LONGEST_FIRST:
            label = window_label(window, now)
            if self._labels.get(window) == label:
                continue
            self._labels[window] = label
            for table in (self._spend_base, self._spend_local, self._reserved):
                for counter in [c for c in table if c[1] == window]:
                    del table[counter]
            self._seeded = {c for c in self._seeded if c[1] != window}

    def _counters(self, ident: tuple[str, int], now: float) -> list[int]:
        window = minute_window(now)
        counters = self._minute.get(ident)
        if counters is None or counters[0] != window:
            counters = [window, 0, 0]
            self._minute[ident] = counters
        return counters

    def spend(self, counter: Counter) -> float:
        """The window's spend as this process counts it: the database's, plus its own since, plus what it
        has reserved; its own part times `share` (each worker keeps to its share of the remainder)."""
        own = self._spend_local.get(counter, 0.0) + self._reserved.get(counter, 0.0)
        return self._spend_base.get(counter, 0.0) + own * self._share

    async def admit(
        self, scopes: Sequence[Scope], now: float, tokens: int = 0, cost_usd: float = 0.0
    ) -> bool:
        self._roll(now)
        unseeded = [c for c in budget_counters(scopes) if c not in self._seeded]
        if unseeded:
            await self._seed(unseeded, now)
            # A window may have ended while the database was read: count in the new one.
            self._roll(now)
        # No await from here on: the check and the charge are one step for every coroutine of this process.
        refusals = []
        for scope in scopes:
            _, requests, used_tokens = self._counters((scope.kind, scope.id), now)
            spend: dict[str, float] = {
                b.window: self.spend((scope.spender, b.window)) for b in scope.limits.budgets
            }
            refusal = verdict(scope, Usage(requests, used_tokens, spend), now, self._share)
            if refusal is not None:
                refusals.append(refusal)
        if refusals:
            # Several spent: name the one that frees up last (a retry before it would be refused again).
            raise max(refusals, key=lambda r: (r.kind == "budget", r.retry_after))
        for scope in scopes:
            counters = self._counters((scope.kind, scope.id), now)
            if scope.limits.rpm is not None:
                counters[1] += 1
            if scope.limits.tpm is not None:
                counters[2] += tokens
            if cost_usd:
                for budget in scope.limits.budgets:
                    counter = (scope.spender, budget.window)
                    self._reserved[counter] = self._reserved.get(counter, 0.0) + cost_usd
        return True

    async def settle(self, reservation: Reservation, tokens: int, cost_usd: float, now: float) -> None:
        self._roll(now)
        same_minute = minute_window(reservation.at) == minute_window(now)
        for scope in reservation.scopes:
            if scope.limits.tpm is not None:
                counters = self._counters((scope.kind, scope.id), now)
                # The reservation sits in its own minute: correct it there, or count afresh in this one.
                counters[2] = max(0, counters[2] + tokens - (reservation.tokens if same_minute else 0))
            for budget in scope.limits.budgets:
                counter = (scope.spender, budget.window)
                if same_window(budget.window, reservation.at, now) and reservation.cost_usd:
                    left = self._reserved.get(counter, 0.0) - reservation.cost_usd
                    self._reserved[counter] = left if left > 1e-12 else 0.0
                # A request that ends after its window's boundary counts in the window it ends in.
                self._spend_local[counter] = self._spend_local.get(counter, 0.0) + cost_usd

    async def budget_spend(self, scopes: Sequence[Scope], now: float) -> list[dict[str, float]]:
        self._roll(now)
        unseeded = [c for c in budget_counters(scopes) if c not in self._seeded]
        if unseeded:
            await self._seed(unseeded, now)
            self._roll(now)
        return [{b.window: self.spend((s.spender, b.window)) for b in s.limits.budgets} for s in scopes]

    async def consume(self, scopes: Sequence[Scope], tokens: int, cost_usd: float, now: float) -> None:
        await self.settle(Reservation(tuple(scopes), 0, 0.0, now), tokens, cost_usd, now)

    async def _seed(self, counters: Sequence[Counter], now: float) -> None:
        self._seeded.update(counters)
        await self._read_spend(counters, now)

    async def _read_spend(self, counters: Sequence[Counter], now: float) -> None:
        if self._source is None or not counters:
            return
        for window in WINDOWS_LONGEST_FIRST:
            mine = [c for c in counters if c[1] == window]
            if not mine:
                continue
            before = {c: self._spend_local.get(c, 0.0) for c in mine}
            label = window_label(window, now)
            try:
                spent = await self._source(window_start(window, now), [spender for spender, _ in mine])
            except Exception as exc:  # boundary: a database hiccup must not refuse requests (fail open)
                log.warning(
                    "could not read %s-to-date spend for budgets (%s); using local counts", window, exc
                )
                continue
            if self._labels.get(window) != label:
                continue  # the window ended during the read: its counters are gone, this read is stale
            for counter in mine:
                self._spend_base[counter] = spent.get(counter[0], 0.0)
                # What was consumed before the read is in the database (give or take the recorder's flush
                # interval); what was consumed while it ran is not yet.
                self._spend_local[counter] = self._spend_local.get(counter, 0.0) - before[counter]

    async def refresh(self, now: float | None = None) -> None:
        """Re-read the spend of every budget seen so far in its current window (the loop calls this)."""
        moment = time.time() if now is None else now
        self._roll(moment)
        await self._read_spend(sorted(self._seeded), moment)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_interval)
            await self.refresh()
