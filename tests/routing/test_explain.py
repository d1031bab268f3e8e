"""explain(): the rules considered in order, why earlier ones failed, and the same answer as the resolver."""

from __future__ import annotations

import json

import pytest

from router.routing.errors import RoutingError
from router.routing.explain import explain, find_tenant_id
from router.routing.model import ChainSpec, KeySpec, RequestFacts, RoutingConfig, TenantSpec
from router.routing.resolve import Resolver
from tests.routing.builders import config, rule

CHAIN = ChainSpec(1, "big", ("openai/gpt-4.1", "deployment/gpt4o-eu", "gemini/gemini-2.5-pro"))


def example_config() -> RoutingConfig:
    return config(
        [
            rule("*haiku*", "openai/gpt-4.1-mini"),
            rule("*", "gemini/gemini-2.5-pro", when={"thinking": True}),
            rule("*", chain="big"),
        ],
        {1: [rule("claude-opus-*", "deployment/gpt4o-eu", tenant_id=1)]},
        tenants=[
            TenantSpec(1, "acme"),
            TenantSpec(2, "beta", allowed_targets=frozenset({"openai/gpt-4.1-mini"})),
        ],
        chains=[CHAIN],
    )


def test_explains_each_earlier_rule_and_lists_the_chain_targets_in_order() -> None:
    cfg = example_config()
    ex = explain(cfg, 1, RequestFacts("claude-sonnet-4"))
    assert [(c.level, c.index, c.matched) for c in ex.checks] == [
        ("tenant", 0, False),
        ("global", 0, False),
        ("global", 1, False),
        ("global", 2, True),
    ]
    assert ex.checks[0].reason == "glob pattern does not match"
    assert ex.checks[2].reason == "thinking is off, rule wants on"
    assert ex.targets == CHAIN.targets
    assert ex.chain == "big"
    assert ex.status == 200
    text = ex.to_text()
    assert "tenant rule[0] 'claude-opus-*': glob pattern does not match" in text
    assert "=> global rule[2] '*': matches" in text
    assert "  2. deployment/gpt4o-eu" in text


def test_explanation_agrees_with_the_resolver() -> None:
    cfg = example_config()
    resolver = Resolver(cfg)
    for model in ("claude-opus-4", "claude-3-5-haiku", "claude-sonnet-4"):
        for thinking in (False, True):
            facts = RequestFacts(model, thinking=thinking)
            ex = explain(cfg, 1, facts)
            route = resolver.resolve(1, facts)
            assert ex.rule == route.rule
            assert ex.targets == tuple(t.ref for t in route.targets)


def test_json_form_carries_the_decision_and_every_check() -> None:
    ex = explain(example_config(), None, RequestFacts("claude-sonnet-4", thinking=True))
    data = json.loads(json.dumps(ex.to_dict()))
    assert data["tenant"] is None
    assert data["rule"]["match"] == "*"
    assert data["rule"]["when"] == {"thinking": True}
    assert data["targets"] == ["gemini/gemini-2.5-pro"]
    assert [c["matched"] for c in data["considered"]] == [False, True]


@pytest.mark.parametrize(
    ("tenant", "facts", "key", "status", "error"),
    [
        (2, RequestFacts("claude-sonnet-4"), None, 400, "not available to this tenant"),
        (
            None,
            RequestFacts("claude-sonnet-4"),
            KeySpec(1, 1, "a", "p", allowed_models=("*haiku*",)),
            400,
            "API key",
        ),
        (99, RequestFacts("claude-sonnet-4"), None, 403, "unknown tenant"),
    ],
)
def test_refusals_carry_the_status_the_gateway_would_answer(
    tenant: int | None, facts: RequestFacts, key: KeySpec | None, status: int, error: str
) -> None:
    ex = explain(example_config(), tenant, facts, key=key)
    assert ex.status == status
    assert ex.error is not None and error in ex.error
    assert f"error {status}" in ex.to_text()


def test_no_match_is_explained_with_every_rule_and_a_404() -> None:
    cfg = config([rule("*haiku*", "openai/a"), rule("re:^gpt", "openai/b")])
    ex = explain(cfg, None, RequestFacts("claude-opus-4"))
    assert [c.matched for c in ex.checks] == [False, False]
    assert ex.status == 404 and ex.rule is None
    with pytest.raises(RoutingError):
        Resolver(cfg).resolve(1, RequestFacts("claude-opus-4"))


def test_find_tenant_id_by_name_or_number() -> None:
    cfg = example_config()
    assert find_tenant_id(cfg, "beta") == 2
    assert find_tenant_id(cfg, "1") == 1
    assert find_tenant_id(cfg, "nobody") is None
