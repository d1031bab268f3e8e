"""Rule drafts from what people write, the one way for every entry point: the admin form, the management
API's bodies, a config file's rules and the CLI all describe a rule as a `RuleDraft` made here, and the
catalog stores nothing else. Pure: validation stays in validate/ (`rule_issues`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from router.config.drafts import RuleDraft
from router.config.fields import OVERRIDE_KEYS
from router.routing.conditions import CONDITION_KEYS
from router.routing.patterns import format_match, parse_match

__all__ = ["RULE_FIELDS", "changed_rule", "normalised_rule", "written_rule"]

# What a change to a rule may name (the draft's fields, with `match_kind` beside `match`).
RULE_FIELDS = frozenset(
    {
        "match",
        "match_kind",
        "conditions",
        "target",
        "chain",
        "overrides",
        "priority",
        "description",
        "enabled",
    }
)


def _clean(raw: Mapping[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any]:
    """Drop unset values and keep the canonical key order (so equal rules store equal JSON)."""
    raw = raw or {}
    cleaned = {k: raw[k] for k in keys if raw.get(k) is not None}
    cleaned.update({k: v for k, v in raw.items() if k not in keys})  # unknown keys: rejected by validation
    return cleaned


def normalised_rule(draft: RuleDraft) -> RuleDraft:
    """The draft as the catalog stores it: empty texts as None, unset conditions and overrides dropped, the
    rest in canonical key order (so equal rules store equal JSON, whoever wrote them)."""
    return replace(
        draft,
        conditions=_clean(draft.conditions, CONDITION_KEYS),
        target=draft.target or None,
        chain=draft.chain or None,
        overrides=_clean(draft.overrides, OVERRIDE_KEYS),
        description=draft.description or None,
    )


def written_rule(
    match: str,
    match_kind: str | None = None,
    *,
    conditions: Mapping[str, Any] | None = None,
    target: str | None = None,
    chain: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    priority: int = 0,
    description: str | None = None,
    enabled: bool = True,
) -> RuleDraft:
    """The rule as written: `match_kind` None infers the kind from `match` (`re:` prefix, glob characters,
    else exact; `re:` is stripped), empty texts mean none, unset conditions and overrides are dropped."""
    pattern, kind = parse_match(match.strip()) if match_kind is None else (match, match_kind)
    draft = RuleDraft(
        pattern, kind, conditions or {}, target, chain, overrides or {}, priority, description, enabled
    )
    return normalised_rule(draft)


def changed_rule(draft: RuleDraft, changes: Mapping[str, Any]) -> RuleDraft:
    """`draft` with the fields named in `changes` replaced (None clears a field). A new `match` without a
    kind infers it, a kind alone re-reads the current pattern; a new target clears the chain and the
    reverse. Names outside RULE_FIELDS raise KeyError (the caller's schema decides what may be sent)."""
    unknown = set(changes) - RULE_FIELDS
    if unknown:
        raise KeyError(", ".join(sorted(unknown)))
    pattern, kind = draft.match, draft.match_kind
    new_kind: str | None = changes.get("match_kind", kind)
    if "match" in changes:
        pattern, new_kind = str(changes["match"]), changes.get("match_kind")
        if new_kind is None:
            pattern = pattern.strip()
    elif new_kind is None:
        pattern = format_match(draft.match, draft.match_kind)
    if new_kind is None:
        pattern, kind = parse_match(pattern)
    else:
        kind = new_kind
    target = changes["target"] or None if "target" in changes else draft.target
    chain = changes["chain"] or None if "chain" in changes else draft.chain
    if "target" in changes and target and "chain" not in changes:
        chain = None
    if "chain" in changes and chain and "target" not in changes:
        target = None
    return replace(
        draft,
        match=pattern,
        match_kind=kind,
        conditions=_clean(changes["conditions"], CONDITION_KEYS)
        if "conditions" in changes
        else draft.conditions,
        target=target,
        chain=chain,
        overrides=_clean(changes["overrides"], OVERRIDE_KEYS) if "overrides" in changes else draft.overrides,
        priority=changes.get("priority", draft.priority),
        description=(changes["description"] or None) if "description" in changes else draft.description,
        enabled=changes.get("enabled", draft.enabled),
    )
