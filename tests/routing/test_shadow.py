"""Which rules no request can reach: certain cases are found, uncertain ones are never claimed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from router.routing.shadow import Shadow, covers, find_shadows


@dataclass
class R:
    match: str
    match_kind: str = "glob"
    conditions: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True


def test_a_rule_after_a_catch_all_is_shadowed() -> None:
    assert find_shadows([R("*"), R("claude-opus", "exact")]) == [Shadow(index=1, by=0)]
    assert find_shadows([R(".*", "regex"), R("claude-*")]) == [Shadow(index=1, by=0)]


def test_a_prefix_glob_covers_longer_globs_and_exact_names_it_matches() -> None:
    assert covers(R("claude-*"), R("claude-sonnet-*"))
    assert covers(R("claude-*"), R("claude-opus-4", "exact"))
    assert covers(R("gpt-4.1", "exact"), R("gpt-4.1", "exact"))
    assert not covers(R("claude-*"), R("gpt-*"))
    assert not covers(R("claude-?"), R("claude-*"))  # `?` is one character; `*` is any number
    assert not covers(R("claude", "regex"), R("claude-x", "exact"))  # regexes are not reasoned about


def test_conditions_must_be_implied_for_a_shadow() -> None:
    assert not covers(R("*", conditions={"thinking": True}), R("claude-*"))
    assert covers(
        R("*", conditions={"thinking": True}), R("claude-*", conditions={"thinking": True, "tools": True})
    )
    assert covers(R("*", conditions={"min_input_tokens": 100}), R("x", "exact", {"min_input_tokens": 500}))
    assert not covers(
        R("*", conditions={"min_input_tokens": 500}), R("x", "exact", {"min_input_tokens": 100})
    )


def test_a_disabled_rule_hides_nothing() -> None:
    assert find_shadows([R("*", enabled=False), R("claude-*")]) == []
