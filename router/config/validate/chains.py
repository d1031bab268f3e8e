"""A fallback chain: its ordered targets (no chains inside), retries and backoff."""

from __future__ import annotations

from router.config.drafts import ChainDraft, ValidationIssue
from router.config.fields import name_error, target_ref_error
from router.config.validate.issues import Issues, KnownNames, is_whole

MAX_CHAIN_RETRIES = 10
MAX_CHAIN_BACKOFF_MS = 60_000


def chain_issues(c: ChainDraft, known: KnownNames) -> list[ValidationIssue]:
    """Every problem with one chain (paths: name, targets, targets[I], retries, backoff_ms)."""
    issues = Issues()
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
    if not is_whole(c.retries, 0, MAX_CHAIN_RETRIES):
        issues.add("retries", f"must be a whole number from 0 to {MAX_CHAIN_RETRIES}, not {c.retries!r}")
    if not is_whole(c.backoff_ms, 0, MAX_CHAIN_BACKOFF_MS):
        issues.add(
            "backoff_ms", f"must be a whole number from 0 to {MAX_CHAIN_BACKOFF_MS}, not {c.backoff_ms!r}"
        )
    return issues
