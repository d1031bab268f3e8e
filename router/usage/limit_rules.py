"""What a limit is, apart from where its counters live: the scopes a request is counted in, the fixed
windows (UTC minutes, calendar months), and the verdict on one scope's usage. Both backends (limits.py's
in-process one and limits_redis.py) count with these.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from router.routing.model import Limits
from router.wire.errors import RateLimitError

LimitKind = Literal["rpm", "tpm", "budget"]
# What a limited request gets while Redis cannot be asked (Settings.limits_on_redis_down).
OnRedisDown = Literal["open", "closed"]
# "count_tokens": a key's own requests-per-minute on /v1/messages/count_tokens (Settings.count_tokens_rpm).
ScopeKind = Literal["key", "tenant", "count_tokens"]
# (month_start, key ids, tenant ids) -> (spend per key id, spend per tenant id), month to date, in USD
SpendSource = Callable[
    [datetime, Collection[int], Collection[int]], Awaitable[tuple[dict[int, float], dict[int, float]]]
]


class LimitExceeded(RateLimitError):
    """A key's or tenant's limit refused the request: Anthropic's 429 rate_limit_error with retry-after."""

    def __init__(self, kind: LimitKind, scope: ScopeKind, retry_after: int, message: str) -> None:
        super().__init__(message, retry_after=retry_after)
        self.kind: LimitKind = kind
        self.scope: ScopeKind = scope
        self.retry_after: int = retry_after

    def __repr__(self) -> str:
        return f"LimitExceeded(kind={self.kind!r}, scope={self.scope!r}, retry_after={self.retry_after})"


@dataclass(frozen=True, slots=True)
class Scope:
    kind: ScopeKind
    id: int
    limits: Limits


@dataclass(frozen=True, slots=True)
class Usage:
    """One scope's counters as an admission sees them. `requests` excludes the request being admitted."""

    requests: int = 0
    tokens: int = 0
    spend: float = 0.0


@dataclass(frozen=True, slots=True)
class Reservation:
    """What an admission charged ahead of the upstream call: the request's worst case (input estimate plus
    max_tokens, priced at the dearest target of its route). `settle` replaces it with the real figures."""

    scopes: tuple[Scope, ...]
    tokens: int
    cost_usd: float
    # When it was admitted (its minute and month windows).
    at: float
    # False when the backend could not charge it (Redis away, serving open): settle then adds all.
    charged: bool = True


@dataclass(frozen=True, slots=True)
class BudgetStanding:
    """Where one monthly budget stands: what Claude Code's usage notices and /api/oauth/usage report."""

    scope: ScopeKind
    budget_usd: float
    spent_usd: float
    resets_at: datetime

    @property
    def utilization(self) -> float:
        """Fraction of the budget spent (1.0 and above once it is spent; a $0 budget is always spent)."""
        return self.spent_usd / self.budget_usd if self.budget_usd > 0 else 1.0


class LimitBackend(Protocol):
    async def admit(
        self, scopes: Sequence[Scope], now: float, tokens: int = 0, cost_usd: float = 0.0
    ) -> bool:
        """Refuse (LimitExceeded) or count the request and reserve `tokens` and `cost_usd`, atomically;
        False when it was admitted without being counted (Redis away, ROUTER_LIMITS_ON_REDIS_DOWN=open)."""
        ...

    async def settle(self, reservation: Reservation, tokens: int, cost_usd: float, now: float) -> None:
        """Replace a reservation by what the request really used."""
        ...

    async def consume(self, scopes: Sequence[Scope], tokens: int, cost_usd: float, now: float) -> None: ...

    async def budget_spend(self, scopes: Sequence[Scope], now: float) -> list[float]:
        """Month-to-date spend of each (budgeted) scope, read only."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


# ------------------------------------------------------------------------------------------ time helpers


def minute_window(now: float) -> int:
    return int(now // 60)


def seconds_to_next_minute(now: float) -> int:
    return max(1, math.ceil(60 - now % 60))


def month_start(now: float) -> datetime:
    moment = datetime.fromtimestamp(now, UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month_start(now: float) -> datetime:
    start = month_start(now)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def month_label(now: float) -> str:
    return month_start(now).strftime("%Y-%m")


def seconds_to_next_month(now: float) -> int:
    return max(1, math.ceil(next_month_start(now).timestamp() - now))


_WHO: dict[ScopeKind, str] = {
    "key": "this API key",
    "tenant": "this tenant",
    "count_tokens": "count_tokens for this API key",
}


def refusal(kind: LimitKind, scope: Scope, now: float) -> LimitExceeded:
    """The 429 for one limit of one scope (its message, and retry-after to the window's end)."""
    limits = scope.limits
    who = _WHO[scope.kind]
    if kind == "budget":
        resets = next_month_start(now).strftime("%Y-%m-%d %H:%M UTC")
        return LimitExceeded(
            "budget",
            scope.kind,
            seconds_to_next_month(now),
            f"The monthly budget of ${limits.budget_usd or 0:.2f} for {who} is spent; it resets at {resets}.",
        )
    wait = seconds_to_next_minute(now)
    if kind == "tpm":
        return LimitExceeded(
            "tpm",
            scope.kind,
            wait,
            f"Rate limit: {who} allows {limits.tpm} tokens per minute; retry in {wait}s.",
        )
    return LimitExceeded(
        "rpm",
        scope.kind,
        wait,
        f"Rate limit: {who} allows {limits.rpm} requests per minute; retry in {wait}s.",
    )


def verdict(scope: Scope, usage: Usage, now: float, share: int = 1) -> LimitExceeded | None:
    """The refusal for one scope's counters, or None: budget first (longest wait), then tpm, then rpm.
    `share`: how many processes count apart for the same limit (--workers without Redis); each admits
    while its own count times `share` is below the limit, so together they stay within it."""
    limits = scope.limits
    if limits.budget_usd is not None and usage.spend >= limits.budget_usd:
        return refusal("budget", scope, now)
    if limits.tpm is not None and usage.tokens * share >= limits.tpm:
        return refusal("tpm", scope, now)
    if limits.rpm is not None and usage.requests * share >= limits.rpm:
        return refusal("rpm", scope, now)
    return None
