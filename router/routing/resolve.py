"""The resolver: one RoutingConfig compiled once, then each request answered from memory.

Order: the tenant's own rules, then the global rules; within a level by (priority, position); the first rule
whose pattern AND conditions hold wins. Per request the work is a dict lookup for the tenant, a dict lookup
in a bounded memo of (tenant, model) -> rules whose PATTERN matches, and the cheap condition checks on those:
no regex runs per request once a model name has been seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from router.routing.conditions import mismatch
from router.routing.errors import ForbiddenError, ModelDeniedError, NoRouteError
from router.routing.model import (
    ChainSpec,
    KeySpec,
    RequestFacts,
    Route,
    RouteEntry,
    RoutingConfig,
    RuleSpec,
    TenantSpec,
)
from router.routing.patterns import CompiledPattern, compile_pattern

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "CompiledRule",
    "Resolver",
    "check_key_model",
    "compile_rule",
    "ordered_rules",
    "target_filter",
]

POOL_PREFIX = "pool/"
# Distinct (tenant, model) pairs remembered; past this the oldest are forgotten (clients choose model names).
DEFAULT_CACHE_SIZE = 16_384


@dataclass(frozen=True, slots=True)
class CompiledRule:
    spec: RuleSpec
    pattern: CompiledPattern
    # The rule's target, or its chain's targets (or pools), as the snapshot knows them (unknown: `missing`).
    targets: tuple[RouteEntry, ...]
    chain: ChainSpec | None
    # Target refs (or chain/NAME) the snapshot does not know: the rule still matches, but cannot go there.
    missing: tuple[str, ...]
    # No conditions: the pattern alone decides.
    unconditional: bool


def ordered_rules(rules: Iterable[RuleSpec]) -> list[RuleSpec]:
    """(priority, position) order; stable, so equal keys keep the order given."""
    return sorted(rules, key=lambda r: (r.priority, r.position))


def compile_rule(spec: RuleSpec, config: RoutingConfig) -> CompiledRule:
    """Compile the pattern (RuleError if invalid) and look up the targets once."""
    pattern = compile_pattern(spec.match, spec.match_kind)
    chain: ChainSpec | None = None
    refs: tuple[str, ...]
    missing: list[str] = []
    if spec.chain is not None:
        chain = config.chains.get(spec.chain)
        if chain is None:
            missing.append(f"chain/{spec.chain}")
        refs = chain.targets if chain is not None else ()
    else:
        refs = (spec.target,) if spec.target else ()
    targets: list[RouteEntry] = []
    for ref in refs:
        target: RouteEntry | None = (
            config.pools.get(ref[len(POOL_PREFIX) :])
            if ref.startswith(POOL_PREFIX)
            else config.targets.get(ref)
        )
        if target is None:
            missing.append(ref)
        else:
            targets.append(target)
    return CompiledRule(spec, pattern, tuple(targets), chain, tuple(missing), spec.conditions.empty)


def target_filter(allowed: frozenset[str] | None) -> Callable[[str], bool] | None:
    """A test for a tenant's allowed targets (refs or globs such as `openai/*`); None if unrestricted."""
    if allowed is None:
        return None
    exact = frozenset(a for a in allowed if not any(c in a for c in "*?["))
    globs = tuple(compile_pattern(a, "glob") for a in allowed if a not in exact)
    if not globs:
        return exact.__contains__
    return lambda ref: ref in exact or any(g.matches(ref) for g in globs)


def check_key_model(key: KeySpec, model: str) -> None:
    """A key with allowed_models may only ask for model names matching one of its globs (ForbiddenError)."""
    if key.allowed_models is None:
        return
    for pattern in key.allowed_models:
        if compile_pattern(pattern, "glob").matches(model):
            return
    raise ModelDeniedError(f"model '{model}' is not allowed for this API key")


