"""Multi-part credentials (Bedrock, Vertex) live in the encrypted credential field, never in extra_params."""

from __future__ import annotations

import json

from router.providers.extra_params import credential_kwargs
from router.routing.validate import extra_params_errors


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
    problems = dict(extra_params_errors({"aws_secret_access_key": "x", "vertex_credentials": "{}", "seed": 1}))
    assert set(problems) == {"aws_secret_access_key", "vertex_credentials"}
    assert all("encrypted" in message for message in problems.values())
