"""Validation of a whole desired configuration, and of its parts: pure, every problem named by its place.

Config apply validates the whole file before touching the database; the admin page and `store/catalog/`
use the same part checks for one object at a time (the drafts they check are in drafts.py).
Paths follow the YAML shape:
`rules[2].target: unknown provider 'opnai' in 'opnai/gpt-4.1'`,
`tenants[0].rules[1].match: invalid regex ...`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from router.config.drafts import (
    AlertDraft,
    ChainDraft,
    DeploymentDraft,
    DesiredConfig,
    PoolDraft,
    PriceDraft,
    ProviderDraft,
    RuleDraft,
    SsoDraft,
    TenantDraft,
    ValidationIssue,
)
from router.config.fields import (
    RESERVED_PROVIDER_NAMES,
    api_base_error,
    deployment_provider_error,
    extra_params_errors,
    managed_settings_error,
    name_error,
    override_errors,
    pattern_error,
    provider_kind_error,
    target_ref_error,
)
from router.routing.conditions import condition_errors
from router.routing.patterns import GLOB_CHARS

POOL_STRATEGIES = ("weighted", "least-busy", "lowest-latency")
MAX_POOL_WEIGHT = 1000
ADMIN_ROLES = ("owner", "admin", "tenant-admin", "viewer")


@dataclass(frozen=True, slots=True)
class KnownNames:
    """What a draft may refer to: the names in the file being applied, or in the database."""

    providers: frozenset[str] = frozenset()
    deployments: frozenset[str] = frozenset()
    chains: frozenset[str] = frozenset()
    pools: frozenset[str] = frozenset()
    # Each provider's kind, where known (a deployment needs an azure provider).
    provider_kinds: Mapping[str, str] = field(default_factory=dict)


def rule_issues(r: RuleDraft, known: KnownNames) -> list[ValidationIssue]:
    """Every problem with one rule, the one rule check that `config apply`, the catalog and the admin page
    share. Paths are the rule's own fields (`match`, `target`, `chain`, `conditions.KEY`,
    `overrides.KEY`, `priority`); "" is the rule as a whole."""
    issues: list[ValidationIssue] = []

    def add(path: str, message: str | None) -> None:
        if message is not None:
            issues.append(ValidationIssue(path, message))

    add("match", pattern_error(r.match, r.match_kind))
    if r.target and r.chain:
        add("", "has both target and chain: give one")
    elif not r.target and not r.chain:
        add("", "has neither target nor chain: give one")
    elif r.target:
        if r.target.startswith("chain/"):
            add("target", f"{r.target!r} names a chain: write chain: {r.target[6:]}")
        else:
            add("target", target_ref_error(r.target, known.providers, known.deployments, known.pools))
    elif r.chain not in known.chains:
        add("chain", f"unknown chain {r.chain!r}")
    for key, problem in condition_errors(r.conditions):
        add(f"conditions.{key}", problem)
    for key, problem in override_errors(r.overrides):
        add(f"overrides.{key}", problem)
    if isinstance(r.priority, bool) or not isinstance(r.priority, int):
        add("priority", f"must be a whole number, not {r.priority!r}")
    return issues


class _Issues(list[ValidationIssue]):
    def add(self, path: str, message: str | None) -> None:
        if message is not None:
            self.append(ValidationIssue(path, message))


def limit_issues(rpm: Any, tpm: Any, budget_usd: Any) -> list[ValidationIssue]:
    """A key's or a tenant's limits: numbers >= 0, or None for no limit (paths: rpm, tpm, budget_usd)."""
    issues = _Issues()
    for key, value in (("rpm", rpm), ("tpm", tpm), ("budget_usd", budget_usd)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            issues.add(key, f"must be a number >= 0, not {value!r}")
    return issues


BUDGET_WINDOWS = ("day", "week", "month")


def budget_issues(window: Any, amount_usd: Any) -> list[ValidationIssue]:
    """One budget: a window of day, week or month (UTC) and an amount in USD >= 0 (paths: window,
    amount_usd)."""
    issues = _Issues()
    if window not in BUDGET_WINDOWS:
        issues.add("window", f"must be day, week or month, not {window!r}")
    if (
        isinstance(amount_usd, bool)
        or not isinstance(amount_usd, int | float)
        or not 0 <= amount_usd < float("inf")
    ):
        issues.add("amount_usd", f"must be a number >= 0, not {amount_usd!r}")
    return issues


def tenant_issues(t: TenantDraft, known: KnownNames) -> list[ValidationIssue]:
    """Every problem with one tenant's own fields (paths: name, limits.KEY, limits.budgets.WINDOW,
    member_budgets.MEMBER.WINDOW, allowed_targets[J], managed_settings, member_self_service); its rules are
    rules (rule_issues)."""
    issues = _Issues()
    issues.add("name", name_error(t.name, "tenant name"))
    for issue in limit_issues(t.rpm, t.tpm, None):
        issues.add(f"limits.{issue.path}", issue.message)
    seen: set[str] = set()
    for window, amount in t.budgets:
        if window in seen:
            issues.add(f"limits.budgets.{window}", "given twice (limits.budget_usd is the month budget)")
        seen.add(window)
        for issue in budget_issues(window, amount):
            issues.add(f"limits.budgets.{window}", issue.message)
    tenant_budgets = dict(t.budgets)
    for member, windows in t.member_budgets:
        if not str(member).strip() or len(str(member)) > 200:
            issues.add(f"member_budgets.{member}", "the member name must be 1-200 characters")
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


def provider_issues(p: ProviderDraft) -> list[ValidationIssue]:
    """Every problem with one provider (paths: name, kind, api_base, extra_params[.KEY])."""
    issues = _Issues()
    issues.add("name", name_error(p.name))
    if p.name in RESERVED_PROVIDER_NAMES:
        issues.add("name", f"{p.name!r} is reserved (it starts deployment/, chain/ and pool/ refs)")
    issues.add("kind", provider_kind_error(p.kind))
    issues.add("api_base", api_base_error(p.api_base))
    if p.kind == "azure" and not p.api_base:
        issues.add("api_base", "an azure provider needs api_base")
    for key, problem in extra_params_errors(p.extra_params):
        issues.add("extra_params" + (f".{key}" if key else ""), problem)
    return issues


def deployment_issues(d: DeploymentDraft, known: KnownNames) -> list[ValidationIssue]:
    """Every problem with one Azure deployment (paths: name, provider, deployment, model)."""
    issues = _Issues()
    issues.add("name", name_error(d.name))
    if d.provider not in known.providers:
        issues.add("provider", f"unknown provider {d.provider!r}")
    elif d.provider in known.provider_kinds:
        issues.add("provider", deployment_provider_error(d.provider, known.provider_kinds[d.provider]))
    if not d.deployment.strip():
        issues.add("deployment", "must not be empty")
    if not d.model.strip():
        issues.add("model", "must not be empty")
    return issues


MAX_CHAIN_RETRIES = 10
MAX_CHAIN_BACKOFF_MS = 60_000


def chain_issues(c: ChainDraft, known: KnownNames) -> list[ValidationIssue]:
    """Every problem with one chain (paths: name, targets, targets[I], retries, backoff_ms)."""
    issues = _Issues()
    issues.add("name", name_error(c.name))
    if not c.targets:
        issues.add("targets", "a chain needs at least one target")
    seen: set[str] = set()
    for j, ref in enumerate(c.targets):
        if ref.startswith("chain/"):
            issues.add(f"targets[{j}]", f"chains may not contain chains ({ref!r})")
            continue
        issues.add(f"targets[{j}]", target_ref_error(ref, known.providers, known.deployments, known.pools))
        if ref in seen:
            issues.add(f"targets[{j}]", f"{ref!r} is listed twice")
        seen.add(ref)
    retries, backoff = c.retries, c.backoff_ms
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_CHAIN_RETRIES:
        issues.add("retries", f"must be a whole number from 0 to {MAX_CHAIN_RETRIES}, not {retries!r}")
    if isinstance(backoff, bool) or not isinstance(backoff, int) or not 0 <= backoff <= MAX_CHAIN_BACKOFF_MS:
        issues.add("backoff_ms", f"must be a whole number from 0 to {MAX_CHAIN_BACKOFF_MS}, not {backoff!r}")
    return issues


PRICE_FIELDS = ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok")


def price_issues(p: PriceDraft, known: KnownNames | None) -> list[ValidationIssue]:
    """Every problem with one price (paths: target, and each amount). `known` None: the target is not
    checked (an update that keeps it)."""
    issues = _Issues()
    if known is not None:
        issues.add("target", target_ref_error(p.target, known.providers, known.deployments))
    for key in PRICE_FIELDS:
        value = getattr(p, key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            issues.add(key, f"must be a number >= 0, not {value!r}")
    return issues


def _whole(value: Any, low: int, high: int | None = None) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int)
        and value >= low
        and (high is None or value <= high)
    )


def pool_issues(p: PoolDraft, known: KnownNames) -> list[ValidationIssue]:
    """Every problem with one pool (paths: name, strategy, members, members[I].target/weight/rpm/tpm).
    Members must be targets (not pools)."""
    issues = _Issues()
    issues.add("name", name_error(p.name))
    if p.strategy not in POOL_STRATEGIES:
        issues.add("strategy", f"must be one of {', '.join(POOL_STRATEGIES)}, not {p.strategy!r}")
    if not p.members:
        issues.add("members", "a pool needs at least one member")
    seen: set[str] = set()
    for j, m in enumerate(p.members):
        where = f"members[{j}]"
        problem = target_ref_error(m.target, known.providers, known.deployments)
        if problem is None and m.target in seen:
            problem = f"{m.target!r} is listed twice"
        issues.add(f"{where}.target", problem)
        seen.add(m.target)
        if not _whole(m.weight, 1, MAX_POOL_WEIGHT):
            issues.add(f"{where}.weight", f"must be a whole number from 1 to {MAX_POOL_WEIGHT}")
        for key in ("rpm", "tpm"):
            value = getattr(m, key)
            if value is not None and not _whole(value, 1, 2**62):
                issues.add(f"{where}.{key}", f"must be a whole number >= 1, not {value!r}")
    return issues


ALERT_WATCHES = ("budget", "error_rate", "cooldown")
# Whose budgets a budget alert watches (the budgets table's subject kinds).
ALERT_SUBJECTS = ("tenant", "member", "key")
MAX_ALERT_THRESHOLDS = 10
MAX_ALERT_WINDOW_MINUTES = 60
MAX_WEBHOOK_CHARS = 2000
# Percent: a budget may be overrun (the last request admitted passes it by its own cost), so thresholds past
# 100 make sense there; an error rate is at most 100.
MAX_BUDGET_THRESHOLD = 1000.0


def webhook_error(url: Any) -> str | None:
    """http(s), a host, no user:password@, no #fragment. Messages never repeat the URL: its path or query
    may be the hook's token."""
    if not isinstance(url, str) or not url.strip():
        return "must be an http:// or https:// URL"
    if len(url) > MAX_WEBHOOK_CHARS:
        return f"must be at most {MAX_WEBHOOK_CHARS} characters"
    if any(ord(ch) < 33 for ch in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return f"must be an http:// or https:// URL, not {parts.scheme or 'a URL without a scheme'}:"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not contain a user name or password (use the alert's secret to sign instead)"
    if parts.fragment:
        return "must not have a #fragment"
    return None


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value == value


def alert_issues(a: AlertDraft) -> list[ValidationIssue]:
    """Every problem with one alert (paths: name, watch, webhook, secret, thresholds[I], tenants[I],
    subjects[I], targets[I], window_minutes, min_requests). Tenant names are checked against the database
    by the store (a file need not list the tenants it alerts on)."""
    issues = _Issues()
    issues.add("name", name_error(a.name, "alert name"))
    if a.watch not in ALERT_WATCHES:
        issues.add("watch", f"must be one of {', '.join(ALERT_WATCHES)}, not {a.watch!r}")
    issues.add("webhook", webhook_error(a.webhook))
    if a.secret is not None and not (isinstance(a.secret, str) and 8 <= len(a.secret) <= 500):
        issues.add("secret", "must be 8 to 500 characters (or left out for unsigned messages)")
    if a.watch == "cooldown":
        if a.thresholds:
            issues.add("thresholds", "a cooldown alert has no thresholds: it fires when a target is cooled")
    elif a.watch in ALERT_WATCHES:
        if not a.thresholds:
            issues.add("thresholds", "give at least one threshold in percent, e.g. [50, 80, 100]")
        if len(a.thresholds) > MAX_ALERT_THRESHOLDS:
            issues.add("thresholds", f"at most {MAX_ALERT_THRESHOLDS} thresholds")
        top = MAX_BUDGET_THRESHOLD if a.watch == "budget" else 100.0
        seen: set[float] = set()
        for i, value in enumerate(a.thresholds):
            if not _number(value) or not 0 < value <= top:
                issues.add(
                    f"thresholds[{i}]", f"must be a percentage above 0 and at most {top:g}, not {value!r}"
                )
            elif value in seen:
                issues.add(f"thresholds[{i}]", f"{value:g} is listed twice")
            seen.add(value)
    if a.watch != "budget":
        if a.tenants is not None:
            issues.add("tenants", "only budget alerts are limited to tenants (use targets: for targets)")
        if a.subjects is not None:
            issues.add("subjects", "only budget alerts watch subjects (tenant, member, key)")
    else:
        if a.targets is not None:
            issues.add("targets", "budget alerts watch budgets, not targets (use tenants: to limit them)")
        if a.tenants is not None and not a.tenants:
            issues.add("tenants", "name at least one tenant, or leave tenants out for all")
        for i, name in enumerate(a.tenants or ()):
            issues.add(f"tenants[{i}]", name_error(name, "tenant name"))
        if a.subjects is not None and not a.subjects:
            issues.add("subjects", f"name at least one of {', '.join(ALERT_SUBJECTS)}, or leave it out")
        for i, kind in enumerate(a.subjects or ()):
            if kind not in ALERT_SUBJECTS:
                issues.add(f"subjects[{i}]", f"must be one of {', '.join(ALERT_SUBJECTS)}, not {kind!r}")
    if a.targets is not None and a.watch != "budget":
        if not a.targets:
            issues.add("targets", "name at least one target, or leave targets out for all")
        for i, ref in enumerate(a.targets):
            if not isinstance(ref, str) or not ref.strip() or len(ref) > 300:
                issues.add(f"targets[{i}]", "must be a target ref or glob (e.g. openai/* ), 1-300 characters")
    if not _whole(a.window_minutes, 1, MAX_ALERT_WINDOW_MINUTES):
        issues.add("window_minutes", f"must be a whole number from 1 to {MAX_ALERT_WINDOW_MINUTES}")
    if not _whole(a.min_requests, 1, 1_000_000):
        issues.add("min_requests", "must be a whole number from 1 to 1000000")
    return issues


class _Checker:
    def __init__(self, cfg: DesiredConfig) -> None:
        self.cfg = cfg
        self.issues: list[ValidationIssue] = []
        self.providers = {p.name for p in cfg.providers}
        self.deployments = {d.name for d in cfg.deployments}
        self.chains = {c.name for c in cfg.chains}
        self.pools = {p.name for p in cfg.pools}
        self.known = KnownNames(
            frozenset(self.providers),
            frozenset(self.deployments),
            frozenset(self.chains),
            frozenset(self.pools),
            {p.name: p.kind for p in cfg.providers},
        )

    def add(self, path: str, message: str | None) -> None:
        if message is not None:
            self.issues.append(ValidationIssue(path, message))

    def unique(self, path: str, names: Iterable[str], what: str) -> None:
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                self.add(
                    f"{path}[{i}].name" if what != "price" else f"{path}[{i}].target",
                    f"duplicate {what} {name!r}",
                )
            seen.add(name)

    def run(self) -> list[ValidationIssue]:
        cfg = self.cfg
        self.unique("providers", (p.name for p in cfg.providers), "provider")
        for i, p in enumerate(cfg.providers):
            self.under(f"providers[{i}]", provider_issues(p))
        self.unique("deployments", (d.name for d in cfg.deployments), "deployment")
        for i, d in enumerate(cfg.deployments):
            self.under(f"deployments[{i}]", deployment_issues(d, self.known))
        self.unique("pools", (p.name for p in cfg.pools), "pool")
        for i, pool in enumerate(cfg.pools):
            self.under(f"pools[{i}]", pool_issues(pool, self.known))
        self.unique("chains", (c.name for c in cfg.chains), "chain")
        for i, c in enumerate(cfg.chains):
            self.under(f"chains[{i}]", chain_issues(c, self.known))
        for i, r in enumerate(cfg.rules):
            self.rule(f"rules[{i}]", r)
        self.unique("tenants", (t.name for t in cfg.tenants), "tenant")
        for i, t in enumerate(cfg.tenants):
            path = f"tenants[{i}]"
            self.under(path, tenant_issues(t, self.known))
            for j, r in enumerate(t.rules):
                self.rule(f"{path}.rules[{j}]", r)
        self.sso(cfg.sso, {t.name for t in cfg.tenants})
        self.unique("prices", (p.target for p in cfg.prices), "price")
        for i, price in enumerate(cfg.prices):
            self.under(f"prices[{i}]", price_issues(price, self.known))
        self.unique("alerts", (a.name for a in cfg.alerts), "alert")
        for i, alert in enumerate(cfg.alerts):
            self.under(f"alerts[{i}]", alert_issues(alert))
        return self.issues

    def sso(self, sso: SsoDraft, tenants: set[str]) -> None:
        def tenant(path: str, name: str) -> None:
            if name not in tenants:
                self.add(path, f"unknown tenant {name!r}: list it under tenants:")

        for i, m in enumerate(sso.members):
            path = f"sso.members[{i}]"
            if not m.group.strip():
                self.add(f"{path}.group", "must not be empty")
            tenant(f"{path}.tenant", m.tenant)
            self.add(f"{path}.managed_settings", managed_settings_error(m.managed_settings))
        seen: set[tuple[str, str]] = set()
        for i, m in enumerate(sso.members):
            if (m.group, m.tenant) in seen:
                self.add(f"sso.members[{i}]", f"group {m.group!r} is mapped to tenant {m.tenant!r} twice")
            seen.add((m.group, m.tenant))
        for i, a in enumerate(sso.admins):
            path = f"sso.admins[{i}]"
            if not a.group.strip():
                self.add(f"{path}.group", "must not be empty")
            if a.role not in ADMIN_ROLES:
                self.add(f"{path}.role", f"must be one of {', '.join(ADMIN_ROLES)}, not {a.role!r}")
            if a.role == "tenant-admin" and not a.tenants:
                self.add(f"{path}.tenants", "a tenant-admin needs the tenants they administer")
            if a.role in ("owner", "admin") and a.tenants:
                self.add(f"{path}.tenants", f"an {a.role} is not limited to tenants: leave tenants out")
            for j, name in enumerate(a.tenants or ()):
                tenant(f"{path}.tenants[{j}]", name)

    def under(self, path: str, issues: Iterable[ValidationIssue]) -> None:
        """One entity's issues, placed at its path in the file."""
        for issue in issues:
            self.issues.append(ValidationIssue(f"{path}.{issue.path}" if issue.path else path, issue.message))

    def rule(self, path: str, r: RuleDraft) -> None:
        for issue in rule_issues(r, self.known):
            # The file says `when:` where the stored rule says `conditions`.
            where = issue.path.replace("conditions.", "when.", 1) if issue.path else ""
            self.issues.append(ValidationIssue(f"{path}.{where}" if where else path, issue.message))


def validate_config(cfg: DesiredConfig) -> list[ValidationIssue]:
    """Every problem in `cfg`, each naming its place; empty when the configuration can be applied."""
    return _Checker(cfg).run()
