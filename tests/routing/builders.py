"""Small builders for routing snapshots in tests: rules as keyword arguments, targets made up on demand."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from router.routing.model import (
    ChainSpec,
    Conditions,
    DeploymentSpec,
    ProviderSpec,
    RoutingConfig,
    RuleSpec,
    Target,
    TenantSpec,
)
from router.routing.patterns import parse_match

_ids = iter(range(1, 10**9))


def target(ref: str) -> Target:
    head, _, rest = ref.partition("/")
    if head == "deployment":
        provider = ProviderSpec(0, "azure", "azure", "http://127.0.0.1:9100", "2024-10-21", None)
        dep = DeploymentSpec(0, rest, "azure", rest + "-prod", None, "gpt-4o")
        return Target(ref, provider, dep.deployment, dep.model, deployment=dep)
    provider = ProviderSpec(0, head, head, None, None, None)
    return Target(ref, provider, rest, rest)


def rule(
    match: str,
    target: str | None = None,
    *,
    chain: str | None = None,
    tenant_id: int | None = None,
    priority: int = 0,
    position: int | None = None,
    when: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RuleSpec:
    pattern, kind = parse_match(match)
    rid = next(_ids)
    return RuleSpec(
        id=rid,
        tenant_id=tenant_id,
        match=pattern,
        match_kind=kind,
        conditions=Conditions(**(when or {})),
        priority=priority,
        position=rid if position is None else position,
        target=target,
        chain=chain,
        overrides=dict(overrides or {}),
    )


def config(
    global_rules: Iterable[RuleSpec] = (),
    tenant_rules: Mapping[int, Iterable[RuleSpec]] | None = None,
    *,
    tenants: Iterable[TenantSpec] | None = None,
    chains: Iterable[ChainSpec] = (),
    extra_targets: Iterable[str] = (),
) -> RoutingConfig:
    g = tuple(global_rules)
    tr = {tid: tuple(rs) for tid, rs in (tenant_rules or {}).items()}
    ch = {c.name: c for c in chains}
    refs: set[str] = set(extra_targets)
    for r in (*g, *(r for rs in tr.values() for r in rs)):
        if r.target:
            refs.add(r.target)
    for c in ch.values():
        refs.update(c.targets)
    if tenants is None:
        tenants = [TenantSpec(tid, f"t{tid}") for tid in {1, *tr}]
    return RoutingConfig(
        version=1,
        tenants={t.id: t for t in tenants},
        targets={ref: target(ref) for ref in refs},
        chains=ch,
        global_rules=g,
        tenant_rules=tr,
    )
