"""A tenant's own fields: limits, budgets (its own and its members'), allowed targets, managed settings."""

from __future__ import annotations

from router.config.drafts import TenantDraft, ValidationIssue
from router.config.fields import managed_settings_error, name_error, target_ref_error
from router.config.lengths import MEMBER_CHARS
from router.config.validate.issues import Issues, KnownNames
from router.config.validate.limits import budget_issues, limit_issues
from router.routing.patterns import GLOB_CHARS


def tenant_issues(t: TenantDraft, known: KnownNames) -> list[ValidationIssue]:
    """Every problem with one tenant's own fields (paths: name, limits.KEY, limits.budgets.WINDOW,
    member_budgets.MEMBER.WINDOW, allowed_targets[J], managed_settings, member_self_service); its rules are
    rules (rule_issues)."""
    issues = Issues()
    issues.add("name", name_error(t.name, "tenant name"))
    issues.under("limits", limit_issues(t.rpm, t.tpm, None))
    seen: set[str] = set()
    for window, amount in t.budgets:
        if window in seen:
            issues.add(f"limits.budgets.{window}", "given twice (limits.budget_usd is the month budget)")
        seen.add(window)
        for issue in budget_issues(window, amount):
            issues.add(f"limits.budgets.{window}", issue.message)
    tenant_budgets = dict(t.budgets)
    for member, windows in t.member_budgets:
        if not str(member).strip() or len(str(member)) > MEMBER_CHARS:
            issues.add(f"member_budgets.{member}", f"the member name must be 1-{MEMBER_CHARS} characters")
        for window, amount in windows:
            problems = budget_issues(window, amount)
            for issue in problems:
                issues.add(f"member_budgets.{member}.{window}", issue.message)
            ceiling = tenant_budgets.get(window)
            if not problems and isinstance(ceiling, int | float) and amount > ceiling:
                issues.add(
                    f"member_budgets.{member}.{window}",
                    f"{amount:g} is more than the tenant's {window} budget of {ceiling:g}",
                )
    for j, ref in enumerate(t.allowed_targets or ()):
        if not any(ch in ref for ch in GLOB_CHARS):
            ref_problem = target_ref_error(ref, known.providers, known.deployments, known.pools)
            issues.add(f"allowed_targets[{j}]", ref_problem)
    issues.add("managed_settings", managed_settings_error(t.managed_settings))
    if not isinstance(t.member_self_service, bool):
        issues.add("member_self_service", f"must be true or false, not {t.member_self_service!r}")
    return issues
