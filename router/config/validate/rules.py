"""The one rule check that `config apply`, the catalog and the admin page share."""

from __future__ import annotations

from router.config.drafts import RuleDraft, ValidationIssue
from router.config.fields import override_errors, pattern_error, target_ref_error
from router.config.lengths import DESCRIPTION_CHARS, MATCH_CHARS, length_error
from router.config.validate.issues import Issues, KnownNames
from router.routing.conditions import condition_errors


def rule_issues(r: RuleDraft, known: KnownNames) -> list[ValidationIssue]:
    """Every problem with one rule. Paths are the rule's own fields (`match`, `target`, `chain`,
    `conditions.KEY`, `overrides.KEY`, `priority`, `description`); "" is the rule as a whole."""
    issues = Issues()
    issues.add("match", length_error(r.match, MATCH_CHARS) or pattern_error(r.match, r.match_kind))
    if r.target and r.chain:
        issues.add("", "has both target and chain: give one")
    elif not r.target and not r.chain:
        issues.add("", "has neither target nor chain: give one")
    elif r.target:
        if r.target.startswith("chain/"):
            issues.add("target", f"{r.target!r} names a chain: write chain: {r.target[6:]}")
        else:
            issues.add("target", target_ref_error(r.target, known.providers, known.deployments, known.pools))
    elif r.chain not in known.chains:
        issues.add("chain", f"unknown chain {r.chain!r}")
    for key, problem in condition_errors(r.conditions):
        issues.add(f"conditions.{key}", problem)
    for key, problem in override_errors(r.overrides):
        issues.add(f"overrides.{key}", problem)
    if isinstance(r.priority, bool) or not isinstance(r.priority, int):
        issues.add("priority", f"must be a whole number, not {r.priority!r}")
    issues.add("description", length_error(r.description, DESCRIPTION_CHARS))
    return issues
