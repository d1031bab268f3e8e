"""Limits and budgets, wherever they are set: a key's or a tenant's rpm/tpm/budget, a budget's window and
amount."""

from __future__ import annotations

from typing import Any

from router.config.drafts import ValidationIssue
from router.config.validate.issues import Issues, amount_error

BUDGET_WINDOWS = ("day", "week", "month")


def limit_issues(rpm: Any, tpm: Any, budget_usd: Any) -> list[ValidationIssue]:
    """A key's or a tenant's limits: numbers >= 0, or None for no limit (paths: rpm, tpm, budget_usd)."""
    issues = Issues()
    for key, value in (("rpm", rpm), ("tpm", tpm), ("budget_usd", budget_usd)):
        if value is not None:
            issues.add(key, amount_error(value))
    return issues


def budget_issues(window: Any, amount_usd: Any) -> list[ValidationIssue]:
    """One budget: a window of day, week or month (UTC) and an amount in USD >= 0 (paths: window,
    amount_usd)."""
    issues = Issues()
    if window not in BUDGET_WINDOWS:
        issues.add("window", f"must be day, week or month, not {window!r}")
    if (
        isinstance(amount_usd, bool)
        or not isinstance(amount_usd, int | float)
        or not 0 <= amount_usd < float("inf")
    ):
        issues.add("amount_usd", f"must be a number >= 0, not {amount_usd!r}")
    return issues
