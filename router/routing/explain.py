"""Why a request goes where it goes: every rule considered, in order, and why each earlier one did not match.

Used by `router route explain` and the admin page's "try it" box. It walks the same order and uses the same
pattern and condition checks as the resolver (`compile_rule`, `conditions.mismatch`), without the memo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from router.routing.conditions import conditions_to_dict, mismatch
from router.routing.errors import ForbiddenError, RuleError
from router.routing.model import KeySpec, Pool, RequestFacts, RoutingConfig, RuleSpec
from router.routing.patterns import format_match
from router.routing.pools import MemberChoice, order_members
from router.routing.resolve import check_key_model, compile_rule, ordered_rules, target_filter

__all__ = ["Explanation", "RuleCheck", "explain", "find_tenant_id"]

Level = Literal["tenant", "global"]


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One rule considered: `reason` says why it did not match (None for the rule that did)."""

    rule: RuleSpec
    level: Level
    # Index in its level's evaluation order (tenant rules and global rules each count from 0).
    index: int
    matched: bool
    reason: str | None = None

    @property
    def label(self) -> str:
        return f"{self.level} rule[{self.index}] {format_match(self.rule.match, self.rule.match_kind)!r}"


@dataclass(frozen=True, slots=True)
class Explanation:
    facts: RequestFacts
    tenant: str | None
    checks: tuple[RuleCheck, ...]
    # The winning rule (None when nothing matched or the request was refused before matching).
    rule: RuleSpec | None = None
    level: Level | None = None
    # Target refs in the order they would be tried (after the tenant's allowed_targets).
    targets: tuple[str, ...] = ()
    # Left out by the tenant's allowed_targets, or unknown to the configuration.
    excluded_targets: tuple[str, ...] = ()
    missing_targets: tuple[str, ...] = ()
    chain: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    # For each pool among the targets: its members in the order this request would try them, and why.
    pools: dict[str, list[MemberChoice]] = field(default_factory=dict)
    # 200 when routed; otherwise the status the gateway would answer with, and why.
    status: int = 200
    error: str | None = None

    @property
    def routed(self) -> bool:
        return self.status == 200

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.facts.model,
            "tenant": self.tenant,
            "facts": {
                "thinking": self.facts.thinking,
                "tools": self.facts.tools,
                "tool_names": sorted(self.facts.tool_names),
                "stream": self.facts.stream,
                "input_tokens": self.facts.input_tokens,
                "member": self.facts.member,
                "session": self.facts.session,
                "budget_used_pct": self.facts.budget_used_pct,
            },
            "status": self.status,
            "error": self.error,
            "rule": _rule_dict(self.rule, self.level) if self.rule is not None else None,
            "chain": self.chain,
            "targets": list(self.targets),
            "excluded_targets": list(self.excluded_targets),
            "missing_targets": list(self.missing_targets),
            "overrides": dict(self.overrides),
            "pools": {
                ref: [{"target": c.ref, "weight": c.member.weight, "reason": c.reason} for c in choices]
                for ref, choices in self.pools.items()
            },
            "considered": [
                {**_rule_dict(c.rule, c.level), "index": c.index, "matched": c.matched, "reason": c.reason}
                for c in self.checks
            ],
        }

    def to_text(self) -> str:
        lines = [
            f"model {self.facts.model!r}"
            + (f" for tenant {self.tenant!r}" if self.tenant else " (global rules)")
        ]
        for check in self.checks:
            mark = "=>" if check.matched else "  "
            lines.append(f"{mark} {check.label}: {'matches' if check.matched else check.reason}")
        if not self.checks:
            lines.append("   (no rules considered)")
        if self.rule is not None:
            via = f" via chain {self.chain!r}" if self.chain else ""
            lines.append(f"rule: {self.level} rule id {self.rule.id}{via}")
            if self.rule.description:
                lines.append(f"  {self.rule.description}")
        if self.targets:
            lines.append("targets, in order:")
            for i, ref in enumerate(self.targets):
                lines.append(f"  {i + 1}. {ref}")
                for j, choice in enumerate(self.pools.get(ref, ())):
                    mark = "->" if j == 0 else "  "
                    lines.append(f"     {mark} {choice.ref} ({choice.reason})")
        if self.excluded_targets:
            lines.append("not allowed for this tenant: " + ", ".join(self.excluded_targets))
        if self.missing_targets:
            lines.append("unknown to the configuration: " + ", ".join(self.missing_targets))
        if self.overrides:
            lines.append("overrides: " + ", ".join(f"{k}={v}" for k, v in sorted(self.overrides.items())))
        if self.error:
            lines.append(f"error {self.status}: {self.error}")
        return "\n".join(lines)


