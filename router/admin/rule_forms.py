"""The mapping-rule form: rows to form values and back, and store field names to form field names."""

from __future__ import annotations

from typing import Any

from router.admin.forms import Form
from router.routing.patterns import format_match
from router.routing.validate import REASONING_EFFORTS
from router.store.models import Rule

TRISTATE_KEYS = ("thinking", "tools", "stream")
EFFORT_OPTIONS = [("", "—"), *[(e, e) for e in REASONING_EFFORTS]]


def _tri(value: Any) -> str:
    return "" if value is None else ("yes" if value else "no")


def rule_form_values(rule: Rule) -> dict[str, Any]:
    """What the edit row shows for a stored rule."""
    cond = dict(rule.conditions or {})
    over = dict(rule.overrides or {})
    return {
        "match": format_match(rule.match, rule.match_kind),
        "target": rule.target or "",
        "chain": rule.chain.name if rule.chain is not None else "",
        **{key: _tri(cond.get(key)) for key in TRISTATE_KEYS},
        "tool": cond.get("tool") or "",
        "member": cond.get("member") or "",
        "min_input_tokens": cond.get("min_input_tokens"),
        "max_tokens": over.get("max_tokens"),
        "temperature": over.get("temperature"),
        "reasoning_effort": over.get("reasoning_effort") or "",
        "priority": rule.priority,
        "enabled": "on" if rule.enabled else "",
        "description": rule.description or "",
    }


def read_rule_form(form: Form) -> dict[str, Any]:
    """Keyword arguments for catalog.create_rule / update_rule; problems are recorded on `form`."""
    conditions: dict[str, Any] = {key: form.tristate(key) for key in TRISTATE_KEYS}
    conditions["tool"] = form.text("tool", max_len=200, label="Tool")
    conditions["member"] = form.text("member", max_len=200, label="Member")
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
    return {
        "match": form.text("match", required=True, max_len=500, label="Match") or "",
        "target": form.text("target", max_len=300, label="Target"),
        "chain": form.text("chain", max_len=100, label="Chain"),
        "conditions": {k: v for k, v in conditions.items() if v is not None},
        "overrides": {k: v for k, v in overrides.items() if v is not None},
        "priority": form.integer("priority", minimum=-1_000_000, maximum=1_000_000, label="Priority") or 0,
        "enabled": form.checkbox("enabled"),
        "description": form.text("description", max_len=500, label="Description"),
    }


def form_field(store_field: str | None) -> str:
    """`conditions.tool` -> `tool`, `overrides.max_tokens` -> `max_tokens`, None -> the form as a whole."""
    if not store_field:
        return "form"
    name = store_field.split(".", 1)[-1]
    return "form" if name == "tenant_id" else name
