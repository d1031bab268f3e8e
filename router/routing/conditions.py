"""A rule's conditions on request facts: parsing from stored dicts and checking against one request.

`mismatch()` is the single definition of what each condition means; the resolver and `explain()` both
use it, so an explanation can never disagree with a routing decision.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Imported where a Conditions is built: the rule keys alone (`config export`'s YAML) need no routing
    # model (see MatchKind in routing/patterns.py).
    from router.routing.model import Conditions, RequestFacts

__all__ = [
    "CONDITION_KEYS",
    "condition_errors",
    "conditions_from_dict",
    "conditions_to_dict",
    "mismatch",
    "parse_threshold",
    "tool_present",
]

_BOOL_KEYS = ("thinking", "tools", "stream")
_STR_KEYS = ("tool", "member")
CONDITION_KEYS: tuple[str, ...] = (
    "thinking",
    "tools",
    "tool",
    "stream",
    "min_input_tokens",
    "member",
    "budget_used_pct",
)
_THRESHOLD = re.compile(r"^\s*(>=|<=|>|<|==)?\s*(\d{1,4}(?:\.\d{1,4})?)\s*%?\s*$")
_COMPARE = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}


def parse_threshold(value: Any) -> tuple[str, float] | None:
    """`">=80"`, `"<50"`, `"80%"` or a bare number (meaning >=) -> (operator, percent); None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return (">=", float(value)) if 0 <= value <= 10_000 else None
    if not isinstance(value, str):
        return None
    found = _THRESHOLD.match(value)
    if found is None:
        return None
    return found.group(1) or ">=", float(found.group(2))


def condition_errors(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, problem) for each unknown key or badly typed value; empty when `raw` is valid."""
    problems: list[tuple[str, str]] = []
    for key, value in raw.items():
        if key not in CONDITION_KEYS:
            problems.append(
                (str(key), f"unknown condition {key!r} (expected one of {', '.join(CONDITION_KEYS)})")
            )
        elif value is None:
            continue
        elif key in _BOOL_KEYS and not isinstance(value, bool):
            problems.append((key, f"must be true or false, not {value!r}"))
        elif key in _STR_KEYS and (not isinstance(value, str) or not value.strip()):
            problems.append((key, f"must be a non-empty string, not {value!r}"))
        elif key == "budget_used_pct" and parse_threshold(value) is None:
            problems.append(
                (key, f"must be a percentage with an optional comparison (>=80, <50, 90), not {value!r}")
            )
        elif key == "min_input_tokens" and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            problems.append((key, f"must be a whole number >= 0, not {value!r}"))
    return problems


def conditions_from_dict(raw: Mapping[str, Any] | None) -> Conditions:
    """Strict: unknown keys or wrong types raise ValueError naming the key."""
    from router.routing.model import Conditions

    if not raw:
        return Conditions()
    problems = condition_errors(raw)
    if problems:
        key, problem = problems[0]
        raise ValueError(f"{key}: {problem}")
    return Conditions(**{k: v for k, v in raw.items() if v is not None})


def conditions_to_dict(conditions: Conditions) -> dict[str, Any]:
    """Only the conditions that are set, in a fixed order (what the database and YAML hold)."""
    out: dict[str, Any] = {}
    for key in CONDITION_KEYS:
        value = getattr(conditions, key)
        if value is not None:
            out[key] = value
    return out


def tool_present(wanted: str, tool_names: frozenset[str]) -> bool:
    """A tool named `wanted`, or a server tool typed `wanted` plus a version (`web_search_20250305`)."""
    if wanted in tool_names:
        return True
    prefix = wanted + "_"
    return any(name.startswith(prefix) for name in tool_names)


def _member_matches(wanted: str, member: str | None) -> bool:
    if member is None:
        return False
    if any(c in wanted for c in "*?["):
        return fnmatch.fnmatchcase(member, wanted)
    return member == wanted


def mismatch(conditions: Conditions, facts: RequestFacts) -> str | None:
    """None when every set condition holds; otherwise why the first one that fails does not."""
    c = conditions
    if c.thinking is not None and c.thinking != facts.thinking:
        return f"thinking is {'on' if facts.thinking else 'off'}, rule wants {'on' if c.thinking else 'off'}"
    if c.tools is not None and c.tools != facts.tools:
        return (
            "request has tools, rule wants none" if facts.tools else "request has no tools, rule wants tools"
        )
    if c.tool is not None and not tool_present(c.tool, facts.tool_names):
        return f"no tool {c.tool!r} in the request"
    if c.stream is not None and c.stream != facts.stream:
        return (
            "request streams, rule wants no stream"
            if facts.stream
            else "request does not stream, rule wants stream"
        )
    if c.min_input_tokens is not None and facts.input_tokens < c.min_input_tokens:
        return f"{facts.input_tokens} input tokens < min_input_tokens {c.min_input_tokens}"
    if c.member is not None and not _member_matches(c.member, facts.member):
        return f"member {facts.member!r} is not {c.member!r}"
    if c.budget_used_pct is not None:
        threshold = parse_threshold(c.budget_used_pct)
        # No budget at all counts as none of it used.
        used = facts.budget_used_pct or 0.0
        if threshold is None or not _COMPARE[threshold[0]](used, threshold[1]):
            shown = "no budget" if facts.budget_used_pct is None else f"{used:.1f}% of the budget used"
            return f"{shown}, rule wants budget_used_pct {c.budget_used_pct}"
    return None
