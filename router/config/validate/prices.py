"""A price: the target it is for and its amounts per million tokens."""

from __future__ import annotations

from router.config.drafts import PriceDraft, ValidationIssue
from router.config.fields import target_ref_error
from router.config.validate.issues import Issues, KnownNames, amount_error

PRICE_FIELDS = ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok")


def price_issues(p: PriceDraft, known: KnownNames | None) -> list[ValidationIssue]:
    """Every problem with one price (paths: target, and each amount). `known` None: the target is not
    checked (an update that keeps it)."""
    issues = Issues()
    if known is not None:
        issues.add("target", target_ref_error(p.target, known.providers, known.deployments))
    for key in PRICE_FIELDS:
        value = getattr(p, key)
        if value is not None:
            issues.add(key, amount_error(value))
    return issues
