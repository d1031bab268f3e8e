"""The config file's shape: strict parsing, ${VAR} substitution and rendering back, without a database."""

from __future__ import annotations

import pytest

from router.config.render import env_vars_needed, render_config
from router.config.schema import ConfigFileError, parse_config
from router.config.validate import validate_config

ENV = {"OPENAI_API_KEY": "sk-1", "BASE": "http://127.0.0.1:9100"}

TEXT = """
providers:
  - {name: openai, kind: openai, api_base: "${BASE}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "re:^claude-(opus|sonnet)", target: openai/gpt-4.1, overrides: {max_tokens: 8000}, priority: -1}
  - {match: "claude-3-haiku", when: {tools: false, min_input_tokens: 10}, target: openai/gpt-4.1-mini}
  - {match: "claude-*", target: openai/gpt-4.1, description: "costs $${CENTS} a call", enabled: false}
"""


def test_match_kinds_come_from_the_written_form() -> None:
    cfg = parse_config(TEXT, ENV)
    assert [(r.match, r.match_kind) for r in cfg.rules] == [
        ("^claude-(opus|sonnet)", "regex"),
        ("claude-3-haiku", "exact"),
        ("claude-*", "glob"),
    ]
    assert cfg.rules[1].conditions == {"tools": False, "min_input_tokens": 10}
    assert cfg.rules[0].overrides == {"max_tokens": 8000}
    assert validate_config(cfg) == []


def test_env_vars_are_substituted_and_an_api_key_keeps_its_reference() -> None:
    cfg = parse_config(TEXT, ENV)
    provider = cfg.providers[0]
    assert provider.api_base == "http://127.0.0.1:9100/v1"
    assert (provider.api_key, provider.credential_ref) == ("sk-1", "OPENAI_API_KEY")
    assert cfg.rules[2].description == "costs ${CENTS} a call"


def test_unset_variables_are_all_named_with_their_place() -> None:
    with pytest.raises(ConfigFileError) as exc:
        parse_config(TEXT, {})
    assert [str(i) for i in exc.value.issues] == [
        "providers[0].api_base: environment variable BASE is not set",
        "providers[0].api_key: environment variable OPENAI_API_KEY is not set",
    ]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("rules: [{match: x, target: a/b, when: {thinkin: true}}]", "rules[0].when.thinkin: unknown key"),
        ("tenants: [{name: a, limits: {rqm: 1}}]", "tenants[0].limits.rqm: unknown key"),
        ("provider: []", "provider: unknown key"),
    ],
)
def test_unknown_keys_are_errors_naming_the_path(text: str, path: str) -> None:
    with pytest.raises(ConfigFileError) as exc:
        parse_config(text, {})
    assert path in str(exc.value)


def test_render_then_parse_gives_the_same_configuration_without_the_credential() -> None:
    cfg = parse_config(TEXT, ENV)
    rendered = render_config(cfg)
    assert "sk-1" not in rendered and "${OPENAI_API_KEY}" in rendered
    assert "$${CENTS}" in rendered
    assert parse_config(rendered, ENV) == cfg


def test_an_exact_name_with_glob_characters_survives_a_round_trip() -> None:
    from router.config.drafts import DesiredConfig, RuleDraft

    cfg = DesiredConfig(rules=(RuleDraft("odd*name", "exact", target="openai/x"),))
    again = parse_config(render_config(cfg), {})
    assert again.rules[0].match_kind == "regex"


def test_secret_extra_params_export_as_references_and_come_back() -> None:
    text = """
providers:
  - name: bedrock-us
    kind: bedrock
    extra_params: {aws_region_name: us-east-1, aws_secret_access_key: "${AWS_SECRET}", prompt_cache_key: k1}
"""
    cfg = parse_config(text, {"AWS_SECRET": "very-secret"})
    assert cfg.providers[0].extra_params["aws_secret_access_key"] == "very-secret"
    rendered = render_config(cfg)
    assert "very-secret" not in rendered
    assert "${BEDROCK_US_AWS_SECRET_ACCESS_KEY}" in rendered and "prompt_cache_key: k1" in rendered
    assert env_vars_needed(cfg) == ["BEDROCK_US_AWS_SECRET_ACCESS_KEY"]
    assert parse_config(rendered, {"BEDROCK_US_AWS_SECRET_ACCESS_KEY": "very-secret"}) == cfg


def test_extra_params_may_not_replace_the_providers_own_fields() -> None:
    cfg = parse_config("providers: [{name: p, kind: openai, extra_params: {api_key: x}}]", {})
    assert [str(i) for i in validate_config(cfg)] == [
        "providers[0].extra_params.api_key: set the provider's own api_key / api_base instead"
    ]