def _rule_dict(rule: RuleSpec, level: Level | None) -> dict[str, Any]:
    return {
        "id": rule.id,
        "level": level,
        "match": format_match(rule.match, rule.match_kind),
        "match_kind": rule.match_kind,
        "when": conditions_to_dict(rule.conditions),
        "priority": rule.priority,
        "position": rule.position,
        "target": rule.target,
        "chain": rule.chain,
        "description": rule.description,
    }


def find_tenant_id(config: RoutingConfig, name_or_id: str) -> int | None:
    """A tenant's id from its name (or its id written as a number)."""
    for tenant in config.tenants.values():
        if tenant.name == name_or_id:
            return tenant.id
    if name_or_id.isdigit() and int(name_or_id) in config.tenants:
        return int(name_or_id)
    return None


def explain(
    config: RoutingConfig, tenant_id: int | None, facts: RequestFacts, *, key: KeySpec | None = None
) -> Explanation:
    """What `Resolver(config).resolve(tenant_id, facts)` would do, and why.

    `tenant_id=None` considers the global rules only.
    """
    tenant = config.tenants.get(tenant_id) if tenant_id is not None else None
    tenant_name = tenant.name if tenant is not None else None
    refusal: str | None = None
    refusal_status = 403
    if tenant_id is not None and tenant is None:
        refusal = "unknown tenant"
    elif tenant is not None and not tenant.enabled:
        refusal = f"tenant '{tenant.name}' is disabled"
    elif key is not None:
        try:
            check_key_model(key, facts.model)
        except ForbiddenError as exc:
            refusal, refusal_status = exc.message, exc.status

    levels: list[tuple[Level, list[RuleSpec]]] = []
    if tenant_id is not None:
        levels.append(("tenant", ordered_rules(config.tenant_rules.get(tenant_id, ()))))
    levels.append(("global", ordered_rules(config.global_rules)))

    checks: list[RuleCheck] = []
    for level, rules in levels:
        for index, spec in enumerate(rules):
            try:
                compiled = compile_rule(spec, config)
            except RuleError as exc:
                checks.append(RuleCheck(spec, level, index, False, f"invalid pattern: {exc.message}"))
                continue
            if not compiled.pattern.matches(facts.model):
                checks.append(
                    RuleCheck(spec, level, index, False, f"{spec.match_kind} pattern does not match")
                )
                continue
            why = mismatch(spec.conditions, facts)
            if why is not None:
                checks.append(RuleCheck(spec, level, index, False, why))
                continue
            checks.append(RuleCheck(spec, level, index, True))
            if refusal is not None:
                return Explanation(
                    facts, tenant_name, tuple(checks), spec, level, status=refusal_status, error=refusal
                )
            refs = tuple(t.ref for t in compiled.targets)
            allowed = target_filter(tenant.allowed_targets) if tenant is not None else None
            kept = tuple(r for r in refs if allowed is None or allowed(r))
            excluded = tuple(r for r in refs if r not in kept)
            status, error = 200, None
            if not refs:
                status, error = 404, f"no route for model '{facts.model}': its rule has no usable target"
            elif not kept:
                status, error = 400, f"model '{facts.model}' is not available to this tenant"
            return Explanation(
                facts,
                tenant_name,
                tuple(checks),
                spec,
                level,
                targets=kept,
                excluded_targets=excluded,
                missing_targets=compiled.missing,
                chain=compiled.chain.name if compiled.chain else spec.chain,
                overrides=dict(spec.overrides),
                pools={
                    t.ref: order_members(t, session=facts.session)
                    for t in compiled.targets
                    if isinstance(t, Pool) and t.ref in kept
                },
                status=status,
                error=error,
            )
    if refusal is not None:
        return Explanation(facts, tenant_name, tuple(checks), status=refusal_status, error=refusal)
    return Explanation(
        facts, tenant_name, tuple(checks), status=404, error=f"no route for model '{facts.model}'"
    )
