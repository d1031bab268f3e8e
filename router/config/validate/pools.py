"""A pool: its members (targets with a weight and provider quotas) and the strategy that picks one."""

from __future__ import annotations

from router.config.drafts import PoolDraft, ValidationIssue
from router.config.fields import name_error, target_ref_error
from router.config.validate.issues import Issues, KnownNames, is_whole

POOL_STRATEGIES = ("weighted", "least-busy", "lowest-latency")
MAX_POOL_WEIGHT = 1000


def pool_issues(p: PoolDraft, known: KnownNames) -> list[ValidationIssue]:
    """Every problem with one pool (paths: name, strategy, members, members[I].target/weight/rpm/tpm).
    Members must be targets (not pools)."""
    issues = Issues()
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
        if not is_whole(m.weight, 1, MAX_POOL_WEIGHT):
            issues.add(f"{where}.weight", f"must be a whole number from 1 to {MAX_POOL_WEIGHT}")
        for key in ("rpm", "tpm"):
            value = getattr(m, key)
            if value is not None and not is_whole(value, 1, 2**62):
                issues.add(f"{where}.{key}", f"must be a whole number >= 1, not {value!r}")
    return issues
