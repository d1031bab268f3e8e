"""What one tenant's requests can reach: its rules, then the global ones, in evaluation order, each with the
targets it sends to (after the tenant's allowed targets), and the targets reachable at all.

Pure: plain rule shapes and names in, plain data out. Nothing here knows a credential or a base URL; the
caller describes each target by provider name, kind and model only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from router.routing.patterns import format_match
from router.routing.resolve import POOL_PREFIX, target_filter
from router.routing.shadow import find_shadows

__all__ = ["Reach", "ReachRule", "ReachTarget", "ReachableRule", "TargetInfo", "tenant_reach"]


class ReachableRule(Protocol):
    """What the view reads of a rule (store rows have these)."""

    @property
    def id(self) -> int: ...
    @property
    def match(self) -> str: ...
    @property
    def match_kind(self) -> str: ...
    @property
    def conditions(self) -> Mapping[str, Any] | None: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def target(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """A target as a tenant-admin may see it: whose, what kind, which model; never a URL or a secret."""

    provider: str
    kind: str
    model: str


@dataclass(frozen=True, slots=True)
class ReachRule:
    level: str  # "tenant" or "global"
    number: int  # its place in its level's order, from 1 (the # column of the rules page)
    id: int
    match: str
    conditions: dict[str, Any]
    chain: str | None
    # Each ref the rule names (a pool's members follow it as `pool/x -> ref`), and whether the tenant may
    # use it.
    refs: tuple[tuple[str, bool], ...]
    # Why no request of this tenant reaches the rule ("tenant rule #1 (*) matches first"), else None.
    unreachable: str | None = None


@dataclass(frozen=True, slots=True)
class ReachTarget:
    ref: str
    info: TargetInfo | None
    # The rules that send there, e.g. ("tenant #1", "global #3").
    via: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reach:
    tenant: str
    allowed_targets: tuple[str, ...] | None
    rules: tuple[ReachRule, ...]
    targets: tuple[ReachTarget, ...]


def _refs(
    rule: ReachableRule,
    chain: str | None,
    chains: Mapping[str, Sequence[str]],
    pools: Mapping[str, Sequence[str]],
    allowed: Callable[[str], bool] | None,
) -> list[tuple[str, bool, list[str]]]:
    """(ref, allowed, the concrete targets behind it) for each ref the rule names."""
    named = list(chains.get(chain, ())) if chain else ([rule.target] if rule.target else [])
    out: list[tuple[str, bool, list[str]]] = []
    for ref in named:
        ok = allowed is None or allowed(ref)
        behind = list(pools.get(ref[len(POOL_PREFIX) :], ())) if ref.startswith(POOL_PREFIX) else [ref]
        out.append((ref, ok, behind))
    return out


def tenant_reach(
    tenant: str,
    allowed_targets: Sequence[str] | None,
    tenant_rules: Sequence[tuple[ReachableRule, str | None]],
    global_rules: Sequence[tuple[ReachableRule, str | None]],
    *,
    chains: Mapping[str, Sequence[str]],
    pools: Mapping[str, Sequence[str]],
    targets: Mapping[str, TargetInfo],
) -> Reach:
    """Rules are given per level in evaluation order, each with its chain's name (None for a target).
    Disabled rules are left out; a rule an earlier one (of either level) always catches first is kept and
    says so, and its targets are not counted as reachable."""
    allowed = target_filter(frozenset(allowed_targets)) if allowed_targets is not None else None
    levels = [
        ("tenant", [r for r in tenant_rules if r[0].enabled]),
        ("global", [r for r in global_rules if r[0].enabled]),
    ]
    flat = [
        (level, number, rule, chain)
        for level, rules in levels
        for number, (rule, chain) in enumerate(rules, 1)
    ]
    shadows = {s.index: s.by for s in find_shadows([rule for _, _, rule, _ in flat])}
    out_rules: list[ReachRule] = []
    via: dict[str, list[str]] = {}
    for index, (level, number, rule, chain) in enumerate(flat):
        refs = _refs(rule, chain, chains, pools, allowed)
        unreachable = None
        if index in shadows:
            by_level, by_number, by_rule, _ = flat[shadows[index]]
            pattern = format_match(by_rule.match, by_rule.match_kind)
            unreachable = f"{by_level} rule #{by_number} ({pattern}) matches first"
        shown: list[tuple[str, bool]] = []
        for ref, ok, behind in refs:
            shown.append((ref, ok))
            shown.extend((f"{ref} -> {member}", ok) for member in behind if member != ref)
            if ok and unreachable is None:
                for member in behind:
                    via.setdefault(member, []).append(f"{level} #{number}")
        out_rules.append(
            ReachRule(
                level=level,
                number=number,
                id=rule.id,
                match=format_match(rule.match, rule.match_kind),
                conditions=dict(rule.conditions or {}),
                chain=chain,
                refs=tuple(shown),
                unreachable=unreachable,
            )
        )
    reachable = tuple(ReachTarget(ref, targets.get(ref), tuple(names)) for ref, names in via.items())
    return Reach(
        tenant=tenant,
        allowed_targets=tuple(allowed_targets) if allowed_targets is not None else None,
        rules=tuple(out_rules),
        targets=reachable,
    )