class _Level:
    """One list of rules (a tenant's, or the global ones), indexed for candidate lookup."""

    __slots__ = ("exact", "patterned", "rules")

    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules
        self.exact: dict[str, list[tuple[int, CompiledRule]]] = {}
        self.patterned: list[tuple[int, CompiledRule]] = []
        for index, rule in enumerate(rules):
            if rule.pattern.kind == "exact":
                self.exact.setdefault(rule.pattern.pattern, []).append((index, rule))
            else:
                self.patterned.append((index, rule))

    def candidates(self, model: str) -> list[CompiledRule]:
        hits = [(i, r) for i, r in self.patterned if r.pattern.matches(model)]
        exact = self.exact.get(model)
        if exact:
            hits.extend(exact)
            hits.sort(key=lambda pair: pair[0])
        return [r for _, r in hits]


_EMPTY = _Level([])


class Resolver:
    """Built once per RoutingConfig (RuleError if a pattern is invalid); `resolve()` per request."""

    def __init__(self, config: RoutingConfig, *, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self.config = config
        self._cache_size = max(1, cache_size)
        # Equal patterns compile to one cached object: 10k rules with few distinct patterns build fast.
        self._global = _Level([compile_rule(r, config) for r in ordered_rules(config.global_rules)])
        self._tenant_levels: dict[int, _Level] = {
            tid: _Level([compile_rule(r, config) for r in ordered_rules(rules)])
            for tid, rules in config.tenant_rules.items()
            if rules
        }
        self._filters = {tid: target_filter(t.allowed_targets) for tid, t in config.tenants.items()}
        self._memo: dict[tuple[int | None, str], tuple[CompiledRule, ...]] = {}
        rules = [*config.global_rules, *(r for level in config.tenant_rules.values() for r in level)]
        # Whether any rule looks at budget use: only then does the gateway read it before resolving.
        self.uses_budget = any(r.conditions.budget_used_pct is not None for r in rules)

    @property
    def version(self) -> int:
        return self.config.version

    def tenant(self, tenant_id: int) -> TenantSpec:
        """The tenant, if it may route at all (ForbiddenError when unknown or disabled)."""
        tenant = self.config.tenants.get(tenant_id)
        if tenant is None:
            raise ForbiddenError("unknown tenant")
        if not tenant.enabled:
            raise ForbiddenError(f"tenant '{tenant.name}' is disabled")
        return tenant

    def candidates(self, tenant_id: int | None, model: str) -> tuple[CompiledRule, ...]:
        """Rules whose pattern matches `model`, in evaluation order (the tenant's first), memoised."""
        level = self._tenant_levels.get(tenant_id) if tenant_id is not None else None
        key = (tenant_id if level is not None else None, model)
        found = self._memo.get(key)
        if found is None:
            if level is None:
                found = tuple(self._global.candidates(model))
            else:
                # The global part is shared by every tenant: remember it once under (None, model).
                found = (*level.candidates(model), *self.candidates(None, model))
            self._remember(key, found)
        return found

    def _remember(self, key: tuple[int | None, str], found: tuple[CompiledRule, ...]) -> None:
        if len(self._memo) >= self._cache_size:
            # Forget the oldest entry (dicts keep insertion order): bounded memory whatever names arrive.
            del self._memo[next(iter(self._memo))]
        self._memo[key] = found

    def resolve(self, tenant_id: int, facts: RequestFacts) -> Route:
        tenant = self.tenant(tenant_id)
        for rule in self.candidates(tenant_id, facts.model):
            if rule.unconditional or mismatch(rule.spec.conditions, facts) is None:
                return self._route(tenant, rule, facts.model)
        raise NoRouteError(f"no route for model '{facts.model}'")

    def _route(self, tenant: TenantSpec, rule: CompiledRule, model: str) -> Route:
        targets = rule.targets
        if not targets:
            raise NoRouteError(f"no route for model '{model}': its rule has no usable target")
        allowed = self._filters.get(tenant.id)
        if allowed is not None:
            targets = tuple(t for t in targets if allowed(t.ref))
            if not targets:
                raise ModelDeniedError(f"model '{model}' is not available to this tenant")
        return Route(rule=rule.spec, targets=targets, chain=rule.chain, overrides=rule.spec.overrides)
