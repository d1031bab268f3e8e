"""Rule drafts as every entry point builds them (config/rules.py): what is written becomes the stored shape,
and a partial change keeps, clears or switches fields the way the API's PATCH documents."""

from __future__ import annotations

import pytest

from router.config.rules import changed_rule, normalised_rule, written_rule


def test_a_written_rule_infers_its_kind_and_drops_unset_values() -> None:
    rule = written_rule(
        " re:^claude-(opus|sonnet) ",
        conditions={"tools": None, "thinking": True},
        target="",
        chain="big",
        overrides={"temperature": None, "max_tokens": 100},
        description="",
    )
    assert (rule.match, rule.match_kind) == ("^claude-(opus|sonnet)", "regex")
    assert dict(rule.conditions) == {"thinking": True}
    assert dict(rule.overrides) == {"max_tokens": 100}
    assert (rule.target, rule.chain, rule.description) == (None, "big", None)
    assert written_rule("claude-*").match_kind == "glob" and written_rule("gpt-4.1").match_kind == "exact"


def test_equal_rules_written_in_any_key_order_normalise_to_the_same_draft() -> None:
    a = written_rule("x", target="openai/x", conditions={"tools": True, "thinking": True})
    b = normalised_rule(written_rule("x", target="openai/x", conditions={"thinking": True, "tools": True}))
    assert a == b and list(a.conditions) == list(b.conditions)


def test_a_change_to_the_target_clears_the_chain_and_the_reverse() -> None:
    on_chain = written_rule("claude-*", chain="big", priority=3)
    on_target = changed_rule(on_chain, {"target": "openai/gpt-4.1"})
    assert (on_target.target, on_target.chain, on_target.priority) == ("openai/gpt-4.1", None, 3)
    back = changed_rule(on_target, {"chain": "small"})
    assert (back.target, back.chain) == (None, "small")
    both = changed_rule(on_target, {"target": "openai/x", "chain": "big"})
    assert (both.target, both.chain) == ("openai/x", "big")


def test_a_new_match_infers_its_kind_unless_one_is_given_and_a_cleared_kind_is_inferred_again() -> None:
    rule = written_rule("claude-*", target="openai/x")
    assert (changed_rule(rule, {"match": "re:^c"}).match_kind) == "regex"
    assert changed_rule(rule, {"match": "a*", "match_kind": "exact"}).match_kind == "exact"
    exact = changed_rule(rule, {"match_kind": "exact"})
    assert (exact.match, exact.match_kind) == ("claude-*", "exact")
    assert changed_rule(exact, {"match_kind": None}).match_kind == "regex"  # exact with `*`: written as re:


def test_none_clears_a_field_and_unnamed_fields_stay() -> None:
    rule = written_rule("x", target="openai/x", conditions={"tools": True}, description="kept")
    cleared = changed_rule(rule, {"conditions": None, "enabled": False})
    assert dict(cleared.conditions) == {} and cleared.enabled is False
    assert (cleared.description, cleared.target) == ("kept", "openai/x")


def test_a_change_naming_an_unknown_field_is_refused() -> None:
    with pytest.raises(KeyError, match="colour"):
        changed_rule(written_rule("x", target="openai/x"), {"colour": "red"})
