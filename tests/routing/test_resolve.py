"""The resolver: precedence, patterns, conditions, restrictions and errors, on snapshots built in memory."""

from __future__ import annotations

import random
from typing import Any

import pytest

from router.routing.errors import ForbiddenError, NoRouteError, RuleError
from router.routing.model import ChainSpec, KeySpec, RequestFacts, Target, TenantSpec
from router.routing.resolve import Resolver, check_key_model
from tests.routing.builders import config, rule


def refs(resolver: Resolver, model: str, tenant: int = 1, **facts: Any) -> list[str]:
    route = resolver.resolve(tenant, RequestFacts(model=model, **facts))
    return [t.ref for t in route.targets]


def test_tenant_rules_win_over_global_rules_even_with_lower_priority() -> None:
    cfg = config(
        [rule("*", "openai/global", priority=-100)],
        {1: [rule("*", "openai/tenant", priority=100, tenant_id=1)]},
        tenants=[TenantSpec(1, "acme"), TenantSpec(2, "other")],
    )
    r = Resolver(cfg)
    assert refs(r, "claude-opus-4", tenant=1) == ["openai/tenant"]
    assert refs(r, "claude-opus-4", tenant=2) == ["openai/global"]


def test_priority_orders_before_position_and_position_breaks_ties() -> None:
    cfg = config(
        [
            rule("*", "openai/late", priority=5, position=0),
            rule("*", "openai/second", priority=1, position=7),
            rule("*", "openai/first", priority=1, position=3),
        ]
    )
    assert refs(Resolver(cfg), "anything") == ["openai/first"]


def test_exact_glob_and_regex_patterns_each_match_their_own_way() -> None:
    cfg = config(
        [
            rule("claude-3-haiku", "openai/exact"),
            rule("claude-sonnet-4-*", "openai/glob"),
            rule("re:^claude-opus-4(-\\d+)?$", "openai/regex"),
            rule("*haiku*", "openai/haiku-glob"),
        ]
    )
    r = Resolver(cfg)
    assert refs(r, "claude-3-haiku") == ["openai/exact"]
    assert refs(r, "claude-3-5-haiku-latest") == ["openai/haiku-glob"]
    assert refs(r, "claude-sonnet-4-20250514") == ["openai/glob"]
    assert refs(r, "claude-opus-4-20250514") == ["openai/regex"]
    with pytest.raises(NoRouteError):
        r.resolve(1, RequestFacts("claude-opus-4-x"))


def test_globs_are_case_sensitive_and_anchored() -> None:
    r = Resolver(config([rule("*haiku", "openai/a")]))
    assert refs(r, "claude-haiku") == ["openai/a"]
    for model in ("claude-HAIKU", "claude-haiku-4"):
        with pytest.raises(NoRouteError):
            r.resolve(1, RequestFacts(model))


def test_an_exact_rule_later_in_order_does_not_jump_ahead_of_an_earlier_glob() -> None:
    r = Resolver(config([rule("claude-*", "openai/glob"), rule("claude-x", "openai/exact")]))
    assert refs(r, "claude-x") == ["openai/glob"]


@pytest.mark.parametrize(
    ("when", "matching", "not_matching"),
    [
        ({"thinking": True}, {"thinking": True}, {"thinking": False}),
        ({"thinking": False}, {}, {"thinking": True}),
        ({"tools": True}, {"tools": True}, {}),
        ({"tool": "web_search"}, {"tool_names": frozenset({"web_search_20250305"})}, {"tools": True}),
        (
            {"tool": "web_search"},
            {"tool_names": frozenset({"web_search"})},
            {"tool_names": frozenset({"bash"})},
        ),
        ({"stream": True}, {"stream": True}, {"stream": False}),
        ({"min_input_tokens": 1000}, {"input_tokens": 1000}, {"input_tokens": 999}),
        ({"member": "alice"}, {"member": "alice"}, {"member": "bob"}),
        ({"member": "*@ml"}, {"member": "ann@ml"}, {}),
    ],
)
def test_each_condition_decides_whether_its_rule_matches(
    when: dict[str, Any], matching: dict[str, Any], not_matching: dict[str, Any]
) -> None:
    r = Resolver(config([rule("*", "openai/conditional", when=when), rule("*", "openai/fallthrough")]))
    assert refs(r, "m", **matching) == ["openai/conditional"]
    assert refs(r, "m", **not_matching) == ["openai/fallthrough"]


def test_a_chain_rule_routes_to_the_chain_targets_in_order_with_overrides() -> None:
    chain = ChainSpec(1, "big", ("openai/gpt-4.1", "deployment/gpt4o-eu", "gemini/gemini-2.5-pro"), retries=2)
    cfg = config([rule("*", chain="big", overrides={"max_tokens": 1000})], chains=[chain])
    route = Resolver(cfg).resolve(1, RequestFacts("claude-sonnet-4"))
    assert [t.ref for t in route.targets] == list(chain.targets)
    assert route.chain == chain
    assert route.overrides == {"max_tokens": 1000}
    second = route.targets[1]
    assert isinstance(second, Target) and second.upstream_model == "gpt4o-eu-prod"


