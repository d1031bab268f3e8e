"""Claude Code's usage notices: the `anthropic-ratelimit-unified-*` headers of the gateway protocol.

For a caller with a spend cap, every successful answer says how much of the cap is used, and a refused
one says it is spent; Claude Code turns them into "You've used NN% of your usage credits · resets …".
The shapes are those of Claude Code's gateway protocol (docs/gateway-contract.md, "Usage-limit headers").
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any, Final

from router.routing.windows import window_end
from router.usage.limit_rules import ADJECTIVE, BudgetStanding, LimitExceeded
from router.wire.errors import BillingError

__all__ = [
    "THRESHOLDS",
    "UNIFIED_PREFIX",
    "budget_refusal",
    "capped_usage_report",
    "fullest",
    "shown_utilization",
    "standing_headers",
    "uncapped_usage_report",
]

UNIFIED_PREFIX: Final = "anthropic-ratelimit-unified-"


# Claude Code shows its notice past 75 % and again past 95 %.
THRESHOLDS: Final = (0.95, 0.75)


def fullest(standings: list[BudgetStanding]) -> BudgetStanding | None:
    """The budget to describe when several apply (the key's own and its tenant's): the fullest one."""
    return max(standings, key=lambda s: s.utilization, default=None)


def shown_utilization(standing: BudgetStanding) -> float:
    """Two decimals, kept below 1 while requests are still allowed (only a refusal says 1)."""
    rounded = round(standing.utilization, 2)
    return rounded if standing.utilization >= 1 else min(rounded, 0.99)


def _severity(standing: BudgetStanding) -> str:
    if standing.utilization >= 1 or standing.utilization > THRESHOLDS[0]:
        return "critical"
    return "warning" if standing.utilization > THRESHOLDS[1] else "normal"


def _iso(moment: datetime) -> str:
    # JavaScript's toISOString(): the client pairs this with the reset header, to the second.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def capped_usage_report(standings: list[BudgetStanding]) -> dict[str, Any]:
    """`GET /api/oauth/usage` for a caller with a budget: the dollars beside the headers' percent."""
    active = fullest(standings)
    assert active is not None
    return {
        "extra_usage": {
            "is_enabled": True,
            # Cents, and named monthly_limit whatever the period.
            "monthly_limit": round(active.budget_usd * 100),
            "used_credits": math.floor(active.spent_usd * 100),
            "utilization": round(shown_utilization(active) * 100),
            "currency": "USD",
        },
        "limits": [
            {
                "kind": "spend",
                "group": ADJECTIVE[s.window],
                "percent": round(shown_utilization(s) * 100),
                "resets_at": _iso(s.resets_at),
                "severity": _severity(s),
                "is_active": s is active,
            }
            for s in standings
        ],
    }


def uncapped_usage_report(month_usd: float, day_usd: float, week_usd: float) -> dict[str, Any]:
    """`GET /api/oauth/usage` for a caller without a budget: their spend this UTC month, day and week
    (from Monday), in cents; null limits (0 would read as a $0 cap)."""

    def cents(usd: float) -> int:
        return math.floor(usd * 100)

    return {
        "extra_usage": {
            "is_enabled": True,
            "monthly_limit": None,
            "used_credits": cents(month_usd),
            "utilization": None,
            "currency": "USD",
            "daily": {"limit": None, "used_credits": cents(day_usd), "utilization": None},
            "weekly": {"limit": None, "used_credits": cents(week_usd), "utilization": None},
        },
        "limits": [],
    }


def standing_headers(standings: list[BudgetStanding]) -> dict[str, str]:
    """The headers of a successful answer for a capped caller; none for a caller without a budget."""
    standing = fullest(standings)
    if standing is None:
        return {}
    utilization = shown_utilization(standing)
    surpassed = next((t for t in THRESHOLDS if utilization >= t), None)
    status = "allowed_warning" if surpassed is not None else "allowed"
    reset_at = str(int(standing.resets_at.timestamp()))
    headers = {
        f"{UNIFIED_PREFIX}status": status,
        f"{UNIFIED_PREFIX}representative-claim": "overage",
        f"{UNIFIED_PREFIX}overage-status": status,
        f"{UNIFIED_PREFIX}overage-utilization": f"{utilization:.2f}",
        f"{UNIFIED_PREFIX}reset": reset_at,
        f"{UNIFIED_PREFIX}overage-reset": reset_at,
    }
    if surpassed is not None:
        headers[f"{UNIFIED_PREFIX}overage-surpassed-threshold"] = f"{surpassed:.2f}"
    return headers


def _reset_label(moment: datetime) -> str:
    return f"{moment:%b} {moment.day}"


def budget_refusal(exc: LimitExceeded, now: float | None = None) -> BillingError:
    """A spent budget (of a day, a week or a month): 429 `billing_error`, never retried, saying when it
    resets and what to do.

    `representative-claim` and `overage-status` stay off, so the client prints our message as it is."""
    now = time.time() if now is None else now
    window = exc.window or "month"
    reset = window_end(window, now)
    reset_at = str(int(reset.timestamp()))
    whose = "Your team's" if exc.scope == "tenant" else "Your"
    message = (
        f"{whose} {ADJECTIVE[window]} budget is spent · resets {_reset_label(reset)} "
        f"({reset:%Y-%m-%d %H:%M} UTC) · ask your router admin to raise it"
    )
    headers = {
        f"{UNIFIED_PREFIX}status": "rejected",
        f"{UNIFIED_PREFIX}reset": reset_at,
        f"{UNIFIED_PREFIX}overage-reset": reset_at,
        f"{UNIFIED_PREFIX}overage-utilization": "1",
        f"{UNIFIED_PREFIX}overage-surpassed-threshold": "1",
        f"{UNIFIED_PREFIX}overage-period": ADJECTIVE[window],
        f"{UNIFIED_PREFIX}overage-disabled-reason": "org_spend_cap_reached",
    }
    if exc.scope == "tenant":
        # What ran out is a budget the caller's whole tenant shares, not the caller's own cap.
        headers[f"{UNIFIED_PREFIX}overage-scope"] = "group_pool"
    seconds = max(1, int(reset.timestamp() - now))
    return BillingError(message, headers=headers, retry_after=seconds)
