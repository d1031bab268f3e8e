"""What a limit is, apart from where its counters live: the scopes a request is counted in, the fixed
windows (UTC minutes for rpm and tpm; UTC days, ISO weeks from Monday and calendar months for budgets), and
the verdict on one scope's usage. Both backends (limits.py's in-process one and limits_redis.py) count with
these.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from router.routing.model import BudgetWindow, Limits

# month_start and next_month_start: also re-exported, as they were defined here before.
from router.routing.windows import month_start as month_start
from router.routing.windows import next_month_start as next_month_start
from router.routing.windows import window_end
from router.wire.errors import RateLimitError

LimitKind = Literal["rpm", "tpm", "budget"]
# What a limited request gets while Redis cannot be asked (Settings.limits_on_redis_down).
OnRedisDown = Literal["open", "closed"]
# "member": one member's keys in a tenant together (budgets only; its id is the tenant's).
# "count_tokens": a key's own requests-per-minute on /v1/messages/count_tokens (Settings.count_tokens_rpm).
ScopeKind = Literal["key", "member", "tenant", "count_tokens"]
# Whose spend: (scope kind, id, member name): ("key", 7, ""), ("tenant", 3, ""), ("member", 3, "ann").
Spender = tuple[str, int, str]
# (window start, spenders) -> USD each spent since that start (from the hourly rollups)
SpendSource = Callable[[datetime, Collection[Spender]], Awaitable[dict[Spender, float]]]
# Longest first: when several budgets are spent, the refusal names the one that frees up last.
WINDOWS_LONGEST_FIRST: tuple[BudgetWindow, ...] = ("month", "week", "day")


class LimitExceeded(RateLimitError):
    """A key's or tenant's limit refused the request: Anthropic's 429 rate_limit_error with retry-after."""

    def __init__(
        self,
        kind: LimitKind,
        scope: ScopeKind,
        retry_after: int,
        message: str,
        window: BudgetWindow | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.kind: LimitKind = kind
        self.scope: ScopeKind = scope
        self.retry_after: int = retry_after
        # A budget refusal's window (day, week or month).
        self.window: BudgetWindow | None = window

    def __repr__(self) -> str:
        return f"LimitExceeded(kind={self.kind!r}, scope={self.scope!r}, retry_after={self.retry_after})"


@dataclass(frozen=True, slots=True)
class Scope:
    kind: ScopeKind
    id: int
    limits: Limits
    # A member scope's member name (its id is the tenant's).
    member: str = ""

    @property
    def spender(self) -> Spender:
        return (self.kind, self.id, self.member)

    def label(self) -> str:
        """The scope in counter names: a member's name as a short digest (any characters, bounded)."""
        if self.kind != "member":
            return f"{self.kind}:{self.id}"
        return f"member:{self.id}:{hashlib.sha256(self.member.encode()).hexdigest()[:16]}"


@dataclass(frozen=True, slots=True)
class Usage:
    """One scope's counters as an admission sees them. `requests` excludes the request being admitted;
    `spend` is per budget window (reservations included)."""

    requests: int = 0
    tokens: int = 0
    spend: Mapping[str, float] | None = None


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
    """Where one budget stands: what Claude Code's usage notices, /api/oauth/usage and /me report."""

    scope: ScopeKind
    budget_usd: float
    spent_usd: float
    resets_at: datetime
    window: BudgetWindow = "month"

    @property
    def remaining_usd(self) -> float:
        return max(0.0, self.budget_usd - self.spent_usd)

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

    async def budget_spend(self, scopes: Sequence[Scope], now: float) -> list[dict[str, float]]:
        """Each scope's spend in the current window of each of its budgets (window -> USD), read only."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


# ------------------------------------------------------------------------------------------ time helpers


def minute_window(now: float) -> int:
    return int(now // 60)


def seconds_to_next_minute(now: float) -> int:
    return max(1, math.ceil(60 - now % 60))


def month_label(now: float) -> str:
    return month_start(now).strftime("%Y-%m")


def seconds_to_next_month(now: float) -> int:
    return max(1, math.ceil(next_month_start(now).timestamp() - now))


def seconds_to_window_end(window: BudgetWindow, now: float) -> int:
    return max(1, math.ceil(window_end(window, now).timestamp() - now))


_WHO: dict[ScopeKind, str] = {
    "key": "this API key",
    "member": "this member's keys",
    "tenant": "this tenant",
    "count_tokens": "count_tokens for this API key",
}
ADJECTIVE: dict[str, str] = {"day": "daily", "week": "weekly", "month": "monthly"}


def budget_refusal(scope: Scope, window: BudgetWindow, now: float) -> LimitExceeded:
    """The 429 for one spent budget of one scope: retry-after to the window's end (its reset)."""
    resets = window_end(window, now).strftime("%Y-%m-%d %H:%M UTC")
    amount = scope.limits.budget(window) or 0.0
    return LimitExceeded(
        "budget",
        scope.kind,
        seconds_to_window_end(window, now),
        f"The {ADJECTIVE[window]} budget of ${amount:.2f} for {_WHO[scope.kind]} is spent; "
        f"it resets at {resets}.",
        window,
    )


def refusal(kind: LimitKind, scope: Scope, now: float) -> LimitExceeded:
    """The 429 for one rate limit of one scope (its message, and retry-after to the minute's end); a
    budget's refusal is `budget_refusal` (it names its window)."""
    limits = scope.limits
    who = _WHO[scope.kind]
    if kind == "budget":
        return budget_refusal(scope, scope.limits.budgets[0].window if scope.limits.budgets else "month", now)
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
    """The refusal for one scope's counters, or None: budgets first (the longest window first: the longest
    wait), then tpm, then rpm. `share`: how many processes count apart for the same limit (--workers without
    Redis); each admits while its own count times `share` is below the limit, so together they stay within
    it."""
    limits = scope.limits
    spend = usage.spend or {}
    for window in WINDOWS_LONGEST_FIRST:
        amount = limits.budget(window)
        if amount is not None and spend.get(window, 0.0) >= amount:
            return budget_refusal(scope, window, now)
    if limits.tpm is not None and usage.tokens * share >= limits.tpm:
        return refusal("tpm", scope, now)
    if limits.rpm is not None and usage.requests * share >= limits.rpm:
        return refusal("rpm", scope, now)
    return None
