"""A request cannot redirect a call or swap its credential, and no error message carries a credential."""

from __future__ import annotations

import pytest

from router.providers import ProviderError, ProviderHub
from router.providers.errors import scrub
from router.providers.litellm_call import build_kwargs
from tests.fakes.upstream import FakeUpstream
from tests.fakes.upstream_script import Fail
from tests.providers.support import KINDS, closed_port, collect, credential_of, make_call, make_target

INJECTED = {
    "api_base": "http://127.0.0.1:9/evil",
    "base_url": "http://127.0.0.1:9/evil",
    "api_key": "sk-client-supplied-key-000000",
    "mock_response": "pwned",
    "custom_llm_provider": "openai",
    "extra_headers": {"api-key": "client-key"},
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_client_fields_cannot_change_where_the_call_goes(
    hub: ProviderHub, fake: FakeUpstream, kind: str, stream: bool
) -> None:
    call = make_call(make_target(kind, fake.base_url), stream=stream, body=INJECTED)

    if stream:
        events = await collect(hub.stream(call))
        text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    else:
        message = await hub.complete(call)
        text = message["content"][0]["text"]

    assert text.startswith("Hello from")  # the fake's default reply, not a mock
    seen = fake.requests[-1]
    assert seen.kind == kind
    credential = credential_of(kind)
    auth_values = [
        seen.headers.get(h, "") for h in ("authorization", "api-key", "x-api-key", "x-goog-api-key")
    ]
    assert any(credential in value for value in auth_values)
    assert all("client" not in value for value in auth_values)


async def test_admin_extras_cannot_override_the_connection(hub: ProviderHub, fake: FakeUpstream) -> None:
    target = make_target(
        "gemini",
        fake.base_url,
        api_base=f"http://127.0.0.1:{closed_port()}",
        api_key="sk-extra-key-000000",
        mock_response="pwned",
        extra_headers={"x-goog-api-key": "sk-extra-key-000000", "x-trace": "on"},
    )
    call = make_call(target)

    kwargs = build_kwargs(call, stream=False)
    message = await hub.complete(call)

    assert kwargs["api_base"] == f"{fake.base_url}/v1beta"
    assert kwargs["api_key"] == credential_of("gemini")
    assert "mock_response" not in kwargs
    assert kwargs["extra_headers"] == {"x-trace": "on"}
    assert message["content"][0]["text"].startswith("Hello from")
    assert fake.requests[-1].headers["x-goog-api-key"] == credential_of("gemini")


def test_litellm_kwargs_hold_only_route_fields_and_allowed_generation_params() -> None:
    call = make_call(
        make_target("gemini", "http://upstream.test"),
        body={**INJECTED, "temperature": 0.2, "stop_sequences": ["END"], "top_k": 5},
    )

    kwargs = build_kwargs(call, stream=True)

    allowed = {
        "messages", "tools", "tool_choice", "max_tokens", "temperature", "top_p", "top_k", "stop",
        "reasoning_effort", "thinking", "parallel_tool_calls", "user", "stream", "stream_options",
        "model", "api_base", "api_key", "api_version", "max_retries", "num_retries", "timeout",
    }  # fmt: skip
    assert set(kwargs) <= allowed
    assert kwargs["model"] == "gemini/gemini-2.5-flash"
    assert kwargs["temperature"] == 0.2 and kwargs["top_k"] == 5
    assert "stop" not in kwargs  # found in the generated text by the router instead
    assert kwargs["max_retries"] == 0
    assert kwargs["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("kind", KINDS)
async def test_upstream_error_messages_never_echo_a_secret(
    hub: ProviderHub, fake: FakeUpstream, kind: str
) -> None:
    credential = credential_of(kind)
    fake.script(
        Fail(
            500, f"boom with {credential}, other sk-abcdefghijklmnop and https://h/p?key=AIzaSecretValue0000"
        )
    )

    with pytest.raises(ProviderError) as info:
        await hub.complete(make_call(make_target(kind, fake.base_url)))

    message = info.value.message
    assert "boom" in message
    assert credential not in message
    assert "sk-abcdefghijklmnop" not in message
    assert "AIzaSecretValue0000" not in message


def test_scrub_masks_credential_keys_and_bearer_tokens() -> None:
    text = (
        "key=abc123&x=1 Authorization: Bearer tok.en-123 my-secret sk-live-0123456789 AIza0123456789abcdefXYZ"
    )

    cleaned = scrub(text, credential="my-secret")

    assert cleaned == "key=***&x=1 Authorization: Bearer *** *** *** ***"
