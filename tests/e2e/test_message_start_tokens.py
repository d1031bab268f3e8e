"""message_start's input_tokens on a translated stream is the target tokenizer's count (what count_tokens
answers), not the body-size estimate; the upstream's own count in message_delta stays authoritative."""

from __future__ import annotations

import json
from typing import Any

import pytest

from router.providers.base import estimate_tokens
from tests.fakes import Reply
from tests.fixtures.app import LiveRouter

CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "*", target: oai/gpt-4.1}
"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_message_start_counts_the_prompt_with_the_targets_tokenizer(live_router: LiveRouter) -> None:
    live_router.apply(CONFIG)
    key = live_router.key("acme", "alice")
    question: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "system": "You are a careful assistant. " * 40,
        "messages": [{"role": "user", "content": "hello world " * 600}],
    }
    client = live_router.client(key)
    counted = client.messages.count_tokens(**question).input_tokens
    live_router.upstream.set_default(Reply(text="hi", input_tokens=counted + 3, output_tokens=1))

    with client.messages.stream(max_tokens=50, **question) as stream:
        events = list(stream)
        final = stream.get_final_message()

    started = events[0]
    assert started.type == "message_start"
    assert started.message.usage.input_tokens == counted
    # The size estimate is far off for this prompt: the count above is not it by accident.
    body_estimate = estimate_tokens(json.dumps({"max_tokens": 50, "stream": True, **question}).encode())
    assert abs(body_estimate - counted) / counted > 0.2
    # The upstream's own number, in message_delta, is what the final message carries.
    assert final.usage.input_tokens == counted + 3
