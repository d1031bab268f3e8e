"""LiteLLM's parameter knowledge, learned once per (model, parameter shape) and replayed per request."""

from __future__ import annotations

from typing import Any

import pytest

from router.providers import runtime
from router.providers.kinds import kind_info
from router.providers.openai_wire import build_body
from router.providers.params import map_params, plan_for
from tests.providers.support import make_call, make_target

BODY: dict[str, Any] = {
    "model": "m",
    "messages": [{"role": "user", "content": "hi"}],
    "max_tokens": 100,
    "temperature": 0.5,
    "top_p": 0.9,
    "reasoning_effort": "high",
    "stop": ["END"],
}


@pytest.fixture(autouse=True)
def _litellm_loaded() -> None:
    """These tests ask LiteLLM itself (once it is loaded, plans never come from the shipped table)."""
    runtime.litellm()


def _mapped(provider: str, model: str, base_model: str | None = None, **changes: Any) -> dict[str, Any]:
    body = {**BODY, "model": model, **changes}
    return map_params(
        body, litellm_provider=provider, model=model, base_model=base_model, api_version="2024-10-21"
    )


def test_o_series_takes_max_completion_tokens_and_drops_sampling() -> None:
    out = _mapped("openai", "o3-mini")

    assert out["max_completion_tokens"] == 100 and "max_tokens" not in out
    assert "temperature" not in out and "top_p" not in out
    assert out["reasoning_effort"] == "high"
    assert out["messages"] == BODY["messages"]


def test_o_series_keeps_temperature_one() -> None:
    assert _mapped("openai", "o3-mini", temperature=1)["temperature"] == 1


def test_chat_model_keeps_max_tokens_and_sampling_but_not_reasoning_effort() -> None:
    out = _mapped("openai", "gpt-4.1")

    assert out["max_tokens"] == 100 and out["temperature"] == 0.5 and out["top_p"] == 0.9
    assert out["stop"] == ["END"]
    assert "reasoning_effort" not in out


def test_azure_deployment_is_mapped_by_its_underlying_model() -> None:
    reasoning = _mapped("azure", "my-deployment", base_model="gpt-5")
    chat = _mapped("azure", "other-deployment", base_model="gpt-4o")

    assert reasoning["max_completion_tokens"] == 100 and "temperature" not in reasoning
    assert chat["max_tokens"] == 100 and chat["temperature"] == 0.5
    assert reasoning["model"] == "my-deployment"


def test_per_request_values_are_replayed_not_cached() -> None:
    first = _mapped("openai", "gpt-4.1", max_tokens=10, stop=["A"])
    second = _mapped("openai", "gpt-4.1", max_tokens=20, stop=["B"])

    assert (first["max_tokens"], first["stop"]) == (10, ["A"])
    assert (second["max_tokens"], second["stop"]) == (20, ["B"])


def test_litellm_is_asked_once_per_model_and_parameter_shape() -> None:
    plan_for.cache_clear()
    for tokens in range(1, 30):
        _mapped("openai", "gpt-4o", max_tokens=tokens)

    assert plan_for.cache_info().misses == 1


def test_unknown_provider_passes_parameters_through() -> None:
    out = _mapped("no-such-provider-kind", "some-model")

    assert {k: out[k] for k in BODY if k != "model"} == {k: v for k, v in BODY.items() if k != "model"}


def test_openai_body_for_a_reasoning_model_with_thinking() -> None:
    target = make_target("openai", "http://upstream.test")
    target = type(target)(target.ref, target.provider, "o3-mini", "o3-mini")
    thinking = {"type": "enabled", "budget_tokens": 20000}
    call = make_call(target, body={"max_tokens": 32000, "thinking": thinking, "temperature": 0.7})

    body = build_body(call, kind_info("openai"), stream=True)

    assert body["model"] == "o3-mini"
    assert body["max_completion_tokens"] == 32000
    assert body["reasoning_effort"] == "high"
    assert "temperature" not in body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
