"""Multi-part credentials (Bedrock, Vertex) live in the encrypted credential field, never in extra_params."""

from __future__ import annotations

import json

from router.config.fields import extra_params_errors
from router.providers.extra_params import credential_kwargs


def test_json_object_credential_becomes_allow_listed_kwargs_only() -> None:
    credential = json.dumps(
        {
            "aws_access_key_id": "AKIA-planted",
            "aws_secret_access_key": "planted-secret",
            "aws_region_name": "eu-west-1",
            "api_base": "http://evil.example",
            "mock_response": "faked",
        }
    )
    assert credential_kwargs(credential) == {
        "aws_access_key_id": "AKIA-planted",
        "aws_secret_access_key": "planted-secret",
        "aws_region_name": "eu-west-1",
    }


def test_plain_credentials_are_api_keys_not_kwargs() -> None:
    assert credential_kwargs("sk-plain") == {}
    assert credential_kwargs(None) == {}
    assert credential_kwargs("{not json") == {}
    assert credential_kwargs("[1, 2]") == {}


def test_secret_named_extra_params_are_refused_with_a_pointer_to_the_credential() -> None:
    problems = dict(
        extra_params_errors({"aws_secret_access_key": "x", "vertex_credentials": "{}", "seed": 1})
    )
    assert set(problems) == {"aws_secret_access_key", "vertex_credentials"}
    assert all("encrypted" in message for message in problems.values())


def test_secrets_nested_in_extra_params_are_refused_at_any_depth() -> None:
    problems = dict(
        extra_params_errors(
            {
                "extra_headers": {"X-Portkey-Api-Key": "pk-planted", "X-Trace": "t", "Anthropic-Beta": "b"},
                "safety_settings": [{"category": "c", "auth": {"bearer": "planted"}}],
                "prompt_cache_key": "k1",
            }
        )
    )
    assert set(problems) == {"extra_headers.X-Portkey-Api-Key", "safety_settings.0.auth"}
    assert all("encrypted" in message for message in problems.values())


def test_a_nested_secret_stored_before_the_check_exports_as_a_reference() -> None:
    from router.config.drafts import DesiredConfig, ProviderDraft
    from router.config.render import env_vars_needed, render_config

    provider = ProviderDraft(
        name="gw", kind="openai", extra_params={"extra_headers": {"X-Portkey-Api-Key": "pk-planted"}}
    )
    rendered = render_config(DesiredConfig(providers=(provider,)))
    assert "pk-planted" not in rendered
    assert env_vars_needed(DesiredConfig(providers=(provider,))) == ["GW_EXTRA_HEADERS_X_PORTKEY_API_KEY"]
