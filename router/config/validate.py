"""Validation of a whole desired configuration, and of its parts: pure, every problem named by its place.

Config apply validates the whole file before touching the database; the admin page and `store/catalog/`
use the same part checks for one object at a time (the drafts they check are in drafts.py).
Paths follow the YAML shape:
`rules[2].target: unknown provider 'opnai' in 'opnai/gpt-4.1'`,
`tenants[0].rules[1].match: invalid regex ...`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

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
    TargetRef,
    TenantDraft,
    ValidationIssue,
)
from router.config.provider_kinds import KNOWN_KINDS
from router.routing.conditions import condition_errors
from router.routing.errors import RuleError
from router.routing.patterns import GLOB_CHARS, compile_pattern

__all__ = [
    "ALERT_SUBJECTS",
    "ALERT_WATCHES",
    "MAX_ALERT_THRESHOLDS",
    "MAX_ALERT_WINDOW_MINUTES",
    "MAX_CHAIN_BACKOFF_MS",
    "MAX_CHAIN_RETRIES",
    "OVERRIDE_KEYS",
    "PRICE_FIELDS",
    "REASONING_EFFORTS",
    "RESERVED_PROVIDER_NAMES",
    "SECRET_PARAM",
    "KnownNames",
    "alert_issues",
    "api_base_error",
    "chain_issues",
    "deployment_issues",
    "deployment_provider_error",
    "extra_params_errors",
    "is_secret_param",
    "limit_issues",
    "name_error",
    "override_errors",
    "parse_target_ref",
    "pattern_error",
    "pool_issues",
    "price_issues",
    "provider_issues",
    "provider_kind_error",
    "rule_issues",
    "target_ref_error",
    "tenant_issues",
    "validate_config",
    "webhook_error",
]

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
KIND_RE = re.compile(r"[a-z0-9_-]{1,50}")
# Target refs are "PROVIDER/MODEL", "deployment/NAME", "pool/NAME"; "chain/NAME" names a chain in messages.
RESERVED_PROVIDER_NAMES = frozenset({"deployment", "chain", "pool"})
POOL_STRATEGIES = ("weighted", "least-busy", "lowest-latency")
MAX_POOL_WEIGHT = 1000
OVERRIDE_KEYS = ("max_tokens", "temperature", "reasoning_effort")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high")
# Query parameters and extra_params keys that would hold a credential in clear.
_SECRETISH = re.compile(r"key|token|secret|password|passwd|auth|credential|sig", re.IGNORECASE)


ADMIN_ROLES = ("owner", "admin", "tenant-admin", "viewer")
# A managed settings document is pushed to every laptop of a tenant: keep it a sane size.
MAX_MANAGED_SETTINGS_BYTES = 64 * 1024


def managed_settings_error(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return "must be a mapping of Claude Code settings (e.g. {model: ..., env: {...}})"
    try:
        size = len(json.dumps(value, separators=(",", ":")))
    except (TypeError, ValueError):
        return "must hold only JSON values"
    if size > MAX_MANAGED_SETTINGS_BYTES:
        return f"is {size} bytes as JSON; at most {MAX_MANAGED_SETTINGS_BYTES}"
    return None


def parse_target_ref(ref: str) -> TargetRef:
    """ValueError unless `ref` is `PROVIDER/MODEL` or `deployment/NAME` (the model may itself contain '/')."""
    head, sep, rest = ref.partition("/")
    if not sep or not head or not rest or ref != ref.strip():
        raise ValueError(f"target {ref!r} must be PROVIDER/MODEL or deployment/NAME")
    if head == "chain":
        raise ValueError(f"{ref!r} names a chain, not a target")
    if head == "deployment":
        return TargetRef(ref, None, None, rest)
    if head == "pool":
        return TargetRef(ref, None, None, None, rest)
    return TargetRef(ref, head, rest, None)


def target_ref_error(
    ref: str, providers: Iterable[str], deployments: Iterable[str], pools: Iterable[str] | None = None
) -> str | None:
    """Why `ref` cannot be routed to with these provider, deployment and pool names (None if it can).

    `pools=None`: a pool is not acceptable here (a pool's own members must be targets)."""
    try:
        parsed = parse_target_ref(ref)
    except ValueError as exc:
        return str(exc)
    if parsed.pool is not None:
        if pools is None:
            return f"{ref!r} is a pool: a pool's members must be targets"
        if parsed.pool not in set(pools):
            return f"unknown pool {parsed.pool!r} in {ref!r}"
        return None
    if parsed.deployment is not None:
        if parsed.deployment not in set(deployments):
            return f"unknown deployment {parsed.deployment!r} in {ref!r}"
    elif parsed.provider not in set(providers):
        return f"unknown provider {parsed.provider!r} in {ref!r}"
    return None


def name_error(name: str, what: str = "name") -> str | None:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        return (
            f"{what} {name!r} must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return None


def provider_kind_error(kind: str) -> str | None:
    if not isinstance(kind, str) or not KIND_RE.fullmatch(kind) or kind not in KNOWN_KINDS:
        return (
            f"unknown provider kind {kind!r}: use openai, azure, gemini, anthropic, openai_compatible "
            "or a LiteLLM provider name (e.g. bedrock, vertex_ai, mistral)"
        )
    return None


def deployment_provider_error(provider: str, kind: str) -> str | None:
    """Deployments are Azure OpenAI deployments: their provider must be of kind azure."""
    if kind != "azure":
        return f"provider {provider!r} is of kind {kind!r}; a deployment needs an azure provider"
    return None


def api_base_error(url: str | None) -> str | None:
    """http(s) only, a host, no user:password@, no credential in the query string."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.scheme not in ("http", "https"):
        # Name the scheme only: the rest of a refused URL may hold a password.
        return f"must be an http:// or https:// URL, not {parts.scheme or 'a URL without a scheme'}:"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not contain a user name or password (set the provider's api_key instead)"
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        if _SECRETISH.search(name):
            return f"must not carry a credential in the query string ({name!r}); set api_key instead"
    if parts.fragment:
        return "must not have a #fragment"
    return None


# extra_params keys that would duplicate a provider's own fields (the providers layer ignores them anyway).
_FIELD_KEYS = frozenset({"api_key", "api_base", "base_url", "key", "custom_llm_provider"})
# Keys inside extra_params whose values are secrets (Bedrock and Vertex credentials...): never exported.
SECRET_PARAM = re.compile(
    r"secret|credential|password|passwd|access_key|api[-_]?key|(^|_)token$", re.IGNORECASE
)
# Names nested inside extra_params (headers under extra_headers, option objects): any that would carry a
# credential, e.g. `X-Portkey-Api-Key`, `X-Auth-Token`, `Cookie`. Wider than SECRET_PARAM, whose top-level
# keys include harmless ones such as `prompt_cache_key`.
NESTED_SECRET_PARAM = re.compile(
    r"key|token|secret|password|passwd|auth|credential|signature|cookie|session", re.IGNORECASE
)
_SECRET_PROBLEM = "a secret: put it in the provider's api_key as a JSON object (stored encrypted)"


def is_secret_param(name: str, *, nested: bool) -> bool:
    """Whether an extra_params key names a secret (at the top level, or nested inside a mapping)."""
    return bool((NESTED_SECRET_PARAM if nested else SECRET_PARAM).search(name))


def extra_params_errors(params: Any) -> list[tuple[str, str]]:
    if not isinstance(params, Mapping):
        return [("", "must be a mapping")]
    problems: list[tuple[str, str]] = []
    for k, value in params.items():
        name = str(k)
        if name.lower() in _FIELD_KEYS:
            problems.append((name, "set the provider's own api_key / api_base instead"))
        elif is_secret_param(name, nested=False):
            # extra_params are stored in clear; the credential field is encrypted at rest.
            problems.append((name, _SECRET_PROBLEM))
        else:
            problems.extend(_nested_secrets(value, name))
    return problems


def _nested_secrets(value: Any, path: str) -> list[tuple[str, str]]:
    """Secrets at any depth below a top-level key: mapping keys that name one, in mappings and lists."""
    problems: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        for k, inner in value.items():
            where = f"{path}.{k}"
            if is_secret_param(str(k), nested=True) and inner not in (None, ""):
                problems.append((where, _SECRET_PROBLEM))
            else:
                problems.extend(_nested_secrets(inner, where))
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            problems.extend(_nested_secrets(inner, f"{path}.{index}"))
    return problems


def pattern_error(match: str, kind: str) -> str | None:
    if not isinstance(match, str) or not match:
        return "must not be empty"
    try:
        compile_pattern(match, kind)
    except RuleError as exc:
        return exc.message
    return None


def override_errors(overrides: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for key, value in overrides.items():
        if key not in OVERRIDE_KEYS:
            problems.append(
                (str(key), f"unknown override {key!r} (expected one of {', '.join(OVERRIDE_KEYS)})")
            )
        elif value is None:
            continue
        elif key == "max_tokens" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            problems.append((key, f"must be a whole number >= 1, not {value!r}"))
        elif key == "temperature" and (
            isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2
        ):
            problems.append((key, f"must be a number from 0 to 2, not {value!r}"))
        elif key == "reasoning_effort" and value not in REASONING_EFFORTS:
            problems.append((key, f"must be one of {', '.join(REASONING_EFFORTS)}, not {value!r}"))
    return problems


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


def tenant_issues(t: TenantDraft, known: KnownNames) -> list[ValidationIssue]:
    """Every problem with one tenant's own fields (paths: name, limits.KEY, allowed_targets[J],
    managed_settings, member_self_service); its rules are rules (rule_issues)."""
    issues = _Issues()
    issues.add("name", name_error(t.name, "tenant name"))
    for issue in limit_issues(t.rpm, t.tpm, t.budget_usd):
        issues.add(f"limits.{issue.path}", issue.message)
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

    def target(self, path: str, ref: str, *, pools: bool = True) -> None:
        self.add(path, target_ref_error(ref, self.providers, self.deployments, self.pools if pools else None))

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

    def price(self, path: str, p: PriceDraft) -> None:
        self.target(f"{path}.target", p.target, pools=False)
        for key in ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok"):
            value = getattr(p, key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                self.add(f"{path}.{key}", f"must be a number >= 0, not {value!r}")


def validate_config(cfg: DesiredConfig) -> list[ValidationIssue]:
    """Every problem in `cfg`, each naming its place; empty when the configuration can be applied."""
    return _Checker(cfg).run()
