"""A whole desired configuration, as `config apply` reads it: each entity checked by its own check, names
unique per kind, every problem placed at its path in the file:
`rules[2].target: unknown provider 'opnai' in 'opnai/gpt-4.1'`, `tenants[0].rules[1].match: ...`.
"""

from __future__ import annotations

from collections.abc import Iterable

from router.config.drafts import DesiredConfig, RuleDraft, ValidationIssue
from router.config.validate.alerts import alert_issues
from router.config.validate.chains import chain_issues
from router.config.validate.issues import Issues, KnownNames
from router.config.validate.pools import pool_issues
from router.config.validate.prices import price_issues
from router.config.validate.providers import deployment_issues, provider_issues
from router.config.validate.rules import rule_issues
from router.config.validate.sso import sso_issues
from router.config.validate.tenants import tenant_issues


def validate_config(cfg: DesiredConfig) -> list[ValidationIssue]:
    """Every problem in `cfg`, each naming its place; empty when the configuration can be applied."""
    known = KnownNames(
        frozenset(p.name for p in cfg.providers),
        frozenset(d.name for d in cfg.deployments),
        frozenset(c.name for c in cfg.chains),
        frozenset(p.name for p in cfg.pools),
        {p.name: p.kind for p in cfg.providers},
    )
    issues = Issues()
    _unique(issues, "providers", (p.name for p in cfg.providers), "provider")
    for i, p in enumerate(cfg.providers):
        issues.under(f"providers[{i}]", provider_issues(p))
    _unique(issues, "deployments", (d.name for d in cfg.deployments), "deployment")
    for i, d in enumerate(cfg.deployments):
        issues.under(f"deployments[{i}]", deployment_issues(d, known))
    _unique(issues, "pools", (p.name for p in cfg.pools), "pool")
    for i, pool in enumerate(cfg.pools):
        issues.under(f"pools[{i}]", pool_issues(pool, known))
    _unique(issues, "chains", (c.name for c in cfg.chains), "chain")
    for i, c in enumerate(cfg.chains):
        issues.under(f"chains[{i}]", chain_issues(c, known))
    for i, r in enumerate(cfg.rules):
        issues.under(f"rules[{i}]", _file_rule_issues(r, known))
    _unique(issues, "tenants", (t.name for t in cfg.tenants), "tenant")
    for i, t in enumerate(cfg.tenants):
        issues.under(f"tenants[{i}]", tenant_issues(t, known))
        for j, r in enumerate(t.rules):
            issues.under(f"tenants[{i}].rules[{j}]", _file_rule_issues(r, known))
    issues.under("sso", sso_issues(cfg.sso, {t.name for t in cfg.tenants}))
    _unique(issues, "prices", (p.target for p in cfg.prices), "price", key="target")
    for i, price in enumerate(cfg.prices):
        issues.under(f"prices[{i}]", price_issues(price, known))
    _unique(issues, "alerts", (a.name for a in cfg.alerts), "alert")
    for i, alert in enumerate(cfg.alerts):
        issues.under(f"alerts[{i}]", alert_issues(alert))
    return issues


def _unique(issues: Issues, path: str, names: Iterable[str], what: str, key: str = "name") -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            issues.add(f"{path}[{i}].{key}", f"duplicate {what} {name!r}")
        seen.add(name)


def _file_rule_issues(r: RuleDraft, known: KnownNames) -> list[ValidationIssue]:
    # The file says `when:` where the stored rule says `conditions`.
    return [
        ValidationIssue(issue.path.replace("conditions.", "when.", 1), issue.message)
        for issue in rule_issues(r, known)
    ]
