"""The mapping-rule form: a rule draft to form values and the form straight back to a draft, and the
draft's field names to form field names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from router.admin.forms import Form
from router.config.drafts import RuleDraft
from router.config.fields import REASONING_EFFORTS
from router.config.lengths import DESCRIPTION_CHARS, MATCH_CHARS, NAME_CHARS, TARGET_CHARS
from router.config.rules import written_rule
from router.routing.patterns import format_match
from router.routing.shadow import RuleShape, shadowed_by
from router.store.models import Rule

TRISTATE_KEYS = ("thinking", "tools", "stream")
EFFORT_OPTIONS = [("", "—"), *[(e, e) for e in REASONING_EFFORTS]]


def _tri(value: Any) -> str:
    return "" if value is None else ("yes" if value else "no")


def rule_form_values(rule: RuleDraft) -> dict[str, Any]:
    """What the edit row shows for a rule (a stored one: catalog.rule_draft)."""
    cond = dict(rule.conditions or {})
    over = dict(rule.overrides or {})
    return {
        "match": format_match(rule.match, rule.match_kind),
        "target": rule.target or "",
        "chain": rule.chain or "",
        **{key: _tri(cond.get(key)) for key in TRISTATE_KEYS},
        "tool": cond.get("tool") or "",
        "member": cond.get("member") or "",
        "min_input_tokens": cond.get("min_input_tokens"),
        "budget_used_pct": cond.get("budget_used_pct") or "",
        "max_tokens": over.get("max_tokens"),
        "temperature": over.get("temperature"),
        "reasoning_effort": over.get("reasoning_effort") or "",
        "enabled": "on" if rule.enabled else "",
        "description": rule.description or "",
    }


def read_rule_form(form: Form) -> RuleDraft:
    """The rule the form describes, as the one rule draft the catalog validates and stores (priority 0: the
    form does not show it); the form's own problems (lengths, numbers) are recorded on `form`."""
    conditions: dict[str, Any] = {key: form.tristate(key) for key in TRISTATE_KEYS}
    conditions["tool"] = form.text("tool", max_len=200, label="Tool")
    conditions["member"] = form.text("member", max_len=200, label="Member")
    conditions["budget_used_pct"] = form.text("budget_used_pct", max_len=20, label="Budget used")
    conditions["min_input_tokens"] = form.integer(
        "min_input_tokens", maximum=10_000_000, label="Min input tokens"
    )
    effort = form.raw("reasoning_effort") or None
    if effort is not None and effort not in REASONING_EFFORTS:
        form.error("reasoning_effort", f"Reasoning effort must be one of {', '.join(REASONING_EFFORTS)}.")
    overrides: dict[str, Any] = {
        "max_tokens": form.integer("max_tokens", minimum=1, maximum=10_000_000, label="Max tokens"),
        "temperature": form.decimal("temperature", maximum=2.0, label="Temperature"),
        "reasoning_effort": effort,
    }
    return written_rule(
        form.text("match", required=True, max_len=MATCH_CHARS, label="Match") or "",
        target=form.text("target", max_len=TARGET_CHARS, label="Target"),
        chain=form.text("chain", max_len=NAME_CHARS, label="Chain"),
        conditions=conditions,
        overrides=overrides,
        enabled=form.checkbox("enabled"),
        description=form.text("description", max_len=DESCRIPTION_CHARS, label="Description"),
    )


def form_field(store_field: str | None) -> str:
    """`conditions.tool` -> `tool`, `overrides.max_tokens` -> `max_tokens`, None -> the form as a whole."""
    if not store_field:
        return "form"
    name = store_field.split(".", 1)[-1]
    return "form" if name == "tenant_id" else name


# ---- order: where a rule goes, and which rules can never match ---------------------------------------------
@dataclass(frozen=True, slots=True)
class Placement:
    """Where to put a rule in its level: "top", "bottom", "before"/"after" `anchor`, or "keep" (unchanged)."""

    where: str
    anchor: int | None = None


def read_placement(form: Form, default: str = "keep") -> Placement:
    raw = form.raw("place") or default
    where, _, anchor = raw.partition(":")
    if where in ("top", "bottom", "keep") and not anchor:
        return Placement(where)
    if where in ("before", "after") and anchor.isdigit():
        return Placement(where, int(anchor))
    form.error("place", "Choose where the rule goes.")
    return Placement("keep")


def catch_all_index(rules: list[Rule]) -> int | None:
    """The first enabled rule that matches every model name and has no conditions (new rules go above it)."""
    probe = RuleDraft("any-model-name", "exact")
    return shadowed_by(rules, probe, len(rules))


def default_placement(rules: list[Rule]) -> str:
    """New rules go just above a catch-all (where they can match), else at the bottom."""
    index = catch_all_index(rules)
    return "bottom" if index is None else f"before:{rules[index].id}"


def placement_options(rules: list[Rule], editing: Rule | None = None) -> list[tuple[str, str]]:
    """The "Place" select: top, bottom, before/after each other rule (by number and pattern)."""
    options = [("keep", "where it is now")] if editing is not None else []
    options += [("top", "at the top (first)"), ("bottom", "at the bottom (last)")]
    for number, rule in enumerate(rules, start=1):
        if editing is not None and rule.id == editing.id:
            continue
        shown = format_match(rule.match, rule.match_kind)
        options.append((f"before:{rule.id}", f"before #{number} {shown}"))
        options.append((f"after:{rule.id}", f"after #{number} {shown}"))
    return options


def landing_index(rules: list[Rule], placement: Placement, editing: Rule | None = None) -> int:
    """Where a rule with this placement lands among `rules` (the level without the rule being edited)."""
    others = [r for r in rules if editing is None or r.id != editing.id]
    if placement.where == "top":
        return 0
    if placement.where == "keep" and editing is not None:
        return next((i for i, r in enumerate(rules) if r.id == editing.id), len(others))
    ids = [r.id for r in others]
    if placement.where in ("before", "after") and placement.anchor in ids:
        return ids.index(placement.anchor) + (1 if placement.where == "after" else 0)
    return len(others)


def order_warnings(rules: list[Rule], draft: RuleShape, index: int, editing: Rule | None = None) -> list[str]:
    """Why a rule placed at `index` would never match, or which later rules it would hide."""
    others = [r for r in rules if editing is None or r.id != editing.id]
    number = {r.id: n for n, r in enumerate(rules, start=1)}  # the numbers the table shows
    warnings = []
    by = shadowed_by(others, draft, index)
    if by is not None:
        hider = others[by]
        warnings.append(
            f"This rule can never match: rule #{number[hider.id]} "
            f"({format_match(hider.match, hider.match_kind)}) above it already catches every request it "
            "would. Place it higher."
        )
    if draft.enabled:
        for later in others[index:]:
            if shadowed_by([*others[:index], draft], later, index + 1) == index:
                shown = format_match(later.match, later.match_kind)
                warnings.append(f"It would hide rule #{number[later.id]} ({shown}) below it.")
    return warnings
