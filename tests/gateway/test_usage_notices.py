"""Claude Code's usage notices as plain functions: which budget is described, thresholds, the refusal."""

from __future__ import annotations

from datetime import UTC, datetime

from router.gateway.usage_notices import budget_refusal, capped_usage_report, standing_headers
from router.usage.limit_rules import BudgetStanding, LimitExceeded

RESET = datetime(2025, 4, 1, tzinfo=UTC)
NOW = datetime(2025, 3, 20, 12, tzinfo=UTC).timestamp()


def standing(scope: str, budget: float, spent: float) -> BudgetStanding:
    return BudgetStanding(scope, budget, spent, RESET)  # type: ignore[arg-type]


def test_the_fullest_of_the_key_and_tenant_budgets_is_described() -> None:
    headers = standing_headers([standing("key", 100, 10), standing("tenant", 1000, 900)])
    assert headers["anthropic-ratelimit-unified-overage-utilization"] == "0.90"
    assert headers["anthropic-ratelimit-unified-overage-surpassed-threshold"] == "0.75"
    report = capped_usage_report([standing("key", 100, 10), standing("tenant", 1000, 900)])
    assert [row["is_active"] for row in report["limits"]] == [False, True]
    assert report["extra_usage"]["monthly_limit"] == 100_000


def test_no_budget_no_headers_and_never_1_while_allowed() -> None:
    assert standing_headers([]) == {}
    almost = standing_headers([standing("key", 100, 99.9)])
    assert almost["anthropic-ratelimit-unified-overage-utilization"] == "0.99"
    assert almost["anthropic-ratelimit-unified-overage-surpassed-threshold"] == "0.95"
    assert almost["anthropic-ratelimit-unified-reset"] == str(int(RESET.timestamp()))


def test_a_spent_tenant_budget_is_a_group_pool_billing_error() -> None:
    refusal = budget_refusal(LimitExceeded("budget", "tenant", 60, "spent"), now=NOW)
    assert (refusal.status, refusal.error_type) == (429, "billing_error")
    assert refusal.headers["anthropic-ratelimit-unified-overage-scope"] == "group_pool"
    assert refusal.headers["retry-after"] == str(int(RESET.timestamp() - NOW))
    assert refusal.headers["x-should-retry"] == "false"
    assert "Mar" not in refusal.message and "resets Apr 1" in refusal.message
    own = budget_refusal(LimitExceeded("budget", "key", 60, "spent"), now=NOW)
    assert "anthropic-ratelimit-unified-overage-scope" not in own.headers
