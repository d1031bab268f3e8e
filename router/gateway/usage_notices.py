"""Claude Code's usage notices: the `anthropic-ratelimit-unified-*` headers of the gateway protocol.

For a caller with a spend cap, every successful answer says how much of the cap is used, and a refused
one says it is spent; Claude Code turns them into "You've used NN% of your usage credits · resets …".
The shapes are those of Claude Code's gateway protocol (docs/gateway-contract.md, "Usage-limit headers").
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Final

from router.usage.limit_rules import LimitExceeded, next_month_start
from router.wire.errors import BillingError

__all__ = ["UNIFIED_PREFIX", "budget_refusal"]

UNIFIED_PREFIX: Final = "anthropic-ratelimit-unified-"


def _reset_label(moment: datetime) -> str:
    return f"{moment:%b} {moment.day}"


def budget_refusal(exc: LimitExceeded, now: float | None = None) -> BillingError:
    """A spent monthly budget: 429 `billing_error`, never retried, saying when it resets and what to do.

    `representative-claim` and `overage-status` stay off, so the client prints our message as it is."""
    now = time.time() if now is None else now
    reset = next_month_start(now)
    reset_at = str(int(reset.timestamp()))
    whose = "Your" if exc.scope == "key" else "Your team's"
    message = (
        f"{whose} monthly budget is spent · resets {_reset_label(reset)} ({reset:%Y-%m-%d %H:%M} UTC) · "
        "ask your router admin to raise it"
    )
    headers = {
        f"{UNIFIED_PREFIX}status": "rejected",
        f"{UNIFIED_PREFIX}reset": reset_at,
        f"{UNIFIED_PREFIX}overage-reset": reset_at,
        f"{UNIFIED_PREFIX}overage-utilization": "1",
        f"{UNIFIED_PREFIX}overage-surpassed-threshold": "1",
        f"{UNIFIED_PREFIX}overage-period": "monthly",
        f"{UNIFIED_PREFIX}overage-disabled-reason": "org_spend_cap_reached",
    }
    if exc.scope == "tenant":
        # What ran out is a budget the caller's whole tenant shares, not the caller's own cap.
        headers[f"{UNIFIED_PREFIX}overage-scope"] = "group_pool"
    seconds = max(1, int(reset.timestamp() - now))
    return BillingError(message, headers=headers, retry_after=seconds)
