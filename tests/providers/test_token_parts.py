"""Counting a prompt a part at a time, remembered per part, gives LiteLLM's own count to the token, and a
session's next request tokenizes only what is new."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from router.providers.runtime import litellm
from router.providers.tokens import _PartCounts
from router.translate.quirks import quirks_for
from router.translate.to_openai import to_openai_request
from router.wire.requests import decode_request

FIXTURE = Path(__file__).parent.parent / "fixtures" / "claude_code_request.json"
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


def _claude_code() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(FIXTURE.read_text())
    return body


def _variants() -> dict[str, dict[str, Any]]:
    base = _claude_code()
    no_system = {k: v for k, v in base.items() if k != "system"}
    no_tools = {k: v for k, v in base.items() if k != "tools"}
    turns = copy.deepcopy(base)
    turns["messages"] += [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Reading it."},
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "/a.py"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "print('hi')\n" * 50},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
                {"type": "text", "text": "And this screenshot?"},
            ],
        },
    ]
    return {"claude_code": base, "no_system": no_system, "no_tools": no_tools, "tool_turns_and_image": turns}


def _openai_body(body: dict[str, Any], model: str) -> dict[str, Any]:
    request = decode_request(json.dumps(body).encode())
    return to_openai_request(request, model=model, quirks=quirks_for("openai"))


@pytest.mark.parametrize("variant", sorted(_variants()))
@pytest.mark.parametrize("model", ["gpt-4.1", "gpt-4o", "o3-mini", "my-own-finetune", "gemini-2.5-flash"])
def test_counting_by_parts_is_litellms_count_of_the_whole(variant: str, model: str) -> None:
    openai = _openai_body(_variants()[variant], model)
    expected = litellm().token_counter(
        model=model,
        messages=openai["messages"],
        tools=openai.get("tools"),
        use_default_image_token_count=True,
    )
    parts = _PartCounts()
    assert parts.count(model, openai["messages"], openai.get("tools")) == expected
    # And again from memory: the same number, nothing tokenized a second time.
    tokenized = parts.tokenized
    assert parts.count(model, openai["messages"], openai.get("tools")) == expected
    assert parts.tokenized == tokenized


def test_a_sessions_next_request_tokenizes_only_its_new_turns() -> None:
    first = _claude_code()
    second = copy.deepcopy(first)
    second["messages"] += [
        {"role": "assistant", "content": "Done."},
        {"role": "user", "content": "Now run the tests."},
    ]
    parts = _PartCounts()
    first_openai = _openai_body(first, "gpt-4.1")
    parts.count("gpt-4.1", first_openai["messages"], first_openai.get("tools"))
    before = parts.tokenized

    second_openai = _openai_body(second, "gpt-4.1")
    counted = parts.count("gpt-4.1", second_openai["messages"], second_openai.get("tools"))

    # The two new messages only: the system prompt, the tools and the earlier turns are remembered.
    assert parts.tokenized - before == 2
    assert counted == litellm().token_counter(
        model="gpt-4.1",
        messages=second_openai["messages"],
        tools=second_openai.get("tools"),
        use_default_image_token_count=True,
    )


def test_a_full_memory_forgets_its_oldest_parts_first() -> None:
    parts = _PartCounts(capacity=3)
    messages = [{"role": "user", "content": f"message {i}"} for i in range(3)]
    parts.count("gpt-4.1", messages, None)  # three messages and the conversation term: one forgotten
    assert len(parts._known) == 3
    before = parts.tokenized
    parts.count("gpt-4.1", messages[2:], None)  # the newest message is still known
    assert parts.tokenized == before
