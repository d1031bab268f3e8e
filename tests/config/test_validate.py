"""Validation of a desired configuration: every problem reported, each naming its place."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from router.config.drafts import (
    ChainDraft,
    DeploymentDraft,
    DesiredConfig,
    PriceDraft,
    ProviderDraft,
    RuleDraft,
    TenantDraft,
)
from router.config.fields import api_base_error, parse_target_ref
from router.config.validate import KnownNames, rule_issues, validate_config, webhook_error

PROVIDERS = (
    ProviderDraft("openai", "openai", "http://127.0.0.1:9100/v1"),
    ProviderDraft("azure-eu", "azure", "http://127.0.0.1:9100", api_version="2024-10-21"),
)
DEPLOYMENTS = (DeploymentDraft("gpt4o-eu", "azure-eu", "gpt-4o-prod", "gpt-4o"),)


def issues(**parts: object) -> list[str]:
    base: dict[str, object] = {"providers": PROVIDERS, "deployments": DEPLOYMENTS}
    base.update(parts)
    return [str(i) for i in validate_config(DesiredConfig(**base))]  # type: ignore[arg-type]


def test_a_sound_configuration_has_no_issues() -> None:
    assert (
        issues(
            chains=(ChainDraft("big", ("openai/gpt-4.1", "deployment/gpt4o-eu")),),
            rules=(
                RuleDraft("*haiku*", "glob", target="openai/gpt-4.1-mini"),
                RuleDraft("*", "glob", chain="big"),
            ),
            tenants=(
                TenantDraft("acme", (RuleDraft("claude-opus-4", "exact", target="deployment/gpt4o-eu"),)),
            ),
            prices=(PriceDraft("deployment/gpt4o-eu", 2.5, 10.0),),
        )
        == []
    )


def test_unknown_provider_and_deployment_in_targets_name_the_place() -> None:
    found = issues(
        rules=(RuleDraft("*", "glob", target="opnai/gpt-4.1"),) * 3,
        chains=(ChainDraft("big", ("openai/gpt-4.1", "deployment/nope")),),
    )
    assert "rules[2].target: unknown provider 'opnai' in 'opnai/gpt-4.1'" in found
    assert "chains[0].targets[1]: unknown deployment 'nope' in 'deployment/nope'" in found


def test_an_invalid_regex_in_a_tenant_rule_names_the_rule() -> None:
    found = issues(
        tenants=(
            TenantDraft(
                "acme",
                (RuleDraft("*", "glob", target="openai/a"), RuleDraft("(", "regex", target="openai/a")),
            ),
        )
    )
    assert len(found) == 1
    assert found[0].startswith("tenants[0].rules[1].match: invalid regex '(':")


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (RuleDraft("*", "glob"), "rules[0]: has neither target nor chain: give one"),
        (
            RuleDraft("*", "glob", target="openai/a", chain="big"),
            "rules[0]: has both target and chain: give one",
        ),
        (RuleDraft("*", "glob", chain="small"), "rules[0].chain: unknown chain 'small'"),
        (
            RuleDraft("*", "glob", target="chain/big"),
            "rules[0].target: 'chain/big' names a chain: write chain: big",
        ),
        (
            RuleDraft("*", "glob", target="gpt-4.1"),
            "rules[0].target: target 'gpt-4.1' must be PROVIDER/MODEL",
        ),
        (
            RuleDraft("*", "glob", target="openai/a", conditions={"thinkin": True}),
            "rules[0].when.thinkin: unknown",
        ),
        (
            RuleDraft("*", "glob", target="openai/a", conditions={"stream": "yes"}),
            "rules[0].when.stream: must be",
        ),
        (
            RuleDraft("*", "glob", target="openai/a", overrides={"top_k": 3}),
            "rules[0].overrides.top_k: unknown",
        ),
        (
            RuleDraft("*", "glob", target="openai/a", overrides={"temperature": 3}),
            "rules[0].overrides.temperature",
        ),
        (
            RuleDraft("*", "glob", target="openai/a", overrides={"reasoning_effort": "max"}),
            "reasoning_effort: must",
        ),
        (RuleDraft("", "exact", target="openai/a"), "rules[0].match: must not be empty"),
    ],
)
def test_bad_rules_are_reported(rule: RuleDraft, expected: str) -> None:
    found = issues(rules=(rule,), chains=(ChainDraft("big", ("openai/a",)),))
    assert any(expected in f for f in found), found


def test_chains_may_not_be_empty_nest_or_repeat_a_target() -> None:
    found = issues(
        chains=(
            ChainDraft("empty", ()),
            ChainDraft("nested", ("chain/empty",)),
            ChainDraft("twice", ("openai/a", "openai/a"), retries=-1),
        )
    )
    assert "chains[0].targets: a chain needs at least one target" in found
    assert "chains[1].targets[0]: chains may not contain chains ('chain/empty')" in found
    assert "chains[2].targets[1]: 'openai/a' is listed twice" in found
    assert any(f.startswith("chains[2].retries:") for f in found)


def test_duplicate_names_and_bad_providers_are_reported() -> None:
    found = issues(
        providers=(
            *PROVIDERS,
            ProviderDraft("openai", "openai"),
            ProviderDraft("deployment", "Open AI"),
            ProviderDraft("az", "azure"),
            ProviderDraft("x", "openai", extra_params={"base_url": "http://x"}),
        ),
        tenants=(TenantDraft("acme"), TenantDraft("acme")),
    )
    assert "providers[2].name: duplicate provider 'openai'" in found
    assert any(f.startswith("providers[3].name: 'deployment' is reserved") for f in found)
    assert any(f.startswith("providers[3].kind: unknown provider kind 'Open AI'") for f in found)
    assert "providers[4].api_base: an azure provider needs api_base" in found
    assert any(f.startswith("providers[5].extra_params.base_url:") for f in found)
    assert "tenants[1].name: duplicate tenant 'acme'" in found


def test_deployments_must_name_a_known_provider() -> None:
    found = issues(deployments=(DeploymentDraft("d", "nope", "dep", "gpt-4o"),))
    assert found == ["deployments[0].provider: unknown provider 'nope'"]


def test_a_provider_kind_must_be_one_we_or_litellm_know() -> None:
    found = issues(providers=(*PROVIDERS, ProviderDraft("typo", "openia"), ProviderDraft("mis", "mistral")))
    assert any(f.startswith("providers[2].kind: unknown provider kind 'openia'") for f in found), found
    assert not any(f.startswith("providers[3]") for f in found), found


def test_a_deployment_needs_an_azure_provider() -> None:
    found = issues(
        providers=(*PROVIDERS, ProviderDraft("oa", "openai")),
        deployments=(DeploymentDraft("d", "oa", "dep", "gpt-4o"),),
    )
    assert (
        "deployments[0].provider: provider 'oa' is of kind 'openai'; a deployment needs an azure provider"
        in found
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://host/v1", "http:// or https://"),
        ("https://user:pw@host/v1", "user name or password"),
        ("https://host/v1?api_key=sk-1", "credential in the query string"),
        ("https:///v1", "must name a host"),
    ],
)
def test_api_base_refuses_other_schemes_and_embedded_credentials(url: str, problem: str) -> None:
    error = api_base_error(url)
    assert error is not None and problem in error


def test_api_base_accepts_plain_http_and_https() -> None:
    assert api_base_error("http://127.0.0.1:9100/v1") is None
    assert api_base_error("https://x.openai.azure.com?region=eu") is None


# The checks an api_base and an alert webhook share (fields.http_url_error); the secret part of each URL
# ("pw-9", "tok-7") must never come back in the message.
SHARED_URL_PROBLEMS = [
    ("gopher://tok-7/x", "must be an http:// or https:// URL, not gopher:"),
    ("tok-7.example/v1", "must be an http:// or https:// URL, not a URL without a scheme:"),
    ("https:///v1?tok-7", "must name a host"),
    ("https://host/v1#tok-7", "must not have a #fragment"),
    ("https://host:tok-7/v1", "is not a valid URL"),
    ("https://user:pw-9\u2100@host/v1", "is not a valid URL"),
    # urlsplit drops tabs and newlines: without this check "https://host/v\t1" would pass as /v1.
    ("https://host/v\t1?tok-7", "must not contain spaces or control characters"),
    ("https://host/v1\n", "must not contain spaces or control characters"),
    ("https://host/ v1", "must not contain spaces or control characters"),
    ("https://host/v1\x7f", "must not contain spaces or control characters"),
]


@pytest.mark.parametrize("check", [api_base_error, webhook_error], ids=["api_base", "webhook"])
@pytest.mark.parametrize(("url", "problem"), SHARED_URL_PROBLEMS)
def test_api_base_and_webhook_refuse_the_same_urls_without_repeating_them(
    check: Callable[[str], str | None], url: str, problem: str
) -> None:
    assert check(url) == problem


def test_embedded_credentials_are_refused_with_a_hint_for_each_place() -> None:
    url = "https://user:pw-9@host/v1"
    assert (
        api_base_error(url) == "must not contain a user name or password (set the provider's api_key instead)"
    )
    assert (
        webhook_error(url)
        == "must not contain a user name or password (use the alert's secret to sign instead)"
    )


def test_target_refs_split_on_the_first_slash() -> None:
    ref = parse_target_ref("openrouter/anthropic/claude-3.5")
    assert (ref.provider, ref.model) == ("openrouter", "anthropic/claude-3.5")
    assert parse_target_ref("deployment/gpt4o-eu").deployment == "gpt4o-eu"
    with pytest.raises(ValueError):
        parse_target_ref("chain/big")


def test_the_file_the_catalog_and_the_admin_page_share_one_rule_check() -> None:
    """rule_issues is the one rule check: the file's report is the same problems under the file's paths."""
    rule = RuleDraft("re:(", "regex", {"thinkin": True}, target="opnai/gpt-4.1", overrides={"max_tokens": 0})
    known = KnownNames(frozenset({"openai"}), frozenset({"gpt4o-eu"}), frozenset())
    alone = [(i.path, i.message) for i in rule_issues(rule, known)]
    assert [path for path, _ in alone] == ["match", "target", "conditions.thinkin", "overrides.max_tokens"]
    in_file = issues(rules=(rule,))
    expected = [f"rules[0].{p.replace('conditions.', 'when.')}: {m}" for p, m in alone]
    assert in_file == expected
