"""Token counts, model facts and the admin page's connection test."""

from __future__ import annotations

import dataclasses
import json

from router.providers import ProviderHub
from router.providers.runtime import litellm
from router.translate.quirks import quirks_for
from router.translate.to_openai import to_openai_request
from tests.fakes.upstream import FakeUpstream
from tests.fakes.upstream_script import Fail
from tests.providers.support import WEATHER_TOOL, credential_of, make_call, make_target

LONG = {"messages": [{"role": "user", "content": "Tell me about the weather in Paris in spring. " * 20}]}


def test_describe_model_knows_gpt_4_1(hub: ProviderHub) -> None:
    facts = hub.describe_model("openai", "gpt-4.1")

    assert facts.max_input_tokens is not None and facts.max_input_tokens > 100_000
    assert facts.max_output_tokens is not None and facts.max_output_tokens > 1000
    assert facts.price.input > 0 and facts.price.output > facts.price.input
    assert facts.price.cache_read > 0
    assert facts.price.input == litellm().model_cost["gpt-4.1"]["input_cost_per_token"]


def test_describe_model_finds_provider_prefixed_entries(hub: ProviderHub) -> None:
    facts = hub.describe_model("gemini", "gemini-2.5-flash")

    assert facts.max_input_tokens is not None and facts.max_input_tokens >= 1_000_000
    assert facts.price.output > 0


def test_describe_model_unknown_is_empty(hub: ProviderHub) -> None:
    facts = hub.describe_model("openai_compatible", "my-own-finetune-xyz")

    assert (facts.max_input_tokens, facts.max_output_tokens) == (None, None)
    assert facts.price.input == facts.price.output == facts.price.cache_read == facts.price.cache_write == 0


def test_estimate_tokens_is_about_a_quarter_of_the_bytes(hub: ProviderHub) -> None:
    assert hub.estimate_tokens(b"x" * 4000) == 1000
    assert hub.estimate_tokens(b"") == 1


async def test_count_tokens_for_openai_is_litellms_count(hub: ProviderHub, fake: FakeUpstream) -> None:
    call = make_call(make_target("openai", fake.base_url), body={**LONG, "tools": [WEATHER_TOOL]})
    body = to_openai_request(call.request, model="gpt-4.1", quirks=quirks_for("openai"))
    expected = litellm().token_counter(model="gpt-4.1", messages=body["messages"], tools=body["tools"])

    counted = await hub.count_tokens(call)

    assert counted == expected
    assert counted > 200
    assert fake.requests == []  # counted locally, no upstream call


async def test_count_tokens_for_anthropic_asks_the_upstream(hub: ProviderHub, fake: FakeUpstream) -> None:
    call = make_call(make_target("anthropic", fake.base_url), body=LONG)
    # The gateway passes the count_tokens body itself: no max_tokens, no stream.
    raw = json.loads(call.body)
    del raw["max_tokens"], raw["stream"]
    call = dataclasses.replace(call, body=json.dumps(raw).encode())

    counted = await hub.count_tokens(call)

    seen = fake.requests[-1]
    assert seen.path == "/v1/messages/count_tokens"
    assert seen.headers["x-api-key"] == credential_of("anthropic")
    assert seen.json["model"] == "claude-sonnet-4-5"
    assert "max_tokens" not in seen.json and "stream" not in seen.json
    assert counted == max(1, len(seen.body) // 4)  # what the fake answers


async def test_count_tokens_for_anthropic_falls_back_to_the_counter(
    hub: ProviderHub, fake: FakeUpstream
) -> None:
    fake.script(Fail(500, "count unavailable"))
    call = make_call(make_target("anthropic", fake.base_url), body=LONG)

    counted = await hub.count_tokens(call)

    assert fake.requests[-1].path == "/v1/messages/count_tokens"
    assert counted > 200


async def test_test_connection_succeeds_with_one_tiny_call(hub: ProviderHub, fake: FakeUpstream) -> None:
    provider = make_target("openai", fake.base_url).provider

    ok, message = await hub.test_connection(provider, "gpt-4.1")

    assert ok, message
    assert "gpt-4.1" in message
    seen = fake.requests[-1]
    assert seen.json["max_tokens"] == 1


async def test_test_connection_reports_a_rejected_key_without_it(
    hub: ProviderHub, fake: FakeUpstream
) -> None:
    provider = make_target("azure", fake.base_url).provider
    fake.script(Fail(401, f"Access denied: invalid subscription key {provider.credential}"))

    ok, message = await hub.test_connection(provider, "gpt4o-eu")

    assert not ok
    assert "rejected the provider's credential" in message
    assert credential_of("azure") not in message
    assert fake.requests[-1].path == "/openai/deployments/gpt4o-eu/chat/completions"