def test_allowed_targets_filter_the_route_and_refuse_when_nothing_is_left() -> None:
    chain = ChainSpec(1, "big", ("openai/gpt-4.1", "gemini/gemini-2.5-pro"))
    cfg = config(
        [rule("claude-opus-*", "openai/gpt-4.1"), rule("*", chain="big")],
        chains=[chain],
        tenants=[TenantSpec(1, "acme", allowed_targets=frozenset({"gemini/*"}))],
    )
    r = Resolver(cfg)
    assert refs(r, "claude-sonnet-4") == ["gemini/gemini-2.5-pro"]
    with pytest.raises(ForbiddenError, match="model 'claude-opus-4' is not available to this tenant") as exc:
        r.resolve(1, RequestFacts("claude-opus-4"))
    assert exc.value.status == 400  # a denied model is invalid_request_error (gateway protocol)


def test_disabled_and_unknown_tenants_are_refused() -> None:
    cfg = config([rule("*", "openai/a")], tenants=[TenantSpec(1, "acme", enabled=False)])
    r = Resolver(cfg)
    with pytest.raises(ForbiddenError, match="disabled"):
        r.resolve(1, RequestFacts("m"))
    with pytest.raises(ForbiddenError, match="unknown tenant"):
        r.resolve(99, RequestFacts("m"))


def test_no_matching_rule_is_a_404_naming_the_model() -> None:
    r = Resolver(config([rule("*haiku*", "openai/a")]))
    with pytest.raises(NoRouteError, match="no route for model 'claude-opus-4'") as exc:
        r.resolve(1, RequestFacts("claude-opus-4"))
    assert exc.value.status == 404


def test_a_rule_whose_targets_the_snapshot_lacks_is_a_404_not_a_crash() -> None:
    cfg = config([rule("*", chain="gone")])
    with pytest.raises(NoRouteError, match="no usable target"):
        Resolver(cfg).resolve(1, RequestFacts("m"))


def test_key_allowed_models_are_globs_on_the_requested_name() -> None:
    key = KeySpec(1, 1, "alice", "rk-abc", allowed_models=("claude-*haiku*", "claude-sonnet-4"))
    check_key_model(key, "claude-3-5-haiku-latest")
    check_key_model(key, "claude-sonnet-4")
    with pytest.raises(ForbiddenError, match="claude-opus-4"):
        check_key_model(key, "claude-opus-4")
    check_key_model(KeySpec(2, 1, "bob", "rk-def"), "anything")


def test_an_invalid_regex_fails_the_build_naming_the_pattern() -> None:
    with pytest.raises(RuleError, match=r"invalid regex 'claude-\('"):
        Resolver(config([rule("re:claude-(", "openai/a")]))


def test_memo_stays_bounded_and_answers_stay_right_past_the_cap() -> None:
    r = Resolver(config([rule("*-odd", "openai/odd"), rule("*", "openai/any")]), cache_size=8)
    for i in range(50):
        model = f"m{i}-odd" if i % 2 else f"m{i}"
        assert refs(r, model) == (["openai/odd"] if i % 2 else ["openai/any"])
    assert len(r._memo) <= 8


def test_ten_thousand_rules_and_a_thousand_tenants_resolve_correctly() -> None:
    rng = random.Random(7)
    tenant_rules = {}
    for tid in range(1, 1001):
        tenant_rules[tid] = [
            rule(f"claude-opus-{tid}", f"openai/t{tid}-exact", tenant_id=tid),
            rule(f"*-t{tid}-*", f"openai/t{tid}-glob", tenant_id=tid),
            rule("*haiku*", f"openai/t{tid}-haiku", tenant_id=tid, when={"min_input_tokens": tid}),
            rule("*sonnet*", f"openai/t{tid}-think", tenant_id=tid, when={"thinking": True}),
            rule(f"re:^tenant{tid}$", f"openai/t{tid}-regex", tenant_id=tid),
            *(rule(f"model-{tid}-{j}", f"openai/t{tid}-m{j}", tenant_id=tid) for j in range(4)),
        ]
    global_rules = [rule(f"g-{j}", f"openai/g{j}") for j in range(999)] + [rule("*", "openai/default")]
    cfg = config(global_rules, tenant_rules)
    assert sum(len(v) for v in tenant_rules.values()) + len(global_rules) == 10_000
    r = Resolver(cfg)
    for _ in range(3000):
        tid = rng.randint(1, 1000)
        other = tid % 1000 + 1
        assert refs(r, f"claude-opus-{tid}", tid) == [f"openai/t{tid}-exact"]
        assert refs(r, f"claude-opus-{tid}", other) == ["openai/default"]
        assert refs(r, f"x-t{tid}-y", tid) == [f"openai/t{tid}-glob"]
        assert refs(r, "claude-haiku", tid, input_tokens=tid) == [f"openai/t{tid}-haiku"]
        assert refs(r, "claude-haiku", tid, input_tokens=tid - 1) == ["openai/default"]
        assert refs(r, "claude-sonnet-4", tid, thinking=True) == [f"openai/t{tid}-think"]
        assert refs(r, f"tenant{tid}", tid) == [f"openai/t{tid}-regex"]
        j = rng.randint(0, 998)
        assert refs(r, f"g-{j}", tid) == [f"openai/g{j}"]
