"""Route resolution per second with many rules and tenants: pure, in memory, no server.

Builds a `RoutingConfig` with `rules` rules (a tenth global, the rest spread over `tenants` tenants; a mix of
exact names, globs and regexes, some with conditions) and measures:
- build: seconds to compile it into a `Resolver` (once per config version in the service);
- warm: resolutions per second over the model names Claude Code actually sends (memo hits, the steady state);
- cold: resolutions per second when every request names a model never seen before (memo misses: every
  pattern of the tenant's level and the global level is tried), the worst case a client can force.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from typing import Any

from router.routing.model import (
    ChainSpec,
    Conditions,
    ProviderSpec,
    RequestFacts,
    RoutingConfig,
    RuleSpec,
    Target,
    TenantSpec,
)
from router.routing.patterns import MatchKind
from router.routing.resolve import Resolver

CLAUDE_MODELS = (
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-1-20250805",
    "claude-3-5-haiku-20241022",
    "claude-haiku-4-5-20251001",
    "claude-sonnet-4-20250514",
    "claude-opus-4-20250514",
    "claude-3-7-sonnet-20250219",
)


def build_config(rules: int = 10_000, tenants: int = 1_000, seed: int = 7) -> RoutingConfig:
    rnd = random.Random(seed)
    providers = [
        ProviderSpec(i, f"p{i}", "openai", f"http://127.0.0.1:{9000 + i}/v1", None, "sk-x") for i in range(10)
    ]
    targets: dict[str, Target] = {}
    for p in providers:
        for m in ("gpt-4.1", "gpt-4.1-mini", "gpt-4o", "o3", "gpt-5", "gpt-5-mini", "gpt-5-nano"):
            ref = f"{p.name}/{m}"
            targets[ref] = Target(ref, p, m, m)
    refs = sorted(targets)
    chains = {f"c{i}": ChainSpec(i, f"c{i}", tuple(rnd.sample(refs, 3))) for i in range(50)}

    def rule(rid: int, tenant_id: int | None, position: int) -> RuleSpec:
        roll = rnd.random()
        match: str
        kind: MatchKind
        if roll < 0.5:
            match, kind = rnd.choice(CLAUDE_MODELS) + ("" if rnd.random() < 0.5 else f"-v{rid}"), "exact"
        elif roll < 0.85:
            match, kind = (
                rnd.choice(
                    (
                        "*haiku*",
                        "claude-sonnet-4-*",
                        "claude-opus-*",
                        "*-3-5-*",
                        f"team{rid % 97}-*",
                        "*sonnet*",
                    )
                ),
                "glob",
            )
        else:
            match, kind = (
                rnd.choice((r"^claude-(opus|sonnet)-4", r"haiku-\d", r"^gpt-", rf"-{rid % 50}$")),
                "regex",
            )
        conditions = Conditions()
        c = rnd.random()
        if c < 0.15:
            conditions = Conditions(thinking=True)
        elif c < 0.25:
            conditions = Conditions(min_input_tokens=100_000)
        elif c < 0.3:
            conditions = Conditions(tool="WebSearch")
        use_chain = rnd.random() < 0.3
        return RuleSpec(
            id=rid,
            tenant_id=tenant_id,
            match=match,
            match_kind=kind,
            conditions=conditions,
            priority=rnd.choice((0, 0, 0, 10, 100)),
            position=position,
            target=None if use_chain else rnd.choice(refs),
            chain=rnd.choice(sorted(chains)) if use_chain else None,
        )

    n_global = max(1, rules // 10)
    global_rules = [rule(i, None, i) for i in range(n_global - 1)]
    # A catch-all last, as every real configuration has.
    global_rules.append(RuleSpec(n_global, None, "*", "glob", Conditions(), 1000, n_global, refs[0], None))
    tenant_rules: dict[int, list[RuleSpec]] = {t: [] for t in range(1, tenants + 1)}
    for rid in range(n_global, rules):
        t = rnd.randint(1, tenants)
        tenant_rules[t].append(rule(rid + 1, t, len(tenant_rules[t])))
    return RoutingConfig(
        version=1,
        tenants={t: TenantSpec(t, f"team{t}") for t in range(1, tenants + 1)},
        targets=targets,
        chains=chains,
        global_rules=tuple(global_rules),
        tenant_rules={t: tuple(rs) for t, rs in tenant_rules.items()},
    )


def _facts(rnd: random.Random, model: str) -> RequestFacts:
    return RequestFacts(
        model=model,
        thinking=rnd.random() < 0.3,
        tools=True,
        tool_names=frozenset({"Bash", "Read"}),
        stream=True,
        input_tokens=rnd.randint(10, 150_000),
    )


def measure(rules: int = 10_000, tenants: int = 1_000, seconds: float = 2.0) -> dict[str, Any]:
    config = build_config(rules, tenants)
    t0 = time.perf_counter()
    resolver = Resolver(config)
    build_s = time.perf_counter() - t0
    rnd = random.Random(11)
    # Pre-draw the inputs so the loop measures resolve() and not the random module.
    warm = [(rnd.randint(1, tenants), _facts(rnd, rnd.choice(CLAUDE_MODELS))) for _ in range(20_000)]
    cold = [(rnd.randint(1, tenants), _facts(rnd, f"claude-sonnet-4-{i}-x")) for i in range(2_000)]
    return {
        "rules": rules,
        "tenants": tenants,
        "build_s": round(build_s, 3),
        "warm_per_s": _rate(resolver, warm, seconds),
        "cold_per_s": _rate(resolver, cold, seconds, fresh=True),
    }


def _rate(
    resolver: Resolver, inputs: list[tuple[int, RequestFacts]], seconds: float, fresh: bool = False
) -> float:
    """Resolutions per second, timing only the resolve loop (not building a fresh batch of names)."""
    resolve = resolver.resolve
    done = 0
    spent = 0.0
    passes = 0
    batch = inputs
    while spent < seconds:
        if fresh and passes:
            # New names every pass, so the memo never helps.
            batch = [(t, replace(f, model=f"{f.model}-{passes}")) for t, f in inputs]
        t0 = time.perf_counter()
        for tenant_id, facts in batch:
            resolve(tenant_id, facts)
        spent += time.perf_counter() - t0
        done += len(batch)
        passes += 1
    return round(done / spent)
